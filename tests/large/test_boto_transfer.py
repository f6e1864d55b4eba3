"""boto3's transfer manager: concurrent multipart uploads with per-part checksums."""

from __future__ import annotations

import base64
import hashlib
import os
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig

from .conftest import MIB, Store, client_error, error_code, file_md5, random_file

TRANSFER = TransferConfig(multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB,
                          max_concurrency=4)


def _parts_etag(path: Path, chunk: int) -> str:
    md5s = []
    with open(path, "rb") as f:
        while data := f.read(chunk):
            md5s.append(hashlib.md5(data).digest())
    return f"{hashlib.md5(b''.join(md5s)).hexdigest()}-{len(md5s)}"


@pytest.mark.parametrize("algorithm", [None, "SHA256", "CRC64NVME"])
def test_upload_download_file_with_checksums(store: Store, tmp_path: Path,
                                             algorithm: str | None) -> None:
    s3 = store.boto()  # default SDK settings: a checksum (CRC32 unless told) on every upload
    size = 23 * MIB + 777  # 5 parts: 4 x 5 MiB and a 3 MiB tail
    src = tmp_path / "src.bin"
    digest = random_file(src, size, seed=3)
    extra: dict[str, Any] = {"Metadata": {"origin": "transfer"}, "ContentType": "x/y"}
    if algorithm:
        extra["ChecksumAlgorithm"] = algorithm
    s3.upload_file(str(src), store.name, "t/obj.bin", ExtraArgs=extra, Config=TRANSFER)

    expected_alg = algorithm or "CRC32"
    expected_type = "FULL_OBJECT" if expected_alg == "CRC64NVME" else "COMPOSITE"
    head = s3.head_object(Bucket=store.name, Key="t/obj.bin", ChecksumMode="ENABLED")
    assert head["ContentLength"] == size
    assert head["ETag"].strip('"') == _parts_etag(src, 5 * MIB)
    assert head["Metadata"] == {"origin": "transfer"}
    assert head["ContentType"] == "x/y"
    assert head.get(f"Checksum{expected_alg}"), head
    assert head.get("ChecksumType") == expected_type, head
    value = head[f"Checksum{expected_alg}"]
    if expected_type == "COMPOSITE":
        assert value.endswith("-5"), value
    if expected_alg == "SHA256":
        # composite: sha256 of the concatenated part digests
        digests = []
        with open(src, "rb") as f:
            while data := f.read(5 * MIB):
                digests.append(hashlib.sha256(data).digest())
        want = base64.b64encode(hashlib.sha256(b"".join(digests)).digest()).decode()
        assert value == f"{want}-5"
    if expected_alg == "CRC64NVME":
        from awscrt import checksums

        crc = 0
        with open(src, "rb") as f:
            while data := f.read(4 * MIB):
                crc = checksums.crc64nvme(data, crc)
        assert value == base64.b64encode(crc.to_bytes(8, "big")).decode()

    # get_object with checksum validation: boto3 verifies full-object checksums as it reads
    # (composite ones cannot be validated on a whole-object GET, and are skipped).
    got = s3.get_object(Bucket=store.name, Key="t/obj.bin", ChecksumMode="ENABLED")
    body = got["Body"].read()
    assert hashlib.md5(body).hexdigest() == digest
    assert got.get("ChecksumType") == expected_type

    dst = tmp_path / "dst.bin"
    s3.download_file(store.name, "t/obj.bin", str(dst), Config=TRANSFER)
    assert file_md5(dst) == digest

    # a small file (below the threshold) through the same path: a single PUT
    small = tmp_path / "small.bin"
    random_file(small, 1 * MIB, seed=4)
    s3.upload_file(str(small), store.name, "t/small.bin", ExtraArgs=extra, Config=TRANSFER)
    dst2 = tmp_path / "small.out"
    s3.download_file(store.name, "t/small.bin", str(dst2), Config=TRANSFER)
    assert file_md5(dst2) == file_md5(small)
    h = s3.head_object(Bucket=store.name, Key="t/small.bin", ChecksumMode="ENABLED")
    assert h.get(f"Checksum{expected_alg}") and h.get("ChecksumType") == "FULL_OBJECT", h


def _crc32_b64(data: bytes) -> str:
    import zlib

    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


def test_full_object_checksum_on_complete(store: Store) -> None:
    s3, b = store.boto(), store.name
    d1, d2 = os.urandom(5 * MIB), os.urandom(1000)
    up = s3.create_multipart_upload(Bucket=b, Key="f", ChecksumAlgorithm="CRC32",
                                    ChecksumType="FULL_OBJECT")
    assert up["ChecksumAlgorithm"] == "CRC32" and up.get("ChecksumType") == "FULL_OBJECT"
    upload_id = up["UploadId"]
    parts = []
    for i, d in ((1, d1), (2, d2)):
        r = s3.upload_part(Bucket=b, Key="f", UploadId=upload_id, PartNumber=i, Body=d,
                           ChecksumAlgorithm="CRC32")
        assert r["ChecksumCRC32"] == _crc32_b64(d)
        parts.append({"PartNumber": i, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
    listed = s3.list_parts(Bucket=b, Key="f", UploadId=upload_id)
    assert [p["ChecksumCRC32"] for p in listed["Parts"]] == [_crc32_b64(d1), _crc32_b64(d2)]
    assert listed.get("ChecksumAlgorithm") == "CRC32"

    def complete(value: str) -> Any:
        return s3.complete_multipart_upload(Bucket=b, Key="f", UploadId=upload_id,
                                            MultipartUpload={"Parts": parts},
                                            ChecksumCRC32=value, ChecksumType="FULL_OBJECT")

    # the header on Complete is the whole object's checksum (not the XML body's)
    err = client_error(complete, _crc32_b64(b"something else"))
    assert error_code(err) == "BadDigest", err.response
    r = complete(_crc32_b64(d1 + d2))
    assert r["ChecksumCRC32"] == _crc32_b64(d1 + d2) and r["ChecksumType"] == "FULL_OBJECT"
    h = s3.head_object(Bucket=b, Key="f", ChecksumMode="ENABLED")
    assert h["ChecksumCRC32"] == _crc32_b64(d1 + d2) and h["ChecksumType"] == "FULL_OBJECT"
    got = s3.get_object(Bucket=b, Key="f", ChecksumMode="ENABLED")  # boto3 validates
    assert got["Body"].read() == d1 + d2
    # a server-side copy keeps a full-object checksum (it still describes the bytes)
    s3.copy_object(Bucket=b, Key="f-copy", CopySource={"Bucket": b, "Key": "f"})
    h = s3.head_object(Bucket=b, Key="f-copy", ChecksumMode="ENABLED")
    assert h.get("ChecksumCRC32") == _crc32_b64(d1 + d2), h


def test_part_checksums_and_digests_are_verified(store: Store) -> None:
    s3, b = store.boto(), store.name
    up = s3.create_multipart_upload(Bucket=b, Key="g", ChecksumAlgorithm="CRC32")["UploadId"]
    first = os.urandom(5 * MIB)
    r = s3.upload_part(Bucket=b, Key="g", UploadId=up, PartNumber=1, Body=first,
                       ChecksumAlgorithm="CRC32")
    # wrong Content-MD5, wrong part checksum: refused, nothing recorded
    bad_md5 = base64.b64encode(hashlib.md5(b"xyz").digest()).decode()
    err = client_error(store.boto().upload_part, Bucket=b, Key="g", UploadId=up,
                       PartNumber=2, Body=b"abc", ContentMD5=bad_md5)
    assert error_code(err) == "BadDigest"
    err = client_error(store.boto().upload_part, Bucket=b, Key="g", UploadId=up,
                       PartNumber=2, Body=b"abc", ChecksumCRC32=_crc32_b64(b"xyz"))
    assert error_code(err) == "BadDigest"
    assert [p["PartNumber"] for p in s3.list_parts(Bucket=b, Key="g", UploadId=up)["Parts"]] \
        == [1]
    assert store.used_bytes() == 5 * MIB
    # a Complete naming a part checksum that is not the part's
    err = client_error(s3.complete_multipart_upload, Bucket=b, Key="g", UploadId=up,
                       MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"],
                                                   "ChecksumCRC32": _crc32_b64(b"xyz")}]})
    assert error_code(err) == "InvalidPart"
    # a part copied into an upload with a checksum algorithm gets that checksum too
    s3.put_object(Bucket=b, Key="src", Body=b"copied bytes")
    c = s3.upload_part_copy(Bucket=b, Key="g", UploadId=up, PartNumber=2,
                            CopySource={"Bucket": b, "Key": "src"})
    assert c["CopyPartResult"].get("ChecksumCRC32") == _crc32_b64(b"copied bytes"), c
    parts = s3.list_parts(Bucket=b, Key="g", UploadId=up)["Parts"]
    assert parts[1].get("ChecksumCRC32") == _crc32_b64(b"copied bytes")
    r = s3.complete_multipart_upload(
        Bucket=b, Key="g", UploadId=up,
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": r["ETag"]},
                                   {"PartNumber": 2, "ETag": c["CopyPartResult"]["ETag"]}]})
    composite = base64.b64decode(_crc32_b64(first)) + base64.b64decode(
        _crc32_b64(b"copied bytes"))
    want = f"{_crc32_b64(composite)}-2"
    assert r.get("ChecksumCRC32") == want and r.get("ChecksumType") == "COMPOSITE", r
    h = s3.head_object(Bucket=b, Key="g", ChecksumMode="ENABLED")
    assert h.get("ChecksumCRC32") == want
    assert s3.get_object(Bucket=b, Key="g")["Body"].read() == first + b"copied bytes"

"""Encryption at rest over real sockets with boto3 and the aws CLI, on SQLite and
PostgreSQL: SSE-S3, SSE-KMS and SSE-C, single and multipart, ranged GETs across segment
boundaries, copies between every pair of modes, bucket default encryption, KMS keys through
the management API, the plaintext marker scan of blobs and database, tampering."""

from __future__ import annotations

import base64
import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from boto3.s3.transfer import TransferConfig
from botocore.exceptions import ClientError

from tests.integration.conftest import REGION, Store, aws, create_store, error_code
from tests.support.server import RunningServer, running_server

SEG = 64 * 1024
MARKER = b"ENC-MARKER-3b9e5d"
CKEY = os.urandom(32)
CKEY2 = os.urandom(32)


def ssec(key: bytes = CKEY) -> dict[str, str]:
    return {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(key).decode(),
            "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(key).digest()).decode()}  # noqa: S324


def copy_ssec(key: bytes = CKEY) -> dict[str, str]:
    return {f"CopySource{k}": v for k, v in ssec(key).items()}


@pytest.fixture
def enc_server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    """SQLite and PostgreSQL; SSE-C allowed over plain HTTP (the loopback tests)."""
    with running_server(tmp_path / "data", database_url, sse_c_allow_http=True) as srv:
        yield srv


@pytest.fixture
def enc_store(enc_server: RunningServer) -> Store:
    return create_store(enc_server)


def kms_key(store: Store, alias: str) -> dict[str, Any]:
    with store.api() as api:
        r = api.post("/v2/objectstore/keys", json={"alias": alias, "region": REGION})
    assert r.status_code == 200, r.text
    out: dict[str, Any] = r.json()
    return out


def mode_args(mode: str, key_id: str = "") -> dict[str, str]:
    if mode == "AES256":
        return {"ServerSideEncryption": "AES256"}
    if mode == "aws:kms":
        return {"ServerSideEncryption": "aws:kms", **({"SSEKMSKeyId": key_id} if key_id else {})}
    if mode == "SSE-C":
        return ssec()
    return {}


def read_args(mode: str) -> dict[str, str]:
    return ssec() if mode == "SSE-C" else {}


def check_mode(resp: dict[str, Any], mode: str, arn: str | None = None) -> None:
    if mode == "SSE-C":
        assert resp["SSECustomerAlgorithm"] == "AES256"
        assert resp["SSECustomerKeyMD5"] == ssec()["SSECustomerKeyMD5"]
        assert "ServerSideEncryption" not in resp
    elif mode:
        assert resp["ServerSideEncryption"] == mode
        if arn:
            assert resp["SSEKMSKeyId"] == arn
    else:
        assert "ServerSideEncryption" not in resp


@pytest.mark.parametrize("mode", ["AES256", "aws:kms", "SSE-C"])
def test_boto3_single_and_multipart_round_trips_with_ranges(enc_store: Store, mode: str
                                                             ) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    arn = ""
    if mode == "aws:kms":
        arn = kms_key(enc_store, f"k-{os.urandom(3).hex()}")["arn"]
    small = MARKER + os.urandom(100)
    r = s3.put_object(Bucket=b, Key="small", Body=small, **mode_args(mode, arn))
    check_mode(r, mode, arn or None)
    if mode == "AES256":
        assert r["ETag"].strip('"') == hashlib.md5(small).hexdigest()  # noqa: S324
    elif mode:
        assert r["ETag"].strip('"') != hashlib.md5(small).hexdigest()  # noqa: S324
    got = s3.get_object(Bucket=b, Key="small", **read_args(mode))
    assert got["Body"].read() == small
    check_mode(got, mode, arn or None)
    check_mode(s3.head_object(Bucket=b, Key="small", **read_args(mode)), mode, arn or None)

    big = os.urandom(3 * SEG + 1234)
    s3.put_object(Bucket=b, Key="big", Body=big, **mode_args(mode, arn))
    for start, end in [(SEG - 3, SEG + 2), (0, 3 * SEG + 1233), (2 * SEG, 2 * SEG),
                       (SEG + 1, 3 * SEG + 5)]:
        got = s3.get_object(Bucket=b, Key="big", Range=f"bytes={start}-{end}",
                            **read_args(mode))
        assert got["Body"].read() == big[start:end + 1]
        assert got["ContentRange"] == f"bytes {start}-{end}/{len(big)}"

    data = os.urandom(11 * 1024 * 1024 + 7)
    extra = {k: v for k, v in mode_args(mode, arn).items()}
    s3.upload_fileobj(__import__("io").BytesIO(data), b, "mp", ExtraArgs=extra,
                      Config=TransferConfig(multipart_threshold=5 * 1024 * 1024,
                                            multipart_chunksize=5 * 1024 * 1024))
    head = s3.head_object(Bucket=b, Key="mp", **read_args(mode))
    assert head["ETag"].strip('"').endswith("-3")
    check_mode(head, mode, arn or None)
    b5 = 5 * 1024 * 1024
    got = s3.get_object(Bucket=b, Key="mp", Range=f"bytes={b5 - 10}-{b5 + SEG}",
                        **read_args(mode))
    assert got["Body"].read() == data[b5 - 10:b5 + SEG + 1]
    assert s3.get_object(Bucket=b, Key="mp", **read_args(mode))["Body"].read() == data
    stats = enc_store.stats()  # usage counts plaintext bytes
    assert stats["size_kb"] * 1000 if "size_kb" in stats else True
    if mode == "SSE-C":
        for args in ({}, ssec(CKEY2)):
            with pytest.raises(ClientError) as e:
                s3.get_object(Bucket=b, Key="small", **args)
            assert error_code(e.value) in ("InvalidRequest", "AccessDenied", "400", "403")


def test_copies_between_every_pair_of_modes(enc_store: Store) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    modes = ["", "AES256", "aws:kms", "SSE-C"]
    data = {m: os.urandom(SEG + 99) for m in modes}
    for m in modes:
        s3.put_object(Bucket=b, Key=f"src-{m or 'plain'}", Body=data[m], **mode_args(m))
    for src in modes:
        for dst in modes:
            r = s3.copy_object(Bucket=b, Key=f"dst-{src}-{dst}",
                               CopySource={"Bucket": b, "Key": f"src-{src or 'plain'}"},
                               **(copy_ssec() if src == "SSE-C" else {}), **mode_args(dst))
            check_mode(r, dst)
            got = s3.get_object(Bucket=b, Key=f"dst-{src}-{dst}", **read_args(dst))
            assert got["Body"].read() == data[src], (src, dst)
            check_mode(got, dst)
    with pytest.raises(ClientError):  # an SSE-C source without its key
        s3.copy_object(Bucket=b, Key="nope", CopySource={"Bucket": b, "Key": "src-SSE-C"})
    # UploadPartCopy from an SSE-C source into an SSE-S3 upload
    up = s3.create_multipart_upload(Bucket=b, Key="upc", ServerSideEncryption="AES256")
    assert up["ServerSideEncryption"] == "AES256"
    part = s3.upload_part_copy(Bucket=b, Key="upc", UploadId=up["UploadId"], PartNumber=1,
                               CopySource={"Bucket": b, "Key": "src-SSE-C"},
                               CopySourceRange="bytes=10-60000", **copy_ssec())
    s3.complete_multipart_upload(Bucket=b, Key="upc", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [
                                     {"PartNumber": 1,
                                      "ETag": part["CopyPartResult"]["ETag"]}]})
    assert s3.get_object(Bucket=b, Key="upc")["Body"].read() == data["SSE-C"][10:60001]


def test_bucket_default_encryption(enc_store: Store) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    with pytest.raises(ClientError) as e:
        s3.get_bucket_encryption(Bucket=b)
    assert error_code(e.value) == "ServerSideEncryptionConfigurationNotFoundError"
    key = kms_key(enc_store, "bucket-default")
    s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": key["arn"]},
        "BucketKeyEnabled": True}]})
    conf = s3.get_bucket_encryption(Bucket=b)["ServerSideEncryptionConfiguration"]
    rule = conf["Rules"][0]
    assert rule["ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"] == "aws:kms"
    assert rule["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=b, Key="d", Body=b"default")
    assert r["ServerSideEncryption"] == "aws:kms" and r["SSEKMSKeyId"] == key["arn"]
    assert r["BucketKeyEnabled"] is True
    r = s3.put_object(Bucket=b, Key="o", Body=b"own", ServerSideEncryption="AES256")
    assert r["ServerSideEncryption"] == "AES256"  # the request's own choice wins
    with pytest.raises(ClientError) as e:
        s3.put_bucket_encryption(Bucket=b, ServerSideEncryptionConfiguration={"Rules": [{
            "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                   "KMSMasterKeyID": "alias/none"}}]})
    assert error_code(e.value) == "KMS.NotFoundException"
    s3.delete_bucket_encryption(Bucket=b)
    assert "ServerSideEncryption" not in s3.put_object(Bucket=b, Key="p", Body=b"p")


def test_kms_keys_through_the_api_and_disabled_keys(enc_store: Store) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    key = kms_key(enc_store, "disable-me")
    assert key["enabled"] is True and key["arn"].startswith("arn:aws:kms:LON1:")
    with enc_store.api() as api:
        listed = api.get("/v2/objectstore/keys", params={"region": REGION}).json()
        assert key["id"] in [k["id"] for k in listed]
        assert all("material" not in k for k in listed)
        dup = api.post("/v2/objectstore/keys", json={"alias": "disable-me"})
        assert dup.status_code == 409
    s3.put_object(Bucket=b, Key="k", Body=b"kms", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId="alias/disable-me")
    with enc_store.api() as api:
        r = api.patch(f"/v2/objectstore/keys/{key['id']}", json={"enabled": False})
        assert r.status_code == 200 and r.json()["enabled"] is False
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="k")
    assert error_code(e.value) == "KMS.DisabledException"
    with enc_store.api() as api:
        api.patch(f"/v2/objectstore/keys/{key['id']}", json={"enabled": True})
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"kms"
    with pytest.raises(ClientError) as e:
        s3.put_object(Bucket=b, Key="x", Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId="alias/unknown")
    assert error_code(e.value) == "KMS.NotFoundException"


def test_bad_encryption_headers_are_refused_and_store_nothing(enc_store: Store) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    bad = [
        {"ServerSideEncryption": "AES128"},
        {"SSEKMSKeyId": "alias/x"},
        {"SSECustomerAlgorithm": "AES256", "SSECustomerKey": base64.b64encode(b"short").decode(),
         "SSECustomerKeyMD5": base64.b64encode(hashlib.md5(b"short").digest()).decode()},  # noqa: S324
        {**ssec(), "SSECustomerKeyMD5": ssec(CKEY2)["SSECustomerKeyMD5"]},
        {**ssec(), "ServerSideEncryption": "AES256"},
    ]
    for args in bad:
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=b, Key="bad", Body=b"x", **args)
        assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400, args
    with pytest.raises(ClientError):
        s3.head_object(Bucket=b, Key="bad")
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    with pytest.raises(ClientError) as e:  # SSE-C headers for an object without SSE-C
        s3.get_object(Bucket=b, Key="plain", **ssec())
    assert error_code(e.value) == "InvalidRequest"


def test_object_attributes_of_sse_c_objects_need_the_key(enc_store: Store) -> None:
    """Issue 20.6: GetObjectAttributes said an SSE-C object's size, ETag and plaintext
    checksum to a caller without its key; like HEAD, it needs the key now."""
    s3, b = enc_store.boto(), enc_store.name
    body = b"customer secret " * 100
    s3.put_object(Bucket=b, Key="c", Body=body, ChecksumAlgorithm="SHA256", **ssec())
    wanted = ["ETag", "Checksum", "ObjectSize", "StorageClass", "ObjectParts"]
    refusals = []
    for args in ({}, ssec(CKEY2)):
        for call in (lambda a: s3.head_object(Bucket=b, Key="c", **a),
                     lambda a: s3.get_object_attributes(Bucket=b, Key="c",
                                                        ObjectAttributes=wanted, **a)):
            with pytest.raises(ClientError) as e:
                call(args)
            refusals.append((e.value.response["ResponseMetadata"]["HTTPStatusCode"],
                             e.value.response.get("ObjectSize"),
                             e.value.response.get("ETag")))
    # without the key: 400 as HEAD; with another key: 403 as HEAD; nothing said either way
    assert refusals == [(400, None, None), (400, None, None),
                        (403, None, None), (403, None, None)]
    got = s3.get_object_attributes(Bucket=b, Key="c", ObjectAttributes=wanted, **ssec())
    assert got["ObjectSize"] == len(body)
    assert got["Checksum"]["ChecksumSHA256"] == base64.b64encode(
        hashlib.sha256(body).digest()).decode()
    # a plaintext object's attributes need no key, and refuse one, as GET does
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    assert s3.get_object_attributes(Bucket=b, Key="plain",
                                    ObjectAttributes=["ObjectSize"])["ObjectSize"] == 1
    with pytest.raises(ClientError) as e:
        s3.get_object_attributes(Bucket=b, Key="plain", ObjectAttributes=["ObjectSize"],
                                 **ssec())
    assert error_code(e.value) == "InvalidRequest"


def test_sse_c_over_plain_http_is_refused_by_default(tmp_path: Path) -> None:
    with running_server(tmp_path / "data") as srv:
        store = create_store(srv)
        s3 = store.boto()
        with pytest.raises(ClientError) as e:
            s3.put_object(Bucket=store.name, Key="k", Body=b"x", **ssec())
        assert error_code(e.value) == "InvalidRequest"
        assert "secure connection" in str(e.value)


def test_no_plaintext_marker_in_blobs_or_database(enc_server: RunningServer,
                                                  tmp_path: Path) -> None:
    store = create_store(enc_server)
    s3 = store.boto()
    for mode in ("AES256", "aws:kms", "SSE-C"):
        s3.put_object(Bucket=store.name, Key=f"s-{mode}", Body=MARKER * 10, **mode_args(mode))
        s3.put_object(Bucket=store.name, Key=f"b-{mode}", Body=MARKER * 20000,
                      **mode_args(mode))
    data = tmp_path / "data"
    files = [p for p in data.rglob("*") if p.is_file()]
    assert any("blobs" in p.parts for p in files)
    hits = [p for p in files if MARKER in p.read_bytes()]
    assert hits == [], hits
    # the scan can fail: a plaintext object's marker is found
    s3.put_object(Bucket=store.name, Key="plain-big", Body=MARKER * 20000)
    assert any(MARKER in p.read_bytes() for p in data.rglob("*") if p.is_file())


def test_tampered_blob_gives_an_error_not_bytes(enc_store: Store, tmp_path: Path) -> None:
    s3 = enc_store.boto()
    b = enc_store.name
    body = os.urandom(200_000)
    s3.put_object(Bucket=b, Key="t", Body=body, ServerSideEncryption="AES256")
    version = enc_store.srv.services.objects.head_sync(enc_store.id, "t")
    path = next(p for p in (tmp_path / "data" / "blobs").rglob(version.blob_id))
    raw = bytearray(path.read_bytes())
    raw[16 + SEG + 16 + 100] ^= 0x01
    path.write_bytes(bytes(raw))
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="t", Range=f"bytes={SEG}-{SEG + 10}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert s3.get_object(Bucket=b, Key="t", Range="bytes=0-9")["Body"].read() == body[:10]


@pytest.mark.parametrize("mode", ["AES256", "aws:kms", "SSE-C"])
def test_aws_cli_round_trips(enc_store: Store, tmp_path: Path, mode: str) -> None:
    src = tmp_path / "in.bin"
    data = os.urandom(9 * 1024 * 1024 + 5)  # multipart with the CLI's 8 MiB threshold
    src.write_bytes(data)
    args = {"AES256": ["--sse", "AES256"], "aws:kms": ["--sse", "aws:kms"],
            "SSE-C": ["--sse-c", "AES256", "--sse-c-key", f"fileb://{tmp_path / 'k'}"]}[mode]
    (tmp_path / "k").write_bytes(CKEY)
    url = f"s3://{enc_store.name}/cli.bin"
    aws(enc_store, tmp_path, "s3", "cp", str(src), url, *args)
    out = tmp_path / "out.bin"
    get_args = args if mode == "SSE-C" else []
    aws(enc_store, tmp_path, "s3", "cp", url, str(out), *get_args)
    assert out.read_bytes() == data
    head = enc_store.boto().head_object(Bucket=enc_store.name, Key="cli.bin",
                                        **read_args(mode))
    check_mode(head, mode)


def _post_form(store: Store, fields: dict[str, str], data: bytes, *,
               after: dict[str, str] | None = None) -> Any:
    """A presigned POST of ``data`` with ``fields`` (covered by the policy); ``after``:
    fields sent after the file (S3 ignores them; the file's size is then known only at the
    end of the body)."""
    import requests

    p = store.boto().generate_presigned_post(
        store.name, "posted", Fields=fields, Conditions=[{k: v} for k, v in fields.items()],
        ExpiresIn=300)
    boundary = "----objectstore-test-boundary"
    body = bytearray()
    for k, v in p["fields"].items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                 f"{v}\r\n").encode()
    body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; "
             "filename=\"f.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n").encode()
    body += data + b"\r\n"
    for k, v in (after or {}).items():
        body += (f"--{boundary}\r\nContent-Disposition: form-data; name=\"{k}\"\r\n\r\n"
                 f"{v}\r\n").encode()
    body += f"--{boundary}--\r\n".encode()
    return requests.post(p["url"], data=bytes(body), timeout=60, headers={
        "Content-Type": f"multipart/form-data; boundary={boundary}"})


SSEC_FIELDS = {
    "x-amz-server-side-encryption-customer-algorithm": "AES256",
    "x-amz-server-side-encryption-customer-key": base64.b64encode(CKEY).decode(),
    "x-amz-server-side-encryption-customer-key-MD5": base64.b64encode(
        hashlib.md5(CKEY).digest()).decode(),  # noqa: S324 - S3's
}


@pytest.mark.parametrize("size", [10, 300_000, 5 * 1024 * 1024 + 7])
def test_post_form_with_sse_c_fields(enc_store: Store, size: int, tmp_path: Path) -> None:
    """POST object with the SSE-C form fields: the object is sealed with the customer's key,
    the answer names the algorithm and key MD5, reads need the key; the file's size is
    known only at the end (a field after the file too), so its bytes were spooled first
    (sealed with a one-time key): the spool is gone, no plaintext reached the disk."""
    s3, name = enc_store.boto(), enc_store.name
    data = os.urandom(size - len(MARKER)) + MARKER if size > len(MARKER) else os.urandom(size)
    r = _post_form(enc_store, SSEC_FIELDS, data, after={"x-ignore-trailer": "z" * 100})
    assert r.status_code == 204, r.text
    blobs = [p for p in (tmp_path / "data" / "blobs").rglob("*") if p.is_file()]
    assert len(blobs) == (0 if size <= 64 * 1024 else 1), blobs  # the object's only
    assert not any(MARKER in p.read_bytes() for p in (tmp_path / "data").rglob("*")
                   if p.is_file())
    assert r.headers["x-amz-server-side-encryption-customer-algorithm"] == "AES256"
    assert r.headers["x-amz-server-side-encryption-customer-key-MD5"] == \
        SSEC_FIELDS["x-amz-server-side-encryption-customer-key-MD5"]
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=name, Key="posted")
    assert error_code(e.value) == "InvalidRequest"
    with pytest.raises(ClientError) as e:
        s3.head_object(Bucket=name, Key="posted", **ssec(CKEY2))
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    got = s3.get_object(Bucket=name, Key="posted", **ssec())
    assert got["Body"].read() == data and got["ContentLength"] == size
    assert got["SSECustomerAlgorithm"] == "AES256"


def test_post_form_with_sse_fields_and_bucket_default(enc_store: Store) -> None:
    s3, name = enc_store.boto(), enc_store.name
    r = _post_form(enc_store, {"x-amz-server-side-encryption": "AES256"}, b"sse-s3 form")
    assert r.status_code == 204, r.text
    assert r.headers["x-amz-server-side-encryption"] == "AES256"
    head = s3.head_object(Bucket=name, Key="posted")
    assert head["ServerSideEncryption"] == "AES256"
    assert s3.get_object(Bucket=name, Key="posted")["Body"].read() == b"sse-s3 form"
    # a bucket's default encryption applies to form uploads too
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
    r = _post_form(enc_store, {}, b"by default")
    assert r.status_code == 204, r.text
    assert s3.head_object(Bucket=name, Key="posted")["ServerSideEncryption"] == "AES256"
    # a bad key MD5 is refused and stores nothing new
    bad = dict(SSEC_FIELDS, **{"x-amz-server-side-encryption-customer-key-MD5": "AAAA"})
    r = _post_form(enc_store, bad, b"never")
    assert r.status_code == 400, r.text
    assert s3.get_object(Bucket=name, Key="posted")["Body"].read() == b"by default"

"""Every read is verified by block, ranged or not (issue 21.2): with one byte flipped in a
blob on disk, a Range GET that covers it fails (500 before the headers, a cut connection
after), a Range GET elsewhere returns the right bytes, ``aws s3 cp`` (ranged GETs) exits
non-zero, copies refuse the damaged source, and fsck names the block; single PUTs and
multipart objects alike. Encrypted objects are checked by their segments' tags."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from click.testing import CliRunner

from objectstore.cli.main import main
from objectstore.services.engine.blocks import BLOCK, BlockSums, layout
from tests.integration.conftest import Store, aws

MiB = 1024 * 1024


def _blob(store: Store, key: str, index: int = 0) -> Path:
    meta = store.srv.services.objects.head_sync(store.id, key)
    blob = meta.parts[index][0] if meta.parts else meta.blob_id
    return Path(store.srv.services.blobs.path_of(blob))


def _flip(path: Path, offset: int) -> None:
    with path.open("r+b") as f:
        f.seek(offset)
        b = f.read(1)
        f.seek(offset)
        f.write(bytes([b[0] ^ 0x01]))


def _url(s3: Any, bucket: str, key: str) -> str:
    return str(s3.generate_presigned_url("get_object", Params={"Bucket": bucket, "Key": key}))


def _ranged(url: str, first: int, last: int) -> tuple[int, bytes | None]:
    """(status, body) of a Range GET; body None when the transfer broke off."""
    with httpx.Client(timeout=60) as client, client.stream(
            "GET", url, headers={"Range": f"bytes={first}-{last}"}) as r:
        try:
            body = r.read()
        except httpx.HTTPError:
            return r.status_code, None
    if r.status_code == 206 and len(body) != last - first + 1:
        return r.status_code, None
    return r.status_code, body


def _body(n: int) -> bytes:
    return os.urandom(n)


def _fails(status_body: tuple[int, bytes | None]) -> bool:
    status, body = status_body
    return status == 500 or body is None


def test_block_sums_follow_the_blocks() -> None:
    data = _body(3 * BLOCK + 5)
    one, pieces = BlockSums(), BlockSums()
    one.update(data)
    for i in range(0, len(data), 77_777):
        pieces.update(memoryview(data)[i:i + 77_777])
    from awscrt.checksums import crc32c

    assert one.packed() == pieces.packed() == b"".join(
        crc32c(data[i:i + BLOCK]).to_bytes(4, "big") for i in range(0, len(data), BLOCK))
    assert len(one.packed()) == 4 * 4


def test_ranged_reads_of_a_damaged_blob(store: Store, tmp_path: Path) -> None:
    s3 = store.boto()
    b = store.name
    data = _body(50 * MiB)
    s3.put_object(Bucket=b, Key="big", Body=data)
    meta = store.srv.services.objects.head_sync(store.id, "big")
    assert layout(meta) is not None and len(meta.blocks or b"") == 50 * 4
    bad = 30 * MiB + 12345
    _flip(_blob(store, "big"), bad)
    url = _url(s3, b, "big")

    # ranges that cover the damage fail: small (answered whole: 500), streamed (cut)
    assert _fails(_ranged(url, bad - 10, bad + 10))
    assert _fails(_ranged(url, bad, bad))
    assert _fails(_ranged(url, 28 * MiB, 40 * MiB - 1))
    assert _fails(_ranged(url, 30 * MiB, 31 * MiB - 1))  # exactly the damaged block
    with pytest.raises(ClientError) as e:
        s3.get_object(Bucket=b, Key="big", Range=f"bytes={bad - 100}-{bad + 100}")
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    # ranges elsewhere succeed, with the right bytes (next to the damaged block too)
    for first, last in ((0, 99), (5 * MiB + 3, 9 * MiB + 17), (29 * MiB, 30 * MiB - 1),
                        (31 * MiB, 31 * MiB + 300_000), (31 * MiB, 50 * MiB - 1),
                        (50 * MiB - 1, 50 * MiB - 1)):
        assert _ranged(url, first, last) == (206, data[first:last + 1]), (first, last)
    # the whole object: cut off
    assert _fails(_ranged(url, 0, len(data) - 1))

    # the CLI downloads in ranged GETs: it fails, it does not report success
    out = tmp_path / "out.bin"
    proc = aws(store, tmp_path, "s3", "cp", f"s3://{b}/big", str(out), check=False)
    assert proc.returncode != 0, proc.stdout
    assert not out.exists() or out.read_bytes() != data[:bad] + bytes(
        [data[bad] ^ 1]) + data[bad + 1:]

    # a copy refuses the damaged source, whole or the damaged range
    with pytest.raises(ClientError) as e:
        s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "big"})
    assert e.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    up = s3.create_multipart_upload(Bucket=b, Key="upc")
    with pytest.raises(ClientError):
        s3.upload_part_copy(Bucket=b, Key="upc", UploadId=up["UploadId"], PartNumber=1,
                            CopySource={"Bucket": b, "Key": "big"},
                            CopySourceRange=f"bytes={28 * MiB}-{34 * MiB - 1}")
    ok = s3.upload_part_copy(Bucket=b, Key="upc", UploadId=up["UploadId"], PartNumber=1,
                             CopySource={"Bucket": b, "Key": "big"},
                             CopySourceRange=f"bytes={MiB + 7}-{7 * MiB}")
    assert ok["CopyPartResult"]["ETag"]
    s3.abort_multipart_upload(Bucket=b, Key="upc", UploadId=up["UploadId"])

    # fsck names the block
    runner = CliRunner()
    result = runner.invoke(main, ["fsck", "--data-dir", str(store.srv.services.settings.data_dir),
                                  "--quiet"])
    assert result.exit_code == 1
    assert f"/big: block 30 of blob {meta.blob_id}" in result.output, result.output


def test_multipart_and_copies_are_checked_by_block(dual_store: Store, tmp_path: Path) -> None:
    """On SQLite and PostgreSQL (the block lists round-trip through both, and through the
    event-loop read path of each)."""
    store = dual_store
    s3 = store.boto()
    b = store.name
    parts = [_body(5 * MiB + 1000), _body(5 * MiB + 2000), _body(3 * MiB + 7)]
    data = b"".join(parts)
    up = s3.create_multipart_upload(Bucket=b, Key="multi")
    etags = [s3.upload_part(Bucket=b, Key="multi", UploadId=up["UploadId"], PartNumber=n,
                            Body=p)["ETag"] for n, p in enumerate(parts, 1)]
    s3.complete_multipart_upload(
        Bucket=b, Key="multi", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                   for n, e in enumerate(etags, 1)]})
    # a copy (its own blob and blocks) and an UploadPartCopy-built object
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "multi"})
    up2 = s3.create_multipart_upload(Bucket=b, Key="built")
    e1 = s3.upload_part_copy(Bucket=b, Key="built", UploadId=up2["UploadId"], PartNumber=1,
                             CopySource={"Bucket": b, "Key": "multi"},
                             CopySourceRange=f"bytes=3-{6 * MiB}")["CopyPartResult"]["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="built", UploadId=up2["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1}]})
    for key in ("multi", "copy", "built"):
        meta = store.srv.services.objects.head_sync(store.id, key)
        assert layout(meta) is not None, key

    # damage the second part, 2 MiB + 5 into it
    bad = len(parts[0]) + 2 * MiB + 5
    _flip(_blob(store, "multi", 1), 2 * MiB + 5)
    url = _url(s3, b, "multi")
    assert _fails(_ranged(url, bad - 1, bad + 1))
    assert _fails(_ranged(url, 4 * MiB, 12 * MiB))  # across parts 1 and 2
    assert _fails(_ranged(url, 0, len(data) - 1))  # the whole (no full-object checksum)
    for first, last in ((0, 5 * MiB + 999), (5 * MiB + 500, len(parts[0]) + 2 * MiB - 1),
                        (len(parts[0]) + 3 * MiB, len(data) - 1)):
        assert _ranged(url, first, last) == (206, data[first:last + 1]), (first, last)
    out = tmp_path / "multi.bin"
    proc = aws(store, tmp_path, "s3", "cp", f"s3://{b}/multi", str(out), check=False)
    assert proc.returncode != 0

    # the copies do not share the damage; damage one of theirs: caught too
    assert _ranged(_url(s3, b, "copy"), bad - 1, bad + 1) == (206, data[bad - 1:bad + 2])
    built = _url(s3, b, "built")
    assert _ranged(built, 0, 6 * MiB - 3) == (206, data[3:6 * MiB + 1])
    _flip(_blob(store, "built"), 6 * MiB - 4)
    assert _fails(_ranged(built, 6 * MiB - 4, 6 * MiB - 4))
    assert _ranged(built, 0, 5 * MiB - 1) == (206, data[3:5 * MiB + 3])


def test_encrypted_objects_ranged_reads_are_checked_by_their_tags(store: Store) -> None:
    """SSE objects have no block checksums: their segments are authenticated, and a streamed
    range over a tampered segment is cut, never wrong bytes."""
    s3 = store.boto()
    b = store.name
    data = _body(6 * MiB)
    s3.put_object(Bucket=b, Key="enc", Body=data, ServerSideEncryption="AES256")
    assert store.srv.services.objects.head_sync(store.id, "enc").blocks is None
    path = _blob(store, "enc")
    _flip(path, path.stat().st_size // 2)
    url = _url(s3, b, "enc")
    assert _fails(_ranged(url, MiB, 5 * MiB))
    assert _fails(_ranged(url, 0, len(data) - 1))
    assert _ranged(url, 0, 1000) == (206, data[:1001])


def test_objects_without_block_checksums_still_read(store: Store) -> None:
    """A version written before block checksums (``blocks`` null) reads whole and ranged;
    its whole reads are still checked by its full-object checksum, and fsck says its blocks
    cannot be verified."""
    s3 = store.boto()
    b = store.name
    data = _body(3 * MiB)
    s3.put_object(Bucket=b, Key="old", Body=data)
    s3.put_object(Bucket=b, Key="new", Body=data)
    svc = store.srv.services
    st = svc.stores.by_name(b)[0]
    svc.objects.update_sync(st, "old", None, blocks=None)
    assert svc.objects.head_sync(store.id, "old").blocks is None
    url = _url(s3, b, "old")
    assert s3.get_object(Bucket=b, Key="old")["Body"].read() == data
    assert _ranged(url, MiB - 5, 2 * MiB + 5) == (206, data[MiB - 5:2 * MiB + 6])
    runner = CliRunner()
    result = runner.invoke(main, ["fsck", "--data-dir", str(svc.settings.data_dir)])
    assert result.exit_code == 0, result.output
    assert f"{b}/old (unverifiable blocks (written before block checksums)" in result.output
    assert f"ok      {b}/new\n" in result.output
    assert "1 with unverifiable blocks" in result.output
    _flip(_blob(store, "old"), 100)
    assert _fails(_ranged(url, 0, len(data) - 1))  # the whole-object check still holds


def test_ranged_reads_of_damaged_inline_bytes(store: Store) -> None:
    """A small object's bytes live in its row (no blob, no block list): a ranged read of
    them is checked against the whole object's checksum, as a whole read is."""
    s3 = store.boto()
    b = store.name
    data = _body(4000)
    s3.put_object(Bucket=b, Key="small", Body=data)
    svc = store.srv.services
    st = svc.stores.by_name(b)[0]
    assert svc.objects.head_sync(store.id, "small").data == data
    url = _url(s3, b, "small")
    assert _ranged(url, 10, 99) == (206, data[10:100])
    damaged = bytearray(data)
    damaged[3000] ^= 0x01
    svc.objects.update_sync(st, "small", None, data=bytes(damaged))
    assert _fails(_ranged(url, 0, len(data) - 1))
    assert _fails(_ranged(url, 10, 99))  # far from the damage: still refused

"""fsck finds a flipped byte, a truncated blob and a missing blob; intact objects pass."""

from __future__ import annotations

from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from click.testing import CliRunner

from objectstore.cli.main import main
from objectstore.services.engine.integrity import verify


def _client(server):  # type: ignore[no-untyped-def]
    with server.api() as api:
        store = api.post("/v2/objectstores", json={"name": "fsck-b", "region": "LON1"}).json()
        cred = api.get(f"/v2/objectstore/credentials/{store['owner_info']['credential_id']}")
    c = cred.json()
    return boto3.client("s3", endpoint_url=server.s3_url, aws_access_key_id=c["access_key_id"],
                        aws_secret_access_key=c["secret_access_key_id"], region_name="LON1",
                        config=Config(request_checksum_calculation="when_required"))


def _blob_path(server, key: str) -> Path:  # type: ignore[no-untyped-def]
    store = server.services.stores.by_name("fsck-b")[0]
    meta = server.services.objects.head_sync(store.id, key)
    blob = meta.parts[0][0] if meta.parts else meta.blob_id
    return Path(server.services.blobs.path_of(blob))


@pytest.fixture
def blob_server(tmp_path):  # type: ignore[no-untyped-def]
    """A server that keeps every object in a blob file (no inline small objects), so the
    tests can damage the files."""
    from tests.support.server import running_server

    with running_server(tmp_path / "data", None, inline_max_bytes=0) as srv:
        yield srv


def _flip(path: Path, offset: int) -> None:
    data = bytearray(path.read_bytes())
    data[offset] ^= 0x01
    path.write_bytes(bytes(data))


def test_fsck_reports_damage(blob_server) -> None:
    s3 = _client(blob_server)
    s3.put_object(Bucket="fsck-b", Key="md5-only", Body=b"a" * 5000)
    s3.put_object(Bucket="fsck-b", Key="with-crc", Body=b"b" * 5000, ChecksumAlgorithm="CRC32")
    s3.put_object(Bucket="fsck-b", Key="intact", Body=b"c" * 5000)
    s3.put_object(Bucket="fsck-b", Key="gone", Body=b"d" * 10)
    part = b"e" * (5 * 1024 * 1024)
    up = s3.create_multipart_upload(Bucket="fsck-b", Key="multi")
    etags = [s3.upload_part(Bucket="fsck-b", Key="multi", UploadId=up["UploadId"],
                            PartNumber=n, Body=part)["ETag"] for n in (1, 2)]
    s3.complete_multipart_upload(
        Bucket="fsck-b", Key="multi", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": n, "ETag": e}
                                   for n, e in zip((1, 2), etags, strict=True)]})

    runner = CliRunner()
    data_dir = str(blob_server.services.settings.data_dir)
    clean = runner.invoke(main, ["fsck", "--data-dir", data_dir])
    assert clean.exit_code == 0, clean.output
    assert "5 object(s) checked, 0 damaged" in clean.output

    _flip(_blob_path(blob_server, "md5-only"), 100)
    _flip(_blob_path(blob_server, "with-crc"), 4999)
    _flip(_blob_path(blob_server, "multi"), 0)
    _blob_path(blob_server, "gone").unlink()

    result = runner.invoke(main, ["fsck", "--data-dir", data_dir, "--quiet"])
    assert result.exit_code == 1
    damaged = sorted(line.split()[1] for line in result.output.splitlines()
                     if line.startswith("DAMAGED"))
    assert damaged == ["fsck-b/gone:", "fsck-b/md5-only:", "fsck-b/multi:", "fsck-b/with-crc:"]
    assert "5 object(s) checked, 4 damaged" in result.output

    store = blob_server.services.stores.by_name("fsck-b")[0]
    assert verify(blob_server.services.blobs,
                  blob_server.services.objects.head_sync(store.id, "intact")) is None


def test_get_of_a_damaged_object_fails_loudly(blob_server) -> None:
    s3 = _client(blob_server)
    s3.put_object(Bucket="fsck-b", Key="small", Body=b"s" * 1000)
    big = bytes(range(256)) * 4096 * 2  # 2 MiB: streamed, checked at the end
    s3.put_object(Bucket="fsck-b", Key="big", Body=big, ChecksumAlgorithm="CRC32")
    assert s3.get_object(Bucket="fsck-b", Key="small")["Body"].read() == b"s" * 1000
    assert s3.get_object(Bucket="fsck-b", Key="big")["Body"].read() == big

    _flip(_blob_path(blob_server, "small"), 10)
    _flip(_blob_path(blob_server, "big"), len(big) - 1)

    import httpx

    url = s3.generate_presigned_url("get_object", Params={"Bucket": "fsck-b", "Key": "small"})
    r = httpx.get(url)
    assert r.status_code == 500
    assert b"<Code>InternalError</Code>" in r.content
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "fsck-b", "Key": "big"})
    with pytest.raises(httpx.HTTPError):
        httpx.get(url).raise_for_status()
    # a ranged read that does not cover the damage still works
    part = s3.get_object(Bucket="fsck-b", Key="big", Range="bytes=0-99")["Body"].read()
    assert part == big[:100]


def test_verify_reads_setting(tmp_path) -> None:  # type: ignore[no-untyped-def]
    """`crc` still checks objects that carry a CRC (a plain PUT gets the server's CRC64NVME,
    and block checksums), skips MD5-only ones (objects stored by earlier versions, without
    block checksums either); `off` checks none."""
    import httpx

    from tests.support.server import running_server

    for mode, crc_status, md5_status in (("crc", 500, 200), ("off", 200, 200)):
        with running_server(tmp_path / mode, None, verify_reads=mode,
                            inline_max_bytes=0) as srv:
            s3 = _client(srv)
            s3.put_object(Bucket="fsck-b", Key="crc", Body=b"c" * 100)
            s3.put_object(Bucket="fsck-b", Key="md5", Body=b"m" * 100)
            store = srv.services.stores.by_name("fsck-b")[0]
            assert set(srv.services.objects.head_sync(store.id, "crc").checksums) == {"CRC64NVME"}
            # an object from before PUTs got a default CRC (and before block checksums): only
            # its MD5 ETag describes it
            srv.services.objects.update_sync(store, "md5", None, checksums={}, checksum_type=None,
                                             blocks=None)
            assert srv.services.objects.head_sync(store.id, "md5").checksums == {}
            _flip(_blob_path(srv, "crc"), 5)
            _flip(_blob_path(srv, "md5"), 5)
            for key, expected in (("crc", crc_status), ("md5", md5_status)):
                url = s3.generate_presigned_url("get_object",
                                                Params={"Bucket": "fsck-b", "Key": key})
                assert httpx.get(url).status_code == expected, (mode, key)


def _damage_inline(server, key: str, offset: int) -> None:  # type: ignore[no-untyped-def]
    from sqlalchemy import update

    from objectstore.storage.sql.engine import writing
    from objectstore.storage.sql.tables import objects

    store = server.services.stores.by_name("fsck-b")[0]
    meta = server.services.objects.head_sync(store.id, key)
    assert meta.data is not None and meta.blob_id == "", "expected an inline object"
    data = bytearray(meta.data)
    data[offset] ^= 0x01
    with writing(server.services.engine) as conn:
        conn.execute(update(objects).where(objects.c.store_id == store.id,
                                           objects.c.key == key).values(data=bytes(data)))


def test_inline_objects_are_checked_too(sqlite_server) -> None:
    """Small objects live in their metadata row; fsck and GET check those bytes as well."""
    import httpx

    s3 = _client(sqlite_server)
    s3.put_object(Bucket="fsck-b", Key="small", Body=b"s" * 1000)
    s3.put_object(Bucket="fsck-b", Key="intact", Body=b"i" * 1000)
    assert not list((sqlite_server.services.settings.data_dir / "blobs").rglob("*.*")), \
        "small objects need no blob file"
    runner = CliRunner()
    data_dir = str(sqlite_server.services.settings.data_dir)
    assert "2 object(s) checked, 0 damaged" in runner.invoke(
        main, ["fsck", "--data-dir", data_dir]).output
    _damage_inline(sqlite_server, "small", 10)
    result = runner.invoke(main, ["fsck", "--data-dir", data_dir, "--quiet"])
    assert result.exit_code == 1
    assert "fsck-b/small:" in result.output and "2 object(s) checked, 1 damaged" in result.output
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "fsck-b", "Key": "small"})
    r = httpx.get(url)
    assert r.status_code == 500 and b"<Code>InternalError</Code>" in r.content
    assert s3.get_object(Bucket="fsck-b", Key="intact")["Body"].read() == b"i" * 1000

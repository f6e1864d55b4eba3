"""Each mainstream client: create a store via the API -> put -> list -> get -> range get ->
delete, with awkward keys, comparing bytes exactly."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import zlib
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.server import RunningServer

from .conftest import (
    REGION,
    Store,
    aws,
    create_store,
    error_code,
    rclone,
    s3cmd,
    s3cmd_config,
)


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)


@pytest.fixture
def dual_store(module_server: RunningServer) -> Store:
    """A store of its own on the module's server (SQLite and PostgreSQL): these tests touch
    nothing else (conftest)."""
    return create_store(module_server)


# Keys that break naive implementations: spaces, '+', '%', unicode, '//', a trailing '/',
# '..', '#', '?', '&', '=' and a newline.
KEYS = [
    "plain.txt",
    "with space/and more spaces.bin",
    "plus+sign+key",
    "percent%20literal%",
    "unicodé/日本語/ファイル.txt",
    "a//b",
    "trailing/",
    "../dot/../dots",
    "hash#question?amp&eq=",
    "line\nbreak",
]


def payload(key: str, size: int = 3000) -> bytes:
    seed = hashlib.sha256(key.encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


def boto_round_trip(s3: Any, store: Store, keys: list[str]) -> None:
    bucket = store.name
    for key in keys:
        r = s3.put_object(Bucket=bucket, Key=key, Body=payload(key))
        assert r["ETag"] == f'"{hashlib.md5(payload(key)).hexdigest()}"'
    listed = s3.list_objects_v2(Bucket=bucket)
    assert [o["Key"] for o in listed["Contents"]] == sorted(keys, key=lambda k: k.encode())
    assert all(o["Size"] == 3000 for o in listed["Contents"])
    for key in keys:
        got = s3.get_object(Bucket=bucket, Key=key)
        assert got["Body"].read() == payload(key)
        assert got["ContentLength"] == 3000
        rng = s3.get_object(Bucket=bucket, Key=key, Range="bytes=100-1099")
        assert rng["ResponseMetadata"]["HTTPStatusCode"] == 206
        assert rng["ContentRange"] == "bytes 100-1099/3000"
        assert rng["Body"].read() == payload(key)[100:1100]
    for key in keys:
        r = s3.delete_object(Bucket=bucket, Key=key)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert s3.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=bucket, Key=keys[0])
    assert error_code(ei.value) == "NoSuchKey"


def test_boto3_default_round_trip(dual_store: Store) -> None:
    boto_round_trip(dual_store.boto(), dual_store, KEYS)
    stats = dual_store.stats()
    assert stats["num_objects"] == 0 and stats["size_kb_utilised"] == 0


def test_boto3_when_required_round_trip(dual_store: Store) -> None:
    boto_round_trip(dual_store.boto(when_required=True), dual_store, KEYS)


@pytest.mark.filterwarnings("ignore::urllib3.exceptions.InsecureRequestWarning")
def test_boto3_https_aws_chunked_trailer(tls_server: RunningServer) -> None:
    """Over HTTPS boto3 streams uploads as aws-chunked with an unsigned payload and a CRC32
    trailer: the decoder and the trailer verification are on the path."""
    store = create_store(tls_server)
    assert store.endpoint.startswith("https://"), store.endpoint  # the API knows it is TLS
    s3 = store.boto(verify=False)
    try:
        _https_checks(s3, store)
    finally:
        s3.close()  # idle TLS keep-alive connections hold up the server's shutdown


def _https_checks(s3: Any, store: Store) -> None:
    seen: list[dict[str, str]] = []
    s3.meta.events.register("before-send.s3.PutObject",
                            lambda request, **_: seen.append(dict(request.headers)))
    boto_round_trip(s3, store, KEYS[:4])
    assert seen, "no PutObject was sent"
    h = {k.lower(): v.decode() if isinstance(v, bytes) else v for k, v in seen[0].items()}
    assert h["x-amz-content-sha256"] == "STREAMING-UNSIGNED-PAYLOAD-TRAILER", h
    assert h["x-amz-trailer"] == "x-amz-checksum-crc32", h
    # A big streamed body (several chunks) round-trips too, and its checksum is kept.
    big = os.urandom(3 * 1024 * 1024 + 17)
    crc = base64.b64encode(zlib.crc32(big).to_bytes(4, "big")).decode()
    r = s3.put_object(Bucket=store.name, Key="big", Body=big)
    assert r["ChecksumCRC32"] == crc
    got = s3.get_object(Bucket=store.name, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == big
    assert got["ChecksumCRC32"] == crc
    # "aws-chunked" is a transfer detail: the stored Content-Encoding is the caller's own.
    s3.put_object(Bucket=store.name, Key="gz", Body=b"\x1f\x8b not really", ContentEncoding="gzip")
    assert s3.head_object(Bucket=store.name, Key="gz")["ContentEncoding"] == "gzip"
    s3.put_object(Bucket=store.name, Key="plain", Body=b"no encoding")
    assert "ContentEncoding" not in s3.head_object(Bucket=store.name, Key="plain")


def test_aws_cli_round_trip(store: Store, tmp_path: Path) -> None:
    """aws CLI v1 (each call costs ~1 s of start-up, so the calls are few and dense)."""
    bucket = store.name
    tree = tmp_path / "tree"
    files = {"with space+plus.bin": os.urandom(70_000), "unicodé/ü.txt": b"unicode\n",
             "deep/a/b.bin": os.urandom(9_000)}
    for name, data in files.items():
        (tree / name).parent.mkdir(parents=True, exist_ok=True)
        (tree / name).write_bytes(data)
    single = tmp_path / "single.bin"
    single.write_bytes(os.urandom(200_000))
    aws(store, tmp_path, "s3", "cp", str(single), f"s3://{bucket}/cli/single.bin")
    aws(store, tmp_path, "s3", "cp", "--recursive", str(tree), f"s3://{bucket}/cli/tree/")
    out = aws(store, tmp_path, "s3", "ls", "--recursive", f"s3://{bucket}/cli/").stdout
    listed = {line.split(None, 3)[3]: int(line.split(None, 3)[2])
              for line in out.decode().splitlines()}
    expected = {f"cli/tree/{n}": len(d) for n, d in files.items()}
    expected["cli/single.bin"] = 200_000
    assert listed == expected, out
    down = tmp_path / "down.bin"
    aws(store, tmp_path, "s3", "cp", f"s3://{bucket}/cli/tree/with space+plus.bin", str(down))
    assert down.read_bytes() == files["with space+plus.bin"]
    # s3api: put-object / head-object / get-object with a range / list-objects-v2
    body = tmp_path / "body.txt"
    body.write_bytes(b"hello from s3api\n")
    out = aws(store, tmp_path, "s3api", "put-object", "--bucket", bucket, "--key", "api/k",
              "--body", str(body), "--content-type", "text/plain",
              "--metadata", "colour=blue").stdout
    md5 = hashlib.md5(body.read_bytes()).hexdigest()
    assert json.loads(out)["ETag"] == f'"{md5}"'
    head = json.loads(aws(store, tmp_path, "s3api", "head-object", "--bucket", bucket,
                          "--key", "api/k").stdout)
    assert head["ContentLength"] == 17 and head["Metadata"] == {"colour": "blue"}, head
    assert head["ContentType"] == "text/plain", head
    dest = tmp_path / "got.txt"
    aws(store, tmp_path, "s3api", "get-object", "--bucket", bucket, "--key", "api/k",
        "--range", "bytes=6-9", str(dest))
    assert dest.read_bytes() == b"from"
    listed_v2 = json.loads(aws(store, tmp_path, "s3api", "list-objects-v2", "--bucket", bucket,
                               "--prefix", "api/").stdout)
    assert [(o["Key"], o["Size"]) for o in listed_v2["Contents"]] == [("api/k", 17)], listed_v2
    aws(store, tmp_path, "s3", "rm", f"s3://{bucket}/api/k")
    aws(store, tmp_path, "s3", "rm", "--recursive", f"s3://{bucket}/cli/")
    assert store.boto().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert store.stats() == {"num_objects": 0, "size_kb_utilised": 0,
                             "max_size_kb": 500_000_000}


@pytest.mark.parametrize("sigv2", [True, False], ids=["sigv2-civo-export", "sigv4"])
def test_s3cmd_round_trip(store: Store, tmp_path: Path, sigv2: bool) -> None:
    cfg = s3cmd_config(store, tmp_path, sigv2=sigv2)
    bucket = store.name
    src = tmp_path / "src.bin"
    data = os.urandom(50_000)
    src.write_bytes(data)
    keys = ["s3cmd/plain.bin", "s3cmd/with space.bin", "s3cmd/plus+percent%.bin",
            "s3cmd/unicodé.bin"]
    for key in keys:
        s3cmd(cfg, tmp_path, "put", str(src), f"s3://{bucket}/{key}")
    out = s3cmd(cfg, tmp_path, "ls", f"s3://{bucket}/s3cmd/").stdout.decode()
    for key in keys:
        assert f"s3://{bucket}/{key}" in out, out
    for i, key in enumerate(keys):
        dest = tmp_path / f"dest{i}.bin"
        s3cmd(cfg, tmp_path, "get", f"s3://{bucket}/{key}", str(dest))
        assert dest.read_bytes() == data
    # Ranged read through the same credentials, SigV2 or V4 as configured for s3cmd.
    s3 = store.boto()
    got = s3.get_object(Bucket=bucket, Key=keys[1], Range="bytes=-10")["Body"].read()
    assert got == data[-10:]
    # --acl-public makes an object anonymously readable; the others stay private.
    s3cmd(cfg, tmp_path, "put", "--acl-public", str(src), f"s3://{bucket}/public.bin")
    anon = httpx.get(f"{store.s3_url}/{bucket}/public.bin")
    assert anon.status_code == 200 and anon.content == data
    private = httpx.get(f"{store.s3_url}/{bucket}/{keys[0]}")
    assert private.status_code == 403
    for key in [*keys, "public.bin"]:
        s3cmd(cfg, tmp_path, "del", f"s3://{bucket}/{key}")
    out = s3cmd(cfg, tmp_path, "ls", "--recursive", f"s3://{bucket}").stdout.decode()
    assert out.strip() == "", out
    assert store.stats()["num_objects"] == 0


def test_s3cmd_service_listing_and_info(store: Store, tmp_path: Path) -> None:
    cfg = s3cmd_config(store, tmp_path, sigv2=True)
    out = s3cmd(cfg, tmp_path, "ls").stdout.decode()
    assert f"s3://{store.name}" in out, out
    info = s3cmd(cfg, tmp_path, "info", f"s3://{store.name}").stdout.decode()
    assert REGION in info, info


def test_minio_round_trip(dual_store: Store) -> None:
    import io

    from minio import Minio
    from minio.error import S3Error as MinioError

    store = dual_store
    client = Minio(store.host_port, access_key=store.access_key, secret_key=store.secret_key,
                   secure=False, region=REGION)
    assert client.bucket_exists(store.name)
    keys = ["minio/plain", "minio/with space+plus", "minio/unicodé/日本", "minio/a//b",
            "minio/trailing/"]
    for key in keys:
        data = payload(key)
        r = client.put_object(store.name, key, io.BytesIO(data), len(data),
                              content_type="application/x-test",
                              metadata={"x-amz-meta-origin": "minio"})
        assert r.etag == hashlib.md5(data).hexdigest()
    listed = [o.object_name for o in client.list_objects(store.name, prefix="minio/",
                                                          recursive=True)]
    assert listed == sorted(keys, key=lambda k: k.encode())
    # minio yields a page's objects, then its common prefixes: compare as a set of names
    top = sorted(o.object_name for o in client.list_objects(store.name, prefix="minio/"))
    assert top == ["minio/a/", "minio/plain", "minio/trailing/", "minio/unicodé/",
                   "minio/with space+plus"]
    for key in keys:
        resp = client.get_object(store.name, key)
        try:
            assert resp.read() == payload(key)
        finally:
            resp.close()
            resp.release_conn()
        part = client.get_object(store.name, key, offset=10, length=20)
        try:
            assert part.read() == payload(key)[10:30]
        finally:
            part.close()
            part.release_conn()
        st = client.stat_object(store.name, key)
        assert st.size == 3000 and st.content_type == "application/x-test"
        assert st.metadata["x-amz-meta-origin"] == "minio"
    for key in keys:
        client.remove_object(store.name, key)
    assert list(client.list_objects(store.name, recursive=True)) == []
    with pytest.raises(MinioError) as ei:
        client.stat_object(store.name, keys[0])
    assert ei.value.code == "NoSuchKey"


def test_rclone_round_trip(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    src.mkdir()
    files = {"one.txt": b"first file\n", "two words.txt": b"second file\n",
             "sub/plus+percent%.bin": os.urandom(10_000), "sub/unicodé.txt": "é\n".encode()}
    for name, data in files.items():
        (src / name).parent.mkdir(parents=True, exist_ok=True)
        (src / name).write_bytes(data)
    bucket = store.name
    rclone(store, tmp_path, "copy", str(src), f"os:{bucket}/rc")
    out = rclone(store, tmp_path, "ls", f"os:{bucket}/rc").stdout.decode()
    listed = {line.split(None, 1)[1]: int(line.split(None, 1)[0]) for line in out.splitlines()}
    assert listed == {name: len(data) for name, data in files.items()}, out
    for name, data in files.items():
        got = rclone(store, tmp_path, "cat", f"os:{bucket}/rc/{name}").stdout
        assert got == data
    got = rclone(store, tmp_path, "cat", "--offset", "3", "--count", "4",
                 f"os:{bucket}/rc/one.txt").stdout
    assert got == b"st f"
    # Server-side check that rclone wrote exactly these keys.
    keys = [o["Key"] for o in store.boto().list_objects_v2(Bucket=bucket)["Contents"]]
    assert keys == sorted(f"rc/{n}" for n in files)
    rclone(store, tmp_path, "delete", f"os:{bucket}/rc")
    assert store.boto().list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert store.stats()["num_objects"] == 0

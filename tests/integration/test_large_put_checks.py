"""A PUT of several MiB (a blob written in batches, hashed and stored side by side in worker
threads) is refused exactly as strictly as a small one: a wrong Content-MD5, a wrong
x-amz-checksum-* header or aws-chunked trailer, or a body shorter than announced stores
nothing - no object, no usage, no blob file left on disk - and leaves the key's previous
object as it was."""

from __future__ import annotations

import base64
import hashlib
import os
import socket
import time
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from .conftest import REGION, Store, error_code, sign_v4, status_of

BIG = os.urandom(3 * 1024 * 1024 + 17)  # several write batches of 1 MiB, and a partial one
OLD = os.urandom(200_000)  # the key's previous object: a blob too


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def crc32(data: bytes) -> str:
    return b64(zlib.crc32(data).to_bytes(4, "big"))


def blob_files(store: Store) -> set[Path]:
    root = store.srv.services.settings.data_dir / "blobs"
    return {p for p in root.rglob("*") if p.is_file()}


@contextmanager
def nothing_stored(store: Store) -> Iterator[None]:
    """The block's PUTs of ``big`` must leave the store as it was: ``big`` still holds OLD,
    no new blob file, the same usage."""
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="big", Body=OLD)
    files, stats = blob_files(store), store.stats()
    yield
    for _ in range(100):  # a disconnected PUT's blob is removed when the server sees it go
        if not blob_files(store) - files:
            break
        time.sleep(0.1)
    assert blob_files(store) - files == set(), "a refused PUT left a blob file"
    assert s3.get_object(Bucket=store.name, Key="big")["Body"].read() == OLD
    assert store.stats() == stats


class _TrailerSigner(S3SigV4Auth):
    def payload(self, request: AWSRequest) -> str:
        return "STREAMING-UNSIGNED-PAYLOAD-TRAILER"


def _put_with_trailer(store: Store, key: str, data: bytes, trailer_value: str) -> httpx.Response:
    """An aws-chunked PUT (1 MiB chunks) whose CRC32 comes in a trailer, as boto3 sends it."""
    url = f"{store.s3_url}/{store.name}/{key}"
    body = b"".join(b"%x\r\n" % len(data[i:i + (1 << 20)]) + data[i:i + (1 << 20)] + b"\r\n"
                    for i in range(0, len(data), 1 << 20))
    body += f"0\r\nx-amz-checksum-crc32:{trailer_value}\r\n\r\n".encode()
    req = AWSRequest(method="PUT", url=url, data=b"", headers={
        "Content-Encoding": "aws-chunked", "x-amz-decoded-content-length": str(len(data)),
        "x-amz-trailer": "x-amz-checksum-crc32", "Content-Length": str(len(body))})
    _TrailerSigner(Credentials(store.access_key, store.secret_key), "s3", REGION).add_auth(req)
    with httpx.Client(timeout=60) as client:
        return client.put(url, content=body, headers=dict(req.headers.items()))


def test_wrong_md5_or_checksum_header_stores_nothing(store: Store) -> None:
    s3 = store.boto(when_required=True)
    with nothing_stored(store):
        for kwargs, code in (({"ContentMD5": b64(hashlib.md5(b"else").digest())}, "BadDigest"),
                             ({"ChecksumCRC32": crc32(b"else")}, "BadDigest"),
                             ({"ChecksumSHA256": b64(b"0" * 32)}, "BadDigest")):
            with pytest.raises(Exception) as ei:  # noqa: PT011 - botocore's ClientError
                s3.put_object(Bucket=store.name, Key="big", Body=BIG, **kwargs)
            assert error_code(ei.value) == code and status_of(ei.value) == 400, kwargs
    # the right ones are taken, and the checksum kept
    r = s3.put_object(Bucket=store.name, Key="big", Body=BIG, ChecksumCRC32=crc32(BIG),
                      ContentMD5=b64(hashlib.md5(BIG).digest()))
    assert r["ETag"] == f'"{hashlib.md5(BIG).hexdigest()}"' and r["ChecksumCRC32"] == crc32(BIG)
    assert s3.get_object(Bucket=store.name, Key="big")["Body"].read() == BIG


def test_wrong_signed_payload_hash_stores_nothing(store: Store) -> None:
    """A signed x-amz-content-sha256 (boto3's default over http) hashed in its own lane."""
    url = f"{store.s3_url}/{store.name}/big"
    other = BIG[:-1] + bytes([BIG[-1] ^ 1])
    with nothing_stored(store):
        headers = sign_v4("PUT", url, store.access_key, store.secret_key, body=other)
        with httpx.Client(timeout=60) as client:
            r = client.put(url, content=BIG, headers=headers)
        assert r.status_code == 400 and b"XAmzContentSHA256Mismatch" in r.content, r.text
    headers = sign_v4("PUT", url, store.access_key, store.secret_key, body=BIG)
    with httpx.Client(timeout=60) as client:
        assert client.put(url, content=BIG, headers=headers).status_code == 200


def test_wrong_trailer_stores_nothing(store: Store) -> None:
    with nothing_stored(store):
        r = _put_with_trailer(store, "big", BIG, crc32(b"else"))
        assert r.status_code == 400 and b"<Code>BadDigest</Code>" in r.content, r.text
    r = _put_with_trailer(store, "big", BIG, crc32(BIG))
    assert r.status_code == 200, r.text
    got = store.boto().get_object(Bucket=store.name, Key="big", ChecksumMode="ENABLED")
    assert got["Body"].read() == BIG and got["ChecksumCRC32"] == crc32(BIG)


def test_short_body_stores_nothing(store: Store) -> None:
    """A client that stops sending (and closes its side) before the announced length."""
    path = f"/{store.name}/big"
    url = f"{store.s3_url}{path}"
    assert url.startswith("http://")
    with nothing_stored(store):
        headers = sign_v4("PUT", url, store.access_key, store.secret_key, unsigned=True,
                          headers={"Content-Length": str(len(BIG))})
        head = "".join(f"{k}: {v}\r\n" for k, v in headers.items())
        host, port = store.host_port.rsplit(":", 1)
        with socket.create_connection((host, int(port)), timeout=30) as sock:
            sock.sendall(f"PUT {path} HTTP/1.1\r\nHost: {store.host_port}\r\n{head}\r\n"
                         .encode() + BIG[:len(BIG) - 1000])
            sock.shutdown(socket.SHUT_WR)
            while sock.recv(65536):  # whatever the server answers, until it closes
                pass

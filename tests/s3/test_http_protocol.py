"""The HTTP protocol every plane is served with (objectstore.http1, its own edge cases in
tests/unit/test_http1.py), through the real apps: complete responses, in order, on
keep-alive and pipelined connections, HEAD and 304 without a body, large bodies,
100-continue."""

from __future__ import annotations

import contextlib
import http.client
import io
import json
import socket
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.support.server import RunningServer, running_server


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(Path(tmp_path_factory.mktemp("proto")) / "data") as s:
        yield s


def _port(url: str) -> int:
    return int(url.rsplit(":", 1)[1])


@contextlib.contextmanager
def _connection(url: str) -> Iterator[tuple[socket.socket, _Reader]]:
    """A keep-alive connection to the server at ``url`` and its one buffered reader."""
    sock = socket.create_connection(("127.0.0.1", _port(url)), timeout=10)
    sock.settimeout(10)
    try:
        yield sock, _Reader(socket.SocketIO(sock, "rb"))  # type: ignore[arg-type]
    finally:
        sock.close()


class _Reader(io.BufferedReader):
    """One buffered reader for every response of a connection (http.client closes its
    reader at the end of each response)."""

    def close(self) -> None:
        pass


def _read(sock: socket.socket, reader: _Reader, method: str
          ) -> tuple[http.client.HTTPResponse, bytes]:
    resp = http.client.HTTPResponse(sock, method=method)
    resp.fp = reader  # type: ignore[assignment]
    resp.begin()
    return resp, resp.read()


def _request(method: str, path: str, extra: str = "") -> bytes:
    return f"{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\n{extra}\r\n".encode()


def test_keep_alive_head_then_get_then_head(srv: RunningServer) -> None:
    """A HEAD answer has no body: its head must still go out (else the client waits)."""
    with _connection(srv.s3_url) as (sock, reader):
        for method in ("HEAD", "GET", "HEAD", "GET"):
            sock.sendall(_request(method, "/no-such-bucket/k"))
            resp, body = _read(sock, reader, method)
            assert resp.status == 404, (method, resp.status)  # no such bucket (AWS, anonymous too)
            assert resp.getheader("x-amz-request-id")
            if method == "HEAD":
                assert body == b""
            else:
                assert b"<Code>NoSuchBucket</Code>" in body
                assert int(resp.getheader("content-length") or -1) == len(body)


def test_pipelined_requests_answered_in_order(srv: RunningServer) -> None:
    with _connection(srv.s3_url) as (sock, reader):
        methods = ["GET", "HEAD", "GET", "GET", "HEAD", "GET"]
        paths = [f"/bucket-{i}/key" for i in range(len(methods))]
        sock.sendall(b"".join(_request(m, p) for m, p in zip(methods, paths, strict=True)))
        for method, path in zip(methods, paths, strict=True):
            resp, body = _read(sock, reader, method)
            assert resp.status == 404
            if method == "GET":  # each answer is its own request's
                assert f"<Resource>{path}</Resource>".encode() in body, body
            else:
                assert body == b""


def test_management_plane_keep_alive(srv: RunningServer) -> None:
    with _connection(srv.api_url) as (sock, reader):
        for _ in range(3):
            sock.sendall(_request("GET", "/healthz"))
            resp, body = _read(sock, reader, "GET")
            assert resp.status == 200 and body


def test_expect_100_continue_refused_early_closes(srv: RunningServer) -> None:
    """An anonymous PUT that waits for 100 Continue gets its refusal, complete, at once."""
    with _connection(srv.s3_url) as (sock, reader):
        sock.sendall(_request("PUT", "/no-such-bucket/k",
                              "Content-Length: 5\r\nExpect: 100-continue\r\n"))
        resp, body = _read(sock, reader, "PUT")
        assert resp.status in (403, 404)
        assert int(resp.getheader("content-length") or -1) == len(body) > 0


def test_large_object_round_trip(srv: RunningServer) -> None:
    """A body much larger than one write: streamed after its head, byte for byte."""
    import boto3
    from botocore.config import Config

    api = srv.api()
    r = api.post("/v2/objectstores", json={"name": "proto-large", "region": "LON1"})
    r.raise_for_status()
    cred = api.get(f"/v2/objectstore/credentials/{r.json()['owner_info']['credential_id']}"
                   ).json()
    s3 = boto3.client("s3", endpoint_url=srv.s3_url, region_name="us-east-1",
                      aws_access_key_id=cred["access_key_id"],
                      aws_secret_access_key=cred["secret_access_key_id"],
                      config=Config(s3={"addressing_style": "path"}))
    data = bytes(range(256)) * (3 * 4096 + 7)  # ~3 MiB, not a multiple of any chunk size
    s3.put_object(Bucket="proto-large", Key="big", Body=data)
    got = s3.get_object(Bucket="proto-large", Key="big")
    assert got["Body"].read() == data
    small = s3.get_object(Bucket="proto-large", Key="big", Range="bytes=5-9")
    assert small["Body"].read() == data[5:10]
    head = s3.head_object(Bucket="proto-large", Key="big")
    assert head["ContentLength"] == len(data)
    etag = head["ETag"]
    from botocore.exceptions import ClientError
    with pytest.raises(ClientError) as exc:
        s3.get_object(Bucket="proto-large", Key="big", IfNoneMatch=etag)
    assert exc.value.response["ResponseMetadata"]["HTTPStatusCode"] == 304


_UNKNOWN_CODING = (b"PATCH /v2/objectstore/event-targets/x HTTP/1.1\r\nHost: h\r\n"
                   b"Transfer-Encoding: objectstore_session\r\n\r\n")
_BROKEN_CHUNK = (b"PUT /bucket/key HTTP/1.1\r\nHost: h\r\nTransfer-Encoding: chunked\r\n\r\n"
                 b"4\r\nabcd\r\nzz\r\n")


@pytest.mark.parametrize(("plane", "request_", "content_type", "check"), [
    ("api", _UNKNOWN_CODING, "application/json",
     lambda body: json.loads(body)["code"] == "bad_request"),
    ("s3", _UNKNOWN_CODING, "application/xml",
     lambda body: b"<Code>BadRequest</Code>" in body),
    ("s3", _BROKEN_CHUNK, "application/xml",
     lambda body: b"<Code>BadRequest</Code>" in body),
])
def test_a_malformed_request_is_refused_in_the_planes_format(
        srv: RunningServer, plane: str, request_: bytes, content_type: str, check: Any
        ) -> None:
    """A request the HTTP parser refuses once its head has gone to the app (an unknown
    transfer coding, a broken chunk) gets no answer from the app, but a 400 in the plane's
    error format, and the connection closes."""
    url = srv.api_url if plane == "api" else srv.s3_url
    with _connection(url) as (sock, reader):
        sock.sendall(request_)
        status = reader.readline()
        headers = {}
        while (line := reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode().partition(":")
            headers[name.strip().lower()] = value.strip()
        body = reader.read(int(headers["content-length"]))
    assert status.startswith(b"HTTP/1.1 400 ")
    assert headers["content-type"] == content_type and headers["connection"] == "close"
    assert check(body)

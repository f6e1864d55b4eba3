"""The HTTP/1.1 server (objectstore.http1) from outside: a small ASGI app on a real
listener (uvloop, a thread of its own), raw sockets as clients. The protocol's edge cases:
pipelining, 100-continue, chunked bodies both ways, read and write flow control, disconnects,
oversized and malformed heads, HTTP/1.0, HEAD, Connection: close, a failing app, graceful
shutdown. The real planes over it: tests/s3/test_http_protocol.py and the rest of the suite."""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import socket
import ssl
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import uvloop

from objectstore.http1 import Listener
from objectstore.http1.protocol import H1Protocol
from tests.support.tls import make_cert

HEAD_LIMIT = 16 * 1024
BIG = 64 << 20  # a response larger than any socket buffer


class _Hooks:
    """A connection guard that only records."""

    def __init__(self) -> None:
        self.events: list[str] = []

    def opened(self, conn: Any) -> bool:
        self.events.append("opened")
        return True

    def head_started(self, conn: Any) -> None:
        self.events.append("head")

    def busy(self, conn: Any) -> None:
        self.events.append("busy")

    def idle(self, conn: Any, head_started: bool) -> None:
        self.events.append("idle")

    def closed(self, conn: Any) -> None:
        self.events.append("closed")


@dataclass
class _Seen:
    """What the app saw, for the tests to check."""

    first_body: list[int] = field(default_factory=list)  # size of a slow reader's 1st chunk
    messages: list[str] = field(default_factory=list)  # receive() types after a body
    sent: int = 0  # bytes a large response handed to send() so far
    finished: list[str] = field(default_factory=list)
    scopes: list[dict[str, Any]] = field(default_factory=list)


async def _body(receive: Any) -> bytes:
    parts = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            raise ConnectionError("gone")
        parts.append(message["body"])
        if not message["more_body"]:
            return b"".join(parts)


def _app(seen: _Seen) -> Any:
    async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
        seen.scopes.append(scope)
        path = scope["path"]
        if path == "/echo":
            body = await _body(receive)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"%d" % len(body)),
                                    (b"x-path", scope["raw_path"] + b"?" + scope["query_string"])]})
            await send({"type": "http.response.body", "body": body})
        elif path == "/chunks":  # no content-length: chunked
            await send({"type": "http.response.start", "status": 200, "headers": []})
            await send({"type": "http.response.body", "body": b"abc", "more_body": True})
            await send({"type": "http.response.body", "body": b"", "more_body": True})
            await send({"type": "http.response.body", "body": b"defg"})
        elif path == "/slow-reader":  # reads its body late
            await asyncio.sleep(0.5)
            first = await receive()
            seen.first_body.append(len(first["body"]))
            rest = first["body"] + (await _body(receive) if first["more_body"] else b"")
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"%d" % len(rest))]})
            await send({"type": "http.response.body", "body": rest})
        elif path == "/big":  # 256 KiB a send
            n = BIG
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"%d" % n)]})
            chunk = b"x" * (256 << 10)
            while seen.sent < n:
                await send({"type": "http.response.body", "body": chunk, "more_body": True})
                seen.sent += len(chunk)
            await send({"type": "http.response.body", "body": b""})
        elif path == "/watch":  # reads its body, then waits for the client to go
            try:
                await _body(receive)
            except ConnectionError:
                seen.messages.append("disconnect-mid-body")
                return
            seen.messages.append((await receive())["type"])
        elif path == "/boom":
            raise ValueError("before the response")
        elif path == "/boom-after":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"10")]})
            raise ValueError("after the head")
        elif path == "/sleep":
            await asyncio.sleep(0.5)
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"content-length", b"5")]})
            await send({"type": "http.response.body", "body": b"slept"})
            seen.finished.append("sleep")
        elif path == "/bad-header":
            await send({"type": "http.response.start", "status": 200,
                        "headers": [(b"x-a", b"ok\r\nx-injected: 1")]})
        else:
            await send({"type": "http.response.start", "status": 404,
                        "headers": [(b"content-length", b"9"), (b"Content-Type", b"text/plain")]})
            await send({"type": "http.response.body", "body": b"not found"})
    return app


@dataclass
class _Server:
    port: int
    seen: _Seen
    hooks: _Hooks
    loop: asyncio.AbstractEventLoop
    listener: Listener


@contextlib.contextmanager
def _serving(ssl_context: ssl.SSLContext | None = None) -> Iterator[_Server]:
    seen, hooks = _Seen(), _Hooks()
    listener = Listener(_app(seen), hooks, head_limit=HEAD_LIMIT, ssl_context=ssl_context,
                        tls_headers=((b"Strict-Transport-Security", b"max-age=1"),))
    loop = uvloop.new_event_loop()
    started = threading.Event()
    stop = asyncio.Event()

    async def main() -> None:
        await listener.start("127.0.0.1", 0)
        started.set()
        await stop.wait()
        await listener.shutdown(5)

    thread = threading.Thread(target=loop.run_until_complete, args=(main(),), daemon=True)
    thread.start()
    assert started.wait(10)
    try:
        yield _Server(listener.port, seen, hooks, loop, listener)
    finally:
        loop.call_soon_threadsafe(stop.set)
        thread.join(10)
        loop.close()


@pytest.fixture(scope="module")
def srv() -> Iterator[_Server]:
    with _serving() as s:
        yield s


def _connect(port: int) -> socket.socket:
    s = socket.create_connection(("127.0.0.1", port), timeout=5)
    s.settimeout(5)
    return s


class _Responses:
    """Responses read off one connection, in order."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.buf = b""

    def _fill(self) -> bool:
        data = self.sock.recv(1 << 20)
        self.buf += data
        return bool(data)

    def line(self) -> bytes:
        while b"\r\n" not in self.buf:
            if not self._fill():
                raise EOFError(self.buf)
        line, self.buf = self.buf.split(b"\r\n", 1)
        return line

    def read(self, method: str = "GET") -> tuple[int, dict[bytes, bytes], bytes]:
        status = int(self.line().split(b" ")[1])
        headers: dict[bytes, bytes] = {}
        while line := self.line():
            name, value = line.split(b":", 1)
            assert name.lower() not in headers or name.lower() == b"set-cookie", line
            headers[name.lower()] = value.strip()
        if method == "HEAD" or status in (100, 204, 304):
            return status, headers, b""
        if headers.get(b"transfer-encoding") == b"chunked":
            body = b""
            while True:
                size = int(self.line(), 16)
                while len(self.buf) < size + 2:
                    assert self._fill()
                body, self.buf = body + self.buf[:size], self.buf[size + 2:]
                if size == 0:
                    return status, headers, body
        size = int(headers[b"content-length"])
        while len(self.buf) < size:
            if not self._fill():
                raise EOFError(self.buf)
        body, self.buf = self.buf[:size], self.buf[size:]
        return status, headers, body

    def closed(self) -> bool:
        """The server closed the connection (after what was read)."""
        try:
            return not self._fill()
        except ConnectionResetError:
            return True


def _req(method: str, path: str, body: bytes = b"", extra: str = "",
         version: str = "1.1") -> bytes:
    length = f"Content-Length: {len(body)}\r\n" \
        if (body or method in ("PUT", "POST")) and "Content-Length" not in extra else ""
    return f"{method} {path} HTTP/{version}\r\nHost: x\r\n{length}{extra}\r\n".encode() + body


def test_keep_alive_and_scope(srv: _Server) -> None:
    with _connect(srv.port) as s:
        r = _Responses(s)
        s.sendall(_req("POST", "/echo?a=1&b=%20", b"hello"))
        status, headers, body = r.read()
        assert (status, body, headers[b"x-path"]) == (200, b"hello", b"/echo?a=1&b=%20")
        assert headers[b"date"] and b"server" not in headers and b"connection" not in headers
        s.sendall(_req("GET", "/nothing%20here"))
        status, headers, body = r.read()
        assert (status, body) == (404, b"not found")
        assert headers[b"content-type"] == b"text/plain"  # names go out in lower case
    scope = srv.seen.scopes[-1]
    assert scope["type"] == "http" and scope["method"] == "GET"
    assert scope["path"] == "/nothing here" and scope["raw_path"] == b"/nothing%20here"
    assert scope["http_version"] == "1.1" and scope["scheme"] == "http"
    assert scope["client"][0] == "127.0.0.1" and scope["server"] == ("127.0.0.1", srv.port)
    assert scope["headers"] == [(b"host", b"x")]


def test_pipelined_requests_answered_in_order(srv: _Server) -> None:
    """A slow first request does not let the quick ones after it answer first."""
    with _connect(srv.port) as s:
        r = _Responses(s)
        s.sendall(_req("GET", "/sleep") + _req("POST", "/echo", b"two")
                  + _req("HEAD", "/echo") + _req("GET", "/chunks")
                  + b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                    b"4\r\nfive\r\n0\r\n\r\n")
        assert r.read()[2] == b"slept"
        assert r.read()[2] == b"two"
        status, headers, body = r.read("HEAD")
        assert (status, headers[b"content-length"], body) == (200, b"0", b"")
        assert r.read()[2] == b"abcdefg"
        assert r.read()[2] == b"five"


def test_chunked_request_body(srv: _Server) -> None:
    with _connect(srv.port) as s:
        r = _Responses(s)
        s.sendall(b"POST /echo HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n"
                  b"5\r\nhello\r\n")
        time.sleep(0.1)
        s.sendall(b"1\r\n \r\n5\r\nworld\r\n0\r\n\r\n")
        status, _, body = r.read()
        assert (status, body) == (200, b"hello world")


def test_chunked_response_without_content_length(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(_req("GET", "/chunks"))
        status, headers, body = _Responses(s).read()
        assert headers[b"transfer-encoding"] == b"chunked" and body == b"abcdefg"


def test_expect_100_continue(srv: _Server) -> None:
    """The interim answer comes when the app reads the body, not before."""
    with _connect(srv.port) as s:
        r = _Responses(s)
        s.sendall(_req("PUT", "/echo", extra="Content-Length: 5\r\nExpect: 100-continue\r\n"))
        assert r.line() == b"HTTP/1.1 100 Continue" and r.line() == b""
        s.sendall(b"12345")
        assert r.read()[2] == b"12345"
        # refused without reading the body: no 100, the answer at once
        s.sendall(_req("PUT", "/nope", extra="Content-Length: 5\r\nExpect: 100-continue\r\n"))
        assert r.read()[0] == 404


def test_slow_reader_of_a_large_body_pauses_reading(srv: _Server) -> None:
    """A body the app does not read is not buffered without bound: reading pauses (the
    client's send blocks) and resumes as the app reads."""
    body = bytes(range(256)) * (32 << 10)  # 8 MiB
    with _connect(srv.port) as s:
        s.sendall(_req("PUT", "/slow-reader", body))
        status, _, got = _Responses(s).read()
    assert status == 200 and got == body
    assert srv.seen.first_body[-1] < 1 << 20, srv.seen.first_body


def test_slow_client_of_a_large_response_holds_the_app(srv: _Server) -> None:
    """Write backpressure: a client that does not read makes the app's send wait."""
    before = srv.seen.sent
    with _connect(srv.port) as s:
        s.sendall(_req("GET", "/big"))
        time.sleep(1.0)
        held = srv.seen.sent - before
        assert held < BIG // 2, f"the app sent {held} bytes to a client reading none"
        r = _Responses(s)
        r.line()
        while r.line():
            pass
        got, buf = len(r.buf), bytearray(1 << 20)
        while got < BIG:
            n = s.recv_into(buf)
            assert n
            got += n
    assert got == BIG


def test_disconnect_mid_body_and_after_the_body(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(_req("PUT", "/watch", extra="Content-Length: 1000\r\n") + b"only ten b")
        time.sleep(0.1)
    with _connect(srv.port) as s:
        s.sendall(_req("PUT", "/watch", b"all of it"))
        time.sleep(0.1)
    deadline = time.monotonic() + 5
    while len(srv.seen.messages) < 2 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sorted(srv.seen.messages[-2:]) == ["disconnect-mid-body", "http.disconnect"]


def test_incomplete_head_over_the_limit_gets_431(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n")
        with contextlib.suppress(OSError):
            for _ in range(HEAD_LIMIT // 1000 + 2):
                s.sendall(b"X-Big: " + b"a" * 1000 + b"\r\n")
        r = _Responses(s)
        assert r.read()[0] == 431 and r.closed()


def test_malformed_request_gets_400_after_the_ones_before(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(b"GARBAGE\r\n\r\n")
        r = _Responses(s)
        status, headers, body = r.read()
        assert status == 400 and headers[b"connection"] == b"close" and r.closed()
    with _connect(srv.port) as s:
        s.sendall(_req("GET", "/sleep") + b"GET / HTTP/1.1\r\nBad Header\r\n\r\n")
        r = _Responses(s)
        assert r.read()[2] == b"slept"
        assert r.read()[0] == 400 and r.closed()


def test_http_1_0_and_connection_close(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(b"GET /chunks HTTP/1.0\r\n\r\n")
        r = _Responses(s)
        status, headers, body = r.read()
        assert status == 200 and body == b"abcdefg"
        assert headers[b"connection"] == b"close" and r.closed()
        assert srv.seen.scopes[-1]["http_version"] == "1.0"
    with _connect(srv.port) as s:
        s.sendall(_req("POST", "/echo", b"x", "Connection: close\r\n"))
        r = _Responses(s)
        status, headers, body = r.read()
        assert body == b"x" and headers[b"connection"] == b"close" and r.closed()


def test_app_failures(srv: _Server) -> None:
    with _connect(srv.port) as s:
        s.sendall(_req("GET", "/boom"))
        r = _Responses(s)
        status, headers, body = r.read()
        assert (status, body) == (500, b"Internal Server Error") and r.closed()
    with _connect(srv.port) as s:  # after the head: the head goes, then the connection
        s.sendall(_req("GET", "/boom-after"))
        r = _Responses(s)
        assert r.line() == b"HTTP/1.1 200 OK"
        while r.line():  # the head
            pass
        assert r.buf == b"" and r.closed()  # no body: closed
    with _connect(srv.port) as s:  # a header value that would split the head: never sent
        s.sendall(_req("GET", "/bad-header"))
        r = _Responses(s)
        status, _, _ = r.read()
        assert status == 500 and r.closed()
        assert b"x-injected" not in r.buf


def test_guard_hooks_follow_the_connection(srv: _Server) -> None:
    srv.hooks.events.clear()
    with _connect(srv.port) as s:
        r = _Responses(s)
        s.sendall(_req("GET", "/x"))
        r.read()
        time.sleep(0.05)
        assert srv.hooks.events == ["opened", "head", "busy", "idle"]
    deadline = time.monotonic() + 5
    while srv.hooks.events[-1:] != ["closed"] and time.monotonic() < deadline:
        time.sleep(0.02)
    assert srv.hooks.events[-1:] == ["closed"]


def test_graceful_shutdown_finishes_requests_and_closes_idle_connections() -> None:
    with _serving() as server:
        idle = _connect(server.port)
        busy = _connect(server.port)
        busy.sendall(_req("GET", "/sleep"))
        time.sleep(0.1)
        done = asyncio.run_coroutine_threadsafe(server.listener.shutdown(5), server.loop)
        r = _Responses(busy)
        status, headers, body = r.read()
        assert body == b"slept" and r.closed()
        assert _Responses(idle).closed()
        done.result(5)
        with pytest.raises(OSError):
            _connect(server.port).sendall(_req("GET", "/x") * 100)
        idle.close()
        busy.close()


def test_tls_connection_gets_https_scope_and_its_headers(tmp_path: Path) -> None:
    cert, key = make_cert(tmp_path)
    server_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    server_ctx.load_cert_chain(cert, key)
    client_ctx = ssl.create_default_context(cafile=str(cert))
    with _serving(server_ctx) as server, _connect(server.port) as raw, \
            client_ctx.wrap_socket(raw, server_hostname="127.0.0.1") as s:
        r = _Responses(s)  # type: ignore[arg-type]
        s.sendall(_req("POST", "/echo", b"secret") + _req("GET", "/chunks"))
        status, headers, body = r.read()
        assert body == b"secret" and headers[b"strict-transport-security"] == b"max-age=1"
        assert r.read()[2] == b"abcdefg"
        assert server.seen.scopes[-1]["scheme"] == "https"
    with _serving() as server, _connect(server.port) as s:  # plain: no such header
        s.sendall(_req("GET", "/chunks"))
        assert b"strict-transport-security" not in _Responses(s).read()[1]


def test_one_write_for_a_small_response() -> None:
    """The head and a small body leave in one ``transport.write`` (one segment)."""

    class Transport(asyncio.Transport):
        def __init__(self) -> None:
            super().__init__()
            self.writes: list[bytes] = []

        def write(self, data: Any) -> None:
            self.writes.append(bytes(data))

        def is_closing(self) -> bool:
            return False

        def get_extra_info(self, name: str, default: Any = None) -> Any:
            return ("127.0.0.1", 1) if name in ("sockname", "peername") else default

    async def main() -> list[bytes]:
        listener = Listener(_app(_Seen()), _Hooks(), head_limit=HEAD_LIMIT)
        proto = H1Protocol(listener, asyncio.get_running_loop())
        transport = Transport()
        proto.connection_made(transport)
        proto.data_received(_req("POST", "/echo", b"small"))
        while listener.tasks:
            await asyncio.sleep(0.01)
        return transport.writes

    # a loop of its own in a thread of its own: in the whole suite this thread may already
    # run one (Playwright's sync API leaves it so)
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        writes = pool.submit(asyncio.run, main()).result(timeout=30)
    assert len(writes) == 1 and writes[0].startswith(b"HTTP/1.1 200 OK\r\n")
    assert writes[0].endswith(b"\r\n\r\nsmall")

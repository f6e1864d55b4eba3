"""The SeaweedFS client's HTTP/1.1 connections (storage/seaweedfs/http.py) against a scripted
server on a real socket: framing by length, chunks or the connection's end, keep-alive and
``Connection: close``, a kept connection the server closed, a server that never answers, a
request's bytes on the wire."""

from __future__ import annotations

import socket
import threading
from collections.abc import Callable, Iterator

import pytest

from objectstore.storage.seaweedfs.http import HttpPool

Handler = Callable[[socket.socket, bytes], bool]  # (conn, request head) -> keep the connection


class Scripted:
    """Accepts connections; answers each request with the next handler's bytes."""

    def __init__(self, handlers: list[Handler]) -> None:
        self.handlers = handlers
        self.requests: list[bytes] = []
        self.connections = 0
        self.sock = socket.create_server(("127.0.0.1", 0))
        self.host = f"127.0.0.1:{self.sock.getsockname()[1]}"
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self) -> None:
        while self.handlers:
            try:
                conn, _ = self.sock.accept()
            except OSError:
                return
            self.connections += 1
            keep = True
            buf = b""
            with conn:
                while keep and self.handlers:
                    while b"\r\n\r\n" not in buf:
                        data = conn.recv(65536)
                        if not data:
                            keep = False
                            break
                        buf += data
                    if not keep:
                        break
                    head, _, buf = buf.partition(b"\r\n\r\n")
                    length = 0
                    for line in head.split(b"\r\n")[1:]:
                        name, _, value = line.partition(b":")
                        if name.strip().lower() == b"content-length":
                            length = int(value)
                    while len(buf) < length:
                        buf += conn.recv(65536)
                    self.requests.append(head + b"\r\n\r\n" + buf[:length])
                    buf = buf[length:]
                    keep = self.handlers.pop(0)(conn, head)

    def close(self) -> None:
        self.sock.close()


def answer(raw: bytes, keep: bool = True) -> Handler:
    def handle(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(raw)
        return keep
    return handle


@pytest.fixture
def pool() -> Iterator[HttpPool]:
    p = HttpPool(timeout_s=2.0)
    yield p
    p.close()


def test_lengths_chunks_and_keep_alive(pool: HttpPool) -> None:
    srv = Scripted([
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 5\r\nX-A: 1\r\n\r\nhello"),
        answer(b"HTTP/1.1 206 Partial\r\nTransfer-Encoding: chunked\r\n\r\n"
               b"3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n"),
        answer(b"HTTP/1.1 204 No Content\r\n\r\n"),
    ])
    try:
        r1 = pool.request("GET", srv.host, "/1,ab")
        r2 = pool.request("GET", srv.host, "/1,ab", headers={"Range": "bytes=0-4"})
        r3 = pool.request("DELETE", srv.host, "/1,ab")
    finally:
        srv.close()
    assert (r1.status, r1.body, r1.headers["x-a"]) == (200, b"hello", "1")
    assert (r2.status, r2.body) == (206, b"abcde")
    assert (r3.status, r3.body) == (204, b"")
    assert srv.connections == 1  # one kept connection for all three
    assert srv.requests[1].startswith(b"GET /1,ab HTTP/1.1\r\n")
    assert b"\r\nRange: bytes=0-4\r\n" in srv.requests[1]
    assert f"\r\nHost: {srv.host}\r\n".encode() in srv.requests[0]


def test_put_bodies_small_and_large(pool: HttpPool) -> None:
    ok = b'HTTP/1.1 201 Created\r\nContent-Length: 2\r\n\r\n{}'
    srv = Scripted([answer(ok), answer(ok)])
    big = bytes(range(256)) * 4096  # 1 MiB: head and body in two writes
    try:
        assert pool.request("PUT", srv.host, "/1,a", body=b"xyz").status == 201
        assert pool.request("PUT", srv.host, "/1,b", body=memoryview(big)).status == 201
    finally:
        srv.close()
    assert srv.requests[0].endswith(b"Content-Length: 3\r\n\r\nxyz")
    assert srv.requests[1].endswith(b"Content-Length: 1048576\r\n\r\n" + big)


def test_connection_close_and_close_delimited_body(pool: HttpPool) -> None:
    srv = Scripted([
        answer(b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 2\r\n\r\nok", False),
        answer(b"HTTP/1.1 200 OK\r\n\r\nuntil the end", False),
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\nx"),
    ])
    try:
        assert pool.request("GET", srv.host, "/a").body == b"ok"
        assert pool.request("GET", srv.host, "/b").body == b"until the end"
        assert pool.request("GET", srv.host, "/c").body == b"x"
    finally:
        srv.close()
    assert srv.connections == 3


def test_kept_connection_closed_by_the_server_is_retried(pool: HttpPool) -> None:
    def close_without_answer(conn: socket.socket, head: bytes) -> bool:
        return False  # the connection ends: as a server's idle timeout does

    srv = Scripted([
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n1"),
        close_without_answer,
        answer(b"HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n2"),
    ])
    try:
        assert pool.request("GET", srv.host, "/a").body == b"1"
        assert pool.request("GET", srv.host, "/b").body == b"2"
    finally:
        srv.close()
    assert srv.connections == 2


def test_truncated_answer_and_unreachable_host_raise(pool: HttpPool) -> None:
    srv = Scripted([answer(b"HTTP/1.1 200 OK\r\nContent-Length: 10\r\n\r\nshort", False)])
    try:
        with pytest.raises(ConnectionError, match="before the whole answer"):
            pool.request("GET", srv.host, "/a")
    finally:
        srv.close()
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    with pytest.raises(ConnectionError):
        pool.request("GET", f"127.0.0.1:{port}", "/a")


def test_a_server_that_never_answers_times_out() -> None:
    def hang(conn: socket.socket, head: bytes) -> bool:
        threading.Event().wait(1.0)
        return False

    srv = Scripted([hang])
    p = HttpPool(timeout_s=0.3)
    try:
        with pytest.raises(ConnectionError, match="timed out"):
            p.request("GET", srv.host, "/a")
    finally:
        p.close()
        srv.close()


def test_garbage_answer_raises(pool: HttpPool) -> None:
    srv = Scripted([answer(b"NOT HTTP AT ALL\r\n\r\n", False)])
    try:
        with pytest.raises(ConnectionError):
            pool.request("GET", srv.host, "/a")
    finally:
        srv.close()


def test_long_bodies_read_in_one_piece(pool: HttpPool) -> None:
    """``expect``: a long body of known length (sent in pieces, the head apart from it), a
    chunked one, a short error answer and a truncated one, then the kept connection."""
    big = bytes(range(256)) * 8192  # 2 MiB

    def in_pieces(conn: socket.socket, head: bytes) -> bool:
        conn.sendall(b"HTTP/1.1 206 Partial\r\nContent-Length: %d\r\n\r\n" % len(big))
        threading.Event().wait(0.05)
        for i in range(0, len(big), 300_000):
            conn.sendall(big[i:i + 300_000])
        return True

    chunked = b"".join(b"%x\r\n%s\r\n" % (len(big[i:i + 70_000]), big[i:i + 70_000])
                       for i in range(0, len(big), 70_000))
    srv = Scripted([
        in_pieces,
        answer(b"HTTP/1.1 206 Partial\r\nTransfer-Encoding: chunked\r\n\r\n" + chunked
               + b"0\r\n\r\n"),
        answer(b"HTTP/1.1 404 Not Found\r\nContent-Length: 9\r\n\r\nnot found"),
        answer(b"HTTP/1.1 206 Partial\r\nContent-Length: 3\r\n\r\nabc"),
    ])
    try:
        r1 = pool.request("GET", srv.host, "/a", expect=len(big))
        r2 = pool.request("GET", srv.host, "/b", expect=len(big))
        r3 = pool.request("GET", srv.host, "/c", expect=len(big))
        r4 = pool.request("GET", srv.host, "/d", expect=len(big))
    finally:
        srv.close()
    # (on a connection of its own: one kept alive would be tried once more on a fresh one)
    cut = Scripted([answer(b"HTTP/1.1 206 Partial\r\nContent-Length: 100000\r\n\r\n"
                           + b"x" * 5000, False)])
    try:
        with pytest.raises(ConnectionError, match="before the whole answer"):
            HttpPool(timeout_s=2.0).request("GET", cut.host, "/e", expect=100000)
    finally:
        cut.close()
    assert (r1.status, r1.body == big, r1.headers["content-length"]) == (206, True, str(len(big)))
    assert (r2.status, r2.body == big) == (206, True)
    assert (r3.status, r3.body) == (404, b"not found")
    assert (r4.status, r4.body) == (206, b"abc")
    assert srv.connections == 1  # kept through all of them

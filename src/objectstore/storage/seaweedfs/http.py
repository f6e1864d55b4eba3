"""A small blocking HTTP/1.1 client with keep-alive connections per host (worker threads).

A plain socket and the llhttp parser (``httptools``, already what the server parses requests
with): a request is one ``sendall`` (head and a small body together), the response is fed to
the parser as it arrives. ``http.client`` cost ~225 µs of CPU per 4 KiB needle GET here,
most of it parsing the response head with the ``email`` package; this costs a fraction of
that, and a needle GET or PUT is what every object past the inline limit pays on SeaweedFS.

A connection that went stale while idle (the server closed it) is retried once on a fresh one.
Responses are framed by ``Content-Length``, chunked encoding, or the end of the connection;
the requests made here (GET, PUT, DELETE) never have a bodiless response with a length.

A long body (a ranged needle read of up to 8 MiB, said by the caller's ``expect``) is read
as ``http.client`` reads one: its head is taken off the socket alone (after a ``MSG_PEEK``),
then ``io.BufferedReader.read(n)`` receives the body straight into the bytes object that is
returned, not in pieces joined afterwards (which halved a 4 MiB read's rate).
"""

from __future__ import annotations

import io
import socket
import threading
from dataclasses import dataclass

import httptools

CONNECT_TIMEOUT_S = 5.0
IO_TIMEOUT_S = 60.0
_RECV = 64 * 1024  # (below malloc's mmap threshold: a 256 KiB read buffer per answer grew RSS)
_JOIN_BELOW = 64 * 1024  # a body smaller than this leaves in the head's write
_LONG = 64 * 1024  # an expected body at least this long is read in one piece
_PEEK = 16 * 1024  # enough for a head (a volume server's is a few hundred bytes)


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


class _Response:
    """httptools' callbacks for one response."""

    __slots__ = ("body", "complete", "head_done", "headers", "keep", "parser", "status")

    def __init__(self) -> None:
        self.headers: dict[str, str] = {}
        self.body: list[bytes] = []
        self.head_done = False
        self.complete = False
        self.keep = False
        self.status = 0
        self.parser = httptools.HttpResponseParser(self)

    def on_header(self, name: bytes, value: bytes) -> None:
        key = name.decode("latin-1").lower()
        text = value.decode("latin-1")
        self.headers[key] = f"{self.headers[key]}, {text}" if key in self.headers else text

    def on_headers_complete(self) -> None:
        # (read here: the parser forgets them once the message is complete)
        self.head_done = True
        self.status = self.parser.get_status_code()
        self.keep = self.parser.should_keep_alive()

    def on_body(self, body: bytes) -> None:
        self.body.append(body)

    def on_message_complete(self) -> None:
        self.complete = True


class _Stale(Exception):
    """A kept connection was closed by the server before any byte of the answer."""


def _address(host: str) -> tuple[str, int]:
    name, _, port = host.rpartition(":")
    if not name or not port.isdigit():
        raise ConnectionError(f"bad host:port {host!r}")
    return name.strip("[]"), int(port)


class HttpPool:
    def __init__(self, per_host: int = 16, timeout_s: float = IO_TIMEOUT_S) -> None:
        self.per_host = per_host
        self.timeout_s = timeout_s
        self._idle: dict[str, list[socket.socket]] = {}
        self._lock = threading.Lock()

    def _get(self, host: str) -> tuple[socket.socket, bool]:
        with self._lock:
            idle = self._idle.get(host)
            if idle:
                return idle.pop(), True
        sock = socket.create_connection(_address(host), timeout=CONNECT_TIMEOUT_S)
        sock.settimeout(self.timeout_s)
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return sock, False

    def _put(self, host: str, sock: socket.socket) -> None:
        with self._lock:
            idle = self._idle.setdefault(host, [])
            if len(idle) < self.per_host:
                idle.append(sock)
                return
        sock.close()

    def request(self, method: str, host: str, path: str, body: bytes | memoryview | None = None,
                headers: dict[str, str] | None = None, *, expect: int = 0) -> Reply:
        """One request; raises ``ConnectionError`` when the host cannot be reached, the
        connection breaks or the answer is not HTTP. ``expect``: the body length the caller
        expects (a ranged read), to read a long one in one piece."""
        lines = [f"{method} {path} HTTP/1.1", f"Host: {host}"]
        lines += [f"{k}: {v}" for k, v in (headers or {}).items()]
        if body is not None or method in ("PUT", "POST"):
            lines.append(f"Content-Length: {len(body) if body is not None else 0}")
        head = ("\r\n".join(lines) + "\r\n\r\n").encode("latin-1")
        for attempt in range(2):
            try:
                sock, reused = self._get(host)
            except OSError as exc:
                raise ConnectionError(f"{method} http://{host}{path}: {exc}") from exc
            try:
                reply, keep = self._exchange(sock, head, body, reused, expect)
            except _Stale:
                sock.close()
                if attempt == 0:
                    continue  # once more on a fresh connection
                raise ConnectionError(f"{method} http://{host}{path}: connection closed "
                                      f"before the answer") from None
            except (OSError, httptools.HttpParserError) as exc:
                sock.close()
                # A kept connection the server closed meanwhile: once more on a fresh one.
                if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    continue
                raise ConnectionError(f"{method} http://{host}{path}: {exc}") from exc
            if keep:
                self._put(host, sock)
            else:
                sock.close()
            return reply
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            socks = [s for idle in self._idle.values() for s in idle]
            self._idle.clear()
        for s in socks:
            s.close()

    @staticmethod
    def _exchange(sock: socket.socket, head: bytes, body: bytes | memoryview | None,
                  reused: bool, expect: int) -> tuple[Reply, bool]:
        """Send the request and read its answer: (the reply, whether the connection may be
        kept)."""
        if body is not None and len(body) < _JOIN_BELOW:
            sock.sendall(head + bytes(body))
        else:
            sock.sendall(head)
            if body is not None and len(body):
                sock.sendall(body)
        if expect >= _LONG:
            long = _long_body(sock, reused)
            if long is not None:
                return long
        response = _Response()
        received = False
        while not response.complete:
            data = sock.recv(_RECV)
            if not data:
                if not received and reused:
                    raise _Stale
                if response.head_done and not _framed(response.headers):
                    break  # the body ran to the end of the connection
                raise ConnectionError("connection closed before the whole answer")
            received = True
            response.parser.feed_data(data)
        keep = response.complete and response.keep
        return Reply(response.status, b"".join(response.body), response.headers), keep


def _long_body(sock: socket.socket, reused: bool) -> tuple[Reply, bool] | None:
    """The answer read head first, then its body of known length in one piece; None (with
    nothing consumed) when the answer is not such (no length, chunked, short, an error)."""
    peeked = sock.recv(_PEEK, socket.MSG_PEEK)
    if not peeked:
        if reused:
            raise _Stale
        raise ConnectionError("connection closed before the answer")
    end = peeked.find(b"\r\n\r\n")
    if end < 0:
        return None
    response = _Response()
    response.parser.feed_data(peeked[:end + 4])
    length = response.headers.get("content-length", "")
    if not response.head_done or response.complete or not length.isdigit() \
            or "transfer-encoding" in response.headers or end + 4 + int(length) <= len(peeked):
        return None  # nothing to gain: read as any other answer
    sock.recv(end + 4)  # the head alone (received already: one call takes it)
    whole = _recv_exactly(sock, int(length))
    return Reply(response.status, whole, response.headers), response.keep


def _recv_exactly(sock: socket.socket, n: int) -> bytes:
    """``n`` bytes in one bytes object, read into it as they arrive (``io.BufferedReader``
    over the socket reads a long ``read(n)`` straight into its result)."""
    data = io.BufferedReader(socket.SocketIO(sock, "rb"), _RECV).read(n)
    if len(data) != n:
        raise ConnectionError("connection closed before the whole answer")
    return data


def _framed(headers: dict[str, str]) -> bool:
    return "content-length" in headers or "chunked" in headers.get("transfer-encoding", "")

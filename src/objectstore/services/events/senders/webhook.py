"""A webhook target: each event is POSTed as JSON to the endpoint; a 2xx answer
acknowledges it (a 3xx is not followed: not an acknowledgement). ``Authorization: Bearer
<auth_token>`` when the target has a token.

Answers are parsed by httptools (llhttp, the parser the server itself runs on: 1xx, chunked,
bodies to the end of the connection, keep-alive) over asyncio streams of our own, so that
each request leaves in one write on a TCP_NODELAY socket: httpx sent the headers and the
body in two writes and, against a receiver that delays its ACKs, managed ~200 POSTs/s where
this does thousands — the deliverer shares its process with the S3 plane, so its CPU per
event matters too."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from urllib.parse import urlsplit

import httptools

from .base import DeliveryError, TargetSpec

TIMEOUT_S = 10.0
MAX_IDLE = 32          # kept-alive connections
MAX_HEAD = 64 * 1024   # a response head larger than this is refused
MAX_BODY = 1024 * 1024  # response bodies are read (to reuse the connection) up to this



class Conn:
    """One kept connection."""

    __slots__ = ("reader", "writer")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer


class _Answer:
    """httptools' callbacks for one answer: its status once final (1xx skipped), whether the
    connection stays open, how much body came."""

    __slots__ = ("parser", "status", "keep", "done", "headers_done", "body")

    def __init__(self) -> None:
        self.parser = httptools.HttpResponseParser(self)
        self.status, self.keep, self.done, self.headers_done, self.body = 0, False, False, \
            False, 0

    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = self.status >= 200

    def on_body(self, data: bytes) -> None:
        self.body += len(data)

    def on_message_complete(self) -> None:
        if self.parser.get_status_code() >= 200:
            self.done, self.keep = True, self.parser.should_keep_alive()


class WebhookSender:
    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        url = urlsplit(spec.endpoint)
        if url.scheme not in ("http", "https") or not url.hostname:
            raise DeliveryError(f"not an http(s) URL: {url.scheme}://{url.hostname}",
                                permanent=True)
        self.host = url.hostname
        self.port = url.port or (443 if url.scheme == "https" else 80)
        self.tls = ssl.create_default_context() if url.scheme == "https" else None
        path = url.path or "/"
        if url.query:
            path += "?" + url.query
        host_header = url.hostname if ":" not in url.hostname else f"[{url.hostname}]"
        if url.port is not None:
            host_header += f":{url.port}"
        lines = [f"POST {path} HTTP/1.1", f"Host: {host_header}",
                 "Content-Type: application/json", "User-Agent: objectstore-events"]
        if spec.secret:
            lines.append(f"Authorization: Bearer {spec.secret}")
        self._head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
        self._idle: list[Conn] = []
        self._closed = False

    async def _connect(self) -> Conn:
        reader, writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.tls,
            server_hostname=self.host if self.tls is not None else None,
            limit=MAX_HEAD)
        sock = writer.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        return Conn(reader, writer)

    async def send(self, body: bytes, *, key: str) -> None:
        for attempt in (1, 2):  # a kept-alive connection the receiver closed: once more
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else None
            try:
                async with asyncio.timeout(TIMEOUT_S):  # (no task per call, as wait_for)
                    if conn is None:
                        conn = await self._connect()
                    status, keep = await self._exchange(conn, body)
            except (OSError, EOFError, httptools.HttpParserError, TimeoutError,
                    ssl.SSLError) as exc:
                if conn is not None:
                    conn.writer.close()
                if reused and attempt == 1 and not isinstance(exc, TimeoutError):
                    continue
                raise DeliveryError(f"webhook {self.host}:{self.port}: "
                                    f"{type(exc).__name__}: {exc}") from exc
            if keep and not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                conn.writer.close()
            if 200 <= status < 300:
                return
            permanent = 400 <= status < 500 and status not in (408, 429)
            raise DeliveryError(f"the webhook answered {status}", permanent=permanent)
        raise AssertionError("unreachable")

    async def _exchange(self, conn: Conn, body: bytes) -> tuple[int, bool]:
        """POST ``body`` on ``conn``: the answer's status, and whether the connection can
        carry the next request (the answer read whole, neither side closing)."""
        conn.writer.write(self._head + str(len(body)).encode() + b"\r\n\r\n" + body)
        await conn.writer.drain()
        answer = _Answer()
        while not answer.done:
            data = await conn.reader.read(65536)
            if not data:
                if answer.headers_done:  # a body that runs to the end of the connection
                    return answer.status, False
                raise EOFError("the webhook closed the connection before answering")
            answer.parser.feed_data(data)
            if answer.body > MAX_BODY:  # not read to its end: the connection is not reused
                return answer.status, False
        return answer.status, answer.keep

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().writer.close()

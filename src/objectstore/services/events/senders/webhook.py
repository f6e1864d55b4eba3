"""A webhook target: each event is POSTed as JSON to the endpoint; a 2xx answer
acknowledges it (a 3xx is not followed: not an acknowledgement). ``Authorization: Bearer
<auth_token>`` when the target has a token.

A small HTTP/1.1 client of its own over asyncio streams (keep-alive connections, the request
in one write, TCP_NODELAY): httpx sent the headers and the body in two writes and, against a
receiver that delays its ACKs, managed ~200 POSTs/s where this does thousands — the
deliverer shares its process with the S3 plane, so its CPU per event matters too."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from urllib.parse import urlsplit

from .base import DeliveryError, TargetSpec

TIMEOUT_S = 10.0
MAX_IDLE = 32          # kept-alive connections
MAX_HEAD = 64 * 1024   # a response head larger than this is refused
MAX_BODY = 1024 * 1024  # response bodies are read (to reuse the connection) up to this

Conn = tuple[asyncio.StreamReader, asyncio.StreamWriter]


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
                 "Content-Type: application/json", "User-Agent: objectstore-events",
                 "Connection: keep-alive"]
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
        return reader, writer

    async def send(self, body: bytes, *, key: str) -> None:
        request = self._head + str(len(body)).encode() + b"\r\n\r\n" + body
        for attempt in (1, 2):  # a kept-alive connection the receiver closed: once more
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else None
            try:
                async with asyncio.timeout(TIMEOUT_S):  # (no task per call, as wait_for)
                    if conn is None:
                        conn = await self._connect()
                    status, keep = await self._exchange(conn, request)
            except (OSError, EOFError, asyncio.IncompleteReadError, ValueError,
                    asyncio.LimitOverrunError, TimeoutError, ssl.SSLError) as exc:
                if conn is not None:
                    conn[1].close()
                if reused and attempt == 1 and not isinstance(exc, TimeoutError):
                    continue
                raise DeliveryError(f"webhook {self.host}:{self.port}: "
                                    f"{type(exc).__name__}: {exc}") from exc
            if keep and not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                conn[1].close()
            if 200 <= status < 300:
                return
            permanent = 400 <= status < 500 and status not in (408, 429)
            raise DeliveryError(f"the webhook answered {status}", permanent=permanent)
        raise AssertionError("unreachable")

    @staticmethod
    async def _exchange(conn: Conn, request: bytes) -> tuple[int, bool]:
        reader, writer = conn
        writer.write(request)
        await writer.drain()
        while True:  # 1xx answers come before the real one
            head = await reader.readuntil(b"\r\n\r\n")
            lines = head.decode("latin-1").split("\r\n")
            parts = lines[0].split(" ", 2)
            if len(parts) < 2 or not parts[0].startswith("HTTP/1.") or not parts[1].isdigit():
                raise ValueError(f"not an HTTP/1.x answer: {lines[0][:80]!r}")
            status = int(parts[1])
            if not 100 <= status < 200:
                break
        headers: dict[str, str] = {}
        for line in lines[1:]:
            if ":" in line:
                k, v = line.split(":", 1)
                headers[k.strip().lower()] = v.strip()
        keep = parts[0] == "HTTP/1.1" and "close" not in headers.get("connection", "").lower()
        if "chunked" in headers.get("transfer-encoding", "").lower():
            total = 0
            while True:
                size = int((await reader.readuntil(b"\r\n")).split(b";")[0].strip(), 16)
                total += size
                if total > MAX_BODY:
                    return status, False
                await reader.readexactly(size + 2)
                if size == 0:
                    break
        elif "content-length" in headers:
            length = int(headers["content-length"])
            if length > MAX_BODY:
                return status, False
            await reader.readexactly(length)
        elif status not in (204, 304):
            keep = False  # the body runs to the end of the connection: not read
        return status, keep

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            _reader, writer = self._idle.pop()
            writer.close()

"""A webhook target: each event is POSTed as JSON to the endpoint; a 2xx answer
acknowledges it (a 3xx is not followed: not an acknowledgement). ``Authorization: Bearer
<auth_token>`` when the target has a token.

HTTP/1.1 framing is h11's (requests made, answers parsed: 1xx, chunked, bodies to the end
of the connection, keep-alive) over asyncio streams of our own, so that each request leaves
in one write on a TCP_NODELAY socket: httpx sent the headers and the body in two writes and,
against a receiver that delays its ACKs, managed ~200 POSTs/s where this does thousands —
the deliverer shares its process with the S3 plane, so its CPU per event matters too."""

from __future__ import annotations

import asyncio
import contextlib
import socket
import ssl
from urllib.parse import urlsplit

import h11

from .base import DeliveryError, TargetSpec

TIMEOUT_S = 10.0
MAX_IDLE = 32          # kept-alive connections
MAX_HEAD = 64 * 1024   # a response head larger than this is refused
MAX_BODY = 1024 * 1024  # response bodies are read (to reuse the connection) up to this



class Conn:
    """One kept connection and its HTTP/1.1 state."""

    __slots__ = ("reader", "writer", "http")

    def __init__(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.reader, self.writer = reader, writer
        self.http = h11.Connection(h11.CLIENT, max_incomplete_event_size=MAX_HEAD)


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
        self._target = path.encode("latin-1")
        self._headers = [(b"host", host_header.encode("latin-1")),
                         (b"content-type", b"application/json"),
                         (b"user-agent", b"objectstore-events")]
        if spec.secret:
            self._headers.append((b"authorization", f"Bearer {spec.secret}".encode("latin-1")))
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
            except (OSError, EOFError, h11.ProtocolError, TimeoutError, ssl.SSLError) as exc:
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
        http = conn.http
        headers = [*self._headers, (b"content-length", str(len(body)).encode())]
        conn.writer.write(http.send(h11.Request(method=b"POST", target=self._target,
                                                headers=headers))
                          + http.send(h11.Data(data=body))
                          + http.send(h11.EndOfMessage()))
        await conn.writer.drain()
        status, read = 0, 0
        while True:
            event = http.next_event()
            if event is h11.NEED_DATA:
                http.receive_data(await conn.reader.read(65536))  # b"": the end
            elif isinstance(event, h11.Response):  # (1xx answers are skipped)
                status = event.status_code
            elif isinstance(event, h11.Data):
                read += len(event.data)
                if read > MAX_BODY:  # not read to its end: the connection is not reused
                    return status, False
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise EOFError("the webhook closed the connection before answering")
        keep = http.our_state is h11.DONE and http.their_state is h11.DONE
        if keep:
            http.start_next_cycle()
        return status, keep

    async def close(self) -> None:
        self._closed = True
        while self._idle:
            self._idle.pop().writer.close()

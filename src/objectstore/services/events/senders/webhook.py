"""A webhook target: each event is POSTed as JSON to the endpoint; a 2xx answer
acknowledges it (a 3xx is not followed: not an acknowledgement). ``Authorization: Bearer
<auth_token>`` when the target has a token.

Answers are parsed by httptools (llhttp, the parser the server itself runs on: 1xx, chunked,
bodies to the end of the connection, keep-alive) in a plain asyncio Protocol, and each
request leaves in one write on a TCP_NODELAY socket: httpx sent the headers and the
body in two writes and, against a receiver that delays its ACKs, managed ~200 POSTs/s where
this does thousands — the deliverer shares its process with the S3 plane, so its CPU per
event matters too. A lane's messages go as one run (``send_many``): each request is written
by the callback that read the answer to the one before — never before that answer (no
pipelining: a POST is not idempotent) — which spares each a future, a task switch and
three coroutines. On plain TCP a request is written straight to the socket (``os.write``,
which lets go of the GIL during the write; uvloop's transport keeps it): the S3 plane's event
loop runs meanwhile. In A/Bs in one server (two workers, one webhook target, 7 s runs
alternating) that took the PUTs/s from ~18% below a bucket without notifications to ~6%."""

from __future__ import annotations

import asyncio
import contextlib
import os
import socket
import ssl
from collections.abc import Sequence
from urllib.parse import urlsplit

import httptools

from .base import DeliveryError, TargetSpec

TIMEOUT_S = 10.0      # an answer not complete this long after its request: a failure
WATCH_S = 1.0         # how often the requests in flight are checked against it
MAX_IDLE = 32          # kept-alive connections
MAX_HEAD = 64 * 1024   # a response head larger than this is refused
MAX_BODY = 1024 * 1024  # response bodies are read (to reuse the connection) up to this



class Conn(asyncio.Protocol):
    """One kept connection: a plain Protocol feeding httptools (no stream reader and writer
    in between: the deliverer shares its process with the S3 plane, and per event the
    streams cost about a third of the sender's CPU). One request at a time: ``exchange``
    writes the first of a run and the callback that reads each final answer writes the
    next, until the run ends or an answer stops it."""

    def __init__(self, raw: bool = False) -> None:
        self.raw = raw     # plain TCP: requests may be written straight to the socket
        self.fd = -1
        self.transport: asyncio.Transport | None = None
        self.parser = httptools.HttpResponseParser(self)
        self.waiter: asyncio.Future[tuple[int, bool]] | None = None
        self.status = 0
        self.head = 0      # bytes of the answer's head so far
        self.body = 0
        self.headers_done = False
        self.lost = False
        self.since = 0.0   # when the request in flight was written (the loop's clock)
        self.queue: Sequence[bytes] = ()  # the run of requests ``exchange`` sends
        self.index = 0     # the one in flight
        self.ok = 0        # of the run, answered 2xx

    # -- asyncio.Protocol --------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            with contextlib.suppress(OSError):
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            if self.raw:
                with contextlib.suppress(OSError, AttributeError):
                    self.fd = sock.fileno()

    def data_received(self, data: bytes) -> None:
        if not self.headers_done:
            self.head += len(data)
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError as exc:
            self._settle(exc)
            return
        if not self.headers_done and self.head > MAX_HEAD:
            self._settle(httptools.HttpParserError("the answer's head is too large"))
        elif self.body > MAX_BODY:  # not read to its end: the connection is not reused
            self._settle((self.status, False))

    def eof_received(self) -> bool:
        return False  # close

    def connection_lost(self, exc: Exception | None) -> None:
        self.lost = True
        self.fd = -1  # (the number may be another file's soon)
        if self.headers_done:  # a body that runs to the end of the connection
            self._settle((self.status, False))
        else:
            self._settle(EOFError("the webhook closed the connection before answering"))

    # -- httptools' callbacks ----------------------------------------------------------------
    def on_headers_complete(self) -> None:
        self.status = self.parser.get_status_code()
        self.headers_done = self.status >= 200  # (a 1xx: the final answer follows)
        if not self.headers_done:
            self.head = 0

    def on_body(self, data: bytes) -> None:
        self.body += len(data)

    def on_message_complete(self) -> None:
        status = self.parser.get_status_code()
        if status < 200:
            return
        keep = self.parser.should_keep_alive()
        index = self.index + 1
        waiter, transport = self.waiter, self.transport
        if (200 <= status < 300 and keep and index < len(self.queue) and waiter is not None
                and not waiter.done() and not self.lost and transport is not None
                and not transport.is_closing()):
            # the next request of the run, at once (see ``exchange``)
            self.ok += 1
            self.index = index
            self.status, self.head, self.body, self.headers_done = 0, 0, 0, False
            self.since = asyncio.get_running_loop().time()
            self._write(transport, self.queue[index])
            return
        self._settle((status, keep))

    # -- the request ---------------------------------------------------------------------------
    def _settle(self, outcome: tuple[int, bool] | BaseException) -> None:
        waiter, self.waiter = self.waiter, None
        if waiter is None or waiter.done():
            if not isinstance(outcome, tuple) and self.transport is not None:
                self.transport.close()  # garbage, or an answer nobody asked for
            return
        if isinstance(outcome, tuple):
            if 200 <= outcome[0] < 300:
                self.ok += 1
            waiter.set_result(outcome)
        else:
            waiter.set_exception(outcome)

    async def exchange(self, requests: Sequence[bytes], start: int = 0) -> tuple[int, bool]:
        """Send ``requests[start:]`` one after the other, each once the answer to the one
        before has come (no pipelining): the next is written from the callback that read
        that answer, so a run of requests costs no future, task switch or coroutine per
        request. Stops after the first answer that is not a 2xx or that ends the
        connection's keep-alive; ``ok`` counts the requests answered 2xx. Returns the last
        answer's status, and whether the connection can carry the next request (the answer
        read whole, neither side closing)."""
        assert self.transport is not None
        if self.lost or self.transport.is_closing():
            raise EOFError("the connection was closed")
        self.status, self.head, self.body, self.headers_done = 0, 0, 0, False
        self.queue, self.index, self.ok = requests, start, 0
        loop = asyncio.get_running_loop()
        waiter = self.waiter = loop.create_future()
        self.since = loop.time()
        self._write(self.transport, requests[start])
        status, keep = await waiter
        return status, keep and not self.lost

    def _write(self, transport: asyncio.Transport, data: bytes) -> None:
        """``transport.write(data)``; on plain TCP, straight to the socket first: uvloop
        writes with the GIL held, ``os.write`` lets the S3 plane's event loop run meanwhile
        (only while the transport holds nothing unsent: a webhook may answer before it has
        read the whole request; what the socket does not take at once goes through the
        transport, after which it keeps the order)."""
        fd = self.fd
        if fd >= 0 and not transport.get_write_buffer_size():
            try:
                sent = os.write(fd, data)
            except OSError:  # (full, or broken: the transport meets it)
                sent = 0
            if sent >= len(data):
                return
            data = data[sent:]
        transport.write(data)

    def expire(self) -> None:
        """The answer took too long: the request fails and the connection closes."""
        self._settle(TimeoutError(f"no answer within {TIMEOUT_S:g} s"))
        self.close()

    def close(self) -> None:
        self.fd = -1
        if self.transport is not None:
            self.transport.close()


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
        self._busy: set[Conn] = set()  # those with a request in flight
        self._watch: asyncio.TimerHandle | None = None
        self._closed = False

    async def _connect(self) -> Conn:
        raw = self.tls is None
        _transport, conn = await asyncio.get_running_loop().create_connection(
            lambda: Conn(raw), self.host, self.port, ssl=self.tls,
            server_hostname=self.host if self.tls is not None else None)
        return conn

    def _watchdog(self) -> None:
        """Fail the requests in flight for ``TIMEOUT_S`` or more (one timer for all of them,
        every ``WATCH_S`` while any is in flight: no timer per request — the deliverer
        shares its process with the S3 plane, and a timeout per send cost more CPU than the
        parsing of its answer)."""
        self._watch = None
        loop = asyncio.get_running_loop()
        edge = loop.time() - TIMEOUT_S
        for conn in [c for c in self._busy if c.since <= edge]:
            conn.expire()
        if self._busy and not self._closed:
            self._watch = loop.call_later(WATCH_S, self._watchdog)

    async def send(self, body: bytes, *, key: str) -> None:
        _sent, error = await self.send_many([body])
        if error is not None:
            raise error

    async def send_many(self, bodies: Sequence[bytes]) -> tuple[int, DeliveryError | None]:
        """Send ``bodies`` in order, each once the one before was acknowledged, stopping
        at the first that is not: how many were, and the error that stopped the run (None:
        all were). On one kept-alive connection while the webhook keeps it open."""
        requests = [self._head + str(len(body)).encode() + b"\r\n\r\n" + body
                    for body in bodies]
        done = 0
        retried = -1  # the request last sent again on a new connection
        while done < len(requests):
            reused = bool(self._idle)
            conn = self._idle.pop() if reused else None
            try:
                if conn is None:
                    async with asyncio.timeout(TIMEOUT_S):
                        conn = await self._connect()
                busy = self._busy
                busy.add(conn)
                if self._watch is None:
                    self._watch = asyncio.get_running_loop().call_later(WATCH_S,
                                                                         self._watchdog)
                try:
                    status, keep = await conn.exchange(requests, done)
                except asyncio.CancelledError:
                    conn.close()  # (its answer would be nobody's)
                    raise
                finally:
                    busy.discard(conn)
            except (OSError, EOFError, httptools.HttpParserError, TimeoutError,
                    ssl.SSLError) as exc:
                carried = False
                if conn is not None:
                    carried = reused or conn.ok > 0  # it had answered a request before
                    done += conn.ok
                    conn.close()
                # a kept-alive connection the receiver closed: once more, on a new one
                if carried and retried != done and not isinstance(exc, TimeoutError):
                    retried = done
                    continue
                return done, DeliveryError(f"webhook {self.host}:{self.port}: "
                                           f"{type(exc).__name__}: {exc}")
            done += conn.ok
            if keep and not self._closed and len(self._idle) < MAX_IDLE:
                self._idle.append(conn)
            else:
                conn.close()
            if not 200 <= status < 300:
                permanent = 400 <= status < 500 and status not in (408, 429)
                return done, DeliveryError(f"the webhook answered {status}",
                                           permanent=permanent)
        return done, None

    async def close(self) -> None:
        self._closed = True
        if self._watch is not None:
            self._watch.cancel()
            self._watch = None
        while self._idle:
            self._idle.pop().close()

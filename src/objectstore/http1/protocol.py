"""One HTTP/1.1 connection: the parser's callbacks, pipelining, flow control and the
connection guard's hooks (see the package's docstring)."""

from __future__ import annotations

import asyncio
import logging
from collections import deque
from typing import TYPE_CHECKING, Any, Protocol, cast
from urllib.parse import unquote

import httptools

from .cycle import Cycle, date_line

if TYPE_CHECKING:
    from .listener import Listener

log = logging.getLogger("objectstore.http")

_ASGI = {"version": "3.0", "spec_version": "2.3"}
_METHODS = {m.encode(): m for m in ("GET", "HEAD", "PUT", "POST", "DELETE", "OPTIONS",
                                    "PATCH")}
_TOO_LARGE = (b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
              b"content-length: 0\r\nconnection: close\r\n\r\n")


class Hooks(Protocol):
    """What a listener tells about its connections (``conn_guard.ConnectionGuard``)."""

    def opened(self, conn: Any) -> bool: ...
    def head_started(self, conn: Any) -> None: ...
    def busy(self, conn: Any) -> None: ...
    def idle(self, conn: Any, head_started: bool) -> None: ...
    def closed(self, conn: Any) -> None: ...


def _address(value: Any) -> tuple[str, int] | None:
    if isinstance(value, tuple) and len(value) >= 2:
        return str(value[0]), int(value[1])
    return None


class H1Protocol(asyncio.Protocol):
    """One connection. ``cycle`` is its latest request (the one the parser's body
    callbacks feed), ``active`` the one being answered; requests that came while one is
    answered wait in ``pipeline`` (reading paused) and start in order."""

    __slots__ = ("listener", "app", "loop", "hooks", "parser", "transport", "server",
                 "client", "scheme", "extra_head", "extra_lines", "cycle", "active",
                 "pipeline", "read_paused", "write_paused", "drainer", "in_head",
                 "head_bytes", "url", "headers", "expect_100", "failed")

    def __init__(self, listener: Listener, loop: asyncio.AbstractEventLoop) -> None:
        self.listener = listener
        self.app = listener.app
        self.loop = loop
        self.hooks = listener.hooks
        self.parser = httptools.HttpRequestParser(self)
        # answer a request that came with others after it even when it says close
        self.parser.set_dangerous_leniencies(lenient_data_after_close=True)
        self.transport: asyncio.Transport = None  # type: ignore[assignment]
        self.server: tuple[str, int] | None = None
        self.client: tuple[str, int] | None = None
        self.scheme = "http"
        self.extra_head = b""  # header lines every response of this connection gets
        self.extra_lines = 0
        self.cycle: Cycle | None = None
        self.active: Cycle | None = None
        self.pipeline: deque[Cycle] = deque()
        self.read_paused = False
        self.write_paused = False
        self.drainer: asyncio.Future[None] | None = None
        self.in_head = False  # part of a request head has come, not all of it
        self.head_bytes = 0
        self.url = b""
        self.headers: list[tuple[bytes, bytes]] = []
        self.expect_100 = False
        self.failed = False  # a malformed request: answered 400 once the ones before are

    # -- asyncio.Protocol ------------------------------------------------------------------
    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport = cast(asyncio.Transport, transport)  # uvloop's: no subclass
        self.server = _address(transport.get_extra_info("sockname"))
        self.client = _address(transport.get_extra_info("peername"))
        if transport.get_extra_info("sslcontext") is not None:
            self.scheme = "https"
            self.extra_head = self.listener.tls_head
            self.extra_lines = self.extra_head.count(b"\r\n")
        self.listener.connections.add(self)
        self.hooks.opened(self)

    def connection_lost(self, exc: Exception | None) -> None:
        self.hooks.closed(self)
        self.listener.connections.discard(self)
        for cycle in (self.active, self.cycle):
            if cycle is not None and not cycle.response_complete:
                cycle.disconnected = True
                cycle.wake()
        self.pipeline.clear()
        self.resume_writing()  # a send waiting to drain returns

    def eof_received(self) -> bool | None:
        return None  # the client's end is closed: so is the connection

    def data_received(self, data: bytes) -> None:
        if self.failed:
            return
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserUpgrade:
            # no protocol switch here: the request was answered as plain HTTP; what follows
            # its head is not HTTP/1.1, so the connection closes after the answer
            self.failed = True
            cycle = self.cycle
            if cycle is not None:
                cycle.keep_alive = False
                if not cycle.response_complete:
                    cycle.more_body = False
                    cycle.wake()
            self.pause_reading()
            return
        except httptools.HttpParserError:
            cycle = self.cycle
            if cycle is not None and cycle.more_body and not cycle.response_complete:
                self._abandon(cycle)  # the fault is in this request's framing or body
            self._bad_request()
            return
        if self.in_head:  # the head is still not complete: bound what it may hold
            self.head_bytes += len(data)
            if self.head_bytes > self.listener.head_limit and not self.transport.is_closing():
                self.transport.write(_TOO_LARGE)
                self.transport.close()

    def pause_writing(self) -> None:
        self.write_paused = True

    def resume_writing(self) -> None:
        self.write_paused = False
        drainer = self.drainer
        if drainer is not None:
            self.drainer = None
            if not drainer.done():
                drainer.set_result(None)

    # -- the parser's callbacks ------------------------------------------------------------
    def on_message_begin(self) -> None:
        self.url = b""
        self.headers = []
        self.expect_100 = False
        self.in_head = True
        self.head_bytes = 0
        self.hooks.head_started(self)

    def on_url(self, url: bytes) -> None:
        self.url += url

    def on_header(self, name: bytes, value: bytes) -> None:
        name = name.lower()
        if name == b"expect" and value.lower() == b"100-continue":
            self.expect_100 = True
        self.headers.append((name, value))

    def on_headers_complete(self) -> None:
        self.in_head = False
        self.hooks.busy(self)
        parser = self.parser
        raw_method = parser.get_method()
        method = _METHODS.get(raw_method) or raw_method.decode("ascii")
        version = parser.get_http_version()
        url = self.url
        if url[:1] == b"/" and b"#" not in url:
            raw_path, _, query = url.partition(b"?")
        else:  # absolute-form, or a fragment to drop
            parsed = httptools.parse_url(url)
            raw_path, query = parsed.path, parsed.query or b""
        path = raw_path.decode("ascii")
        if "%" in path:
            path = unquote(path)
        scope = {"type": "http", "asgi": _ASGI, "http_version": version,
                 "server": self.server, "client": self.client, "scheme": self.scheme,
                 "method": method, "root_path": "", "path": path, "raw_path": raw_path,
                 "query_string": query, "headers": self.headers}
        keep_alive = version != "1.0" and parser.should_keep_alive()
        cycle = Cycle(self, scope, keep_alive, self.expect_100, method == "HEAD")
        self.cycle = cycle
        if self.active is None:
            self._start(cycle)
        else:  # pipelined: answered once the ones before are
            self.pause_reading()
            self.pipeline.append(cycle)

    def on_body(self, body: bytes) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return  # answered already: what is left of its body is read and dropped
        cycle.chunks.append(body)
        cycle.buffered += len(body)
        if cycle.buffered > 65536:
            self.pause_reading()
        cycle.wake()

    def on_message_complete(self) -> None:
        cycle = self.cycle
        if cycle is None or cycle.response_complete:
            return
        cycle.more_body = False
        cycle.wake()

    # -- requests --------------------------------------------------------------------------
    def _start(self, cycle: Cycle) -> None:
        self.active = cycle
        task = self.loop.create_task(cycle.run(self.app))
        tasks = self.listener.tasks
        tasks.add(task)
        task.add_done_callback(tasks.discard)

    def response_done(self, cycle: Cycle) -> None:
        """``cycle``'s response is complete: start the next request, or wait idle."""
        if self.active is cycle:
            self.active = None
        if self.transport.is_closing():
            return
        self.resume_reading()
        if self.pipeline:
            self._start(self.pipeline.popleft())
        elif self.failed:
            self._bad_request()
        else:
            self.hooks.idle(self, self.in_head)

    def _abandon(self, cycle: Cycle) -> None:
        """A request whose head was passed on, found malformed after (an unknown transfer
        coding, a broken chunk): its app sees a disconnect and what it sends is dropped;
        the connection's answer is the 400 (or, after a response it began, the close)."""
        cycle.disconnected = True
        cycle.wake()
        if cycle in self.pipeline:
            self.pipeline.remove(cycle)
        elif cycle is self.active:
            self.active = None
            if cycle.response_started and not self.transport.is_closing():
                self.failed = True
                self.transport.close()

    def _bad_request(self) -> None:
        """A malformed request: 400 and close, after the answers to the requests before."""
        self.failed = True
        if self.active is not None or self.pipeline:
            self.pause_reading()
            return
        if not self.transport.is_closing():
            content_type, body = self.listener.bad_request
            self.transport.write(b"".join((
                b"HTTP/1.1 400 Bad Request\r\n", date_line(),
                b"content-type: %s\r\n" % content_type,
                b"content-length: %d\r\n" % len(body), b"connection: close\r\n\r\n",
                body)))
            self.transport.close()

    # -- flow control, closing -------------------------------------------------------------
    def pause_reading(self) -> None:
        if not self.read_paused:
            self.read_paused = True
            self.transport.pause_reading()

    def resume_reading(self) -> None:
        if self.read_paused and not self.failed:
            self.read_paused = False
            self.transport.resume_reading()

    async def drain(self) -> None:
        drainer = self.drainer
        if drainer is None:
            drainer = self.drainer = self.loop.create_future()
        await drainer

    def shed(self) -> None:
        """The connection guard's: close an idle connection (nothing is lost)."""
        if not self.transport.is_closing():
            self.transport.close()

    def shutdown(self) -> None:
        """Graceful shutdown: close when idle, else after the request being answered."""
        if self.active is None and not self.pipeline:
            if not self.transport.is_closing():
                self.transport.close()
        elif self.cycle is not None:
            self.cycle.keep_alive = False

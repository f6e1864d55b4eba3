"""One request and its response on an HTTP/1.1 connection: the ASGI ``receive`` and
``send`` the app is called with (see the package's docstring)."""

from __future__ import annotations

import asyncio
import http
import logging
import re
import time
from email.utils import formatdate
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from .protocol import H1Protocol

log = logging.getLogger("objectstore.http")

HIGH_WATER = 65536  # request body bytes buffered for the app before reading pauses
COALESCE_MAX = 64 * 1024  # a first body chunk up to this size leaves in the head's write
CONTINUE = b"HTTP/1.1 100 Continue\r\n\r\n"


def _status_line(code: int) -> bytes:
    try:
        phrase = http.HTTPStatus(code).phrase.encode()
    except ValueError:
        phrase = b""
    return b"HTTP/1.1 %d %s\r\n" % (code, phrase)


STATUS_LINES = {code: _status_line(code) for code in range(100, 600)}
# a header name must be a token; a value must hold no control character but TAB
_BAD_NAME = re.compile(b'[\x00-\x20\x7f-\xff()<>@,;:\\[\\]={}\\\\"/?]')
_BAD_VALUE = re.compile(b"[\x00-\x08\x0a-\x1f\x7f]")
_NAMES: dict[bytes, bytes] = {}  # header names checked before -> lower case
_NAMES_MAX = 4096
_CONTENT_LENGTH = b"content-length"
_TRANSFER_ENCODING = b"transfer-encoding"
_CONNECTION = b"connection"
_SPECIAL = frozenset((_CONTENT_LENGTH, _TRANSFER_ENCODING, _CONNECTION))
_SERVER_ERROR = [(b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"21"),
                 (b"connection", b"close")]

_date_at = 0
_date_line = b""


def date_line() -> bytes:
    """The ``date`` header line, made once a second."""
    global _date_at, _date_line
    now = int(time.time())
    if now != _date_at:
        _date_line = b"date: " + formatdate(now, usegmt=True).encode() + b"\r\n"
        _date_at = now
    return _date_line


def _lower_name(name: bytes) -> bytes:
    lower = _NAMES.get(name)
    if lower is None:
        if not name or _BAD_NAME.search(name):
            raise RuntimeError("Invalid HTTP header name.")
        lower = name.lower()
        if len(_NAMES) < _NAMES_MAX:
            _NAMES[name] = lower
    return lower


class Cycle:
    """A request's state (its body as it comes) and its response's (framing, completion).
    The connection's protocol feeds the body (``chunks``, ``more_body``, ``wake``) and is
    told when the response is complete (``H1Protocol.response_done``)."""

    __slots__ = ("proto", "scope", "keep_alive", "waiting_100", "head_only", "chunks",
                 "buffered", "more_body", "body_done", "disconnected", "waiter",
                 "response_started", "response_complete", "chunked", "remaining", "held")

    def __init__(self, proto: H1Protocol, scope: dict[str, Any], keep_alive: bool,
                 expect_100: bool, head_only: bool) -> None:
        self.proto = proto
        self.scope = scope
        self.keep_alive = keep_alive
        self.waiting_100 = expect_100
        self.head_only = head_only
        self.chunks: list[bytes] = []
        self.buffered = 0
        self.more_body = True
        self.body_done = False  # the last body message went to the app
        self.disconnected = False
        self.waiter: asyncio.Future[None] | None = None
        self.response_started = False
        self.response_complete = False
        self.chunked = False
        self.remaining = 0  # content-length bytes still to send
        self.held: bytes | None = None  # the response head, until its first body bytes

    def wake(self) -> None:
        """Something for ``receive``: body bytes, the body's end, a disconnect."""
        waiter = self.waiter
        if waiter is not None:
            self.waiter = None
            if not waiter.done():
                waiter.set_result(None)

    async def run(self, app: Any) -> None:
        try:
            result = await app(self.scope, self.receive, self.send)
        except BaseException as exc:  # noqa: BLE001 - the client gets its answer; logged
            log.error("Exception in ASGI application", exc_info=exc)
            if not self.response_started:
                await self._send_500()
            else:
                self._close()
        else:
            if result is not None:
                log.error("ASGI callable should return None, but returned %r.", result)
                self._close()
            elif not self.response_started and not self.disconnected:
                log.error("ASGI callable returned without starting response.")
                await self._send_500()
            elif not self.response_complete and not self.disconnected:
                log.error("ASGI callable returned without completing response.")
                self._close()

    def _close(self) -> None:
        """Close the connection now, after the response head held back (the app failed
        after starting its response)."""
        transport = self.proto.transport
        held = self.held
        if held is not None:
            self.held = None
            if not transport.is_closing():
                transport.write(held)
        if not transport.is_closing():
            transport.close()

    async def _send_500(self) -> None:
        await self.send({"type": "http.response.start", "status": 500,
                         "headers": _SERVER_ERROR})
        await self.send({"type": "http.response.body", "body": b"Internal Server Error"})

    # -- ASGI receive ----------------------------------------------------------------------
    async def receive(self) -> dict[str, Any]:
        proto = self.proto
        if self.waiting_100:
            self.waiting_100 = False
            if not proto.transport.is_closing():
                proto.transport.write(CONTINUE)
        if not self.disconnected and not self.response_complete:
            proto.resume_reading()
            if self.body_done or (self.more_body and not self.chunks):
                waiter = self.waiter
                if waiter is None or waiter.done():
                    waiter = self.waiter = proto.loop.create_future()
                await waiter
        if self.disconnected or self.response_complete:
            return {"type": "http.disconnect"}
        chunks = self.chunks
        if not chunks:
            body = b""
        elif len(chunks) == 1:
            body = chunks[0]
            chunks.clear()
        else:
            body = b"".join(chunks)
            chunks.clear()
        self.buffered = 0
        if not self.more_body:
            self.body_done = True
        return {"type": "http.request", "body": body, "more_body": self.more_body}

    # -- ASGI send -------------------------------------------------------------------------
    async def send(self, message: Any) -> None:
        proto = self.proto
        if proto.write_paused and not self.disconnected:
            await proto.drain()
        if self.disconnected:
            return
        if not self.response_started:
            if message["type"] != "http.response.start":
                raise RuntimeError("Expected ASGI message 'http.response.start', but got "
                                   f"'{message['type']}'.")
            self._start(message["status"], message.get("headers", ()))
            return
        if self.response_complete:
            raise RuntimeError(f"Unexpected ASGI message '{message['type']}' sent, after "
                               "response already completed.")
        if message["type"] != "http.response.body":
            raise RuntimeError("Expected ASGI message 'http.response.body', but got "
                               f"'{message['type']}'.")
        body = message.get("body", b"")
        more_body = message.get("more_body", False)
        if self.head_only:
            data = b""
        elif self.chunked:
            if body:
                data = b"%x\r\n%b\r\n0\r\n\r\n" % (len(body), body) if not more_body \
                    else b"%x\r\n%b\r\n" % (len(body), body)
            else:
                data = b"" if more_body else b"0\r\n\r\n"
        else:
            remaining = self.remaining - len(body)
            if remaining < 0:
                raise RuntimeError("Response content longer than Content-Length")
            self.remaining = remaining
            data = body
        transport = proto.transport
        held = self.held
        if held is not None:
            self.held = None
            if len(data) <= COALESCE_MAX:
                transport.write(held + data)
            else:  # a large first chunk: not copied, written after the head
                transport.write(held)
                transport.write(data)
        elif data:
            transport.write(data)
        if not more_body:
            if self.remaining > 0:
                raise RuntimeError("Response content shorter than Content-Length")
            self.response_complete = True
            self.wake()
            if not self.keep_alive:
                transport.close()
            proto.response_done(self)

    def _start(self, status: int, headers: Any) -> None:
        """The response head, held until the first body message."""
        proto = self.proto
        parts = [STATUS_LINES[status], date_line()]
        lines = 3  # CRLFs of the status line, the date and the blank line
        close = False
        length: int | None = None
        chunked = False
        for name, value in headers:
            lower = _lower_name(name)
            if lower in _SPECIAL:
                if lower == _CONTENT_LENGTH:
                    if length is None and not chunked:
                        length = int(value)
                elif lower == _TRANSFER_ENCODING:
                    if value.lower() == b"chunked":
                        chunked = True
                        length = None
                elif b"close" in [t.strip() for t in value.lower().split(b",")]:
                    self.keep_alive = False
                    close = True
            parts += (lower, b": ", value, b"\r\n")
            lines += 1
        extra = proto.extra_head
        if extra:
            parts.append(extra)
            lines += proto.extra_lines
        if not self.keep_alive and not close:
            parts.append(b"connection: close\r\n")
            lines += 1
        if length is None and not chunked and not self.head_only and status not in (204, 304):
            chunked = True
            parts.append(b"transfer-encoding: chunked\r\n")
            lines += 1
        parts.append(b"\r\n")
        head = b"".join(parts)
        # a value with CR, LF or another control character would split or corrupt the head
        if head.count(b"\n") != lines or head.count(b"\r") != lines or \
                _BAD_VALUE.search(head.replace(b"\r\n", b"")):
            raise RuntimeError("Invalid HTTP header value.")
        self.response_started = True
        self.waiting_100 = False
        self.chunked = chunked
        self.remaining = length if length is not None and not self.head_only else 0
        self.held = head

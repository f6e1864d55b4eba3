"""One listening socket serving one ASGI app over :class:`~.protocol.H1Protocol`, and its
graceful shutdown (see the package's docstring)."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import socket
import ssl
import time
from typing import Any

from .protocol import H1Protocol, Hooks

log = logging.getLogger("objectstore.http")


# a malformed request's 400 (content type, body) unless the listener is given its own
PLAIN_BAD_REQUEST = (b"text/plain; charset=utf-8", b"Invalid HTTP request received.")


class Listener:
    """``app`` served on one socket. ``hooks``: the connection guard; ``head_limit``: bytes
    of an incomplete request head before a 431; ``tls_headers``: header lines added to every
    response on a TLS connection (HSTS); ``bad_request``: the content type and body of the
    400 answered to a malformed request (before any app sees it: in the plane's own error
    format)."""

    def __init__(self, app: Any, hooks: Hooks, *, head_limit: int,
                 ssl_context: ssl.SSLContext | None = None,
                 tls_headers: tuple[tuple[bytes, bytes], ...] = (),
                 backlog: int = 2048,
                 bad_request: tuple[bytes, bytes] = PLAIN_BAD_REQUEST) -> None:
        self.app = app
        self.bad_request = bad_request
        self.hooks = hooks
        self.head_limit = head_limit
        self.ssl_context = ssl_context
        self.tls_head = b"".join(b"%s: %s\r\n" % (name.lower(), value)
                                 for name, value in tls_headers)
        self.backlog = backlog
        self.connections: set[H1Protocol] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self._server: asyncio.Server | None = None
        self._sock: socket.socket | None = None

    async def start(self, host: str, port: int, sock: socket.socket | None = None) -> None:
        """Listen on ``host``:``port``, or on ``sock`` (inherited from a parent process)."""
        loop = asyncio.get_running_loop()

        def factory() -> H1Protocol:
            return H1Protocol(self, loop)

        if sock is not None:
            self._sock = sock
            self._server = await loop.create_server(factory, sock=sock, ssl=self.ssl_context,
                                                    backlog=self.backlog)
        else:
            self._server = await loop.create_server(factory, host=host, port=port,
                                                    ssl=self.ssl_context,
                                                    backlog=self.backlog)

    @property
    def port(self) -> int:
        """The port listened on (the one the system chose for port 0)."""
        assert self._server is not None
        return int(self._server.sockets[0].getsockname()[1])

    def close(self) -> None:
        """Stop accepting connections."""
        if self._server is not None:
            self._server.close()
        if self._sock is not None:
            self._sock.close()

    async def shutdown(self, timeout: float) -> None:
        """Stop accepting; close idle connections; let each request being answered finish
        (its connection closes after it) for up to ``timeout`` seconds; then cancel what is
        left and drop its connections."""
        self.close()
        for conn in list(self.connections):
            conn.shutdown()
        deadline = time.monotonic() + timeout
        while (self.connections or self.tasks) and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        if self.tasks:
            log.error("Cancel %d running task(s), timeout graceful shutdown exceeded",
                      len(self.tasks))
            for task in list(self.tasks):
                task.cancel()
        for conn in list(self.connections):
            conn.transport.abort()
        if self._server is not None:
            with contextlib.suppress(TimeoutError):  # every connection was dropped above
                await asyncio.wait_for(self._server.wait_closed(), 5)

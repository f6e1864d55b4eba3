"""Connection limits of one server process (both listeners): a request-head timeout, a
keep-alive idle timeout, and a cap on open connections that sheds idle ones.

A connection is *idle* while it waits for a request head: from the moment it is accepted (or
its last response went out) until the head of its next request is complete. Busy connections
(a request being read or answered) are never touched here; a stalled body has its own timeout
(``request_body_timeout_s``).

- A head must be complete ``header_timeout`` seconds after the connection was accepted, or
  after its first byte for a later request on a kept-alive connection. Bytes trickling in do not
  restart the clock (slowloris).
- A kept-alive connection with no byte of a next request is closed after
  ``keepalive_timeout`` seconds.
- Over ``max_connections``, each new connection sheds the idle connection that has waited
  longest — half-open ones (never a complete head since accepted) before kept-alive ones — so
  the newcomer, most likely a client about to send its request, is served. Only when no
  connection is idle is the newcomer itself closed.

Both timeouts keep idle connections in ``OrderedDict``s (one per timeout, so the oldest is
first) swept a few times a second: no timer per connection. (A plain dict used as a queue is
quadratic: each removal from its front leaves a slot that every later look at the first item
walks over — 37 µs a connection at 30,000 measured, against 1.4 µs.)
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import resource
import time
from collections import OrderedDict
from typing import Protocol

log = logging.getLogger("objectstore")
LISTEN_BACKLOG = 65535  # the kernel clamps it to net.core.somaxconn
_LOG_EVERY = 60.0


class Guarded(Protocol):
    def shed(self) -> None:
        """Close the connection now (it is idle: nothing is lost)."""


def raise_fd_limit() -> int:
    """Raise this process's open-file limit (RLIMIT_NOFILE) from its soft value to the hard
    one, where allowed; return the soft limit in force."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    soft = resource.getrlimit(resource.RLIMIT_NOFILE)[0]
    return soft if soft != resource.RLIM_INFINITY else 1 << 20


def accept_backlog() -> int:
    """The listen backlog the kernel grants (``LISTEN_BACKLOG`` clamped to somaxconn)."""
    try:
        with open("/proc/sys/net/core/somaxconn") as fh:
            return min(LISTEN_BACKLOG, int(fh.read()))
    except (OSError, ValueError):
        return 4096


def connection_cap(wanted: int, fd_limit: int, backlog: int) -> int:
    """Connections one process may hold: ``wanted`` (0 = as many as its descriptors allow),
    never more than the open-file limit less a reserve for its own files, database
    connections and one full accept queue (accepted in a burst before any is shed)."""
    reserve = min(fd_limit // 2, 1024 + backlog)
    allowed = max(16, fd_limit - reserve)
    return allowed if wanted <= 0 else min(wanted, allowed)


class ConnectionGuard:
    """The idle connections of one process, their timeouts and the cap (see the module)."""

    def __init__(self, max_connections: int, header_timeout: float,
                 keepalive_timeout: float) -> None:
        self.max_connections = max_connections
        self.header_timeout = header_timeout
        self.keepalive_timeout = keepalive_timeout
        self._open: set[Guarded] = set()
        # waiting for (the rest of) a head / kept alive with no byte of a next request: since
        self._heads: OrderedDict[Guarded, float] = OrderedDict()
        self._kept: OrderedDict[Guarded, float] = OrderedDict()
        self._timer: asyncio.TimerHandle | None = None
        self._period = max(0.05, min(1.0, header_timeout / 4, keepalive_timeout / 4))
        self.shed_count = 0
        self.refused_count = 0
        self.timed_out_count = 0
        self._logged = (0, 0, 0)
        self._logged_at = 0.0

    @property
    def open_connections(self) -> int:
        return len(self._open)

    # -- lifecycle -------------------------------------------------------------------------
    def start(self, loop: asyncio.AbstractEventLoop) -> None:
        self._timer = loop.call_later(self._period, self._sweep, loop)

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    # -- events of a connection ------------------------------------------------------------
    def opened(self, conn: Guarded) -> bool:
        """A connection was accepted; False: it was closed (over the cap, nothing idle)."""
        if len(self._open) >= self.max_connections:
            victim = next(iter(self._heads), None)
            if victim is None:
                victim = next(iter(self._kept), None)
            if victim is None:
                self.refused_count += 1
                conn.shed()
                return False
            self._drop(victim)
            self.shed_count += 1
            victim.shed()
        self._open.add(conn)
        self._heads[conn] = time.monotonic()
        return True

    def head_started(self, conn: Guarded) -> None:
        """The first byte of a request head on a kept-alive connection: the head clock
        starts."""
        if self._kept.pop(conn, None) is not None:
            self._heads[conn] = time.monotonic()

    def busy(self, conn: Guarded) -> None:
        """A complete request head: the connection is no longer idle."""
        self._heads.pop(conn, None)
        self._kept.pop(conn, None)

    def idle(self, conn: Guarded, head_started: bool) -> None:
        """The last response went out and nothing else is queued; ``head_started``: part
        of the next head has already come."""
        if conn in self._open:
            self.busy(conn)  # re-inserted last: each dict stays in deadline order
            (self._heads if head_started else self._kept)[conn] = time.monotonic()

    def closed(self, conn: Guarded) -> None:
        self._drop(conn)

    def _drop(self, conn: Guarded) -> None:
        self._open.discard(conn)
        self._heads.pop(conn, None)
        self._kept.pop(conn, None)

    # -- timeouts ----------------------------------------------------------------------------
    def _sweep(self, loop: asyncio.AbstractEventLoop) -> None:
        now = time.monotonic()
        try:
            for pending, timeout in ((self._heads, self.header_timeout),
                                     (self._kept, self.keepalive_timeout)):
                limit = now - timeout
                while pending:
                    conn, since = next(iter(pending.items()))
                    if since > limit:
                        break
                    self._drop(conn)
                    self.timed_out_count += 1
                    conn.shed()
            self._report(now)
        finally:
            self._timer = loop.call_later(self._period, self._sweep, loop)

    def _report(self, now: float) -> None:
        counts = (self.shed_count, self.refused_count, self.timed_out_count)
        if counts == self._logged or now - self._logged_at < _LOG_EVERY:
            return
        shed, refused, timed_out = (a - b for a, b in zip(counts, self._logged, strict=True))
        if shed or refused:
            log.warning("connections over the cap of %d: %d idle ones shed, %d new ones "
                        "closed (nothing idle to shed); %d idle ones timed out; %d open",
                        self.max_connections, shed, refused, timed_out, len(self._open))
        self._logged, self._logged_at = counts, now

"""A broker connection belongs to the event loop it was opened on. A sender used on another
loop (a deliverer restarted on a new one) does not touch the old connection there — a client on
a loop that no longer runs may even report success without sending anything — but opens a new
one, and has the old one closed on its own loop if that loop is still open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any, Generic, TypeVar

Opened = TypeVar("Opened")

_closing: set[asyncio.Task[Any]] = set()


def close_on_own_loop(loop: asyncio.AbstractEventLoop | None,
                      close: Callable[[], Coroutine[Any, Any, None]]) -> None:
    """Run ``close()`` on ``loop`` (from any thread) unless that loop is closed; then the
    connection's objects are left to the garbage collector."""
    if loop is None or loop.is_closed():
        return

    def start() -> None:
        task = loop.create_task(close())
        _closing.add(task)
        task.add_done_callback(_closing.discard)

    with contextlib.suppress(RuntimeError):  # closed in the meantime
        loop.call_soon_threadsafe(start)


class LoopBound(Generic[Opened]):
    """A sender's one open connection (``Opened``; None until opened), shared by its concurrent
    sends under ``_lock`` and tied to the loop it was opened on. Subclasses say how an open
    connection is closed quietly (``_close_open``) and call ``_bind_loop()`` first in each
    coroutine."""

    def __init__(self, timeout: float) -> None:
        self._timeout = timeout
        self._open: Opened | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def _close_open(self, opened: Opened | None) -> None:
        raise NotImplementedError

    async def close(self) -> None:
        self._bind_loop()
        async with self._lock:
            opened, self._open = self._open, None
        await self._close_open(opened)

    def _bind_loop(self) -> None:
        """A new event loop means a new connection (see the module's docstring)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            old_loop, old, self._loop = self._loop, self._open, loop
            self._open = None
            self._lock = asyncio.Lock()
            if old is not None:
                close_on_own_loop(old_loop, lambda: self._close_open(old))

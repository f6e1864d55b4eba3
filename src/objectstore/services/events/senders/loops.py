"""A broker connection belongs to the event loop it was opened on. A sender used on another
loop (a deliverer restarted on a new one) does not touch the old connection there — a client on
a loop that no longer runs may even report success without sending anything — but opens a new
one, and has the old one closed on its own loop if that loop is still open."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Coroutine
from typing import Any

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

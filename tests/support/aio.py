"""Running a coroutine from a synchronous test."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from concurrent.futures import ThreadPoolExecutor
from typing import Any


def in_own_loop(coro: Coroutine[Any, Any, Any]) -> Any:
    """Run a coroutine on a loop of its own, in a thread of its own (other suites, e.g. the
    browser tests' sync Playwright, may leave an event loop running in this thread)."""
    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()

"""glibc malloc tuning for a long-running server process.

Measured under the soak (64 clients, mixed PUT/GET/LIST/DELETE): Python's own allocations
(tracemalloc) stay flat, yet RSS keeps rising because glibc keeps freed memory in its arenas
(``mallinfo2``: in use flat, free 17 -> 75 MiB in three minutes). Every thread that mallocs
(anyio's up to 40 worker threads, SQLite running with the GIL released) gets an arena of its
own, up to 8 per core, and each arena keeps its own free holes. Two remedies, both on by
default and each a setting:

- ``arena_max``: at most this many arenas (``mallopt(M_ARENA_MAX)``), set before any worker
  thread starts. Fewer arenas share their free memory.
- ``trim_seconds``: every that many seconds a daemon thread calls ``malloc_trim(0)``, which
  gives the free pages inside every arena back to the kernel (ctypes releases the GIL for the
  call: requests go on meanwhile). The thread is started again in each forked worker.

Elsewhere than glibc (musl, macOS) both are no-ops.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import threading
import time
from typing import Any

from .backoff import Backoff

log = logging.getLogger("objectstore")
M_ARENA_MAX = -8  # <malloc.h>

_libc: Any = None
# the settings in force, and the CPU the trims took (milliseconds: the last one, the most)
_state: dict[str, float] = {"trim_seconds": 0.0, "last_trim_ms": 0.0, "max_trim_ms": 0.0}
_lock = threading.Lock()
_trimmer: threading.Thread | None = None
_stop = threading.Event()
_at_fork_registered = False


def _glibc() -> Any:
    """The C library if it is glibc (has ``malloc_trim`` and ``mallopt``), else None."""
    global _libc
    if _libc is None:
        try:
            lib = ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)
            lib.malloc_trim.argtypes = [ctypes.c_size_t]
            lib.mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
            _libc = lib
        except (OSError, AttributeError):
            _libc = False
    return _libc or None


def trim() -> bool:
    """Give free heap pages back to the kernel now; True if glibc released any."""
    lib = _glibc()
    return bool(lib.malloc_trim(0)) if lib is not None else False


def _run(interval: float) -> None:
    backoff = Backoff("malloc trim", log)

    def once() -> None:
        started = time.thread_time()  # the trim's own CPU, not the wait for the GIL after
        trim()
        took = (time.thread_time() - started) * 1000
        _state["last_trim_ms"] = took
        _state["max_trim_ms"] = max(_state["max_trim_ms"], took)

    while not _stop.wait(backoff.wait(interval)):
        backoff.run(once)


def stats() -> dict[str, float]:
    """The trimmer's interval and its trims' CPU time (ms)."""
    return dict(_state)


def _start_trimmer() -> None:
    global _trimmer
    interval = _state["trim_seconds"]
    if interval <= 0 or _glibc() is None:
        return
    _stop.clear()
    _trimmer = threading.Thread(target=_run, args=(interval,), daemon=True,
                                name="objectstore-malloc-trim")
    _trimmer.start()


def _after_fork_in_child() -> None:  # pragma: no cover - runs in a forked worker
    global _trimmer, _stop
    _trimmer = None
    _stop = threading.Event()  # the parent's trimmer may have held the old one's lock
    _start_trimmer()


def configure(arena_max: int, trim_seconds: float) -> None:
    """Apply the settings to this process (and, for the trimmer, to the workers it forks).
    Call once at start-up, before the server's threads exist. ``arena_max`` 0 and
    ``trim_seconds`` 0 leave glibc's defaults."""
    global _at_fork_registered
    lib = _glibc()
    if lib is None:
        return
    with _lock:
        if arena_max > 0 and not lib.mallopt(M_ARENA_MAX, arena_max):
            log.warning("mallopt(M_ARENA_MAX, %d) refused", arena_max)
        stop_trimmer()
        _state["trim_seconds"] = trim_seconds
        _start_trimmer()
        if not _at_fork_registered:
            os.register_at_fork(after_in_child=_after_fork_in_child)
            _at_fork_registered = True


def trimmer_running() -> bool:
    return _trimmer is not None and _trimmer.is_alive()


def stop_trimmer() -> None:
    global _trimmer
    if _trimmer is not None:
        _stop.set()
        _trimmer.join(timeout=5)
        _trimmer = None

"""A small TTL cache for lookups on the request path (credentials by access key, stores by
name). Entries live at most ``ttl`` seconds. A change clears it at once — in this process,
and, through a ``SharedGeneration`` (a counter in a file every process on the data dir maps),
in the other ``--workers`` processes and admin CLI runs too. Gateways on other hosts (sharing
only PostgreSQL) hear of a change through ``services/notify.ClusterChanges``, a subclass that
adds a cluster-wide counter; while that cannot be trusted (its listening connection is down)
the caches hold nothing, so no gateway serves a value older than the change it missed."""

from __future__ import annotations

import asyncio
import contextlib
import enum
import mmap
import os
import struct
import threading
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Final, Generic, Literal, TypeVar

from anyio.to_thread import run_sync

K = TypeVar("K")
V = TypeVar("V")


class Miss(enum.Enum):
    """The type of ``MISS``: a one-member enum, so ``hit is not MISS`` narrows the type."""

    MISS = enum.auto()


MISS: Final = Miss.MISS
Missing = Literal[Miss.MISS]


class SharedGeneration:
    """A change counter in an 8-byte file, memory-mapped by every process serving one data
    dir: reading it is a memory load, so each cache lookup can afford to check it."""

    def __init__(self, path: Path | None) -> None:
        self._map: mmap.mmap | None = None
        if path is None:
            return
        fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            if os.fstat(fd).st_size < 8:
                os.ftruncate(fd, 8)
            self._map = mmap.mmap(fd, 8)
        finally:
            os.close(fd)

    def value(self) -> int:
        return struct.unpack_from("<Q", self._map)[0] if self._map is not None else 0

    def usable(self) -> bool:
        """Whether cached values may be served now (a cluster-wide signal says False while
        it may be missing changes)."""
        return True

    def bump(self) -> None:
        if self._map is not None:  # a lost race between two bumps still changes the value
            struct.pack_into("<Q", self._map, 0, (self.value() + 1) & 0xFFFFFFFFFFFFFFFF)

    def close(self) -> None:
        if self._map is not None:
            with contextlib.suppress(BufferError):
                self._map.close()
            self._map = None


class SingleFlight(Generic[K, V]):
    """Concurrent loads of one key share one run, if no change happened since it began."""

    def __init__(self) -> None:
        self._running: dict[K, tuple[int, asyncio.Future[V | None]]] = {}

    def running(self, key: K, generation: int) -> asyncio.Future[V | None] | None:
        """The run of ``key`` begun under ``generation`` (still going), if there is one."""
        running = self._running.get(key)
        return running[1] if running is not None and running[0] == generation else None

    async def run(self, key: K, generation: int, load: Callable[[], Awaitable[V]], *,
                  join: bool = True) -> tuple[V | None, bool]:
        """``(value, True)`` from a run of this caller's own, else ``(value, False)`` from
        the run it joined, where None means that run failed (the caller runs its own).
        ``join=False``: run a load of its own in any case."""
        running = self._running.get(key)
        if join and running is not None and running[0] == generation:
            return await asyncio.shield(running[1]), False
        future: asyncio.Future[V | None] = asyncio.get_running_loop().create_future()
        self._running[key] = (generation, future)
        try:
            value = await load()
        except BaseException:
            future.set_result(None)
            raise
        finally:
            if self._running.get(key, (0, None))[1] is future:
                del self._running[key]
        future.set_result(value)
        return value, True


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float = 1.0, max_entries: int = 10000,
                 shared: SharedGeneration | None = None) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._generation = 0
        self._shared = shared
        self._seen = shared.value() if shared is not None else 0
        # concurrent misses of one key (every request of a busy store when its entry
        # expires) share one load instead of each sending a thread to the database
        self._flights: SingleFlight[tuple[int, K], tuple[V]] = SingleFlight()

    def _sync(self) -> None:
        """Drop everything if another process announced a change since we last looked."""
        if self._shared is not None and self._shared.value() != self._seen:
            with self._lock:
                self._seen = self._shared.value()
                self._generation += 1
                self._data.clear()

    def get(self, key: K) -> V | Missing:
        """The cached value, or ``MISS``. Never does I/O: safe on the event loop."""
        self._sync()
        if self._shared is not None and not self._shared.usable():
            return MISS
        hit = self._data.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return MISS
        return hit[1]

    def generation(self) -> int:
        self._sync()
        return self._generation

    def put(self, key: K, value: V, generation: int) -> None:
        """Store a value read under ``generation``; dropped if a change happened since."""
        with self._lock:
            if generation != self._generation or (
                    self._shared is not None and not self._shared.usable()):
                return
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def get_or_load(self, key: K, load: Callable[[], V]) -> V:
        """The cached value, else ``load()`` (kept unless a change happened meanwhile)."""
        hit = self.get(key)
        if hit is not MISS:
            return hit
        generation = self.generation()
        value = load()
        self.put(key, value, generation)
        return value

    async def get_or_load_async(self, key: K, load: Callable[[], V]) -> V:
        """``get_or_load`` from the event loop: a hit costs no thread hop; ``load`` (which
        does I/O) runs in a worker thread."""
        hit = self.get(key)
        if hit is not MISS:
            return hit
        generation = self.generation()

        def load_and_keep() -> tuple[V]:
            value = load()
            self.put(key, value, generation)
            return (value,)

        flight = (id(asyncio.get_running_loop()), key)
        # joined only while the change counter is trusted (as the management listings'
        # loads): with it down, a change made meanwhile elsewhere could not be told
        trusted = self._shared is None or self._shared.usable()
        got, _own = await self._flights.run(flight, generation,
                                            lambda: run_sync(load_and_keep), join=trusted)
        if got is None:  # the load this call joined failed: one of its own
            return await run_sync(self.get_or_load, key, load)
        return got[0]

    def clear(self) -> None:
        """A change happened: forget everything here, and tell the other processes."""
        with self._lock:
            self._generation += 1
            self._data.clear()
            if self._shared is not None:
                self._shared.bump()
                self._seen = self._shared.value()

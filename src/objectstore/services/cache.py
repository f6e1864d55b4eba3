"""A small TTL cache for lookups on the request path (credentials by access key, stores by
name). Entries live at most ``ttl`` seconds; local changes clear it at once, so only other
gateway processes can see a value up to ``ttl`` old."""

from __future__ import annotations

import threading
import time
from typing import Generic, TypeVar

K = TypeVar("K")
V = TypeVar("V")
MISS = object()


class TtlCache(Generic[K, V]):
    def __init__(self, ttl: float = 1.0, max_entries: int = 10000) -> None:
        self.ttl = ttl
        self.max_entries = max_entries
        self._data: dict[K, tuple[float, V]] = {}
        self._lock = threading.Lock()
        self._generation = 0

    def get(self, key: K) -> V | object:
        """The cached value, or ``MISS``. Never does I/O: safe on the event loop."""
        hit = self._data.get(key)
        if hit is None or time.monotonic() - hit[0] >= self.ttl:
            return MISS
        return hit[1]

    def generation(self) -> int:
        return self._generation

    def put(self, key: K, value: V, generation: int) -> None:
        """Store a value read under ``generation``; dropped if a change happened since."""
        with self._lock:
            if generation != self._generation:
                return
            if len(self._data) >= self.max_entries:
                self._data.clear()
            self._data[key] = (time.monotonic(), value)

    def clear(self) -> None:
        with self._lock:
            self._generation += 1
            self._data.clear()

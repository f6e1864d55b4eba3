"""Slowing API-key guessing: each failed sign-in from an address waits longer, and after a
few in a row the address gets 429 until the window has passed."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class SignInThrottle:
    def __init__(self, *, max_failures: int = 5, window_s: float = 300.0,
                 base_delay_s: float = 0.25, max_delay_s: float = 2.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.max_failures, self.window_s = max_failures, window_s
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        self.clock = clock
        self._failures: dict[str, list[float]] = {}
        self._lock = threading.Lock()

    def _recent(self, addr: str, now: float) -> list[float]:
        kept = [t for t in self._failures.get(addr, []) if now - t < self.window_s]
        if kept:
            self._failures[addr] = kept
        else:
            self._failures.pop(addr, None)
        return kept

    def retry_after(self, addr: str) -> float | None:
        """Seconds this address must wait before it may try again, or None if it may now."""
        now = self.clock()
        with self._lock:
            recent = self._recent(addr, now)
            if len(recent) < self.max_failures:
                return None
            return max(0.0, self.window_s - (now - recent[-self.max_failures]))

    def failed(self, addr: str) -> float:
        """Record a failure; returns how long to hold the answer (grows with each failure)."""
        now = self.clock()
        with self._lock:
            recent = self._recent(addr, now)
            recent.append(now)
            self._failures[addr] = recent
            if len(self._failures) > 10000:  # bound the memory an address sweep could take
                oldest = min(self._failures, key=lambda a: self._failures[a][-1])
                del self._failures[oldest]
            n = len(recent)
        return float(min(self.max_delay_s, self.base_delay_s * 2.0 ** (n - 1)))

    def succeeded(self, addr: str) -> None:
        with self._lock:
            self._failures.pop(addr, None)

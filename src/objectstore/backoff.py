"""Capped exponential backoff for background loops, and the log lines that go with it.

A background loop (GC, lifecycle, the console's usage sampler, the change listener, the
blob heartbeat, the malloc trimmer) whose pass fails must neither retry at once (the GC
retried ~600 times a second, flooding the log) nor log every failure. Each loop owns one
``Backoff``:

- ``failed(exc)`` after a failed pass: returns how long to wait before the next try, 0.5 s
  doubling to ``cap_s`` (60 s by default), with +-10 % jitter so gateways that fail together
  do not retry in step. The first failure is logged once (with the traceback); while it keeps
  failing, one line at most every ``report_every_s`` says for how long and how many tries.
- ``succeeded()`` after a good pass: if it had been failing, one line says it recovered and
  after how long; the delay starts over.
- ``wait(normal)``: the loop's next wait — its normal interval while healthy, at least the
  current backoff delay while failing.
"""

from __future__ import annotations

import logging
import random
import threading
import time
from collections.abc import Callable


class Backoff:
    def __init__(self, what: str, logger: logging.Logger, *, base_s: float = 0.5,
                 cap_s: float = 60.0, report_every_s: float = 300.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.what, self.log = what, logger
        self.base_s, self.cap_s, self.report_every_s = base_s, cap_s, report_every_s
        self.clock = clock
        self.failures = 0           # consecutive failed passes
        self.total_failures = 0     # since start (tests, metrics)
        self.delay = 0.0            # the current backoff delay (0 while healthy)
        self._since = 0.0
        self._reported = 0.0
        self._lock = threading.Lock()

    @property
    def failing(self) -> bool:
        return self.failures > 0

    def failed(self, exc: BaseException | None = None) -> float:
        """Record a failed pass; the delay before the next try."""
        with self._lock:
            now = self.clock()
            self.failures += 1
            self.total_failures += 1
            raw = min(self.cap_s, self.base_s * 2 ** min(self.failures - 1, 30))
            self.delay = raw * random.uniform(0.9, 1.1)  # noqa: S311 - jitter, not secrets
            if self.failures == 1:
                self._since = self._reported = now
                self.log.error("%s failed (%s); retrying with backoff, %.1f s doubling up to "
                               "%.0f s", self.what, _brief(exc), self.delay, self.cap_s,
                               exc_info=exc)
            elif now - self._reported >= self.report_every_s:
                self._reported = now
                self.log.error("%s still failing after %.0f s (%d tries; last: %s); next try "
                               "in %.0f s", self.what, now - self._since, self.failures,
                               _brief(exc), self.delay)
            return self.delay

    def succeeded(self) -> None:
        """Record a good pass (a no-op while healthy)."""
        if not self.failures:
            return
        with self._lock:
            if self.failures:
                self.log.warning("%s recovered after %.1f s (%d failed tries)", self.what,
                                 self.clock() - self._since, self.failures)
            self.failures, self.delay = 0, 0.0

    def wait(self, normal: float) -> float:
        """The loop's next wait: ``normal``, or the backoff delay if longer while failing."""
        return max(normal, self.delay) if self.failures else normal

    def run(self, step: Callable[[], object]) -> bool:
        """Run one pass: True if it succeeded (failures recorded and logged here)."""
        try:
            step()
        except Exception as exc:  # noqa: BLE001 - a background pass: logged, then backed off
            self.failed(exc)
            return False
        self.succeeded()
        return True


def _brief(exc: BaseException | None) -> str:
    if exc is None:
        return "no detail"
    text = str(exc).splitlines()[0][:200] if str(exc) else ""
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__

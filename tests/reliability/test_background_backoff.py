"""Issue 20.11: background loops back off on failure and say so once.

After a failed pass the garbage collector retried at once, ~600 times a second, each failure
logged with its traceback. Every background loop now goes through ``objectstore.backoff``:
capped exponential delays, one line when it starts failing, one now and then while it
keeps failing (how long), one when it recovers.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from objectstore.backoff import Backoff
from objectstore.services.maintenance import GarbageCollector
from tests.support.server import running_server


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def matching(self, text: str, thread: int | None = None) -> list[str]:
        return [r.getMessage() for r in self.of(thread) if text in r.getMessage()]

    def of(self, thread: int | None) -> list[logging.LogRecord]:
        """Records from one thread (``None``: all): GC threads of servers other tests left
        running in this process log to the same logger and fail with the same patch."""
        return [r for r in self.records if thread is None or r.thread == thread]


@contextmanager
def _captured(name: str) -> Iterator[_Records]:
    logger = logging.getLogger(name)
    handler = _Records()
    old = logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler
    finally:
        logger.removeHandler(handler)
        logger.setLevel(old)


def _wait_for(cond: object, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if cond():  # type: ignore[operator]
            return True
        time.sleep(0.05)
    return False


def test_backoff_delays_and_log_lines() -> None:
    now = [0.0]
    with _captured("test.backoff") as logs:
        b = Backoff("the pass", logging.getLogger("test.backoff"), base_s=0.5, cap_s=60,
                    report_every_s=300, clock=lambda: now[0])
        delays = []
        for _ in range(14):
            delays.append(b.failed(OSError("disk gone")))
            now[0] += delays[-1]
        raw = [min(60.0, 0.5 * 2 ** i) for i in range(14)]
        assert all(0.9 * r <= d <= 1.1 * r for d, r in zip(delays, raw, strict=True)), delays
        assert b.wait(1.0) == delays[-1] and b.wait(100.0) == 100.0
        assert len(logs.matching("failed (OSError: disk gone)")) == 1
        still = logs.matching("still failing after")
        assert 1 <= len(still) <= 2, still  # ~480 s of failures, one line per 300 s at most
        b.succeeded()
        assert logs.matching("recovered after") and b.wait(1.0) == 1.0 and b.delay == 0
        b.succeeded()
        assert len(logs.matching("recovered after")) == 1
        assert b.failed(OSError("again")) <= 0.55  # the delay starts over


def test_gc_backs_off_when_its_pass_fails(tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """The blob store fails from the start: the first full pass fails (before: retried at
    once, again and again), then recovers."""
    calls: dict[int, int] = {}
    failing = [True]
    real = GarbageCollector.drain_doomed

    def drain(self: GarbageCollector, batch: int = 1000) -> int:
        calls[id(self)] = calls.get(id(self), 0) + 1
        if failing[0]:
            raise OSError("blob store unavailable")
        return real(self, batch)

    monkeypatch.setattr(GarbageCollector, "drain_doomed", drain)
    with _captured("objectstore.gc") as logs, \
            running_server(tmp_path / "data", None, fsync=False) as srv:
        gc = srv.apps.gc
        assert gc._thread is not None
        ours = gc._thread.ident  # only this server's collector is counted
        time.sleep(3.0)
        failing_calls = calls.get(id(gc), 0)
        for _ in range(20):  # wake-ups (writes queueing blobs) do not cut the backoff short
            gc.wakeup.set()
            time.sleep(0.01)
        lines = [r.getMessage() for r in logs.of(ours) if r.levelno >= logging.WARNING]
        print(f"GC passes in ~3 s while failing: {failing_calls}; log lines: {len(lines)}")
        # 0.5 + 1 + 2 s: four tries per failing loop (the drain and the full pass both call
        # it; a slow start under load can add a round): a bound far below the spin it was
        # (4,375 passes in 3 s)
        assert 1 <= failing_calls <= 20, failing_calls
        assert len(logs.matching("failed (OSError: blob store unavailable)", ours)) == 1, \
            lines[:5]
        assert len(lines) == 1, lines[:5]
        failing[0] = False  # the blob store is back
        assert _wait_for(lambda: logs.matching("recovered after", ours), 10), lines[:5]


def test_lifecycle_backs_off_when_its_pass_fails(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", None, fsync=False,
                        lifecycle_day_seconds=2) as srv, \
            _captured("objectstore.lifecycle") as logs:
        worker = srv.apps.lifecycle
        calls = [0]

        def broken(name: str) -> list[str]:
            calls[0] += 1
            raise OSError("database gone")

        worker.configs.stores_with = broken  # type: ignore[method-assign,assignment]
        time.sleep(3.0)
        assert 1 <= calls[0] <= 6, calls[0]
        assert len([r for r in logs.records if r.levelno >= logging.WARNING]) == 1
        del worker.configs.stores_with
        assert _wait_for(lambda: logs.matching("recovered after"), 10)

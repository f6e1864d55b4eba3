"""Usage history: a sampler records each store's bytes and objects periodically.

Samples live in the console's own SQLite file (no migration of the main database), one row
per store and sampling slot: several ``--workers`` processes sampling the same slot write
one row.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from ..backoff import Backoff
from ..services.registry import Services
from .localdb import LocalDb

log = logging.getLogger("objectstore.console")

INTERVAL_S = 300.0          # one sample per store every five minutes
KEEP_S = 31 * 86400.0       # a month and a day

_SCHEMA = """
CREATE TABLE IF NOT EXISTS usage_samples (
    store_id TEXT NOT NULL,
    slot INTEGER NOT NULL,
    at REAL NOT NULL,
    used_bytes INTEGER NOT NULL,
    objects INTEGER NOT NULL,
    PRIMARY KEY (store_id, slot)
);
"""


@dataclass(frozen=True)
class Sample:
    at: float
    used_bytes: int
    objects: int


class UsageHistory:
    def __init__(self, path: Path, interval_s: float = INTERVAL_S) -> None:
        self.db = LocalDb(path, _SCHEMA)
        self.interval_s = interval_s

    def record(self, at: float, rows: list[tuple[str, int, int]]) -> None:
        """Store (store_id, used_bytes, objects) samples taken at ``at``."""
        slot = int(at // self.interval_s)
        with self.db.connect() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO usage_samples VALUES (?, ?, ?, ?, ?)",
                [(sid, slot, at, used, count) for sid, used, count in rows])
            conn.execute("DELETE FROM usage_samples WHERE at < ?", (at - KEEP_S,))

    def since(self, store_id: str, since: float) -> list[Sample]:
        with self.db.connect() as conn:
            rows = conn.execute(
                "SELECT at, used_bytes, objects FROM usage_samples "
                "WHERE store_id = ? AND at >= ? ORDER BY at", (store_id, since)).fetchall()
        return [Sample(float(a), int(b), int(o)) for a, b, o in rows]

    def forget(self, store_id: str) -> None:
        with self.db.connect() as conn:
            conn.execute("DELETE FROM usage_samples WHERE store_id = ?", (store_id,))


def current_usage(services: Services) -> list[tuple[str, int, int]]:
    """(store id, bytes, objects) of every store of every account, read now."""
    rows: list[tuple[str, int, int]] = []
    for account in services.accounts.list():
        for region in services.regions.regions:
            if not region.object_store:
                continue
            page = services.stores.list(account.id, region.code, 1, 100000)
            rows.extend((s.store.id, s.store.used_bytes, s.store.object_count)
                        for s in page.items)
    return rows


class Sampler:
    """A daemon thread that records usage every ``history.interval_s`` seconds."""

    def __init__(self, services: Services, history: UsageHistory,
                 clock: Callable[[], float] = time.time) -> None:
        self.services, self.history, self.clock = services, history, clock
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def sample_now(self) -> None:
        self.history.record(self.clock(), current_usage(self.services))

    def start(self) -> None:
        """Start the thread once (idempotent; the console calls this on its first request)."""
        with self._lock:
            if self._thread is not None:
                return
            self._thread = threading.Thread(target=self._run, name="console-sampler",
                                            daemon=True)
            self._thread.start()

    def stop(self) -> None:
        self._stop.set()

    def _run(self) -> None:
        backoff = Backoff("usage sampling", log)
        while not self._stop.is_set():
            backoff.run(self.sample_now)
            self._stop.wait(backoff.wait(self.history.interval_s))

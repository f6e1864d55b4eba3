"""The console's own small SQLite file in the data dir (sessions, usage samples).

Kept apart from the main database on purpose: it needs no migration, and every ``--workers``
process on the data dir sees the same sessions.
"""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path


class LocalDb:
    def __init__(self, path: Path, schema: str) -> None:
        self.path, self.schema = path, schema
        self._local = threading.local()
        self._ready = False  # the file is made on first use, not when the app is built

    def _conn(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            conn = sqlite3.connect(self.path, timeout=10, isolation_level=None,
                                   check_same_thread=False)
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            if not self._ready:
                conn.executescript(self.schema)
                self._ready = True
            self._local.conn = conn
        return conn

    @contextmanager
    def connect(self) -> Iterator[sqlite3.Connection]:
        """A connection of this thread inside one transaction (committed on success)."""
        conn = self._conn()
        conn.execute("BEGIN IMMEDIATE")
        try:
            yield conn
        except BaseException:
            conn.execute("ROLLBACK")
            raise
        conn.execute("COMMIT")

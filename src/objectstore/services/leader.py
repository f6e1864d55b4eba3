"""Leadership for background work: exactly one holder of a named role per data dir (SQLite)
or per database (PostgreSQL), whatever the number of processes or gateways.

- SQLite: an exclusive ``flock`` on ``<data dir>/leader-<role>.lock`` (held by an open file
  description, so each ``--workers`` process and each CLI run competes on its own; released by
  the kernel when the holder dies).
- PostgreSQL: a session advisory lock taken on a dedicated connection; released by the server
  when that connection (or the gateway holding it) dies, so another gateway takes over.
"""

from __future__ import annotations

import contextlib
import fcntl
import logging
import os
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine

log = logging.getLogger("objectstore.leader")


class Leader:
    def __init__(self, engine: Engine, role: str, lock_dir: Path) -> None:
        self.engine = engine
        self.role = role
        self.lock_dir = lock_dir
        self._fd: int | None = None
        self._conn: Any = None  # PostgreSQL: the DBAPI connection holding the lock
        self._lock = threading.Lock()

    @property
    def _postgres(self) -> bool:
        return self.engine.dialect.name == "postgresql"

    def try_acquire(self) -> bool:
        """Take the role if nobody holds it; True if this process holds it now."""
        with self._lock:
            if self._held_locked():
                return True
            return self._acquire_pg() if self._postgres else self._acquire_file()

    def _acquire_file(self) -> bool:
        self.lock_dir.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.lock_dir / f"leader-{self.role}.lock",
                     os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            return False
        self._fd = fd
        return True

    def _acquire_pg(self) -> bool:
        raw = self.engine.raw_connection()
        raw.detach()  # never returned to the pool: the lock lives as long as this connection
        conn = raw.dbapi_connection
        try:
            conn.autocommit = True  # type: ignore[union-attr]
            cur = conn.cursor()  # type: ignore[union-attr]
            cur.execute("SELECT pg_try_advisory_lock(hashtextextended(%s, 0))",
                        (f"objectstore-leader:{self.role}",))
            row = cur.fetchone()
            cur.close()
        except Exception:
            with contextlib.suppress(Exception):
                conn.close()  # type: ignore[union-attr]
            raise
        if not row or not row[0]:
            conn.close()  # type: ignore[union-attr]
            return False
        self._conn = conn
        return True

    def holds(self) -> bool:
        """Whether this process still holds the role (PostgreSQL: its connection is alive)."""
        with self._lock:
            return self._held_locked()

    def _held_locked(self) -> bool:
        if self._fd is not None:
            return True
        if self._conn is None:
            return False
        try:
            cur = self._conn.cursor()
            cur.execute("SELECT 1")
            cur.fetchone()
            cur.close()
            return True
        except Exception:
            log.warning("lost the %s role (its database connection died)", self.role)
            with contextlib.suppress(Exception):
                self._conn.close()
            self._conn = None
            return False

    def release(self) -> None:
        with self._lock:
            if self._fd is not None:
                with contextlib.suppress(OSError):
                    fcntl.flock(self._fd, fcntl.LOCK_UN)
                os.close(self._fd)
                self._fd = None
            if self._conn is not None:
                with contextlib.suppress(Exception):
                    self._conn.close()
                self._conn = None

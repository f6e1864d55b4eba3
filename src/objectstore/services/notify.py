"""Cache coherence across gateways on other hosts: a change counter in PostgreSQL
(``change_versions``, the truth) and LISTEN/NOTIFY (the prompt).

A change (``bump``) increments the counter and sends ``NOTIFY objectstore_cache`` in one
transaction. Every gateway keeps a listening connection: on a notification — or every
``poll_s`` at the latest — it reads the counter and, if it moved, every cache drops
everything. If the listening connection is lost, the caches are dropped at once and serve
nothing (every lookup reads the database) until the connection is back and the counter has
been read again: a gateway that might have missed a change never answers from its cache.
"""

from __future__ import annotations

import contextlib
import logging
import threading
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, text

from ..backoff import Backoff
from .cache import SharedGeneration

log = logging.getLogger("objectstore.notify")
CHANNEL = "objectstore_cache"
COUNTER = "cache"


class ClusterChanges(SharedGeneration):
    """The data dir's memory-mapped counter plus a cluster-wide one (PostgreSQL only)."""

    def __init__(self, path: Path | None, engine: Engine, poll_s: float = 1.0) -> None:
        super().__init__(path)
        self.engine = engine
        self.poll_s = poll_s
        self._remote = 0  # local count of remote changes seen (and of connection losses)
        self._seen_version: int | None = None
        self._healthy = threading.Event()
        self._stop = threading.Event()
        self._conn: Any = None
        self._thread = threading.Thread(target=self._listen, name="objectstore-notify",
                                        daemon=True)
        self._thread.start()

    # -- SharedGeneration -----------------------------------------------------------------------
    def value(self) -> int:
        return (super().value() + self._remote) & 0xFFFFFFFFFFFFFFFF

    def usable(self) -> bool:
        return self._healthy.is_set()

    def bump(self) -> None:
        super().bump()  # this process and the others on the data dir, at once
        try:
            with self.engine.begin() as conn:
                version = conn.execute(text(
                    "UPDATE change_versions SET version = version + 1 WHERE name = :n "
                    "RETURNING version"), {"n": COUNTER}).scalar_one()
                conn.execute(text("SELECT pg_notify(:c, :v)"), {"c": CHANNEL, "v": str(version)})
        except Exception:
            # The change itself is committed; the other gateways' caches expire within their
            # TTL (1 s), and their listeners re-read the counter when they reconnect.
            log.exception("could not announce a change to the other gateways")

    def wait_ready(self, timeout: float) -> bool:
        return self._healthy.wait(timeout)

    def close(self) -> None:
        self._stop.set()
        conn = self._conn
        if conn is not None:
            with contextlib.suppress(Exception):
                conn.close()
        self._thread.join(timeout=2)
        super().close()

    # -- the listener ---------------------------------------------------------------------------
    def _changed(self) -> None:
        self._remote += 1  # every cache sees a new value on its next lookup and clears

    def _check(self, cur: Any) -> None:
        cur.execute("SELECT version FROM change_versions WHERE name = %s", (COUNTER,))
        row = cur.fetchone()
        version = int(row[0]) if row else 0
        if version != self._seen_version:
            self._seen_version = version
            self._changed()

    def _listen(self) -> None:
        # quick to retry (caches are off while it is down), slow to log
        backoff = Backoff("the change-notification connection (caches are off until it is "
                          "back)", log, base_s=0.1, cap_s=2.0)
        while not self._stop.is_set():
            try:
                raw = self.engine.raw_connection()
                raw.detach()
                conn = raw.dbapi_connection
                assert conn is not None
                conn.autocommit = True
                self._conn = conn
                cur = conn.cursor()
                cur.execute(f"LISTEN {CHANNEL}")
                self._check(cur)
                self._changed()  # anything cached before (or while down) is dropped
                self._healthy.set()
                backoff.succeeded()
                notifies = getattr(conn, "notifies", None)
                assert notifies is not None, "psycopg 3 is required for LISTEN"
                while not self._stop.is_set():
                    got = False
                    for _n in notifies(timeout=self.poll_s, stop_after=1):
                        got = True
                    # Prompted or not: read the truth (a missed notification costs a poll).
                    self._check(cur)
                    if got:
                        continue
            except Exception as exc:
                if self._stop.is_set():
                    break
                self._healthy.clear()
                self._changed()
                backoff.failed(exc)
            finally:
                conn_ = self._conn
                self._conn = None
                if conn_ is not None:
                    with contextlib.suppress(Exception):
                        conn_.close()
            self._stop.wait(backoff.wait(0.0))
        self._healthy.clear()


def make_changes(path: Path | None, engine: Engine) -> SharedGeneration:
    """The change signal for this deployment: cluster-wide on PostgreSQL."""
    if engine.dialect.name == "postgresql":
        changes = ClusterChanges(path, engine)
        if not changes.wait_ready(10.0):
            log.warning("change notifications not ready yet; caches stay off until they are")
        return changes
    return SharedGeneration(path)

"""Writing a chunk's row before its needle is uploaded: one statement, one round trip.

Every needle upload is preceded by its ``blob_chunks`` row (so no needle is ever unnamed).
Done as a transaction of its own through SQLAlchemy that was five round trips on PostgreSQL
(BEGIN, ``SET LOCAL synchronous_commit``, DELETE, INSERT, COMMIT), each one a wait of the
upload thread and a hand-over of the GIL: with 4 KiB needles the gateway spent half its CPU
switching threads. On PostgreSQL the row is now one ``INSERT .. ON CONFLICT DO UPDATE`` (a
retried chunk gets its new file id) in autocommit, on a connection of this writer's own whose
session has ``synchronous_commit`` off — as before, the row is made durable by the later
commit of the object row that names the blob (the same WAL), and until then an interrupted
upload's row is only ever an orphan for the sweep. The connections are taken from the
engine's pool once and detached from it, so the session setting never reaches a connection
anything else uses. SQLite (a single-node setup) keeps the plain write transaction.
"""

from __future__ import annotations

import contextlib
import os
import threading
import time
from typing import Any

from sqlalchemy import Engine, delete
from sqlalchemy.dialects import postgresql

from ..sql.engine import writing
from ..sql.prepared import Prepared
from .tables import blob_chunks

_insert = postgresql.insert(blob_chunks)
_UPSERT = Prepared(_insert.on_conflict_do_update(
    index_elements=[blob_chunks.c.blob_id, blob_chunks.c.seq],
    set_={"fid": _insert.excluded.fid, "size": _insert.excluded.size,
          "created_at": _insert.excluded.created_at}))


MAX_CONNECTIONS = 8  # per process: a row takes ~0.2 ms, so 8 carry tens of thousands a second


class ChunkRows:
    """At most ``max_connections`` connections of its own (opened as needed, kept: opening a
    PostgreSQL connection costs more than thousands of rows); a writer waits for a free one
    rather than opening more."""

    def __init__(self, engine: Engine, max_connections: int = MAX_CONNECTIONS) -> None:
        self.engine = engine
        self.postgres = engine.dialect.name == "postgresql"
        self.max_connections = max_connections
        self._idle: list[Any] = []
        self._open = 0
        self._free = threading.Condition()
        self._pid = os.getpid()

    def record(self, blob_id: str, seq: int, fid: str, size: int) -> None:
        """The row of chunk ``seq`` of ``blob_id`` (replacing one an earlier attempt wrote)."""
        values = {"blob_id": blob_id, "seq": seq, "fid": fid, "size": size,
                  "created_at": time.time()}
        if not self.postgres:
            with writing(self.engine) as conn:
                conn.execute(delete(blob_chunks).where(blob_chunks.c.blob_id == blob_id,
                                                       blob_chunks.c.seq == seq))
                conn.execute(blob_chunks.insert().values(**values))
            return
        for attempt in (0, 1):
            dbapi_conn, reused = self._take()
            try:
                _UPSERT.execute_dbapi(dbapi_conn, self.engine.dialect, **values)
            except BaseException as exc:
                self._lost(dbapi_conn)  # (whatever it was: the count stays right)
                # a kept connection the server closed meanwhile (a restart, a failover):
                # once more on a fresh one
                if reused and attempt == 0 and isinstance(exc, Exception):
                    continue
                raise
            self._give_back(dbapi_conn)
            return

    def _take(self) -> tuple[Any, bool]:
        with self._free:
            if self._pid != os.getpid():  # forked: never share a database connection
                self._idle, self._open, self._pid = [], 0, os.getpid()
            while not self._idle and self._open >= self.max_connections:
                self._free.wait()
            if self._idle:
                return self._idle.pop(), True
            self._open += 1
        try:
            return self._connect(), False
        except BaseException:
            with self._free:
                self._open -= 1
                self._free.notify()
            raise

    def _connect(self) -> Any:
        fairy = self.engine.raw_connection()
        fairy.detach()
        dbapi_conn = fairy.dbapi_connection
        assert dbapi_conn is not None
        dbapi_conn.rollback()  # the pool's ping may have left a transaction open
        dbapi_conn.autocommit = True
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute("SET synchronous_commit TO OFF")
        finally:
            cursor.close()
        return dbapi_conn

    def _give_back(self, dbapi_conn: Any) -> None:
        with self._free:
            if self._pid == os.getpid():
                self._idle.append(dbapi_conn)
                self._free.notify()
                return
        with contextlib.suppress(Exception):
            dbapi_conn.close()

    def _lost(self, dbapi_conn: Any) -> None:
        with contextlib.suppress(Exception):
            dbapi_conn.close()
        with self._free:
            if self._pid == os.getpid():
                self._open -= 1
                self._free.notify()

    def close(self) -> None:
        with self._free:
            idle, self._idle = self._idle, []
            self._open -= len(idle)
        for dbapi_conn in idle:
            with contextlib.suppress(Exception):
                dbapi_conn.close()

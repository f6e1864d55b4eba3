"""Engine set-up (SQLite PRAGMAs, PostgreSQL) and schema migration at start."""

from __future__ import annotations

import contextlib
import fcntl
import os
import threading
import time
import weakref
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy import Connection, Engine, create_engine, event, exc, make_url
from sqlalchemy.pool import NullPool

MIGRATIONS = Path(__file__).parent / "migrations"
WRITE_OPTION = "objectstore_write"


@contextmanager
def writing(engine: Engine) -> Iterator[Connection]:
    """A write transaction (``BEGIN IMMEDIATE`` on SQLite), committed on success.

    On SQLite, writers first queue on a lock file beside the database (threads and worker
    processes alike): SQLite's own wait for its write lock sleeps in growing steps of up to
    100 ms, which with several processes turned a few milliseconds of contention into
    seconds of tail latency; a blocked ``flock`` wakes as soon as the lock is free."""
    lock = _WRITE_LOCKS.get(engine)
    with lock if lock is not None else contextlib.nullcontext(), engine.connect() as conn:
        conn = conn.execution_options(**{WRITE_OPTION: True})
        with conn.begin():
            yield conn


class WriterLock:
    """Mutual exclusion of SQLite writers across threads (a mutex) and processes (``flock``
    on ``<database>.writelock``; the lock goes with the process if it dies)."""

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._fd = -1
        self._pid = -1

    def __enter__(self) -> None:
        self._mutex.acquire()
        try:
            if self._pid != os.getpid():  # first use in this process (or after a fork)
                self._fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
                self._pid = os.getpid()
            fcntl.flock(self._fd, fcntl.LOCK_EX)
        except BaseException:
            self._mutex.release()
            raise

    def __exit__(self, *exc: object) -> None:
        try:
            fcntl.flock(self._fd, fcntl.LOCK_UN)
        finally:
            self._mutex.release()


_WRITE_LOCKS: weakref.WeakKeyDictionary[Engine, WriterLock] = weakref.WeakKeyDictionary()


def make_engine(url: str, *, sqlite_synchronous: str = "FULL") -> Engine:
    if url.startswith("sqlite"):
        engine = create_engine(
            url,
            connect_args={"check_same_thread": False, "timeout": 30},
            # one pooled connection per worker thread (anyio runs up to 40): opening a SQLite
            # connection (and its PRAGMAs) per request costs more than the query itself
            pool_size=48,
            max_overflow=16,
        )
        sync = sqlite_synchronous.upper()
        if sync not in {"FULL", "NORMAL", "EXTRA"}:
            raise ValueError("sqlite_synchronous must be FULL, EXTRA or NORMAL")

        @event.listens_for(engine, "connect")
        def _pragmas(dbapi_conn: Any, _record: Any) -> None:
            cur = dbapi_conn.cursor()
            cur.execute("PRAGMA journal_mode=WAL")
            cur.execute(f"PRAGMA synchronous={sync}")
            cur.execute("PRAGMA foreign_keys=ON")
            cur.execute("PRAGMA busy_timeout=30000")
            cur.execute("PRAGMA cache_size=-1024")  # 1 MiB page cache per pooled connection
            cur.close()
            # Let SQLAlchemy's BEGIN (below) open write transactions immediately so that two
            # writers queue on the lock instead of failing with "database is locked".
            dbapi_conn.isolation_level = None

        database = engine.url.database
        if database and database != ":memory:" and not database.startswith("file:"):
            _WRITE_LOCKS[engine] = WriterLock(f"{database}.writelock")

        @event.listens_for(engine, "begin")
        def _begin(conn: Any) -> None:
            # Writers take the write lock up front (no deadlock on lock upgrade). Readers open
            # no transaction: each SELECT is its own consistent snapshot in WAL mode, and
            # never blocks nor is blocked.
            if conn.get_execution_options().get(WRITE_OPTION):
                conn.exec_driver_sql("BEGIN IMMEDIATE")

        return engine
    if url.startswith("postgresql"):
        return _postgresql_engine(url)
    return create_engine(url, poolclass=NullPool)


# A pooled PostgreSQL connection idle longer than this is pinged before use. One in steady
# use is not: a ping per checkout was a round trip (and a transaction) per request. A
# connection psycopg has seen fail (``broken``) is replaced whatever its age.
PING_IDLE_SECONDS = 1.0


# libpq settings of every PostgreSQL connection (the pool's and the async reads'): a server
# that stopped answering (the network cut, the host gone) fails a connection attempt in 10 s
# and a query whose packets go unacknowledged in 10 s (``tcp_user_timeout``, ms), instead of
# hanging in TCP retransmissions for ~15 minutes; idle connections are probed. The request
# then answers 503 and the next one gets a fresh connection. A settings in the URL wins.
PG_CONNECT_ARGS: dict[str, int] = {"connect_timeout": 10, "tcp_user_timeout": 10_000,
                                   "keepalives": 1, "keepalives_idle": 10,
                                   "keepalives_interval": 3, "keepalives_count": 3}


def _postgresql_engine(url: str) -> Engine:
    # LIFO: the connections in use stay warm (and unpinged); idle ones age and get pinged.
    from_url = set(make_url(url).query)
    engine = create_engine(url, pool_size=24, max_overflow=24, pool_use_lifo=True,
                           connect_args={k: v for k, v in PG_CONNECT_ARGS.items()
                                         if k not in from_url})

    @event.listens_for(engine, "checkin")
    def _checkin(_dbapi_conn: Any, record: Any) -> None:
        record.info["idle_since"] = time.monotonic()

    @event.listens_for(engine, "checkout")
    def _checkout(dbapi_conn: Any, record: Any, _proxy: Any) -> None:
        if getattr(dbapi_conn, "broken", False) or dbapi_conn.closed:
            raise exc.DisconnectionError("connection lost")
        since = record.info.get("idle_since")
        if since is not None and time.monotonic() - since > PING_IDLE_SECONDS:
            try:
                engine.dialect.do_ping(dbapi_conn)
            except Exception as err:
                raise exc.DisconnectionError(str(err)) from err

    return engine


def migrate(engine: Engine) -> None:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with writing(engine) as conn:
        cfg.attributes["connection"] = conn
        command.upgrade(cfg, "head")


def revision(engine: Engine, message: str) -> None:  # developer helper
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    with engine.begin() as conn:
        cfg.attributes["connection"] = conn
        command.revision(cfg, message=message, autogenerate=True)

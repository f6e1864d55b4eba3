"""PostgreSQL point reads on the event loop: the hot lookup of a GET or HEAD (an object's
latest version) without a hop to a worker thread.

On PostgreSQL a read is a network round trip: run in a worker thread (as every other
database call is) it costs the hop there and back and, worse, the GIL handed between the
event loop and the thread for every request, which showed as a quarter of a small GET's
samples. Here the same prepared statement (``Prepared``: compiled once, values through the
column types' processors) runs on a few connections of this process's event loop, each
statement its own snapshot, exactly as ``Prepared.first_on`` reads it.

The connections are asyncpg's where the database URL holds only parameters asyncpg reads
(``ASYNCPG_PARAMS``): the HEAD point read costs ~75 µs of this process's CPU there against
~143 µs on psycopg's ``AsyncConnection`` (``bench/pg_point_read.py``). asyncpg hands back
the same Python values as psycopg (JSON decoded by the codec set on each connection,
timestamps aware, bytea as bytes), so the rows go through the psycopg dialect's result
processing either way. A URL with any other libpq parameter keeps psycopg's
``AsyncConnection``s, in autocommit.

A kept connection can have died with the server (a restart, a failover): a read that fails
on one is run once more on a fresh connection (reads are idempotent); a failure on a fresh
one is the caller's error. Connections belong to one event loop and one process: a forked
worker or another loop starts with none.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import os
import socket
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine
from sqlalchemy.dialects.postgresql.asyncpg import PGDialect_asyncpg
from sqlalchemy.engine import Dialect

if TYPE_CHECKING:
    from .prepared import Prepared


# libpq's timeouts, which asyncpg does not read: given to its connect and its socket here
_SOCKET_PARAMS = ("tcp_user_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                  "keepalives_count")
# the URL query parameters the asyncpg connections honour as libpq does (its own DSN
# parsing, and the timeouts above)
ASYNCPG_PARAMS = frozenset({"sslmode", "sslrootcert", "sslcert", "sslkey", "sslpassword",
                            "sslcrl", "target_session_attrs", "passfile", "connect_timeout",
                            *_SOCKET_PARAMS})
_ASYNCPG_DIALECT = PGDialect_asyncpg()  # type: ignore[no-untyped-call]  # compiles the SQL with $n placeholders (no import)


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


def _use_asyncpg(engine: Engine) -> bool:
    try:
        import asyncpg  # noqa: F401
    except ImportError:  # pragma: no cover - a pinned dependency
        return False
    return set(engine.url.query) <= ASYNCPG_PARAMS


class DatabaseUnavailable(Exception):
    """A read failed because PostgreSQL could not be reached, was lost mid-read, or answered
    as a server going away: an outage, whichever driver saw it (its error is the
    ``__cause__``). The planes answer it with a retryable error, as a pool's
    ``OperationalError`` (``services/availability.py``)."""


class _Psycopg:
    """psycopg's ``AsyncConnection``s, in autocommit."""

    def __init__(self, engine: Engine) -> None:
        self.dialect: Dialect = engine.dialect
        self._args, self._kwargs = engine.dialect.create_connect_args(engine.url)

    async def connect(self) -> Any:
        import psycopg

        from .engine import PG_CONNECT_ARGS

        return await psycopg.AsyncConnection.connect(
            *self._args, autocommit=True, **{**PG_CONNECT_ARGS, **self._kwargs})

    @staticmethod
    async def fetchone(conn: Any, sql: str, params: Any) -> Any:
        async with conn.cursor() as cur:
            await cur.execute(sql, params)
            return await cur.fetchone()

    @staticmethod
    def broken(conn: Any) -> bool:
        return bool(conn.broken)

    @staticmethod
    def unreachable(exc: BaseException) -> bool:
        import psycopg

        return isinstance(exc, psycopg.OperationalError | psycopg.InterfaceError | OSError)

    @staticmethod
    async def close(conn: Any) -> None:
        await conn.close()

    @staticmethod
    def finish(conn: Any) -> None:
        conn.pgconn.finish()


class _Asyncpg:
    """asyncpg's connections (outside a transaction, each statement is its own): statements
    prepared once per connection by its statement cache; libpq's timeouts as the pool's
    connections have them (``PG_CONNECT_ARGS``, or the URL's own): the connect's, and the
    keepalives and user timeout set on the socket (a server gone silent fails a read)."""

    dialect: Dialect = _ASYNCPG_DIALECT

    def __init__(self, engine: Engine) -> None:
        from .engine import PG_CONNECT_ARGS

        query = dict(engine.url.query)
        given = {k: query.pop(k) for k in (*_SOCKET_PARAMS, "connect_timeout") if k in query}
        timeouts = {**PG_CONNECT_ARGS, **{k: int(str(v)) for k, v in given.items()}}
        self.connect_timeout = float(timeouts["connect_timeout"])
        self.socket_options = {k: timeouts[k] for k in _SOCKET_PARAMS}
        url = engine.url.set(drivername="postgresql", query=query)
        self._dsn = url.render_as_string(hide_password=False)

    async def connect(self) -> Any:
        import asyncpg

        conn = await asyncpg.connect(self._dsn, timeout=self.connect_timeout)
        try:
            for name in ("json", "jsonb"):  # decoded, as psycopg hands them
                await conn.set_type_codec(name, encoder=json.dumps, decoder=json.loads,
                                          schema="pg_catalog")
            sock = conn._transport.get_extra_info("socket")
            if sock is not None and sock.family != socket.AF_UNIX:
                _keepalive(sock, self.socket_options)
        except BaseException:
            conn.terminate()
            raise
        return conn

    @staticmethod
    async def fetchone(conn: Any, sql: str, params: Any) -> Any:
        return await conn.fetchrow(sql, *params)

    @staticmethod
    def broken(conn: Any) -> bool:
        return bool(conn.is_closed())

    @staticmethod
    def unreachable(exc: BaseException) -> bool:
        """What psycopg would call an OperationalError or InterfaceError: the connection
        failed, was lost or timed out (an ``OSError`` from the socket, asyncpg's own
        ``TimeoutError``), or the server refused work as one going away (class 08, 53, 57)."""
        from asyncpg import exceptions as e

        return isinstance(exc, e.PostgresConnectionError | e.OperatorInterventionError
                          | e.InsufficientResourcesError | e.InterfaceError | OSError
                          | TimeoutError)

    @staticmethod
    async def close(conn: Any) -> None:
        await conn.close(timeout=2)

    @staticmethod
    def finish(conn: Any) -> None:
        conn.terminate()


def _keepalive(sock: socket.socket, A: dict[str, int]) -> None:  # noqa: N803
    """libpq's keepalives and user timeout, on a socket asyncpg opened."""
    with contextlib.suppress(OSError, AttributeError):
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, A["keepalives"])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, A["keepalives_idle"])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, A["keepalives_interval"])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, A["keepalives_count"])
        sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, A["tcp_user_timeout"])


class AsyncReads:
    """At most ``size`` connections per process; a read finding all of them busy waits for
    one (a round trip is a fraction of a millisecond) instead of opening another."""

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self.engine = engine
        self.size = size
        self.driver: _Psycopg | _Asyncpg = (_Asyncpg(engine) if _use_asyncpg(engine)
                                            else _Psycopg(engine))
        self._idle: list[Any] = []
        self._slots = asyncio.Semaphore(size)
        self._owner: tuple[int, asyncio.AbstractEventLoop | None] = (os.getpid(), None)

    def _own(self) -> None:
        owner = (os.getpid(), asyncio.get_running_loop())
        if owner != self._owner:  # forked, or another event loop: never share a connection
            dropped, self._idle, self._owner = self._idle, [], owner
            self._slots = asyncio.Semaphore(self.size)
            for conn in dropped:  # (not awaitable here: that loop is not this one)
                with contextlib.suppress(Exception):
                    self.driver.finish(conn)

    async def first(self, stmt: Prepared, **values: Any) -> tuple[Any, ...] | None:
        """``stmt``'s first row, processed as ``Prepared.first_on`` does."""
        raw = await self.raw_first(stmt, **values)
        return None if raw is None else stmt._for(self.engine.dialect).row(raw)

    async def raw_first(self, stmt: Prepared, **values: Any) -> tuple[Any, ...] | None:
        """``stmt``'s first row as the driver returns it (``Prepared.raw_first_on``).
        ``DatabaseUnavailable`` when the database could not be reached."""
        try:
            return await self._raw_first(stmt, values)
        except Exception as exc:
            if self.driver.unreachable(exc):
                raise DatabaseUnavailable(f"{type(exc).__name__}: {exc}") from exc
            raise

    async def _raw_first(self, stmt: Prepared, values: dict[str, Any]
                         ) -> tuple[Any, ...] | None:
        self._own()
        driver = self.driver
        compiled = stmt._for(driver.dialect)
        params = compiled.params(values)
        slots = self._slots
        async with slots:
            kept = bool(self._idle)
            conn = self._idle.pop() if kept else await driver.connect()
            try:
                raw = await driver.fetchone(conn, compiled.sql, params)
            except Exception:
                await self._close(conn)
                if not kept:
                    raise
                conn = await driver.connect()  # the kept one may have died with the server
                try:
                    raw = await driver.fetchone(conn, compiled.sql, params)
                except BaseException:
                    await asyncio.shield(self._close(conn))
                    raise
            except BaseException:  # cancelled mid-query: the connection's state is unknown
                await asyncio.shield(self._close(conn))
                raise
            if driver.broken(conn) or slots is not self._slots:
                await self._close(conn)
            else:
                self._idle.append(conn)
        return raw  # type: ignore[no-any-return]  # a tuple (psycopg) or a Record (asyncpg)

    async def _close(self, conn: Any) -> None:
        with contextlib.suppress(Exception):
            await self.driver.close(conn)

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await self._close(conn)


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, AsyncReads] = weakref.WeakKeyDictionary()


def for_engine(engine: Engine) -> AsyncReads | None:
    """The engine's async readers (None where reads are not async: SQLite, other drivers)."""
    if not supported(engine):
        return None
    reads = _BY_ENGINE.get(engine)
    if reads is None:
        reads = _BY_ENGINE[engine] = AsyncReads(engine)
    return reads

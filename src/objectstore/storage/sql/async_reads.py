"""PostgreSQL point reads on the event loop: the hot lookup of a GET or HEAD (an object's
latest version) without a hop to a worker thread.

On PostgreSQL a read is a network round trip: run in a worker thread (as every other
database call is) it costs the hop there and back and, worse, the GIL handed between the
event loop and the thread for every request, which showed as a quarter of a small GET's
samples. Here the same prepared statement (``Prepared``: compiled once, values through the
column types' processors) runs on a few psycopg ``AsyncConnection``s kept in autocommit, so
the SELECT is its own snapshot, exactly as ``Prepared.first_on`` reads it.

A kept connection can have died with the server (a restart, a failover): a read that fails
on one is run once more on a fresh connection (reads are idempotent); a failure on a fresh
one is the caller's error. Connections belong to one event loop and one process: a forked
worker or another loop starts with none.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import weakref
from typing import TYPE_CHECKING, Any

from sqlalchemy import Engine

if TYPE_CHECKING:
    from .prepared import Prepared


def supported(engine: Engine) -> bool:
    return engine.dialect.name == "postgresql" and engine.dialect.driver == "psycopg"


class AsyncReads:
    """At most ``size`` connections per process; a read finding all of them busy waits for
    one (a round trip is a fraction of a millisecond) instead of opening another."""

    def __init__(self, engine: Engine, size: int = 8) -> None:
        self.engine = engine
        self.size = size
        self._args, self._kwargs = engine.dialect.create_connect_args(engine.url)
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
                    conn.pgconn.finish()

    async def _connect(self) -> Any:
        import psycopg

        from .engine import PG_CONNECT_ARGS

        return await psycopg.AsyncConnection.connect(
            *self._args, autocommit=True, **{**PG_CONNECT_ARGS, **self._kwargs})

    async def first(self, stmt: Prepared, **values: Any) -> tuple[Any, ...] | None:
        """``stmt``'s first row, processed as ``Prepared.first_on`` does."""
        raw = await self.raw_first(stmt, **values)
        return None if raw is None else stmt._for(self.engine.dialect).row(raw)

    async def raw_first(self, stmt: Prepared, **values: Any) -> tuple[Any, ...] | None:
        """``stmt``'s first row as the driver returns it (``Prepared.raw_first_on``)."""
        self._own()
        compiled = stmt._for(self.engine.dialect)
        params = compiled.params(values)
        slots = self._slots
        async with slots:
            kept = bool(self._idle)
            conn = self._idle.pop() if kept else await self._connect()
            try:
                raw = await _fetchone(conn, compiled.sql, params)
            except Exception:
                await _close(conn)
                if not kept:
                    raise
                conn = await self._connect()  # the kept one may have died with the server
                try:
                    raw = await _fetchone(conn, compiled.sql, params)
                except BaseException:
                    await asyncio.shield(_close(conn))
                    raise
            except BaseException:  # cancelled mid-query: the connection's state is unknown
                await asyncio.shield(_close(conn))
                raise
            if conn.broken or slots is not self._slots:
                await _close(conn)
            else:
                self._idle.append(conn)
        return raw  # type: ignore[no-any-return]  # psycopg's default rows are tuples

    async def close(self) -> None:
        idle, self._idle = self._idle, []
        for conn in idle:
            await _close(conn)


async def _fetchone(conn: Any, sql: str, params: Any) -> Any:
    async with conn.cursor() as cur:
        await cur.execute(sql, params)
        return await cur.fetchone()


async def _close(conn: Any) -> None:
    with contextlib.suppress(Exception):
        await conn.close()


_BY_ENGINE: weakref.WeakKeyDictionary[Engine, AsyncReads] = weakref.WeakKeyDictionary()


def for_engine(engine: Engine) -> AsyncReads | None:
    """The engine's async readers (None where reads are not async: SQLite, other drivers)."""
    if not supported(engine):
        return None
    reads = _BY_ENGINE.get(engine)
    if reads is None:
        reads = _BY_ENGINE[engine] = AsyncReads(engine)
    return reads

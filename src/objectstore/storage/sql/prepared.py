"""Prepared statements for the hot paths: a Core statement compiled once per dialect and run
on the connection's DBAPI cursor.

SQLAlchemy's ``Connection.execute`` costs ~50–150 µs of Python per statement (cache-key
generation, execution context, result wrapping); the same SELECT on the DBAPI cursor costs
~12 µs on SQLite. The SQL still comes from the Core statement (so it is right for SQLite and
PostgreSQL alike) and values still go through the column types' bind and result processors
(JSON, timezone-aware datetimes); only the per-call machinery is skipped. ``raw_first_on``
skips the result processors too, for a caller that decodes the row itself (the GET/HEAD point
read: services/engine/rows.HeadDecoder). Statements run on
the same DBAPI connection as the SQLAlchemy ``Connection`` they are given, inside whatever
transaction (or savepoint) it has open.
"""

from __future__ import annotations

import contextlib
import os
import threading
import weakref
from collections.abc import Callable, Sequence
from typing import Any

from sqlalchemy import JSON, Connection, Engine, event
from sqlalchemy.engine import Dialect
from sqlalchemy.sql import ClauseElement
from sqlalchemy.sql.compiler import SQLCompiler
from sqlalchemy.types import TypeEngine

Processor = Callable[[Any], Any] | None


def result_processor(type_: TypeEngine[Any], dialect: Dialect) -> Processor:
    """What turns a column's DBAPI value into its Python value (None: nothing to do)."""
    proc = type_.dialect_impl(dialect).result_processor(dialect, None)
    if proc is None or not isinstance(type_, JSON):
        return proc
    json_proc = proc

    def empty_first(value: Any) -> Any:  # most JSON columns hold "{}" or null: skip the parser
        if value == "{}":
            return {}
        if value is None or value == "null":
            return None
        return json_proc(value)

    return empty_first


class _Compiled:
    __slots__ = ("binds", "names", "positional", "results", "sql")

    def __init__(self, stmt: ClauseElement, dialect: Dialect) -> None:
        compiled = stmt.compile(dialect=dialect)
        assert isinstance(compiled, SQLCompiler)  # a DML/SELECT statement, not DDL
        self.sql = compiled.string
        self.positional = bool(compiled.positional)
        # by the name each parameter has in the SQL text (anonymous ones included)
        by_name = {compiled.bind_names[bind]: bind for bind in compiled.binds.values()}
        defaults = {name: bind.value for name, bind in by_name.items()}
        names = list(compiled.positiontup or ()) if self.positional else list(by_name)
        self.names: list[tuple[str, Any]] = [(n, defaults.get(n)) for n in names]
        self.binds: dict[str, Processor] = {
            name: bind.type.dialect_impl(dialect).bind_processor(dialect)
            for name, bind in by_name.items()
        }
        columns: Sequence[Any] = getattr(stmt, "selected_columns", ()) or ()
        returning = getattr(stmt, "_returning", ()) or ()
        self.results: list[Processor] = [
            result_processor(col.type, dialect) for col in (list(columns) or list(returning))
        ]

    def params(self, values: dict[str, Any]) -> Any:
        out = []
        for name, default in self.names:
            value = values.get(name, default)
            proc = self.binds.get(name)
            out.append(proc(value) if proc is not None else value)
        if self.positional:
            return tuple(out)
        return dict(zip((n for n, _ in self.names), out, strict=True))

    def row(self, raw: Sequence[Any]) -> tuple[Any, ...]:
        if not self.results:
            return tuple(raw)
        return tuple(p(v) if p is not None else v for p, v in zip(self.results, raw, strict=False))


class Prepared:
    """One Core statement with named ``bindparam``s, runnable cheaply on any engine's dialect."""

    def __init__(self, stmt: ClauseElement) -> None:
        self.stmt = stmt
        self._compiled: dict[tuple[str, str], _Compiled] = {}
        self._lock = threading.Lock()

    def _for(self, dialect: Dialect) -> _Compiled:
        key = (dialect.name, dialect.driver)  # (psycopg's %(name)s, asyncpg's $n)
        compiled = self._compiled.get(key)
        if compiled is None:
            with self._lock:
                compiled = self._compiled.get(key)
                if compiled is None:
                    compiled = _Compiled(self.stmt, dialect)
                    self._compiled[key] = compiled
        return compiled

    def _run(self, conn: Connection, values: dict[str, Any]) -> tuple[_Compiled, Any]:
        return self._run_dbapi(conn.connection.dbapi_connection, conn.dialect, values)

    def _run_dbapi(self, dbapi_conn: Any, dialect: Dialect, values: dict[str, Any]
                   ) -> tuple[_Compiled, Any]:
        compiled = self._for(dialect)
        cursor = dbapi_conn.cursor()
        try:
            cursor.execute(compiled.sql, compiled.params(values))
        except BaseException:
            cursor.close()
            raise
        return compiled, cursor

    def _fetch(self, dbapi_conn: Any, dialect: Dialect, values: dict[str, Any], *,
               one: bool, raw: bool = False) -> list[tuple[Any, ...]]:
        """The processed rows (at most one if ``one``); ``raw``: as the DBAPI gave them."""
        compiled, cursor = self._run_dbapi(dbapi_conn, dialect, values)
        try:
            if one:
                found = cursor.fetchone()
                raws = [] if found is None else [found]
            else:
                raws = cursor.fetchall()
        finally:
            cursor.close()
        if raw:
            return list(raws)
        return [compiled.row(r) for r in raws]

    def first(self, conn: Connection, **values: Any) -> tuple[Any, ...] | None:
        rows = self._fetch(conn.connection.dbapi_connection, conn.dialect, values, one=True)
        return rows[0] if rows else None

    def all(self, conn: Connection, **values: Any) -> list[tuple[Any, ...]]:
        """Every processed row, in the caller's transaction."""
        return self._fetch(conn.connection.dbapi_connection, conn.dialect, values, one=False)

    def execute(self, conn: Connection, **values: Any) -> int:
        """Run a write statement; the number of rows it changed."""
        _compiled, cursor = self._run(conn, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_dbapi(self, dbapi_conn: Any, dialect: Dialect, **values: Any) -> int:
        """``execute`` on a DBAPI connection of the caller's own (one it keeps set up for a
        purpose, outside SQLAlchemy's pool)."""
        _compiled, cursor = self._run_dbapi(dbapi_conn, dialect, values)
        try:
            return int(cursor.rowcount)
        finally:
            cursor.close()

    def execute_many(self, conn: Connection, values: Sequence[dict[str, Any]]) -> None:
        """Run a write statement once per set of ``values``, in one DBAPI call."""
        if not values:
            return
        compiled = self._for(conn.dialect)
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.executemany(compiled.sql, [compiled.params(v) for v in values])
        finally:
            cursor.close()

    def first_on(self, engine: Engine, **values: Any) -> tuple[Any, ...] | None:
        """A read outside any transaction (each SELECT is its own snapshot), on one of the
        engine's read connections."""
        rows = self._read(engine, values, one=True)
        return rows[0] if rows else None

    def raw_first_on(self, engine: Engine, **values: Any) -> tuple[Any, ...] | None:
        """``first_on``'s row as the DBAPI returns it, no column type's processing applied
        (the caller decodes it: ``services/engine/rows.HeadDecoder``)."""
        rows = self._read(engine, values, one=True, raw=True)
        return rows[0] if rows else None

    def all_on(self, engine: Engine, **values: Any) -> list[tuple[Any, ...]]:
        """Every row, read like ``first_on``."""
        return self._read(engine, values, one=False)

    def _read(self, engine: Engine, values: dict[str, Any], *, one: bool, raw: bool = False
              ) -> list[tuple[Any, ...]]:
        reads = _read_connections(engine)
        dbapi_conn = reads.take()
        ok = False
        try:
            if reads.autocommit:  # PostgreSQL: the SELECT alone (no BEGIN, no COMMIT)
                pg = dbapi_conn.dbapi_connection  # (the pool's proxy does not pass setattr)
                pg.autocommit = True
                try:
                    rows = self._fetch(pg, engine.dialect, values, one=one, raw=raw)
                finally:
                    pg.autocommit = False
            else:
                rows = self._fetch(dbapi_conn, engine.dialect, values, one=one, raw=raw)
                if not reads.keep:
                    dbapi_conn.commit()  # the driver opened a transaction for the SELECT
            ok = True
        finally:
            reads.give_back(dbapi_conn, ok)
        return rows


class _ReadConnections:
    """DBAPI connections set aside for single-SELECT reads: taking one is a list pop, where a
    checkout from SQLAlchemy's pool (events, reset on return) costs ~30 µs. They come from
    the engine's pool (so they were set up by its connect events) and are detached from it."""

    def __init__(self, engine: Engine, max_idle: int = 16) -> None:
        self.engine = engine
        self.max_idle = max_idle
        # Only SQLite connections are kept here: a PostgreSQL connection can die with the
        # server, and the pool (which pings before reuse) is the place for those.
        self.keep = engine.dialect.name == "sqlite"
        # A single SELECT is its own snapshot in autocommit: one round trip instead of three.
        self.autocommit = engine.dialect.name == "postgresql" \
            and engine.dialect.driver == "psycopg"
        self._idle: list[Any] = []
        self._pid = os.getpid()

    def take(self) -> Any:
        if self._pid != os.getpid():  # forked: never share a database connection
            self._idle, self._pid = [], os.getpid()
        if not self.keep:
            return self.engine.raw_connection()  # pooled; closing it returns it
        try:
            return self._idle.pop()
        except IndexError:
            fairy = self.engine.raw_connection()
            fairy.detach()
            return fairy.dbapi_connection

    def give_back(self, dbapi_conn: Any, healthy: bool) -> None:
        if self.keep and healthy and len(self._idle) < self.max_idle:
            self._idle.append(dbapi_conn)
            return
        with contextlib.suppress(Exception):
            dbapi_conn.close()

    def close(self) -> None:
        idle, self._idle = self._idle, []
        for dbapi_conn in idle:
            with contextlib.suppress(Exception):
                dbapi_conn.close()


_READS: weakref.WeakKeyDictionary[Engine, _ReadConnections] = weakref.WeakKeyDictionary()
_READS_LOCK = threading.Lock()


def _read_connections(engine: Engine) -> _ReadConnections:
    reads = _READS.get(engine)
    if reads is None:
        with _READS_LOCK:
            reads = _READS.get(engine)
            if reads is None:
                reads = _READS[engine] = _ReadConnections(engine)
                event.listen(engine, "engine_disposed", lambda _engine: reads.close())
    return reads

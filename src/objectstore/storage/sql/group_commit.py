"""Group commit: many callers' write transactions share one SQLite commit (one WAL fsync).

SQLite allows one writer at a time and, with ``synchronous=FULL``, every commit costs an
fsync: alone, that caps small writes at a few hundred per second. Here a single writer thread
takes every waiting unit of work, runs them all in one transaction, commits once, and only
then answers the callers — so each write is still acknowledged only after it is durable. A
unit that raises gets its exception; the transaction is rolled back and the other units run
again, each in its own SAVEPOINT (units are database work only, so running one again is
safe). Savepoints are not used up front: each SQL statement releases and retakes the GIL,
and with a busy event loop that handover, not SQLite, is what a batch costs.

PostgreSQL gets the same batching (``GroupCommitter(engine, defer=True)``). There every
write of a store updates the same usage rows, and a row lock is held until the commit's WAL
flush: one transaction per write serialised a store's writers at one fsync each, however many
connections or gateways. A batch pays that once for all its writes, and the usage changes
(``deferred``) are summed and applied last, just before COMMIT, so another process's batch
waits for those rows only while this one commits. Two batches can still deadlock on key locks
(two processes writing the same keys in opposite orders), and PostgreSQL then aborts one: its
units run again, each in a transaction of its own, retried a few times (``_run_alone``).
``DirectWriter`` (one transaction per call) remains for tools that write without a committer.

On PostgreSQL each statement a unit runs is a round trip from this one thread (and a GIL
handover back from a busy event loop): a unit may name what it will read (``submit(work,
ahead)``: a PUT its key's lock, versioning state and latest version), and the batch reads
that for all its units in one go before the first runs (``looked_ahead``); a unit that took
its state from there may leave its row write to the batch (``written``), applied in one
``executemany`` (one pipeline) before anything in the batch could read it. A 4 KiB PUT
then waits for no round trip of its own (three before), only its share of the batch's ~7.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import random
import threading
import time
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from .engine import writing

T = TypeVar("T")
Work = Callable[[Connection], Any]
DEFER_KEY = "objectstore_deferred"
APPEND_KEY = "objectstore_appends"
AHEAD_KEY = "objectstore_ahead"
WRITE_KEY = "objectstore_writes"
# PostgreSQL's "try again" errors: deadlock_detected, serialization_failure,
# lock_not_available (the transaction is aborted; running it again is the remedy)
RETRIABLE_SQLSTATES = frozenset({"40P01", "40001", "55P03"})
ALONE_ATTEMPTS = 5


# What a unit will read (and lock), named before it runs: ``(look, key)``. A batch calls each
# ``look`` once with all its units' keys, before the first unit runs; ``look`` returns what
# it found per key (see ``looked_ahead``).
LookAhead = Callable[[Connection, list[Hashable]], dict[Hashable, Any]]
Ahead = tuple[LookAhead, Hashable]
Item = tuple[Work, "Future[Any]", Ahead | None]


def looked_ahead(conn: Connection, key: Hashable) -> Any | None:
    """What the batch's look-ahead found for ``key`` before this unit ran, or None (no
    look-ahead, nothing found, or no longer true: the caller then reads for itself). Taken
    once: the unit is about to change what it describes. The committer drops an entry once
    its unit has run, and all of them before a unit that named nothing (it may write
    anything), so what is left is what no unit of the batch has written yet."""
    known: dict[Hashable, Any] | None = conn.info.get(AHEAD_KEY)
    if not known:
        return None
    return known.pop(key, None)


class Deferred(Protocol):
    def flush(self, conn: Connection) -> None:
        """Run the gathered work (raises as the work would have, had it run at once)."""


D = TypeVar("D", bound=Deferred)


def deferred(conn: Connection, key: str, factory: Callable[[], D]) -> D | None:
    """The batch's gathered work under ``key`` (made by ``factory`` the first time), flushed
    once just before COMMIT — or None when ``conn`` is not in a deferring batch (the caller
    then does its work at once). A flush that raises sends the batch down the careful path,
    where nothing is deferred and each unit meets its own error."""
    return _gathered(conn, DEFER_KEY, key, factory)


def appended(conn: Connection, key: str, factory: Callable[[], D]) -> D | None:
    """Rows the batch's units add to a table that nothing in the batch reads (the event
    outbox), gathered under ``key`` and written once just before COMMIT, in the order the
    units added them — or None outside a batch (the caller writes at once). On SQLite every
    statement a unit runs releases and retakes the GIL, and with a busy event loop that
    handover costs more than the statement: one ``executemany`` per batch instead of one
    INSERT per unit. Unlike ``deferred`` this is on for every batch (nothing in it can make
    another unit's outcome differ); a unit that fails sends the batch down the careful path,
    where each unit writes its rows itself."""
    return _gathered(conn, APPEND_KEY, key, factory)


def written(conn: Connection, key: str, factory: Callable[[], D]) -> D | None:
    """Writes a unit that took what it read from the batch's look-ahead (``looked_ahead``)
    may leave to the batch, gathered under ``key`` — or None outside a batch. They are
    flushed in one go before a unit that named no look-ahead runs, when a unit that must
    read what they write asks (``flush_written``: a later unit of the same key, which finds
    no look-ahead entry), and before COMMIT; until then nothing in the batch reads them."""
    return _gathered(conn, WRITE_KEY, key, factory)


def flush_written(conn: Connection) -> None:
    """Apply the batch's gathered writes now (see ``written``); raises as they would."""
    pending: dict[str, Deferred] | None = conn.info.get(WRITE_KEY)
    for work in (pending or {}).values():
        work.flush(conn)


def _gathered(conn: Connection, info_key: str, key: str, factory: Callable[[], D]) -> D | None:
    """The batch's gathered work under ``key`` in ``conn.info[info_key]`` (made by
    ``factory`` the first time), or None when the batch does not gather that kind."""
    pending: dict[str, Deferred] | None = conn.info.get(info_key)
    if pending is None:
        return None
    got = pending.get(key)
    if got is None:
        got = pending[key] = factory()
    return got  # type: ignore[return-value]


def retriable(exc: BaseException) -> bool:
    """Whether ``exc`` is PostgreSQL asking for the transaction to be run again."""
    seen: set[int] = set()
    cur: BaseException | None = exc
    while cur is not None and id(cur) not in seen:
        seen.add(id(cur))
        orig = getattr(cur, "orig", None)
        for err in (cur, orig):
            code = getattr(err, "sqlstate", None) or getattr(err, "pgcode", None)
            if code in RETRIABLE_SQLSTATES:
                return True
        cur = cur.__cause__ or cur.__context__
    return False


class Writer(Protocol):
    def run(self, work: Callable[[Connection], T]) -> T: ...

    def close(self) -> None: ...


class DirectWriter:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def run(self, work: Callable[[Connection], T]) -> T:
        with writing(self.engine) as conn:
            return work(conn)

    def close(self) -> None:
        pass


class GroupCommitter:
    def __init__(self, engine: Engine, max_batch: int = 128, *, defer: bool = False) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self.defer = defer
        self._queue: queue.SimpleQueue[Item | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="objectstore-commit",
                                        daemon=True)
        self._closed = False
        self._thread.start()

    def run(self, work: Callable[[Connection], T]) -> T:
        return self.submit(work).result()

    def submit(self, work: Callable[[Connection], T], ahead: Ahead | None = None
               ) -> Future[T]:
        """Queue ``work`` for the next batch; the future settles once it is durable.
        ``ahead``: what the work will read, for the batch to read it up front with its
        other units' (``LookAhead``; the work must fall back to reading it itself)."""
        if self._closed:
            raise RuntimeError("the commit writer is closed")
        fut: Future[T] = Future()
        self._queue.put((work, fut, ahead))
        return fut

    def close(self) -> None:
        self._closed = True
        self._queue.put(None)
        self._thread.join(timeout=10)

    def _loop(self) -> None:
        while True:
            first = self._queue.get()
            if first is None:
                return
            batch: list[Item] = [first]
            while len(batch) < self.max_batch:
                try:
                    item = self._queue.get_nowait()
                except queue.Empty:
                    break
                if item is None:
                    self._queue.put(None)  # stop after this batch
                    break
                batch.append(item)
            self._run_batch(batch)

    def _run_batch(self, items: list[Item]) -> None:
        """All units in one transaction; if one raises, the transaction is rolled back, that
        unit gets its exception and the rest run again, each in its own savepoint. First,
        each kind of look-ahead the units named runs once for all of them (on PostgreSQL
        every statement a unit runs is a round trip from this one thread)."""
        batch = [(work, fut) for work, fut, _ahead in items]
        results: list[tuple[Future[Any], Any]] = []
        failed: tuple[Future[Any], BaseException] | None = None
        try:
            with writing(self.engine) as conn:
                conn.info[APPEND_KEY] = {}
                conn.info[WRITE_KEY] = {}
                if self.defer:
                    conn.info[DEFER_KEY] = {}
                try:
                    known = conn.info[AHEAD_KEY] = self._look_ahead(conn, items)
                    for work, fut, ahead in items:
                        if ahead is None:
                            known.clear()  # it may write anything the others looked at
                            self._flush_written(conn)  # ... or read what they wrote
                        try:
                            results.append((fut, work(conn)))
                        except BaseException as exc:  # noqa: BLE001 - handed to the caller
                            if retriable(exc):
                                raise
                            failed = (fut, exc)
                            raise _UnitFailed from exc
                        if ahead is not None:
                            known.pop(ahead[1], None)
                    self._flush_written(conn)
                    self._flush_deferred(conn, APPEND_KEY)
                    self._flush_deferred(conn, DEFER_KEY)
                finally:
                    conn.info.pop(APPEND_KEY, None)
                    conn.info.pop(DEFER_KEY, None)
                    conn.info.pop(AHEAD_KEY, None)
                    conn.info.pop(WRITE_KEY, None)
        except _UnitFailed:
            assert failed is not None
            if self.defer:  # its error may depend on what was deferred: run it again too
                self._run_isolated(batch)
                return
            failed[0].set_exception(failed[1])
            self._run_isolated([(w, f) for w, f in batch if f is not failed[0]])
            return
        except _DeferredFailed:
            self._run_isolated(batch)  # charged one by one: each unit meets its own refusal
            return
        except BaseException as exc:  # noqa: BLE001 - the commit failed: nobody is durable
            if retriable(exc):
                self._run_alone(batch)
                return
            self._fail(batch, exc)
            return
        for fut, value in results:
            fut.set_result(value)

    @staticmethod
    def _flush_written(conn: Connection) -> None:
        try:
            flush_written(conn)
        except BaseException as exc:  # noqa: BLE001 - re-raised (retriable) or retried
            if retriable(exc):
                raise
            raise _DeferredFailed from exc

    @staticmethod
    def _look_ahead(conn: Connection, items: list[Item]) -> dict[Hashable, Any]:
        """Every look-ahead the batch's units named, each run once with all their keys (in
        the batch's transaction). One that fails sends the batch down the careful path,
        where nothing is looked ahead."""
        wanted: dict[LookAhead, list[Hashable]] = {}
        for _work, _fut, ahead in items:
            if ahead is not None:
                wanted.setdefault(ahead[0], []).append(ahead[1])
        known: dict[Hashable, Any] = {}
        for look, keys in wanted.items():
            try:
                known.update(look(conn, keys))
            except BaseException as exc:  # noqa: BLE001 - re-raised (retriable) or retried
                if retriable(exc):
                    raise
                raise _DeferredFailed from exc
        return known

    @staticmethod
    def _flush_deferred(conn: Connection, key: str) -> None:
        pending: dict[str, Deferred] | None = conn.info.pop(key, None)
        for work in (pending or {}).values():
            try:
                work.flush(conn)
            except BaseException as exc:  # noqa: BLE001 - re-raised (retriable) or retried
                if retriable(exc):
                    raise
                raise _DeferredFailed from exc

    def _run_isolated(self, batch: list[tuple[Work, Future[Any]]]) -> None:
        """The careful path: each unit in a SAVEPOINT, so a failing one is undone alone."""
        if not batch:
            return
        outcomes: list[tuple[Future[Any], bool, Any]] = []
        try:
            with writing(self.engine) as conn:
                for work, fut in batch:
                    savepoint = conn.begin_nested()
                    try:
                        result = work(conn)
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        if retriable(exc):
                            raise
                        savepoint.rollback()
                        outcomes.append((fut, False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((fut, True, result))
        except BaseException as exc:  # noqa: BLE001 - the commit failed: nobody is durable
            if retriable(exc):
                self._run_alone(batch)
                return
            self._fail(batch, exc)
            return
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    def _run_alone(self, batch: list[tuple[Work, Future[Any]]]) -> None:
        """After a deadlock: each unit in a transaction of its own (so it holds its locks
        only for itself), run again after a short random pause while PostgreSQL says so."""
        for work, fut in batch:
            for attempt in range(ALONE_ATTEMPTS):
                try:
                    with writing(self.engine) as conn:
                        value = work(conn)
                except BaseException as exc:  # noqa: BLE001 - handed to the caller
                    if retriable(exc) and attempt + 1 < ALONE_ATTEMPTS:
                        time.sleep(random.uniform(0.001, 0.01) * (attempt + 1))  # noqa: S311
                        continue
                    fut.set_exception(exc)
                else:
                    fut.set_result(value)
                break

    @staticmethod
    def _fail(batch: list[tuple[Work, Future[Any]]], exc: BaseException) -> None:
        for _work, fut in batch:
            if not fut.done():
                fut.set_exception(exc)


class _UnitFailed(Exception):
    """One unit of a batch raised: roll the batch back and run the others again."""


class _DeferredFailed(Exception):
    """The batch's deferred work was refused: roll back, run every unit on its own."""


def _quietly(clean_up: Callable[[], None]) -> None:
    """Run a clean-up after a failed write; its own failure must not hide the write's error
    (what it leaves behind the orphan sweep removes)."""
    try:
        clean_up()
    except Exception:
        logging.getLogger("objectstore.commit").warning("clean-up after a failed write "
                                                        "failed", exc_info=True)


async def run_async(writer: Writer, work: Callable[[Connection], T],
                    on_failure: Callable[[], None] | None = None, *,
                    ahead: Ahead | None = None) -> T:
    """Run ``work`` through ``writer`` from the event loop without holding a worker thread
    while the batch is assembled and committed. ``on_failure`` runs if the work did not
    commit — including when the caller is cancelled before its batch began (a batch already
    under way is never interrupted: the work then commits, or fails, on its own).
    ``ahead``: see ``GroupCommitter.submit`` (a writer without batches ignores it)."""
    submit = getattr(writer, "submit", None)
    if submit is None:  # a DirectWriter: each write its own transaction, in a worker thread
        from anyio.to_thread import run_sync

        try:
            return await run_sync(writer.run, work)
        except BaseException:
            if on_failure is not None:  # blocking clean-up (e.g. a blob delete): a thread
                await asyncio.shield(run_sync(_quietly, on_failure))
            raise
    fut: Future[T] = submit(work, ahead) if ahead is not None else submit(work)
    if on_failure is not None:
        def settled(f: Future[T]) -> None:  # (runs in the committer thread)
            if f.cancelled() or f.exception() is not None:
                _quietly(on_failure)

        fut.add_done_callback(settled)
    return await asyncio.shield(asyncio.wrap_future(fut))


def make_writer(engine: Engine) -> Writer:
    if engine.dialect.name == "sqlite":
        return GroupCommitter(engine)
    if engine.dialect.name == "postgresql":
        return GroupCommitter(engine, defer=True)
    return DirectWriter(engine)

"""Group commit: many callers' write transactions share one SQLite commit (one WAL fsync).

SQLite allows one writer at a time and, with ``synchronous=FULL``, every commit costs an
fsync: alone, that caps small writes at a few hundred per second. Here a single writer thread
takes every waiting unit of work, runs them all in one transaction, commits once, and only
then answers the callers — so each write is still acknowledged only after it is durable. A
unit that raises gets its exception; the transaction is rolled back and the other units run
again, each in its own SAVEPOINT (units are database work only, so running one again is
safe). Savepoints are not used up front: each SQL statement releases and retakes the GIL,
and with a busy event loop that handover, not SQLite, is what a batch costs.

PostgreSQL runs concurrent transactions itself: ``DirectWriter`` just opens one per call.
"""

from __future__ import annotations

import asyncio
import logging
import queue
import threading
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any, Protocol, TypeVar

from sqlalchemy import Connection, Engine

from .engine import writing

T = TypeVar("T")
Work = Callable[[Connection], Any]


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
    def __init__(self, engine: Engine, max_batch: int = 128) -> None:
        self.engine = engine
        self.max_batch = max_batch
        self._queue: queue.SimpleQueue[tuple[Work, Future[Any]] | None] = queue.SimpleQueue()
        self._thread = threading.Thread(target=self._loop, name="objectstore-commit",
                                        daemon=True)
        self._closed = False
        self._thread.start()

    def run(self, work: Callable[[Connection], T]) -> T:
        return self.submit(work).result()

    def submit(self, work: Callable[[Connection], T]) -> Future[T]:
        """Queue ``work`` for the next batch; the future settles once it is durable."""
        if self._closed:
            raise RuntimeError("the commit writer is closed")
        fut: Future[T] = Future()
        self._queue.put((work, fut))
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
            batch = [first]
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

    def _run_batch(self, batch: list[tuple[Work, Future[Any]]]) -> None:
        """All units in one transaction; if one raises, the transaction is rolled back, that
        unit gets its exception and the rest run again, each in its own savepoint."""
        results: list[tuple[Future[Any], Any]] = []
        failed: tuple[Future[Any], BaseException] | None = None
        try:
            with writing(self.engine) as conn:
                for work, fut in batch:
                    try:
                        results.append((fut, work(conn)))
                    except BaseException as exc:  # noqa: BLE001 - handed to the caller
                        failed = (fut, exc)
                        raise _UnitFailed from exc
        except _UnitFailed:
            assert failed is not None
            failed[0].set_exception(failed[1])
            self._run_isolated([(w, f) for w, f in batch if f is not failed[0]])
            return
        except BaseException as exc:  # noqa: BLE001 - the commit failed: nobody is durable
            self._fail(batch, exc)
            return
        for fut, value in results:
            fut.set_result(value)

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
                        savepoint.rollback()
                        outcomes.append((fut, False, exc))
                    else:
                        savepoint.commit()
                        outcomes.append((fut, True, result))
        except BaseException as exc:  # noqa: BLE001 - the commit failed: nobody is durable
            self._fail(batch, exc)
            return
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)

    @staticmethod
    def _fail(batch: list[tuple[Work, Future[Any]]], exc: BaseException) -> None:
        for _work, fut in batch:
            if not fut.done():
                fut.set_exception(exc)


class _UnitFailed(Exception):
    """One unit of a batch raised: roll the batch back and run the others again."""


def _quietly(clean_up: Callable[[], None]) -> None:
    """Run a clean-up after a failed write; its own failure must not hide the write's error
    (what it leaves behind the orphan sweep removes)."""
    try:
        clean_up()
    except Exception:
        logging.getLogger("objectstore.commit").warning("clean-up after a failed write "
                                                        "failed", exc_info=True)


async def run_async(writer: Writer, work: Callable[[Connection], T],
                    on_failure: Callable[[], None] | None = None) -> T:
    """Run ``work`` through ``writer`` from the event loop without holding a worker thread
    while the batch is assembled and committed. ``on_failure`` runs if the work did not
    commit — including when the caller is cancelled before its batch began (a batch already
    under way is never interrupted: the work then commits, or fails, on its own)."""
    submit = getattr(writer, "submit", None)
    if submit is None:  # PostgreSQL: each write is its own transaction, in a worker thread
        from anyio.to_thread import run_sync

        try:
            return await run_sync(writer.run, work)
        except BaseException:
            if on_failure is not None:  # blocking clean-up (e.g. a blob delete): a thread
                await asyncio.shield(run_sync(_quietly, on_failure))
            raise
    fut: Future[T] = submit(work)
    if on_failure is not None:
        def settled(f: Future[T]) -> None:  # (runs in the committer thread)
            if f.cancelled() or f.exception() is not None:
                _quietly(on_failure)

        fut.add_done_callback(settled)
    return await asyncio.shield(asyncio.wrap_future(fut))


def make_writer(engine: Engine) -> Writer:
    if engine.dialect.name == "sqlite":
        return GroupCommitter(engine)
    return DirectWriter(engine)

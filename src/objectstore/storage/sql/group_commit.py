"""Group commit: many callers' write transactions share one SQLite commit (one WAL fsync).

SQLite allows one writer at a time and, with ``synchronous=FULL``, every commit costs an
fsync: alone, that caps small writes at a few hundred per second. Here a single writer thread
takes every waiting unit of work, runs each in its own SAVEPOINT (a failing unit is rolled
back alone and gets its exception), commits once, and only then answers the callers — so
each write is still acknowledged only after it is durable.

PostgreSQL runs concurrent transactions itself: ``DirectWriter`` just opens one per call.
"""

from __future__ import annotations

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
        if self._closed:
            raise RuntimeError("the commit writer is closed")
        fut: Future[T] = Future()
        self._queue.put((work, fut))
        return fut.result()

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
            for _work, fut in batch:
                if not fut.done():
                    fut.set_exception(exc)
            return
        for fut, ok, value in outcomes:
            if ok:
                fut.set_result(value)
            else:
                fut.set_exception(value)


def make_writer(engine: Engine) -> Writer:
    if engine.dialect.name == "sqlite":
        return GroupCommitter(engine)
    return DirectWriter(engine)

"""Group commit: concurrent units share commits; a failing unit is rolled back alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import (
    Column,
    Connection,
    Integer,
    MetaData,
    String,
    Table,
    func,
    select,
    update,
)

from objectstore.storage.sql.engine import make_engine
from objectstore.storage.sql.group_commit import (
    GroupCommitter,
    deferred,
    flush_written,
    looked_ahead,
    make_writer,
    written,
)

meta = MetaData()
items = Table("items", meta, Column("id", Integer, primary_key=True), Column("v", String(10)))
counters = Table("counters", meta, Column("id", Integer, primary_key=True),
                 Column("n", Integer, nullable=False), Column("cap", Integer, nullable=False))


@pytest.fixture
def engine_url(tmp_path: Path, database_url: str | None) -> str:
    return database_url or f"sqlite:///{tmp_path / 'g.db'}"


@pytest.fixture
def committer(engine_url: str):
    """The committer ``make_writer`` picks: plain on SQLite, deferring on PostgreSQL."""
    engine = make_engine(engine_url)
    meta.create_all(engine)
    gc = make_writer(engine)
    assert isinstance(gc, GroupCommitter)
    yield gc, engine
    gc.close()
    engine.dispose()


@pytest.fixture
def deferring(engine_url: str):
    """A deferring committer on either database (the mechanism does not depend on it)."""
    engine = make_engine(engine_url)
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(counters.insert().values(id=1, n=0, cap=5))
    gc = GroupCommitter(engine, defer=True)
    yield gc, engine
    gc.close()
    engine.dispose()


class _Adds:
    """Deferred increments of counter 1, refused past its cap (as usage charges are)."""

    def __init__(self) -> None:
        self.n = 0

    def flush(self, conn: Connection) -> None:
        add(conn, self.n)


def add(conn: Connection, n: int) -> None:
    pending = deferred(conn, "adds", _Adds)
    if pending is not None:
        pending.n += n
        return
    done = conn.execute(update(counters).where(counters.c.id == 1,
                                               counters.c.n + n <= counters.c.cap)
                        .values(n=counters.c.n + n)).rowcount
    if done != 1:
        raise OverflowError("over the cap")


def test_concurrent_units_all_commit_and_failures_are_isolated(committer) -> None:
    gc, engine = committer
    errors: list[Exception] = []

    def unit(i: int) -> None:
        def work(conn):  # type: ignore[no-untyped-def]
            conn.execute(items.insert().values(id=i, v=str(i)))
            if i % 7 == 0:
                raise ValueError(f"unit {i} fails")
            return i

        try:
            assert gc.run(work) == i
        except ValueError as exc:
            errors.append(exc)

    threads = [threading.Thread(target=unit, args=(i,)) for i in range(1, 101)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    with engine.connect() as conn:
        ids = {r[0] for r in conn.execute(select(items.c.id))}
    assert ids == {i for i in range(1, 101) if i % 7}
    assert len(errors) == len([i for i in range(1, 101) if i % 7 == 0])


def test_a_unit_sees_its_own_and_earlier_writes(committer) -> None:
    gc, engine = committer
    gc.run(lambda conn: conn.execute(items.insert().values(id=1, v="a")))
    got = gc.run(lambda conn: conn.execute(select(items.c.v).where(items.c.id == 1)).scalar())
    assert got == "a"


def test_closed_committer_refuses_work(committer) -> None:
    gc, _engine = committer
    gc.close()
    with pytest.raises(RuntimeError):
        gc.run(lambda conn: None)


def test_a_failing_unit_in_a_batch_is_undone_and_the_others_commit_once(committer) -> None:
    """Units queued together form one batch; one raises after writing: its write is undone,
    the units before and after it run again (in savepoints) and commit exactly once."""
    gc, engine = committer
    gate, entered = threading.Event(), threading.Event()

    def blocker(conn):  # type: ignore[no-untyped-def]
        entered.set()
        gate.wait(10)
        conn.execute(items.insert().values(id=1, v="first"))
        return "blocker"

    def good(i: int):  # type: ignore[no-untyped-def]
        return lambda conn: (conn.execute(items.insert().values(id=i, v=str(i))), i)[1]

    def bad(conn):  # type: ignore[no-untyped-def]
        conn.execute(items.insert().values(id=50, v="undone"))
        raise ValueError("over quota")

    first = gc.submit(blocker)
    assert entered.wait(10)
    queued = [gc.submit(good(2)), gc.submit(bad), gc.submit(good(3))]  # one batch, next
    gate.set()
    assert first.result(10) == "blocker"
    assert queued[0].result(10) == 2
    with pytest.raises(ValueError, match="over quota"):
        queued[1].result(10)
    assert queued[2].result(10) == 3
    with engine.connect() as conn:
        rows = sorted(conn.execute(select(items.c.id, items.c.v)).all())
    assert rows == [(1, "first"), (2, "2"), (3, "3")]


def test_deferred_work_runs_once_per_batch_and_a_refusal_is_met_by_each_unit(deferring) -> None:
    """Eight units queued behind a blocker form one batch; their deferred increments sum
    past the cap, so the batch is run again charging each at once: exactly five fit (the
    cap), the other three get the refusal, and none of the refused units' rows stay."""
    gc, engine = deferring
    gate, entered = threading.Event(), threading.Event()

    def blocker(conn):  # type: ignore[no-untyped-def]
        entered.set()
        gate.wait(10)
        return "blocker"

    def unit(i: int):  # type: ignore[no-untyped-def]
        def work(conn):  # type: ignore[no-untyped-def]
            conn.execute(items.insert().values(id=i, v=str(i)))
            add(conn, 1)
            return i
        return work

    first = gc.submit(blocker)
    assert entered.wait(10)
    futs = [gc.submit(unit(i)) for i in range(1, 9)]
    gate.set()
    assert first.result(10) == "blocker"
    ok, refused = [], []
    for f in futs:
        try:
            ok.append(f.result(10))
        except OverflowError:
            refused.append(f)
    assert (len(ok), len(refused)) == (5, 3)
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.n)).scalar() == 5
        assert sorted(r[0] for r in conn.execute(select(items.c.id))) == sorted(ok)


def test_deferred_work_that_fits_is_applied_in_one_flush(deferring) -> None:
    gc, engine = deferring
    flushes: list[int] = []
    original = _Adds.flush

    def counting(self: _Adds, conn: Connection) -> None:
        flushes.append(self.n)
        original(self, conn)

    _Adds.flush = counting  # type: ignore[method-assign]
    try:
        gate, entered = threading.Event(), threading.Event()

        def blocker(conn):  # type: ignore[no-untyped-def]
            entered.set()
            gate.wait(10)
            add(conn, 1)

        first = gc.submit(blocker)
        assert entered.wait(10)
        futs = [gc.submit(lambda conn: add(conn, 1)) for _ in range(3)]
        gate.set()
        first.result(10)
        for f in futs:
            f.result(10)
    finally:
        _Adds.flush = original  # type: ignore[method-assign]
    assert flushes == [1, 3]  # the blocker's batch, then the three queued behind it together
    with engine.connect() as conn:
        assert conn.execute(select(counters.c.n)).scalar() == 4


@pytest.mark.postgres
def test_batches_of_two_processes_that_deadlock_are_run_again(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    """Two committers (two gateway processes) whose batches lock rows 1 and 2 in opposite
    orders: PostgreSQL aborts one as a deadlock, and its unit is run again on its own and
    succeeds — nobody sees the deadlock."""
    url = pg_cluster.new_database()
    engine_a, engine_b = make_engine(url), make_engine(url)
    meta.create_all(engine_a)
    with engine_a.begin() as conn:
        conn.execute(items.insert(), [{"id": 1, "v": "-"}, {"id": 2, "v": "-"}])
    a, b = GroupCommitter(engine_a, defer=True), GroupCommitter(engine_b, defer=True)
    both = threading.Barrier(2, timeout=10)

    def crossing(first: int, second: int, tag: str):  # type: ignore[no-untyped-def]
        tries = []

        def work(conn):  # type: ignore[no-untyped-def]
            tries.append(1)
            conn.execute(update(items).where(items.c.id == first).values(v=tag))
            if len(tries) == 1:
                both.wait()  # each holds its first row before asking for the second
            conn.execute(update(items).where(items.c.id == second).values(v=tag))
            return len(tries)
        return work

    try:
        fa = a.submit(crossing(1, 2, "a"))
        fb = b.submit(crossing(2, 1, "b"))
        runs = sorted([fa.result(30), fb.result(30)])
    finally:
        a.close()
        b.close()
    assert runs == [1, 2]  # one went through, the deadlock victim ran a second time
    with engine_a.connect() as conn:
        vs = {r[0] for r in conn.execute(select(items.c.v))}
    assert len(vs) == 1 and vs <= {"a", "b"}  # the later transaction wrote both rows
    engine_a.dispose()
    engine_b.dispose()


def _looking(calls: list[list[object]], fail: bool = False):  # type: ignore[no-untyped-def]
    """A look-ahead reading items' values by id (recording the ids of each call)."""
    def look(conn, keys):  # type: ignore[no-untyped-def]
        calls.append(sorted(keys))  # type: ignore[type-var]
        if fail:
            raise LookupError("look-ahead refused")
        rows = conn.execute(select(items.c.id, items.c.v).where(items.c.id.in_(keys)))
        return {i: v for i, v in rows}
    return look


def _reader(i: int, seen: list[tuple[int, object]]):  # type: ignore[no-untyped-def]
    """A unit that takes item ``i``'s value from the look-ahead (or reads it) and bumps it."""
    def work(conn):  # type: ignore[no-untyped-def]
        got = looked_ahead(conn, i)
        if got is None:
            got = conn.execute(select(items.c.v).where(items.c.id == i)).scalar()
            seen.append((i, ("read", got)))
        else:
            seen.append((i, ("ahead", got)))
        conn.execute(update(items).where(items.c.id == i).values(v=f"{got}+"))
        return got
    return work


def _queued_behind_a_blocker(gc, units):  # type: ignore[no-untyped-def]
    gate, entered = threading.Event(), threading.Event()

    def blocker(conn):  # type: ignore[no-untyped-def]
        entered.set()
        gate.wait(10)

    first = gc.submit(blocker)
    assert entered.wait(10)
    futs = [gc.submit(work, ahead) if ahead is not None else gc.submit(work)
            for work, ahead in units]
    gate.set()
    first.result(10)
    return futs


def test_look_ahead_runs_once_per_batch_and_a_key_written_in_the_batch_is_read_again(
        committer) -> None:
    """Units naming what they will read get it from one look-ahead per batch; a second unit
    of the same key, or any unit after a unit that named nothing (it may have written
    anything), reads for itself and sees the batch's earlier writes."""
    gc, engine = committer
    with engine.begin() as conn:
        conn.execute(items.insert(), [{"id": i, "v": "v"} for i in range(1, 5)])
    calls: list[list[object]] = []
    seen: list[tuple[int, object]] = []
    look = _looking(calls)

    def anything(conn):  # type: ignore[no-untyped-def]
        conn.execute(update(items).where(items.c.id == 4).values(v="w"))

    futs = _queued_behind_a_blocker(gc, [
        (_reader(1, seen), (look, 1)), (_reader(2, seen), (look, 2)),
        (_reader(1, seen), (look, 1)), (anything, None), (_reader(4, seen), (look, 4)),
        (_reader(3, seen), (look, 3))])
    assert [f.result(10) for f in futs] == ["v", "v", "v+", None, "w", "v"]
    assert calls == [[1, 1, 2, 3, 4]]  # one call, every unit's key
    assert seen == [(1, ("ahead", "v")), (2, ("ahead", "v")), (1, ("read", "v+")),
                    (4, ("read", "w")), (3, ("read", "v"))]
    with engine.connect() as conn:
        assert sorted(conn.execute(select(items.c.id, items.c.v)).all()) == [
            (1, "v++"), (2, "v+"), (3, "v+"), (4, "w+")]


def test_a_failing_look_ahead_sends_the_batch_down_the_careful_path(committer) -> None:
    """The look-ahead raising is no unit's failure: every unit runs again (in a savepoint,
    reading for itself) and commits."""
    gc, engine = committer
    with engine.begin() as conn:
        conn.execute(items.insert(), [{"id": i, "v": "v"} for i in range(1, 3)])
    calls: list[list[object]] = []
    seen: list[tuple[int, object]] = []
    look = _looking(calls, fail=True)
    futs = _queued_behind_a_blocker(gc, [(_reader(1, seen), (look, 1)),
                                         (_reader(2, seen), (look, 2))])
    assert [f.result(10) for f in futs] == ["v", "v"]
    assert calls == [[1, 2]]
    assert seen == [(1, ("read", "v")), (2, ("read", "v"))]
    with engine.connect() as conn:
        assert sorted(conn.execute(select(items.c.id, items.c.v)).all()) == [
            (1, "v+"), (2, "v+")]


class _Inserts:
    """Rows of ``items`` a unit left to the batch (``written``)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, object]] = []

    def flush(self, conn: Connection) -> None:
        rows, self.rows = self.rows, []
        if rows:
            conn.execute(items.insert(), rows)


def test_writes_left_to_the_batch_are_applied_before_a_unit_that_named_nothing(
        committer) -> None:
    """A unit's ``written`` rows are in the table for the next unit that named no
    look-ahead, for one that asks (``flush_written``), and after COMMIT — each once."""
    gc, engine = committer
    look = _looking([])

    def leave(i: int):  # type: ignore[no-untyped-def]
        def work(conn):  # type: ignore[no-untyped-def]
            looked_ahead(conn, i)
            pending = written(conn, "items", _Inserts)
            if pending is None:  # outside a batch: at once
                conn.execute(items.insert().values(id=i, v="left"))
            else:
                pending.rows.append({"id": i, "v": "left"})
        return work

    def count(conn):  # type: ignore[no-untyped-def]
        return conn.execute(select(func.count()).select_from(items)).scalar()

    def asks(conn):  # type: ignore[no-untyped-def]
        flush_written(conn)
        return count(conn)

    futs = _queued_behind_a_blocker(gc, [
        (leave(1), (look, 1)), (leave(2), (look, 2)), (count, None), (leave(3), (look, 3)),
        (asks, (look, 9)), (leave(4), (look, 4))])
    assert [f.result(10) for f in futs] == [None, None, 2, None, 3, None]
    with engine.connect() as conn:
        assert sorted(conn.execute(select(items.c.id)).scalars()) == [1, 2, 3, 4]

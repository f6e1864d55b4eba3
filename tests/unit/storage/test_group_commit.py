"""Group commit: concurrent units share commits; a failing unit is rolled back alone."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, String, Table, select

from objectstore.storage.sql.engine import make_engine
from objectstore.storage.sql.group_commit import GroupCommitter

meta = MetaData()
items = Table("items", meta, Column("id", Integer, primary_key=True), Column("v", String(10)))


@pytest.fixture
def committer(tmp_path: Path):
    engine = make_engine(f"sqlite:///{tmp_path / 'g.db'}")
    meta.create_all(engine)
    gc = GroupCommitter(engine)
    yield gc, engine
    gc.close()
    engine.dispose()


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

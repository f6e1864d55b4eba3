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

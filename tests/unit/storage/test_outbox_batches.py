"""The outbox rows of a group-commit batch are inserted together before its COMMIT (one
statement per batch, not per write), in the order the writes made them; a write that fails
leaves no row and the others' rows stay; delivered rows are deleted in one statement. On
SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from objectstore.services.events.deliverer import _delete_delivered
from objectstore.services.events.outbox import _INSERT, ROWS_KEY, _Rows
from objectstore.storage.sql.engine import make_engine, migrate
from objectstore.storage.sql.group_commit import GroupCommitter, appended
from objectstore.storage.sql.tables import event_outbox


def _engine(tmp_path: Path, database_url: str | None) -> Any:
    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    return engine


RECORD = '{"key":"caf%C3%A9+%22q%22","note":"\\u2603 \\" \\\\"}'  # JSON text, kept exactly


def _key(i: int) -> str:
    return f'k{i:02d}/café "q" ☃ \\'


def _unit(key: str, gathered: list[bool], fail: bool = False) -> Any:
    """A write as the outbox makes one (services/events/outbox.Recording.add)."""
    def work(conn: Connection) -> str:
        row = {"target_id": "t1", "store_id": "s1", "key": key, "record": RECORD,
               "created_at": 1765000000.25}
        batch = appended(conn, ROWS_KEY, _Rows)
        gathered.append(batch is not None)
        if batch is None:  # the careful path after a failed unit: each writes its own
            _INSERT.execute(conn, **row)
        else:
            batch.rows.append(row)
        if fail:
            raise ValueError(f"{key} refused")
        return key

    return work


def test_a_batch_inserts_its_rows_in_order_and_a_failed_write_leaves_none(
        tmp_path: Path, database_url: str | None) -> None:
    engine = _engine(tmp_path, database_url)
    committer = GroupCommitter(engine, defer=engine.dialect.name == "postgresql")
    try:
        gate = threading.Event()
        committer.submit(lambda conn: gate.wait(5))  # holds the writer: the rest queue up
        gathered: list[bool] = []
        futures = [committer.submit(_unit(_key(i), gathered, fail=(i == 7)))
                   for i in range(20)]
        gate.set()
        outcomes = []
        for f in futures:
            try:
                outcomes.append(f.result(timeout=30))
            except ValueError as exc:
                outcomes.append(str(exc))
        assert outcomes[7] == f"{_key(7)} refused"
        assert gathered[:8] == [True] * 8  # the batch, up to the failing write
        assert not any(gathered[8:])  # then each again on its own
        with engine.connect() as conn:
            rows = conn.execute(select(event_outbox.c.id, event_outbox.c.key,
                                       event_outbox.c.record, event_outbox.c.created_at,
                                       event_outbox.c.target_id)
                                .order_by(event_outbox.c.id)).all()
        assert [r[1] for r in rows] == [_key(i) for i in range(20) if i != 7]
        assert {(r[2], r[3], r[4]) for r in rows} == {(RECORD, 1765000000.25, "t1")}
        ids = [r[0] for r in rows]
        committer.run(lambda conn: _delete_delivered(conn, ids[::2]))
        with engine.connect() as conn:
            left = conn.execute(select(event_outbox.c.id).order_by(event_outbox.c.id)
                                ).scalars().all()
        assert left == ids[1::2]
    finally:
        committer.close()
        engine.dispose()


def test_outside_a_batch_there_is_nothing_to_gather(tmp_path: Path) -> None:
    engine = _engine(tmp_path, None)
    try:
        with engine.begin() as conn:
            assert appended(conn, ROWS_KEY, _Rows) is None
    finally:
        engine.dispose()


@pytest.mark.parametrize("ids", [[], [10**12]])
def test_deleting_nothing_or_unknown_ids_is_harmless(tmp_path: Path, ids: list[int]) -> None:
    engine = _engine(tmp_path, None)
    try:
        with engine.begin() as conn:
            _delete_delivered(conn, ids)
    finally:
        engine.dispose()

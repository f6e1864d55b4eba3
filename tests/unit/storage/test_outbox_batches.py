"""The outbox events of a group-commit batch are written together before its COMMIT (one
row per target and store, not one per write), in the order the writes made them; a write
that fails leaves no event and the others' stay; every event reads back as its S3 record
with a sequencer that grows; delivered rows are deleted in one statement. On SQLite and
PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, select

from objectstore.domain.models import ObjectStore, ObjectVersion
from objectstore.domain.notifications import Configuration
from objectstore.services.events.deliverer import EventDeliverer, Failures, _delete_delivered
from objectstore.services.events.outbox import (
    CREATED,
    ROWS_KEY,
    Recording,
    _Rows,
    expand,
    note,
    record,
    recorded_work,
)
from objectstore.storage.sql.engine import make_engine, migrate
from objectstore.storage.sql.group_commit import GroupCommitter, appended
from objectstore.storage.sql.tables import event_outbox, event_targets

STORE = ObjectStore("s1", "acct", "LON1", "bucket-ü", 1, "cred", True, 0, 0, "private",
                    datetime.now(UTC))
CONFIG = Configuration.from_json({"kind": "Queue", "id": 'cfg "1"', "events": [
    "s3:ObjectCreated:*"], "arn": "arn:objectstore:sqs:LON1:t1:webhook"})


def _engine(tmp_path: Path, database_url: str | None) -> Any:
    engine = make_engine(database_url or f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    return engine


def _key(i: int) -> str:
    return f'k{i:02d}/café "q" ☃ \\'


def _version(i: int) -> ObjectVersion:
    return ObjectVersion(store_id="s1", key=_key(i), blob_id="", size=i, etag=f'"e{i}"',
                         last_modified=datetime.now(UTC), content_type="x", owner="me")


def _unit(i: int, gathered: list[bool], fail: bool = False) -> Any:
    """A write that records its event (as services/engine/objects.py's do)."""
    def work(conn: Connection) -> str:
        gathered.append(appended(conn, ROWS_KEY, _Rows) is not None)
        note(conn, CREATED, _version(i))
        if fail:
            raise ValueError(f"{i} refused")
        return _key(i)

    return recorded_work(work, Recording(STORE, [CONFIG], "Put"))


def test_a_batch_writes_its_events_in_order_and_a_failed_write_leaves_none(
        tmp_path: Path, database_url: str | None) -> None:
    engine = _engine(tmp_path, database_url)
    committer = GroupCommitter(engine, defer=engine.dialect.name == "postgresql")
    try:
        outcomes: list[str] = []
        gathered: list[bool] = []
        for first in (0, 10):  # a clean batch, then one with a failing write (14)
            gate = threading.Event()
            committer.submit(lambda conn, gate=gate: gate.wait(5))  # holds the writer
            futures = [committer.submit(_unit(i, gathered, fail=(i == 14)))
                       for i in range(first, first + 10)]
            gate.set()
            for f in futures:
                try:
                    outcomes.append(f.result(timeout=30))
                except ValueError as exc:
                    outcomes.append(str(exc))
        assert outcomes[14] == "14 refused"
        assert gathered[:15] == [True] * 15  # the batches, up to the failing write
        assert not any(gathered[15:])  # then each again on its own
        with engine.connect() as conn:
            rows = conn.execute(select(event_outbox.c.id, event_outbox.c.key,
                                       event_outbox.c.record, event_outbox.c.events,
                                       event_outbox.c.target_id)
                                .order_by(event_outbox.c.id)).all()
        # the clean batch's 10 writes share a row; after the failure each of the others
        # was run (and wrote its event) on its own
        assert [r[3] for r in rows] == [10] + [1] * 9
        assert {r[4] for r in rows} == {"t1"}
        sent = [ev for r in rows for ev in expand(r[0], r[1], r[2])]
        survivors = [i for i in range(20) if i != 14]
        assert [ev.key for ev in sent] == [_key(i) for i in survivors]
        records = [json.loads(ev.text) for ev in sent]
        sequencers = [rec["s3"]["object"]["sequencer"] for rec in records]
        assert sequencers == sorted(sequencers) and len(set(sequencers)) == len(sent)
        for i, rec in zip(survivors, records, strict=True):
            when = datetime.strptime(rec["eventTime"], "%Y-%m-%dT%H:%M:%S.%f%z")
            want = record(STORE, "ObjectCreated:Put", _version(i), 'cfg "1"', when,
                          int(rec["s3"]["object"]["sequencer"], 16))
            assert rec == json.loads(json.dumps(want))
            assert rec["userIdentity"]["principalId"] == "me"
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


def test_a_rounds_ack_deletes_its_rows_and_counts(tmp_path: Path,
                                                  database_url: str | None) -> None:
    """The deliverer's ack (prepared statements in the committer): the complete rows go,
    the target's counters add up, an error is kept with its time."""
    engine = _engine(tmp_path, database_url)
    committer = GroupCommitter(engine, defer=engine.dialect.name == "postgresql")
    try:
        with engine.begin() as conn:
            conn.execute(event_targets.insert().values(
                id="t1", account_id="acct", name="hook", region="LON1", type="webhook",
                endpoint="http://127.0.0.1:9/", options={}, sealed="x",
                created_at=datetime.now(UTC)))
            for i in range(3):
                conn.execute(event_outbox.insert().values(
                    target_id="t1", store_id="s1", key=f"k{i}", record="[]",
                    created_at=0.0, events=1))
            ids = conn.execute(select(event_outbox.c.id).order_by(event_outbox.c.id)
                               ).scalars().all()
        none: Any = None
        deliverer = EventDeliverer(engine, none, none, none, committer.run)
        deliverer._ack("t1", ids[:2], 5, Failures(0, 0), None)
        deliverer._ack("t1", [], 0, Failures(3, 1), "the webhook answered 403")
        t = event_targets.c
        with engine.connect() as conn:
            left = conn.execute(select(event_outbox.c.id)).scalars().all()
            counts = conn.execute(select(t.delivered, t.retried, t.failed, t.last_error,
                                         t.last_error_at)).one()
        assert left == ids[2:]
        assert counts[:4] == (5, 3, 1, "the webhook answered 403")
        assert counts[4] is not None and counts[4].tzinfo is not None
    finally:
        committer.close()
        engine.dispose()

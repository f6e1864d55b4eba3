"""The outbox: an event row written in the same transaction as the change it describes.

The SQL of object changes (``services/engine/metadata.py``: install, delete_latest,
delete_version, update_version) calls ``note(conn, change, version)`` at each change it
makes. Nothing happens unless the caller opened a ``Recording`` on that connection for the
unit of work (``recording``): the store's notification configurations and the request's
cause (``Put``, ``Post``, ``Copy``, ``CompleteMultipartUpload``, ``Delete``,
``LifecycleExpiration``, ``ObjectTagging:Put``, ...). Then each configured target that wants
the event gets one row in ``event_outbox`` (the S3 event record, without its ``sequencer``:
that is the row's id, known once inserted). The row commits or rolls back with the change,
so an acknowledged write always has its event, and a refused one has none."""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote_plus

from sqlalchemy import Connection, bindparam

from ...domain.models import NULL_VERSION, ObjectStore, ObjectVersion
from ...domain.notifications import FAMILIES, Configuration, routes
from ...storage.sql.group_commit import appended
from ...storage.sql.prepared import Prepared
from ...storage.sql.tables import event_outbox

T = TypeVar("T")
KEY = "objectstore_events"
CREATED = "created"    # a new latest version (install)
REMOVED = "removed"    # a version (or delete marker) removed
MARKER = "marker"      # a delete marker made
UPDATED = "updated"    # a version's tags or ACL changed in place (or a copy onto itself)

_INSERT = Prepared(event_outbox.insert().values(
    target_id=bindparam("target_id"), store_id=bindparam("store_id"), key=bindparam("key"),
    record=bindparam("record"), created_at=bindparam("created_at")))
ROWS_KEY = "event_outbox"


# SQLite: the batch's rows as one JSON array, inserted by one statement (``executemany``
# would still step once per row, handing the GIL over each time), in the array's order
_INSERT_JSON = ("INSERT INTO event_outbox (target_id, store_id, key, record, created_at) "
                "SELECT json_extract(value, '$[0]'), json_extract(value, '$[1]'), "
                "json_extract(value, '$[2]'), json_extract(value, '$[3]'), "
                "json_extract(value, '$[4]') FROM json_each(?) ORDER BY key")
_COLUMNS = ("target_id", "store_id", "key", "record", "created_at")


class _Rows:
    """A group-commit batch's outbox rows, inserted together before its COMMIT."""

    __slots__ = ("rows",)

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        if not self.rows:
            return
        if conn.dialect.name != "sqlite":
            _INSERT.execute_many(conn, self.rows)
            return
        payload = json.dumps([[r[c] for c in _COLUMNS] for r in self.rows],
                             separators=(",", ":"))
        cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
        try:
            cursor.execute(_INSERT_JSON, (payload,))
        finally:
            cursor.close()


def encode_key(key: str) -> str:
    """An object key as S3 event records carry it: form-URL-encoded (a space is ``+``), with
    ``/`` left as it is."""
    return quote_plus(key, safe="/*-_.")


def event_name(change: str, cause: str) -> str | None:
    """The S3 event name of a change made for ``cause`` (None: not announced)."""
    lifecycle = cause == "LifecycleExpiration"
    family = "LifecycleExpiration" if lifecycle else "ObjectRemoved"
    if change == CREATED:
        return f"ObjectCreated:{cause}" if cause in FAMILIES["ObjectCreated"] \
            else "ObjectCreated:Put"
    if change == REMOVED:
        return f"{family}:Delete"
    if change == MARKER:
        return f"{family}:DeleteMarkerCreated"
    if change == UPDATED:
        if cause in FAMILIES["ObjectCreated"]:
            return f"ObjectCreated:{cause}"  # a copy onto itself: its metadata replaced
        return cause if cause.split(":", 1)[0] in ("ObjectTagging", "ObjectAcl") else None
    return None


def record(store: ObjectStore, name: str, version: ObjectVersion, configuration_id: str,
           now: datetime) -> dict[str, Any]:
    """AWS's S3 event record (eventVersion 2.1) for one change; its ``sequencer`` is a slot
    (``?``) until the row has its id."""
    obj: dict[str, Any] = {"key": encode_key(version.key)}
    if not name.startswith(("ObjectRemoved", "LifecycleExpiration")):
        obj["size"] = version.size
        obj["eTag"] = version.etag.strip('"')
    if version.version_id and version.version_id != NULL_VERSION:
        obj["versionId"] = version.version_id
    obj["sequencer"] = "?"  # the outbox row's id, filled in when sent (``message``)
    principal = getattr(version, "owner", None) or store.credential_id
    return {
        "eventVersion": "2.1",
        "eventSource": "aws:s3",
        "awsRegion": store.region,
        "eventTime": now.strftime("%Y-%m-%dT%H:%M:%S.") + f"{now.microsecond // 1000:03d}Z",
        "eventName": name,
        "userIdentity": {"principalId": principal},
        "requestParameters": {"sourceIPAddress": ""},
        "responseElements": {"x-amz-request-id": "", "x-amz-id-2": ""},
        "s3": {
            "s3SchemaVersion": "1.0",
            "configurationId": configuration_id,
            "bucket": {"name": store.name, "ownerIdentity": {"principalId": store.account_id},
                       "arn": f"arn:aws:s3:::{store.name}"},
            "object": obj,
        },
    }


SEQUENCER_SLOT = '"sequencer":"?"'


def _with_sequencer(record_text: str, sequencer: int) -> str:
    """The stored record with the row's sequencer in the slot it keeps for it (no JSON
    parsing per event)."""
    if SEQUENCER_SLOT in record_text:
        return record_text.replace(SEQUENCER_SLOT,
                                   f'"sequencer":"{format_sequencer(sequencer)}"', 1)
    rec = json.loads(record_text)  # (a record stored without the slot)
    rec["s3"]["object"]["sequencer"] = format_sequencer(sequencer)
    return json.dumps(rec, separators=(",", ":"))


_dumps = json.JSONEncoder(separators=(",", ":")).encode


def record_text(store: ObjectStore, name: str, version: ObjectVersion, configuration_id: str,
                now: datetime) -> str:
    """``json.dumps(record(...))`` (compact), built from string pieces: this runs in the
    write's transaction, once per event and target (about a fifth of the time)."""
    obj = '"key":' + _dumps(encode_key(version.key))
    if not name.startswith(("ObjectRemoved", "LifecycleExpiration")):
        obj += f',"size":{int(version.size)},"eTag":' + _dumps(version.etag.strip('"'))
    if version.version_id and version.version_id != NULL_VERSION:
        obj += ',"versionId":' + _dumps(version.version_id)
    principal = getattr(version, "owner", None) or store.credential_id
    bucket = _dumps(store.name)
    return (
        '{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":' + _dumps(store.region)
        + ',"eventTime":"' + now.strftime("%Y-%m-%dT%H:%M:%S.")
        + f'{now.microsecond // 1000:03d}Z","eventName":' + _dumps(name)
        + ',"userIdentity":{"principalId":' + _dumps(principal) + '}'
        + ',"requestParameters":{"sourceIPAddress":""}'
        + ',"responseElements":{"x-amz-request-id":"","x-amz-id-2":""}'
        + ',"s3":{"s3SchemaVersion":"1.0","configurationId":' + _dumps(configuration_id)
        + ',"bucket":{"name":' + bucket + ',"ownerIdentity":{"principalId":'
        + _dumps(store.account_id) + '},"arn":' + _dumps(f"arn:aws:s3:::{store.name}")
        + '},"object":{' + obj + ',' + SEQUENCER_SLOT + '}}}')


def message(record_text: str, sequencer: int) -> bytes:
    """What a target receives: ``{"Records": [record]}``."""
    return b'{"Records":[' + _with_sequencer(record_text, sequencer).encode() + b"]}"


def messages(rows: Sequence[tuple[int, str, str]]) -> bytes:
    """Several outbox rows ``(id, key, record)`` as one message, in order (a webhook's
    ``batch_size``); one row is ``message``."""
    return b'{"Records":[' + ",".join(_with_sequencer(rec, rid) for rid, _k, rec in rows
                                      ).encode() + b"]}"


def format_sequencer(n: int) -> str:
    """Fixed-width upper-case hex: compares as the numbers do, as strings too."""
    return f"{n:016X}"


@dataclass
class Recording:
    store: ObjectStore
    configurations: list[Configuration]
    cause: str
    recorded: int = 0
    targets: set[str] = field(default_factory=set)  # the targets that got rows

    def add(self, conn: Connection, change: str, version: ObjectVersion) -> None:
        name = event_name(change, self.cause)
        if name is None:
            return
        now = datetime.now(UTC)
        batch = appended(conn, ROWS_KEY, _Rows)  # (None: not in a batch, inserted at once)
        for route in routes(self.configurations, name, version.key):
            row = {"target_id": route.target_id, "store_id": self.store.id, "key": version.key,
                   "created_at": time.time(), "record": record_text(
                       self.store, name, version, route.configuration_id, now)}
            if batch is None:
                _INSERT.execute(conn, **row)
            else:
                batch.rows.append(row)
            self.recorded += 1
            self.targets.add(route.target_id)


def note(conn: Connection, change: str, version: ObjectVersion) -> None:
    """A change to announce, if the unit of work records events (``recording``)."""
    rec: Recording | None = conn.info.get(KEY)
    if rec is not None:
        rec.add(conn, change, version)


@contextmanager
def recording(conn: Connection, rec: Recording | None) -> Iterator[Recording | None]:
    """Record the changes made on ``conn`` inside the block with ``rec`` (None: none)."""
    if rec is None:
        yield None
        return
    conn.info[KEY] = rec
    try:
        yield rec
    finally:
        conn.info.pop(KEY, None)


def recorded_work(work: Callable[[Connection], T], rec: Recording) -> Callable[[Connection], T]:
    """``work`` with its changes recorded (a unit run again, in a savepoint or alone, records
    afresh: what the rolled-back try recorded went with it)."""
    def wrapped(conn: Connection) -> T:
        rec.recorded = 0
        rec.targets.clear()
        with recording(conn, rec):
            return work(conn)

    return wrapped

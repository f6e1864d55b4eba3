"""The outbox: event rows written in the same transaction as the changes they describe.

The SQL of object changes (``services/engine/metadata.py``: install, delete_latest,
delete_version, update_version) calls ``note(conn, change, version)`` at each change it
makes. Nothing happens unless the caller opened a ``Recording`` on that connection for the
unit of work (``recording``): the store's notification configurations and the request's
cause (``Put``, ``Post``, ``Copy``, ``CompleteMultipartUpload``, ``Delete``,
``LifecycleExpiration``, ``ObjectTagging:Put``, ...). Then each configured target that wants
the event gets it in ``event_outbox``; the rows commit or roll back with the change, so an
acknowledged write always has its event, and a refused one has none.

A row holds the events of one group-commit batch for one target and store (``events`` of
them, at most ``MAX_EVENTS``), each as a few compact fields: the write's transaction does
no more than note them, and the S3 event record is rendered when sent (``expand``), off the
write path. An event's ``sequencer`` is ``(row id << 12) + its index in the row``: rows'
ids only grow, so sequencers do too. (Rows written before this format — one rendered record
each, starting with ``{`` — are still read: their sequencer is the row id, below any new
row's.)"""

from __future__ import annotations

import functools
import json
import re
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote_plus

from sqlalchemy import Connection, bindparam

from ...domain.models import NULL_VERSION, ObjectStore, ObjectVersion
from ...domain.notifications import FAMILIES, Configuration, Route, routes
from ...storage.sql.group_commit import appended
from ...storage.sql.prepared import Prepared
from ...storage.sql.tables import event_outbox

T = TypeVar("T")
KEY = "objectstore_events"
CREATED = "created"    # a new latest version (install)
REMOVED = "removed"    # a version (or delete marker) removed
MARKER = "marker"      # a delete marker made
UPDATED = "updated"    # a version's tags or ACL changed in place (or a copy onto itself)
INDEX_BITS = 12
MAX_EVENTS = 1 << INDEX_BITS  # events in one row: their sequencers stay below the next row's

_INSERT = Prepared(event_outbox.insert().values(
    target_id=bindparam("target_id"), store_id=bindparam("store_id"), key=bindparam("key"),
    record=bindparam("record"), created_at=bindparam("created_at"),
    events=bindparam("events")))
ROWS_KEY = "event_outbox"

# one event, as stored: [name, key, size, eTag, versionId, time (ms since the epoch),
# configurationId, principalId]; a row's record is [[bucket, region, owner], event, ...]
Event = list[Any]
_dumps = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False).encode
_dumps_ascii = json.JSONEncoder(separators=(",", ":")).encode


def row_values(target_id: str, store: ObjectStore, events: list[Event], now: float
               ) -> dict[str, Any]:
    """One outbox row: ``events`` (at most ``MAX_EVENTS``) of ``store`` for one target."""
    return {"target_id": target_id, "store_id": store.id, "key": events[0][1],
            "created_at": now, "events": len(events),
            "record": _dumps([[store.name, store.region, store.account_id], *events])}


class _Rows:
    """A group-commit batch's events, by target and store: one row each (``MAX_EVENTS`` at
    most), inserted together before its COMMIT."""

    __slots__ = ("groups",)

    def __init__(self) -> None:
        self.groups: dict[tuple[str, str], tuple[ObjectStore, list[Event]]] = {}

    def add(self, target_id: str, store: ObjectStore, event: Event) -> None:
        group = self.groups.get((target_id, store.id))
        if group is None:
            group = self.groups[(target_id, store.id)] = (store, [])
        group[1].append(event)

    def flush(self, conn: Connection) -> None:
        now = time.time()
        rows = [row_values(target_id, store, events[i:i + MAX_EVENTS], now)
                for (target_id, _sid), (store, events) in self.groups.items()
                for i in range(0, len(events), MAX_EVENTS)]
        self.groups.clear()
        if len(rows) == 1:
            _INSERT.execute(conn, **rows[0])
        elif rows:
            _INSERT.execute_many(conn, rows)


def encode_key(key: str) -> str:
    """An object key as S3 event records carry it: form-URL-encoded (a space is ``+``), with
    ``/`` left as it is."""
    return quote_plus(key, safe="/*-_.")


@functools.cache  # asked for every write of a store with notifications: once per pair
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
           now: datetime, sequencer: int) -> dict[str, Any]:
    """AWS's S3 event record (eventVersion 2.1) for one change, as a dict: what ``render``
    writes as text (the reference its tests compare with)."""
    obj: dict[str, Any] = {"key": encode_key(version.key)}
    if not name.startswith(("ObjectRemoved", "LifecycleExpiration")):
        obj["size"] = version.size
        obj["eTag"] = version.etag.strip('"')
    if version.version_id and version.version_id != NULL_VERSION:
        obj["versionId"] = version.version_id
    obj["sequencer"] = format_sequencer(sequencer)
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


def compact(name: str, version: ObjectVersion, configuration_id: str, principal: str,
            ms: int) -> Event:
    """An event as the outbox keeps it (rendered by ``render`` when sent)."""
    return [name, version.key, version.size, version.etag.strip('"'), version.version_id, ms,
            configuration_id, principal]


_SAFE = re.compile(r"[A-Za-z0-9/*._~-]*\Z").match  # left as they are by quote_plus, and
# by JSON: such a text is its own encoding, in quotes


def _quoted(text: str) -> str:
    """``text`` as a JSON string (ASCII)."""
    return f'"{text}"' if _SAFE(text) else _dumps_ascii(text)


class _Bucket(NamedTuple):
    """A row's bucket, its parts of a record rendered once for all the row's events."""

    region: str  # '"awsRegion":...'
    bucket: str  # '"bucket":{...}'

    @classmethod
    def of(cls, name: str, region: str, owner: str) -> _Bucket:
        return cls(_dumps_ascii(region),
                   '"bucket":{"name":' + _dumps_ascii(name) + ',"ownerIdentity":{"principalId":'
                   + _dumps_ascii(owner) + '},"arn":' + _dumps_ascii(f"arn:aws:s3:::{name}")
                   + '}')


class _Renderer:
    """Renders the events of one row (``json.dumps(record(...))``, compact, from string
    pieces): what the row's events share — the bucket, the part of a record between its
    time and its key for each (event name, principal, configuration), the second of its
    time — is rendered once."""

    __slots__ = ("bucket", "head", "middles", "second", "stamp")

    def __init__(self, bucket: _Bucket) -> None:
        self.bucket = bucket
        self.head = ('{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":' + bucket.region
                     + ',"eventTime":"')
        self.middles: dict[tuple[str, str, str], tuple[str, bool]] = {}
        self.second = -1
        self.stamp = ""

    def _middle(self, name: str, principal: str, configuration_id: str) -> tuple[str, bool]:
        """From the time's end to the key's value, and whether the event has a size and
        eTag."""
        got = self.middles.get((name, principal, configuration_id))
        if got is None:
            got = self.middles[(name, principal, configuration_id)] = (
                '","eventName":' + _dumps_ascii(name)
                + ',"userIdentity":{"principalId":' + _dumps_ascii(principal) + '}'
                + ',"requestParameters":{"sourceIPAddress":""}'
                + ',"responseElements":{"x-amz-request-id":"","x-amz-id-2":""}'
                + ',"s3":{"s3SchemaVersion":"1.0","configurationId":'
                + _dumps_ascii(configuration_id) + ',' + self.bucket.bucket
                + ',"object":{"key":',
                not name.startswith(("ObjectRemoved", "LifecycleExpiration")))
        return got

    def __call__(self, event: Event, sequencer: int) -> str:
        name, key, size, etag, version_id, ms, configuration_id, principal = event
        middle, sized = self._middle(name, principal, configuration_id)
        second, millis = divmod(ms, 1000)
        if second != self.second:
            self.second = second
            self.stamp = time.strftime("%Y-%m-%dT%H:%M:%S.", time.gmtime(second))
        obj = f'"{key}"' if _SAFE(key) else _dumps_ascii(encode_key(key))
        if sized:
            obj = f'{obj},"size":{int(size)},"eTag":{_quoted(etag)}'
        if version_id and version_id != NULL_VERSION:
            obj = f'{obj},"versionId":{_quoted(version_id)}'
        return (f'{self.head}{self.stamp}{millis:03d}Z{middle}{obj}'
                f',"sequencer":"{sequencer:016X}"}}}}}}')


def render(bucket: _Bucket, event: Event, sequencer: int) -> str:
    """``json.dumps(record(...))`` (compact) of a stored event, with its sequencer."""
    return _Renderer(bucket)(event, sequencer)


class Outgoing(NamedTuple):
    """One event of a fetched row, ready to send."""

    row: int     # the outbox row's id
    place: int   # its index in the row
    key: str     # the object key (a key's events leave in order)
    text: str    # the S3 event record (JSON)


SEQUENCER_SLOT = '"sequencer":"?"'


def _with_sequencer(record_text: str, sequencer: int) -> str:
    """A record stored rendered (the first format) with the row's sequencer in the slot it
    keeps for it."""
    if SEQUENCER_SLOT in record_text:
        return record_text.replace(SEQUENCER_SLOT,
                                   f'"sequencer":"{format_sequencer(sequencer)}"', 1)
    rec = json.loads(record_text)  # (a record stored without the slot)
    rec["s3"]["object"]["sequencer"] = format_sequencer(sequencer)
    return _dumps_ascii(rec)


def expand(row_id: int, key: str, record_text: str, skip: set[int] | None = None
           ) -> list[Outgoing]:
    """An outbox row's events, rendered (those at the indexes in ``skip`` left out)."""
    if record_text.startswith("{"):  # one record, rendered when written
        if skip and 0 in skip:
            return []
        return [Outgoing(row_id, 0, key, _with_sequencer(record_text, row_id))]
    head, *events = json.loads(record_text)
    rendered = _Renderer(_Bucket.of(*head))
    base = row_id << INDEX_BITS
    return [Outgoing(row_id, i, ev[1], rendered(ev, base + i))
            for i, ev in enumerate(events) if not skip or i not in skip]


def messages(events: Sequence[Outgoing]) -> bytes:
    """Events as one message, ``{"Records": [...]}``, in order (several: a webhook's
    ``batch_size``)."""
    if len(events) == 1:
        return b'{"Records":[' + events[0].text.encode() + b"]}"
    return b'{"Records":[' + ",".join([e.text for e in events]).encode() + b"]}"


def format_sequencer(n: int) -> str:
    """Fixed-width upper-case hex: compares as the numbers do, as strings too."""
    return f"{n:016X}"


class Routes:
    """A store's notification configurations (``domain.notifications.routes``), with what
    does not depend on the key worked out once per event name: a store's configurations are
    read once and kept (``notifications.py``), so a write looks its routes up instead of
    parsing the configurations' ARNs and event lists again."""

    __slots__ = ("_by_name", "configurations")

    def __init__(self, configurations: list[Configuration]) -> None:
        self.configurations = configurations
        # event name -> the routes when no configuration that wants it filters by key,
        # else None (then ``routes`` per key)
        self._by_name: dict[str, list[Route] | None] = {}

    def __bool__(self) -> bool:
        return bool(self.configurations)

    def find(self, name: str, key: str) -> list[Route]:
        """The targets an event goes to (a list the caller does not change)."""
        try:
            found = self._by_name[name]
        except KeyError:
            filtered = any(c.prefix or c.suffix for c in self.configurations)
            found = self._by_name[name] = (None if filtered else
                                           routes(self.configurations, name, ""))
        return routes(self.configurations, name, key) if found is None else found


@dataclass
class Recording:
    store: ObjectStore
    configurations: list[Configuration] | Routes
    cause: str
    recorded: int = 0
    targets: set[str] = field(default_factory=set)  # the targets that got events
    routing: Routes = field(init=False, repr=False)

    def __post_init__(self) -> None:
        self.routing = (self.configurations if isinstance(self.configurations, Routes)
                        else Routes(self.configurations))

    def add(self, conn: Connection, change: str, version: ObjectVersion) -> None:
        name = event_name(change, self.cause)
        if name is None:
            return
        found = self.routing.find(name, version.key)
        if not found:
            return
        now = time.time()
        ms = int(now * 1000)
        principal = getattr(version, "owner", None) or self.store.credential_id
        batch = appended(conn, ROWS_KEY, _Rows)  # (None: not in a batch, inserted at once)
        for route in found:
            event = compact(name, version, route.configuration_id, principal, ms)
            if batch is None:
                _INSERT.execute(conn, **row_values(route.target_id, self.store, [event], now))
            else:
                batch.add(route.target_id, self.store, event)
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
        info = conn.info
        info[KEY] = rec  # (``recording``'s work, without a generator per write)
        try:
            return work(conn)
        finally:
            info.pop(KEY, None)

    return wrapped

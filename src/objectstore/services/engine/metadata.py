"""The SQL of object versions: point reads, the versioning rules of writes and deletes, and
usage accounting, all inside the caller's transaction.

The latest version of a key lives in ``objects`` (one row per key: the unversioned hot path
reads and writes that row only); older versions of versioned stores live in
``object_versions``. Every version's bytes count toward usage (as on S3); a delete marker
counts no bytes and no object.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import BigInteger, Connection, String, bindparam, delete, func, insert, select, text
from sqlalchemy.dialects.postgresql import ARRAY

from ...domain.errors import (
    DeleteMarker,
    NoSuchVersion,
    ObjectNotFound,
    PreconditionFailed,
    QuotaExceeded,
    StoreNotFound,
)
from ...domain.models import GB, NULL_VERSION, ObjectStore, ObjectVersion
from ...domain.object_lock import check_deletable
from ...storage.sql import group_commit
from ...storage.sql.prepared import Prepared
from ...storage.sql.tables import credentials, doomed_blobs, object_versions, objects, objectstores
from ..events.outbox import CREATED, MARKER, REMOVED, UPDATED, note
from .rows import HEAD_COLUMNS, VERSION_COLUMNS, row_values, version_from, version_from_tuple
from .vseq import next_vseq

PRECONDITION_MSG = "At least one of the pre-conditions you specified did not hold"
ENABLED, SUSPENDED = "Enabled", "Suspended"

_HEAD = Prepared(select(*[objects.c[n] for n in HEAD_COLUMNS]).where(
    objects.c.store_id == bindparam("store_id"), objects.c.key == bindparam("key")))
# A write's two reads in one statement: the store's versioning state and the key's latest
# version (if any), so a PUT costs one SELECT before its writes.
_STATE_AND_HEAD = Prepared(
    select(objectstores.c.versioning, *[objects.c[n] for n in HEAD_COLUMNS])
    .select_from(objectstores.outerjoin(objects, (objects.c.store_id == objectstores.c.id)
                                        & (objects.c.key == bindparam("key"))))
    .where(objectstores.c.id == bindparam("sid")))
_CHARGE_STORE = Prepared(
    objectstores.update().where(objectstores.c.id == bindparam("sid")).values(
        used_bytes=objectstores.c.used_bytes + bindparam("delta", type_=BigInteger),
        object_count=objectstores.c.object_count + bindparam("count", type_=BigInteger)))
_CHARGE_STORE_LIMITED = Prepared(
    objectstores.update().where(
        objectstores.c.id == bindparam("sid"),
        objectstores.c.used_bytes + bindparam("delta", type_=BigInteger)
        <= objectstores.c.max_size_gb * GB).values(
        used_bytes=objectstores.c.used_bytes + bindparam("delta", type_=BigInteger),
        object_count=objectstores.c.object_count + bindparam("count", type_=BigInteger)))
_STORE_EXISTS = Prepared(select(objectstores.c.id).where(objectstores.c.id == bindparam("sid")))
_OWNER = (select(objectstores.c.credential_id).where(objectstores.c.id == bindparam("sid"))
          .scalar_subquery())
_CHARGE_CRED = Prepared(
    credentials.update().where(credentials.c.id == _OWNER).values(
        used_bytes=credentials.c.used_bytes + bindparam("delta", type_=BigInteger)))
_CHARGE_CRED_LIMITED = Prepared(
    credentials.update().where(
        credentials.c.id == _OWNER,
        (credentials.c.max_size_gb.is_(None))
        | (credentials.c.used_bytes + bindparam("delta", type_=BigInteger)
           <= credentials.c.max_size_gb * GB)).values(
        used_bytes=credentials.c.used_bytes + bindparam("delta", type_=BigInteger)))
_LOCK_KEY = Prepared(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"))
# A PostgreSQL commit batch's look-ahead (``_look_ahead``): every named key's lock, taken in
# one order, then the store's versioning state and the key's latest version for all of them.
_LOCK_KEYS = Prepared(text("SELECT pg_advisory_xact_lock(hashtextextended(k, 0)) "
                           "FROM unnest(CAST(:ks AS text[])) AS u(k)"))
_WANTED = func.unnest(bindparam("sids", type_=ARRAY(String)),
                      bindparam("keys", type_=ARRAY(String))).table_valued(
    "sid", "key").render_derived(name="w")
_STATES_AND_HEADS = Prepared(
    select(_WANTED.c.sid, _WANTED.c.key, objectstores.c.versioning,
           *[objects.c[n] for n in HEAD_COLUMNS])
    .select_from(_WANTED.join(objectstores, objectstores.c.id == _WANTED.c.sid).outerjoin(
        objects, (objects.c.store_id == _WANTED.c.sid) & (objects.c.key == _WANTED.c.key))))
_INSERT = Prepared(objects.insert().values(
    store_id=bindparam("store_id"), key=bindparam("key"),
    **{c: bindparam(c, type_=objects.c[c].type) for c in VERSION_COLUMNS}))
_REPLACE = Prepared(objects.update().where(
    objects.c.store_id == bindparam("w_store_id"), objects.c.key == bindparam("w_key")).values(
    **{c: bindparam(c, type_=objects.c[c].type) for c in VERSION_COLUMNS}))
_DELETE = Prepared(delete(objects).where(objects.c.store_id == bindparam("store_id"),
                                         objects.c.key == bindparam("key")))
_DOOM = Prepared(insert(doomed_blobs).values(blob_id=bindparam("blob_id"),
                                             queued_at=bindparam("queued_at"), attempts=0))
_OLD_COLUMNS = [object_versions.c[n] for n in HEAD_COLUMNS]


def check_preconditions(current: ObjectVersion | None, if_match: str | None,
                        if_none_match: str | None) -> None:
    """Conditional writes: ``current`` is the latest version that is not a delete marker."""
    if (if_none_match is not None and current is not None
            and (if_none_match.strip() == "*" or etag_in(current.etag, if_none_match))):
        raise PreconditionFailed(PRECONDITION_MSG)
    if if_match is not None:
        if current is None:
            raise ObjectNotFound("The specified key does not exist.")
        if if_match.strip() != "*" and not etag_in(current.etag, if_match):
            raise PreconditionFailed(PRECONDITION_MSG)


def etag_in(etag: str, header: str) -> bool:
    wanted = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return "*" in wanted or etag.strip('"') in wanted


def charge(conn: Connection, store_id: str, delta_bytes: int, delta_count: int) -> None:
    """Apply a usage change to a store and its owner, refusing growth past either limit.

    One conditional UPDATE per row (no process lock): safe with several gateway processes.
    In a PostgreSQL commit batch the change is summed with the batch's others and applied
    just before COMMIT (``_Charges``; a refusal there re-runs the batch charging each write
    at once, so each meets its own refusal).
    """
    if delta_bytes == 0 and delta_count == 0:
        return
    pending = group_commit.deferred(conn, "usage", _Charges)
    if pending is not None:
        pending.add(store_id, delta_bytes, delta_count)
        return
    growing = delta_bytes > 0
    changed = (_CHARGE_STORE_LIMITED if growing else _CHARGE_STORE).execute(
        conn, sid=store_id, delta=delta_bytes, count=delta_count)
    if changed != 1:
        if _STORE_EXISTS.first(conn, sid=store_id) is None:
            raise StoreNotFound("The specified bucket does not exist")
        raise QuotaExceeded("The object store's size limit would be exceeded by this write")
    if delta_bytes == 0:
        return
    changed = (_CHARGE_CRED_LIMITED if growing else _CHARGE_CRED).execute(
        conn, sid=store_id, delta=delta_bytes)
    if changed != 1:
        raise QuotaExceeded("The credential's size limit would be exceeded by this write")


class _Charges:
    """A commit batch's usage changes, summed per store: one UPDATE per row per batch, in
    one lock order. (A net change is checked as one: writes that free x bytes and add y
    need room for y - x, as they would in that order.)"""

    def __init__(self) -> None:
        self.deltas: dict[str, tuple[int, int]] = {}

    def add(self, store_id: str, delta_bytes: int, delta_count: int) -> None:
        b, c = self.deltas.get(store_id, (0, 0))
        self.deltas[store_id] = (b + delta_bytes, c + delta_count)

    def flush(self, conn: Connection) -> None:
        for store_id, (b, c) in sorted(self.deltas.items()):
            charge(conn, store_id, b, c)


def lock_key(conn: Connection, store_id: str, key: str) -> None:
    """Serialise writers of one key until this transaction ends. SQLite has one writer at a
    time already; PostgreSQL gets a transaction-scoped advisory lock on the key's hash, so the
    read of the current version and the write that replaces it cannot interleave."""
    if conn.dialect.name == "postgresql":
        _LOCK_KEY.execute(conn, k=f"{store_id}\x1f{key}")


def doom(conn: Connection, blob_ids: list[str]) -> None:
    now = datetime.now(UTC)
    for blob_id in blob_ids:
        _DOOM.execute(conn, blob_id=blob_id, queued_at=now)


def _counted(v: ObjectVersion) -> int:
    return 0 if v.delete_marker else 1


def _look_ahead(conn: Connection, wanted: list[Hashable]
                ) -> dict[Hashable, tuple[str | None, ObjectVersion | None]]:
    """A PostgreSQL commit batch's ``lock_key`` and ``state_and_current`` for all its writes
    that named theirs (``ahead``), in two statements instead of two per write: the keys'
    locks first (sorted: one order for every batch), then what they guard, read after."""
    if conn.dialect.name != "postgresql":
        return {}  # (SQLite: no locks, and a point read is an in-process lookup)
    pairs: list[tuple[str, str]] = sorted({w for w in wanted if isinstance(w, tuple)},
                                          key=lambda p: f"{p[0]}\x1f{p[1]}")
    _LOCK_KEYS.execute(conn, ks=[f"{sid}\x1f{key}" for sid, key in pairs])
    rows = _STATES_AND_HEADS.all(conn, sids=[p[0] for p in pairs], keys=[p[1] for p in pairs])
    found: dict[Hashable, tuple[str | None, ObjectVersion | None]] = {}
    for row in rows:
        sid, key, state = row[0], row[1], row[2]
        current = None if row[3] is None else version_from_tuple(sid, HEAD_COLUMNS, row[3:],
                                                                 is_latest=True)
        found[(sid, key)] = (state, current)
    return found


def ahead(store_id: str, key: str) -> group_commit.Ahead:
    """What a write of ``key`` that starts with ``locked_state_and_current`` names to its
    commit batch (``run_async(..., ahead=...)``)."""
    return (_look_ahead, (store_id, key))


def locked_state_and_current(conn: Connection, store_id: str, key: str
                             ) -> tuple[str | None, ObjectVersion | None]:
    """``lock_key`` then ``state_and_current`` — or what the commit batch's look-ahead
    found for the key (taken under the same lock, read after it was taken, and written by
    no unit before this one)."""
    got: tuple[str | None, ObjectVersion | None] | None = group_commit.looked_ahead(
        conn, (store_id, key))
    if got is not None:
        return got
    lock_key(conn, store_id, key)
    group_commit.flush_written(conn)  # an earlier unit's write of this key, left to the batch
    return state_and_current(conn, store_id, key)


class _HeadWrites:
    """A commit batch's new and replaced latest versions (``install``'s row in ``objects``)
    of keys whose state came from the look-ahead: one ``executemany`` each (psycopg sends
    them in one pipeline) instead of a round trip per write."""

    def __init__(self) -> None:
        self.inserts: list[dict[str, Any]] = []
        self.replaces: list[dict[str, Any]] = []

    def flush(self, conn: Connection) -> None:
        inserts, self.inserts = self.inserts, []
        replaces, self.replaces = self.replaces, []
        _INSERT.execute_many(conn, inserts)
        _REPLACE.execute_many(conn, replaces)


def state_and_current(conn: Connection, store_id: str, key: str
                      ) -> tuple[str | None, ObjectVersion | None]:
    """The store's versioning state (read in the write's own transaction, never from a
    cache) and the key's latest version."""
    row = _STATE_AND_HEAD.first(conn, sid=store_id, key=key)
    if row is None:
        raise StoreNotFound("The specified bucket does not exist")
    if row[1] is None:  # no object row joined (key is part of the primary key)
        return row[0], None
    return row[0], version_from_tuple(store_id, HEAD_COLUMNS, row[1:], is_latest=True)


def current_in(conn: Connection, store_id: str, key: str) -> ObjectVersion | None:
    row = _HEAD.first(conn, store_id=store_id, key=key)
    return None if row is None else version_from_tuple(store_id, HEAD_COLUMNS, row,
                                                       is_latest=True)


def _noncurrent(conn: Connection, store_id: str, key: str, *, vseq: str | None = None,
                null: bool = False, newest: bool = False) -> ObjectVersion | None:
    q = select(*_OLD_COLUMNS).where(object_versions.c.store_id == store_id,
                                    object_versions.c.key == key)
    if vseq is not None:
        q = q.where(object_versions.c.vseq == vseq)
    if null:
        q = q.where(object_versions.c.version_id == NULL_VERSION)
    row = conn.execute(q.order_by(object_versions.c.vseq).limit(1)).first()
    return None if row is None else version_from(store_id, row._mapping, is_latest=False)


def find_version(conn: Connection, store_id: str, key: str, version_id: str
                 ) -> ObjectVersion | None:
    """The version of ``key`` with this id (latest or not), or None."""
    current = current_in(conn, store_id, key)
    if current is not None and current.version_id == version_id:
        return current
    if version_id == NULL_VERSION:
        return _noncurrent(conn, store_id, key, null=True)
    return _noncurrent(conn, store_id, key, vseq=version_id)


def _archive(conn: Connection, current: ObjectVersion) -> None:
    """Keep the latest version as a noncurrent one (its usage is unchanged)."""
    conn.execute(insert(object_versions).values(
        store_id=current.store_id, key=current.key, **row_values(current)))


def _drop_noncurrent(conn: Connection, v: ObjectVersion) -> None:
    check_deletable(v, datetime.now(UTC), bypass_governance=False)
    conn.execute(delete(object_versions).where(
        object_versions.c.store_id == v.store_id, object_versions.c.key == v.key,
        object_versions.c.vseq == v.vseq))
    charge(conn, v.store_id, -v.size, -_counted(v))
    doom(conn, v.blob_ids())


def install(conn: Connection, store: ObjectStore, new: ObjectVersion,
            if_match: str | None = None, if_none_match: str | None = None,
            *, charged: int = 0) -> tuple[ObjectVersion, bool]:
    """Make ``new`` (a version without id yet) the latest version of its key under the
    store's versioning rules; ``charged`` bytes of it were already counted (multipart parts).
    Returns the stored version and whether blobs were queued for the GC."""
    got = group_commit.looked_ahead(conn, (store.id, new.key))
    later = None
    if got is None:
        state, current = locked_state_and_current(conn, store.id, new.key)
    else:  # this batch read it: the row's write can go with the batch's others
        state, current = got
        later = group_commit.written(conn, "heads", _HeadWrites)
    live = current if current is not None and not current.delete_marker else None
    check_preconditions(live, if_match, if_none_match)
    vseq = next_vseq(current.vseq if current is not None else None)
    version = replace(new, vseq=vseq, version_id=vseq if state == ENABLED else NULL_VERSION,
                      is_latest=True)
    grow = new.size - charged
    doomed = False
    if current is None:
        charge(conn, store.id, grow, _counted(version))
        if later is not None:
            later.inserts.append({"store_id": store.id, "key": new.key, **row_values(version)})
        else:
            _INSERT.execute(conn, store_id=store.id, key=new.key, **row_values(version))
        note(conn, CREATED, version)
        return version, False
    if state is None or current.version_id == NULL_VERSION and state == SUSPENDED:
        # The latest version is replaced in place (unversioned, or the null version of a
        # suspended store).
        check_deletable(current, datetime.now(UTC), bypass_governance=False)
        charge(conn, store.id, grow - current.size, _counted(version) - _counted(current))
        doom(conn, current.blob_ids())
        doomed = bool(current.blob_ids())
    else:
        _archive(conn, current)
        if state == SUSPENDED:
            old_null = _noncurrent(conn, store.id, new.key, null=True)
            if old_null is not None:
                _drop_noncurrent(conn, old_null)
                doomed = doomed or bool(old_null.blob_ids())
        charge(conn, store.id, grow, _counted(version))
    if later is not None:
        later.replaces.append({"w_store_id": store.id, "w_key": new.key,
                               **row_values(version)})
    else:
        _REPLACE.execute(conn, w_store_id=store.id, w_key=new.key, **row_values(version))
    note(conn, CREATED, version)
    return version, doomed


def delete_latest(conn: Connection, store: ObjectStore, key: str, now: datetime
                  ) -> tuple[ObjectVersion | None, bool]:
    """DELETE without a version id. Unversioned: the object goes. Versioned: a delete marker
    becomes the latest version (Enabled: a new one; Suspended: the null version, replacing
    any). Returns (the marker, if one was made; whether blobs were queued)."""
    state, current = locked_state_and_current(conn, store.id, key)
    if state is None:
        if current is None:  # nothing to delete: S3 still answers 204 and announces it
            note(conn, REMOVED, ObjectVersion(store_id=store.id, key=key, blob_id="", size=0,
                                              etag="", last_modified=now, content_type=""))
            return None, False
        _DELETE.execute(conn, store_id=store.id, key=key)
        charge(conn, store.id, -current.size, -_counted(current))
        doom(conn, current.blob_ids())
        note(conn, REMOVED, current)
        return None, bool(current.blob_ids())
    vseq = next_vseq(current.vseq if current is not None else None)
    marker = ObjectVersion(
        store_id=store.id, key=key, blob_id="", size=0, etag="", last_modified=now,
        content_type="", version_id=vseq if state == ENABLED else NULL_VERSION, vseq=vseq,
        delete_marker=True)
    doomed = False
    if current is not None:
        if state == SUSPENDED and current.version_id == NULL_VERSION:
            check_deletable(current, now, bypass_governance=False)
            charge(conn, store.id, -current.size, -_counted(current))
            doom(conn, current.blob_ids())
            doomed = bool(current.blob_ids())
        else:
            _archive(conn, current)
        _REPLACE.execute(conn, w_store_id=store.id, w_key=key, **row_values(marker))
    else:
        _INSERT.execute(conn, store_id=store.id, key=key, **row_values(marker))
    if state == SUSPENDED:
        old_null = _noncurrent(conn, store.id, key, null=True)
        if old_null is not None:
            _drop_noncurrent(conn, old_null)
            doomed = doomed or bool(old_null.blob_ids())
    note(conn, MARKER, marker)
    return marker, doomed


def delete_version(conn: Connection, store: ObjectStore, key: str, version_id: str, *,
                   now: datetime | None = None, bypass_governance: bool = False
                   ) -> tuple[ObjectVersion, bool]:
    """DELETE of one version: only that version goes; if it was the latest, the next newest
    becomes the latest. Unknown version -> NoSuchVersion, a locked one -> ObjectLocked;
    nothing changes then."""
    now = now or datetime.now(UTC)
    lock_key(conn, store.id, key)
    current = current_in(conn, store.id, key)
    if current is not None and current.version_id == version_id:
        target = current
        check_deletable(target, now, bypass_governance)
        _DELETE.execute(conn, store_id=store.id, key=key)
        successor = _noncurrent(conn, store.id, key)
        if successor is not None:
            conn.execute(delete(object_versions).where(
                object_versions.c.store_id == store.id, object_versions.c.key == key,
                object_versions.c.vseq == successor.vseq))
            _INSERT.execute(conn, store_id=store.id, key=key, **row_values(successor))
        charge(conn, store.id, -target.size, -_counted(target))
        doom(conn, target.blob_ids())
        note(conn, REMOVED, target)
        return target, bool(target.blob_ids())
    target_old = (_noncurrent(conn, store.id, key, null=True) if version_id == NULL_VERSION
                  else _noncurrent(conn, store.id, key, vseq=version_id))
    if target_old is None:
        raise NoSuchVersion("The specified version does not exist.")
    check_deletable(target_old, now, bypass_governance)
    _drop_noncurrent(conn, target_old)
    note(conn, REMOVED, target_old)
    return target_old, bool(target_old.blob_ids())


Changes = dict[str, Any] | Callable[[ObjectVersion], dict[str, Any]]


def update_version(conn: Connection, store: ObjectStore, key: str, version_id: str | None,
                   changes: Changes) -> ObjectVersion:
    """Change columns of one version in place (no new version, as on S3): tags, ACL,
    retention. ``changes`` may be computed from the version (and refuse it by raising)."""
    lock_key(conn, store.id, key)
    current = current_in(conn, store.id, key)
    if version_id is None:
        if current is None or current.delete_marker:
            raise ObjectNotFound("The specified key does not exist.")
        target = current
    else:
        found = find_version(conn, store.id, key, version_id)
        if found is None:
            raise NoSuchVersion("The specified version does not exist.")
        target = found
    if target.delete_marker:
        raise DeleteMarker(target.version_id, target.last_modified, addressed=True)
    values = changes(target) if callable(changes) else changes
    table = objects if target.is_latest else object_versions
    q = table.update().where(table.c.store_id == store.id, table.c.key == key)
    if not target.is_latest:
        q = q.where(table.c.vseq == target.vseq)
    conn.execute(q.values(**values))
    updated = replace(target, **values)
    note(conn, UPDATED, updated)
    return updated

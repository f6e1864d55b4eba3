"""Objects: metadata commits with exact usage accounting, reads, deletes, tags, ACLs."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Connection,
    Engine,
    Integer,
    bindparam,
    delete,
    insert,
    select,
    text,
)

from ..domain.errors import ObjectNotFound, PreconditionFailed, QuotaExceeded, StoreNotFound
from ..domain.models import GIB, ListedObject, ObjectMeta, ObjectStore
from ..storage.sql.group_commit import DirectWriter, Writer, run_async
from ..storage.sql.prepared import Prepared
from ..storage.sql.tables import credentials, doomed_blobs, objects, objectstores

PRECONDITION_MSG = "At least one of the pre-conditions you specified did not hold"


@dataclass(frozen=True)
class Preconditions:
    if_match: str | None = None        # ETag that must be current ("*" = must exist)
    if_none_match: str | None = None   # "*" = must not exist


@dataclass(frozen=True)
class NewObject:
    key: str
    blob_id: str
    size: int
    etag: str
    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)
    checksum_type: str | None = None
    acl: str = "private"
    parts: list[tuple[str, int]] | None = None
    tags: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # inline bytes of a small object (blob_id "")


# Every column but the inline bytes: what listings and scans read.
META_COLUMNS = [c for c in objects.c if c.name != "data"]


def object_from_row(store_id: str, row: Any) -> ObjectMeta:
    """An ObjectMeta from a row of ``select(objects)`` (all columns, in table order) or of
    ``select(*META_COLUMNS)`` (the same without the inline bytes)."""
    (_sid, key, blob_id, size, etag, last_modified, content_type, headers, user_meta,
     checksums, checksum_type, acl, parts, tags, *rest) = row
    data = rest[0] if rest else None
    return ObjectMeta(
        data=bytes(data) if data is not None else None,
        store_id=store_id, key=key, blob_id=blob_id, size=int(size), etag=etag,
        last_modified=_aware(last_modified), content_type=content_type,
        headers=dict(headers or {}), user_meta=dict(user_meta or {}),
        checksums=dict(checksums or {}), checksum_type=checksum_type, acl=acl,
        parts=tuple((p[0], int(p[1])) for p in parts) if parts else None,
        tags=dict(tags or {}),
    )


# The statements every PUT, GET and DELETE runs, compiled once (see storage/sql/prepared.py).
_HEAD = Prepared(select(objects).where(objects.c.store_id == bindparam("store_id"),
                                       objects.c.key == bindparam("key")))
_CHARGE_STORE = Prepared(
    objectstores.update().where(objectstores.c.id == bindparam("sid")).values(
        used_bytes=objectstores.c.used_bytes + bindparam("delta", type_=BigInteger),
        object_count=objectstores.c.object_count + bindparam("count", type_=BigInteger)))
_CHARGE_STORE_LIMITED = Prepared(
    objectstores.update().where(
        objectstores.c.id == bindparam("sid"),
        objectstores.c.used_bytes + bindparam("delta", type_=BigInteger)
        <= objectstores.c.max_size_gb * GIB).values(
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
           <= credentials.c.max_size_gb * GIB)).values(
        used_bytes=credentials.c.used_bytes + bindparam("delta", type_=BigInteger)))
_ROW_COLUMNS = ("blob_id", "size", "etag", "last_modified", "content_type", "headers",
                "user_meta", "checksums", "checksum_type", "acl", "parts", "tags", "data")
_INSERT = Prepared(objects.insert().values(
    store_id=bindparam("store_id"), key=bindparam("key"),
    **{c: bindparam(c, type_=objects.c[c].type) for c in _ROW_COLUMNS}))
_REPLACE = Prepared(objects.update().where(
    objects.c.store_id == bindparam("w_store_id"), objects.c.key == bindparam("w_key")).values(
    **{c: bindparam(c, type_=objects.c[c].type) for c in _ROW_COLUMNS}))
_DELETE = Prepared(delete(objects).where(objects.c.store_id == bindparam("store_id"),
                                         objects.c.key == bindparam("key")))
# Listings need only these: a narrower row is decoded faster (a page is 1,000 rows).
_SCAN = select(objects.c.key, objects.c.size, objects.c.etag, objects.c.last_modified,
               objects.c.checksums).where(objects.c.store_id == bindparam("sid"))
_LIMIT = bindparam("lim", type_=Integer)
_SCAN_AFTER = Prepared(_SCAN.where(objects.c.key > bindparam("key"))
                       .order_by(objects.c.key).limit(_LIMIT))
_SCAN_FROM = Prepared(_SCAN.where(objects.c.key >= bindparam("key"))
                      .order_by(objects.c.key).limit(_LIMIT))
_SCAN_ALL = Prepared(_SCAN.order_by(objects.c.key).limit(_LIMIT))
_DOOM = Prepared(insert(doomed_blobs).values(blob_id=bindparam("blob_id"),
                                             queued_at=bindparam("queued_at")))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def blob_ids_of(meta: ObjectMeta) -> list[str]:
    """The blob files holding an object's bytes (none for an inline object)."""
    return [p[0] for p in meta.parts] if meta.parts else [b for b in (meta.blob_id,) if b]


def check_preconditions(current: ObjectMeta | None, pre: Preconditions) -> None:
    if (pre.if_none_match is not None and current is not None
            and (pre.if_none_match.strip() == "*" or _etag_in(current.etag, pre.if_none_match))):
        raise PreconditionFailed(PRECONDITION_MSG)
    if pre.if_match is not None:
        if current is None:
            raise ObjectNotFound("The specified key does not exist.")
        if pre.if_match.strip() != "*" and not _etag_in(current.etag, pre.if_match):
            raise PreconditionFailed(PRECONDITION_MSG)


def _etag_in(etag: str, header: str) -> bool:
    wanted = {t.strip().removeprefix("W/").strip('"') for t in header.split(",")}
    return etag.strip('"') in wanted


def charge(conn: Connection, store: ObjectStore, delta_bytes: int, delta_count: int) -> None:
    """Apply a usage change to a store and its owner, refusing it past either limit.

    One conditional UPDATE per row (no process lock): safe with several gateway processes.
    """
    growing = delta_bytes > 0
    changed = (_CHARGE_STORE_LIMITED if growing else _CHARGE_STORE).execute(
        conn, sid=store.id, delta=delta_bytes, count=delta_count)
    if changed != 1:
        if _STORE_EXISTS.first(conn, sid=store.id) is None:
            raise StoreNotFound("The specified bucket does not exist")
        raise QuotaExceeded("The object store's size limit would be exceeded by this write")
    changed = (_CHARGE_CRED_LIMITED if growing else _CHARGE_CRED).execute(
        conn, sid=store.id, delta=delta_bytes)
    if changed != 1:
        raise QuotaExceeded("The credential's size limit would be exceeded by this write")


def lock_key(conn: Connection, store_id: str, key: str) -> None:
    """Serialise writers of one key until this transaction ends. SQLite has one writer at a
    time already; PostgreSQL gets a transaction-scoped advisory lock on the key's hash, so the
    read of the current version and the write that replaces it cannot interleave."""
    if conn.dialect.name == "postgresql":
        conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:k, 0))"),
                     {"k": f"{store_id}\x1f{key}"})


def doom(conn: Connection, blob_ids: list[str]) -> None:
    now = datetime.now(UTC)
    for blob_id in blob_ids:
        _DOOM.execute(conn, blob_id=blob_id, queued_at=now)


class ObjectService:
    def __init__(self, engine: Engine, writer: Writer | None = None) -> None:
        self.engine = engine
        self.writer: Writer = writer or DirectWriter(engine)
        self.gc_wakeup = threading.Event()

    def wake_gc(self) -> None:
        self.gc_wakeup.set()

    # -- reads ----------------------------------------------------------------------------------
    def head(self, store_id: str, key: str) -> ObjectMeta:
        row = _HEAD.first_on(self.engine, store_id=store_id, key=key)
        if row is None:
            raise ObjectNotFound("The specified key does not exist.")
        return object_from_row(store_id, row)

    def head_in(self, conn: Connection, store_id: str, key: str) -> ObjectMeta | None:
        row = _HEAD.first(conn, store_id=store_id, key=key)
        return object_from_row(store_id, row) if row is not None else None

    def ensure_room(self, store_id: str, length: int, key: str | None = None) -> None:
        """Early refusal when the size is known before the body is read, on fresh usage
        figures; ``key``: an overwrite only adds the difference. (No lock is needed: the
        commit re-checks in SQL.)"""
        with self.engine.connect() as conn:
            row = conn.execute(
                select(objectstores.c.used_bytes, objectstores.c.max_size_gb,
                       credentials.c.used_bytes, credentials.c.max_size_gb)
                .select_from(objectstores.join(
                    credentials, credentials.c.id == objectstores.c.credential_id))
                .where(objectstores.c.id == store_id)).first()
            if row is None:
                raise StoreNotFound("The specified bucket does not exist")
            current = self.head_in(conn, store_id, key) if key is not None else None
        used, max_gb, cred_used, cred_max_gb = row
        delta = length - (current.size if current else 0)
        if delta <= 0:
            return
        if used + delta > max_gb * GIB:
            raise QuotaExceeded("The object store's size limit would be exceeded by this write")
        if cred_max_gb is not None and cred_used + delta > cred_max_gb * GIB:
            raise QuotaExceeded("The credential's size limit would be exceeded by this write")

    # -- writes ---------------------------------------------------------------------------------
    def _commit_work(self, store: ObjectStore, new: NewObject, pre: Preconditions | None
                     ) -> Callable[[Connection], tuple[ObjectMeta, bool]]:
        now = datetime.now(UTC)

        def work(conn: Connection) -> tuple[ObjectMeta, bool]:
            lock_key(conn, store.id, new.key)
            current = self.head_in(conn, store.id, new.key)
            if pre is not None:
                check_preconditions(current, pre)
            charge(conn, store, new.size - (current.size if current else 0),
                   0 if current else 1)
            return self.write_row(conn, store, new, current, now), current is not None

        return work

    def commit(self, store: ObjectStore, new: NewObject, pre: Preconditions | None = None
               ) -> ObjectMeta:
        """Make an object visible atomically; the previous version's bytes are queued for GC."""
        meta, replaced = self.writer.run(self._commit_work(store, new, pre))
        if replaced:  # the old version's bytes were queued: let the collector unlink them
            self.wake_gc()
        return meta

    async def commit_async(self, store: ObjectStore, new: NewObject,
                           pre: Preconditions | None = None,
                           on_failure: Callable[[], None] | None = None) -> ObjectMeta:
        """``commit`` from the event loop (no worker thread waits for the group commit);
        ``on_failure`` runs if the object did not become visible."""
        meta, replaced = await run_async(self.writer, self._commit_work(store, new, pre),
                                         on_failure)
        if replaced:
            self.wake_gc()
        return meta

    def write_row(self, conn: Connection, store: ObjectStore, new: NewObject,
                  current: ObjectMeta | None, now: datetime) -> ObjectMeta:
        """Insert or replace the object row (usage is the caller's business)."""
        values = dict(
            blob_id=new.blob_id, size=new.size, etag=new.etag, last_modified=now,
            content_type=new.content_type, headers=new.headers, user_meta=new.user_meta,
            checksums=new.checksums, checksum_type=new.checksum_type, acl=new.acl,
            parts=[list(p) for p in new.parts] if new.parts else None, tags=new.tags,
            data=new.data,
        )
        if current is None:
            _INSERT.execute(conn, store_id=store.id, key=new.key, **values)
        else:
            _REPLACE.execute(conn, w_store_id=store.id, w_key=new.key, **values)
            keep = set(blob_ids_of_new(new))
            doom(conn, [b for b in blob_ids_of(current) if b not in keep])
        return ObjectMeta(
            store.id, new.key, new.blob_id, new.size, new.etag, now, new.content_type,
            new.headers, new.user_meta, new.checksums, new.checksum_type, new.acl,
            tuple(new.parts) if new.parts else None, new.tags, new.data,
        )

    def update_meta(self, store: ObjectStore, key: str, **changes: Any) -> ObjectMeta:
        def work(conn: Connection) -> ObjectMeta:
            lock_key(conn, store.id, key)
            current = self.head_in(conn, store.id, key)
            if current is None:
                raise ObjectNotFound("The specified key does not exist.")
            conn.execute(objects.update().where(
                objects.c.store_id == store.id, objects.c.key == key).values(**changes))
            return replace(current, **changes)

        return self.writer.run(work)

    def delete(self, store: ObjectStore, key: str) -> bool:
        def work(conn: Connection) -> bool:
            lock_key(conn, store.id, key)
            current = self.head_in(conn, store.id, key)
            if current is None:
                return False
            _DELETE.execute(conn, store_id=store.id, key=key)
            charge(conn, store, -current.size, -1)
            doom(conn, blob_ids_of(current))
            return True

        deleted = self.writer.run(work)
        if deleted:
            self.wake_gc()
        return deleted

    # -- listing --------------------------------------------------------------------------------
    def scan(self, store_id: str, after: str | None, prefix: str, limit: int
             ) -> list[ListedObject]:
        """Objects with key > after (or >= prefix), in key (UTF-8 byte) order: what a
        listing shows of them."""
        if after is not None and after >= prefix:
            rows = _SCAN_AFTER.all_on(self.engine, sid=store_id, key=after, lim=limit)
        elif prefix:
            rows = _SCAN_FROM.all_on(self.engine, sid=store_id, key=prefix, lim=limit)
        else:
            rows = _SCAN_ALL.all_on(self.engine, sid=store_id, lim=limit)
        return [ListedObject(key, int(size), etag, _aware(modified), checksums or {})
                for key, size, etag, modified, checksums in rows]


def blob_ids_of_new(new: NewObject) -> list[str]:
    return [p[0] for p in new.parts] if new.parts else [b for b in (new.blob_id,) if b]

"""The object engine: every object operation (put, read, head, copy, delete, metadata,
versioning, listings) with its blob handling, checksum verification, durability, usage and
thread hops. The planes call it with request values and render what it returns."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypeVar

from anyio.to_thread import run_sync
from sqlalchemy import (
    Connection,
    Engine,
    select,
)

from ...domain.errors import (
    DeleteMarker,
    InvalidVersion,
    LockNotEnabled,
    NoSuchVersion,
    ObjectNotFound,
    QuotaExceeded,
    StoreNotFound,
)
from ...domain.models import GB, Credential, ObjectStore, ObjectVersion
from ...domain.object_lock import LockConfig, Retention, check_retention_change, retention_for
from ...storage.blobs import BlobStore
from ...storage.sql import async_reads
from ...storage.sql.group_commit import DirectWriter, Writer, run_async
from ...storage.sql.tables import credentials, objectstores
from ..bucket_configs import BucketConfigService
from ..events.notifications import Notifications
from ..events.outbox import recorded_work
from . import metadata as md
from . import scans, sealed_objects
from .blocks import BLOCK, BlockSums, DamagedBlock
from .integrity import Digest, copied_checksums, full_object_digest
from .listing import Listing, VersionListing
from .opening import OpenVersion
from .rows import HeadDecoder, head_decoder
from .spool import Replay, spool_body
from .sse import Sealing, SseCodec
from .transfer import (
    Payload,
    copy_into_blob,
    open_segments,
    read_all,
    receive_blob,
    receive_inline,
    stream_segments,
)
from .values import (
    SMALL_BODY,
    Attributes,
    Conditions,
    DamagedObject,
    Deleted,
    ObjectBody,
    ReadPlan,
)
from .vseq import is_valid_version_id

T = TypeVar("T")
log = logging.getLogger("objectstore.engine")
LOOP_READ_MAX = 64 * 1024  # with inline reads, bodies up to this are read on the event loop
VERIFY_MODES = ("all", "crc", "off")


def _same_access(a: ObjectVersion, b: ObjectVersion) -> bool:
    """Whether an authorization decision made on ``a`` holds for ``b`` (what it reads of an
    object: its ACL, grants, owner and tags)."""
    def seen(v: ObjectVersion) -> tuple[Any, ...]:
        return v.acl, v.grants, getattr(v, "owner", None), v.tags

    return seen(a) == seen(b)


def _latest(decoder: HeadDecoder, store_id: str, row: tuple[Any, ...] | None) -> ObjectVersion:
    """The latest version from its raw ``md._HEAD`` row: ObjectNotFound, or DeleteMarker
    when it is one."""
    if row is None:
        raise ObjectNotFound("The specified key does not exist.")
    found = decoder.decode(store_id, row)
    if found.delete_marker:
        raise DeleteMarker(found.version_id, found.last_modified, addressed=False)
    return found


class ObjectEngine:
    sse: SseCodec = SseCodec()  # encryption at rest; app.py gives it the key service

    def __init__(self, engine: Engine, blobs: BlobStore, writer: Writer | None = None, *,
                 inline_max_bytes: int = 64 * 1024, verify_reads: str = "all",
                 configs: BucketConfigService | None = None) -> None:
        if verify_reads not in VERIFY_MODES:
            raise ValueError(f"verify_reads must be one of {VERIFY_MODES}")
        self.engine = engine
        self.blobs = blobs
        self.writer: Writer = writer or DirectWriter(engine)
        self.inline_max_bytes = inline_max_bytes
        self.verify_reads = verify_reads
        self.configs = configs or BucketConfigService(engine)
        # bucket event notifications: the outbox rows a write records (services/events)
        self.events = Notifications(self.configs)
        self.gc_wakeup = threading.Event()
        # Embedded SQLite: a point read is a ~30 µs in-process B-tree lookup that never waits
        # for a writer (WAL), cheaper than a hop to a worker thread and back.
        self.inline_reads = engine.dialect.name == "sqlite"
        # PostgreSQL: the latest-version lookup of a GET/HEAD runs on the event loop
        self.async_reads = async_reads.for_engine(engine)
        self.head_decoder = head_decoder(engine.dialect)  # the point read's rows, unprocessed

    def wake_gc(self) -> None:
        self.gc_wakeup.set()

    async def _hop(self, fn: Callable[..., T], *args: Any) -> T:
        return await run_sync(fn, *args)

    async def read_hop(self, fn: Callable[..., T], *args: Any) -> T:
        return fn(*args) if self.inline_reads else await run_sync(fn, *args)

    async def _commit(self, work: Callable[[Connection], tuple[T, bool]],
                      on_failure: Callable[[], None] | None = None, *,
                      store: ObjectStore | None = None, cause: str | None = None,
                      ahead: str | None = None) -> T:
        """Run a write through the committer; with ``store`` and ``cause`` (what the write
        is, for its event name: Put, Copy, Delete, ...) the changes it makes are recorded
        in the outbox in its transaction, for the store's notification targets. ``ahead``:
        the key of ``store`` whose lock, versioning state and latest version the work starts
        with (``md.locked_state_and_current``), read by its commit batch up front."""
        rec = await self.events.recording(store, cause) if store is not None else None
        if rec is not None:
            work = recorded_work(work, rec)
        result, doomed = await run_async(
            self.writer, work, on_failure,
            ahead=md.ahead(store.id, ahead) if store is not None and ahead is not None
            else None)
        self.events.recorded(rec)
        if doomed:
            self.wake_gc()
        return result

    # -- reads ----------------------------------------------------------------------------------
    def head_sync(self, store_id: str, key: str, version_id: str | None = None
                  ) -> ObjectVersion:
        """The latest version (or the one named): ObjectNotFound, NoSuchVersion, or
        DeleteMarker when it is one."""
        if version_id is None:
            return _latest(self.head_decoder, store_id,
                           md._HEAD.raw_first_on(self.engine, store_id=store_id, key=key))
        if not is_valid_version_id(version_id):
            raise InvalidVersion("Invalid version id specified")
        with self.engine.connect() as conn:
            found = md.find_version(conn, store_id, key, version_id)
        if found is None:
            raise NoSuchVersion("The specified version does not exist.")
        if found.delete_marker:
            raise DeleteMarker(found.version_id, found.last_modified, addressed=True)
        return found

    async def head(self, store: ObjectStore, key: str, version_id: str | None = None
                   ) -> ObjectVersion:
        if version_id is None and self.async_reads is not None:  # PostgreSQL: no thread hop
            return _latest(self.head_decoder, store.id, await self.async_reads.raw_first(
                md._HEAD, store_id=store.id, key=key))
        return await self.read_hop(self.head_sync, store.id, key, version_id)

    def _digest(self, version: ObjectVersion, whole: bool) -> Digest | None:
        if not whole or self.verify_reads == "off":
            return None
        return full_object_digest(version, allow_md5=self.verify_reads != "crc")

    def _read_small(self, version: ObjectVersion, start: int, end: int, whole: bool) -> bytes:
        if version.data is not None:
            # inline bytes (at most 64 KiB, in memory): a ranged read is checked against the
            # whole object's checksum too, so no read of them is unverified
            digest = self._digest(version, True)
            body = version.data[start:end + 1]
            if digest is not None:
                digest.update(version.data)
        else:
            digest = self._digest(version, whole)
            try:
                body = read_all(open_segments(self.blobs, version, start, end,
                                              self.verify_reads != "off"), digest)
            except DamagedBlock as exc:
                raise DamagedObject("The stored object is damaged (a block does not match its "
                                    "checksum); it cannot be served.") from exc
        if digest is not None and not digest.matches():
            raise DamagedObject("The stored object is damaged (checksum mismatch); it cannot "
                                "be served.")
        return body

    def _open_stream(self, version: ObjectVersion, start: int, end: int, whole: bool
                     ) -> ObjectBody:
        length = end - start + 1
        if length <= SMALL_BODY:
            return ObjectBody(length, data=self._read_small(version, start, end, whole))
        opened = open_segments(self.blobs, version, start, end, self.verify_reads != "off")
        return ObjectBody(length, stream=stream_segments(opened, self._digest(version, whole)))

    async def read(self, version: ObjectVersion, start: int, end: int,
                   customer_key: bytes | None = None) -> ObjectBody:
        """Bytes [start, end] of a version; a whole-object read is verified against the
        version's cheapest checksum (the last chunk is held back until the verdict);
        an encrypted one by its segments' tags (``customer_key``: SSE-C)."""
        if version.sse:
            return await sealed_objects.read(self, version, start, end, customer_key)
        length = max(0, end - start + 1)
        if length == 0:
            return ObjectBody(0)
        whole = start == 0 and end == version.size - 1
        # on the loop: small reads (of a block-checked blob, those within one block: it is
        # read whole, ~0.1-0.2 ms, less than a hop to a worker thread and back)
        if version.data is not None or (self.inline_reads and length <= LOOP_READ_MAX
                                         and (version.blocks is None
                                              or start // BLOCK == end // BLOCK)):
            return ObjectBody(length, data=self._read_small(version, start, end, whole))
        return await run_sync(self._open_stream, version, start, end, whole)

    # -- resolve and open as one step (services/engine/opening.py) -------------------------------
    async def get(self, store: ObjectStore, key: str, version_id: str | None,
                  plan: Callable[[ObjectVersion], ReadPlan | None], *,
                  known: ObjectVersion | None = None) -> tuple[ObjectVersion, ObjectBody | None]:
        """A GET: resolve the version (latest, or the one named; ``known``: already read),
        let ``plan`` decide on it (conditions, range, SSE-C key: it may raise, or answer None
        when no bytes are to be read) and open its bytes, as one step. If the bytes are gone
        when opened (the version was replaced and collected meanwhile), the row is read once
        more and planned again: the reader gets the version that replaced it (or the answer
        for a deleted key). A ``known`` version (authorization read it) is replaced only by
        one its decision also holds for."""
        version = known if known is not None else await self.head(store, key, version_id)
        for attempt in (1, 2):
            p = plan(version)
            if p is None:
                return version, None
            try:
                return version, await self.read(version, p.start, p.end, p.customer_key)
            except FileNotFoundError:
                if attempt == 2:
                    raise
                fresh = await self.head(store, key, version_id)
                if OpenVersion(version, self.blobs).same_bytes(fresh) or (
                        known is not None and not _same_access(known, fresh)):
                    raise
                log.info("bytes of %s/%s moved while it was read; read again", store.id, key)
                version = fresh
        raise AssertionError("unreachable")

    async def open(self, store: ObjectStore, key: str, version_id: str | None = None
                   ) -> OpenVersion:
        """The version (latest, or the one named) with its bytes open, for a copy: they
        stay readable until ``close`` whatever happens to the key meanwhile. If they are
        gone when opened, the row is read once more (the version that replaced it, or the
        key's absence)."""
        opened = OpenVersion(await self.head(store, key, version_id), self.blobs)
        if opened.version.data is not None or not opened.version.blob_ids():
            return opened
        try:
            await run_sync(opened.pin)
            return opened
        except FileNotFoundError:
            opened.close()
            fresh = await self.head(store, key, version_id)
            if opened.same_bytes(fresh):
                raise
            log.info("bytes of %s/%s moved while it was opened; open again", store.id, key)
        opened = OpenVersion(fresh, self.blobs)
        try:
            await run_sync(opened.pin)
        except BaseException:
            opened.close()
            raise
        return opened

    # -- usage ----------------------------------------------------------------------------------
    def _room_sync(self, store_id: str, length: int, key: str | None) -> None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(objectstores.c.used_bytes, objectstores.c.max_size_gb,
                       credentials.c.used_bytes, credentials.c.max_size_gb,
                       objectstores.c.versioning)
                .select_from(objectstores.join(
                    credentials, credentials.c.id == objectstores.c.credential_id))
                .where(objectstores.c.id == store_id)).first()
            if row is None:
                raise StoreNotFound("The specified bucket does not exist")
            used, max_gb, cred_used, cred_max_gb, versioning = row
            current = md.current_in(conn, store_id, key) \
                if key is not None and versioning is None else None
        delta = length - (current.size if current else 0)
        if delta <= 0:
            return
        if used + delta > max_gb * GB:
            raise QuotaExceeded("The object store's size limit would be exceeded by this write")
        if cred_max_gb is not None and cred_used + delta > cred_max_gb * GB:
            raise QuotaExceeded("The credential's size limit would be exceeded by this write")

    async def ensure_room(self, store: ObjectStore, owner: Credential | None, length: int,
                          key: str | None = None) -> None:
        """Refuse a write whose declared size does not fit, before its body is read (the
        commit re-checks exactly, in SQL). The cached figures may be a second old, so they
        settle it only with a wide margin; otherwise usage is read fresh (with, for an
        overwrite of ``key`` in an unversioned store, the size it replaces)."""
        cap = owner.max_size_gb * GB if owner is not None and owner.max_size_gb else None
        if owner is not None and store.used_bytes + length <= store.max_size_gb * GB // 2 and (
                cap is None or owner.used_bytes + length <= cap // 2):
            return
        await run_sync(self._room_sync, store.id, length, key)

    # -- writes ---------------------------------------------------------------------------------
    async def install(self, store: ObjectStore, new: ObjectVersion, cond: Conditions | None,
                      blob_id: str, cause: str) -> ObjectVersion:
        """Commit ``new`` (its bytes already durable: inline, or the blob ``blob_id``) as its
        key's latest version, under ``cond``; announced as ObjectCreated:<cause>. A refused
        commit deletes the blob."""
        def work(conn: Connection) -> tuple[ObjectVersion, bool]:
            return md.install(conn, store, new, cond.if_match if cond else None,
                              cond.if_none_match if cond else None)

        on_failure = (lambda: self.blobs.delete(blob_id)) if blob_id else None
        return await self._commit(work, on_failure, store=store, cause=cause, ahead=new.key)

    async def put(self, store: ObjectStore, key: str, attrs: Attributes, payload: Payload,
                  length: int, cond: Conditions | None = None, *, event: str = "Put",
                  exact: bool = True) -> ObjectVersion:
        """Receive a body and make it the key's latest version; acknowledged (returned) only
        once its bytes and its row are durable. ``event``: ObjectCreated:<event> (Put, Post).
        ``exact=False``: ``length`` is only an upper bound (a POST form's file); an encrypted
        object's bytes are then spooled first (``spool.py``)."""
        attrs = await self.with_lock_defaults(store, attrs)
        if attrs.encryption is not None and not exact:
            spooled = await spool_body(payload, self.blobs)
            try:
                return await sealed_objects.put(self, store, key, attrs, Replay(payload, spooled),
                                             spooled.size, cond, event)
            finally:
                await run_sync(spooled.discard)
        if attrs.encryption is not None:
            return await sealed_objects.put(self, store, key, attrs, payload, length, cond,
                                           event)
        data: bytes | None = None
        blob_id = ""
        sums = None
        if length <= self.inline_max_bytes:
            data = await receive_inline(payload, length)  # bytes go into the row
        else:
            sums = BlockSums()
            blob_id = await receive_blob(payload, self.blobs, length, sums=sums)
        checksums = payload.checksums
        new = self.new_version(store, key, attrs, blob_id=blob_id, size=payload.size,
                                etag=payload.md5_hex, checksums=checksums,
                                data=data,
                                blocks=sums.packed() if sums is not None else None)
        return await self.install(store, new, cond, blob_id, event)

    @staticmethod
    def new_version(store: ObjectStore, key: str, attrs: Attributes, *,
                    checksums: dict[str, str] | None = None, **fields: Any) -> ObjectVersion:
        """A new single-part version: its ``checksums`` (if any) describe the whole object."""
        return ObjectVersion(
            checksums=checksums or {}, checksum_type="FULL_OBJECT" if checksums else None,
            store_id=store.id, key=key, last_modified=datetime.now(UTC),
            content_type=attrs.content_type, headers=attrs.headers,
            user_meta=attrs.user_meta, acl=attrs.acl, grants=attrs.grants, tags=attrs.tags,
            lock_mode=attrs.lock_mode, lock_until=attrs.lock_until,
            legal_hold=attrs.legal_hold, owner=attrs.owner,
            storage_class=attrs.storage_class, **fields)

    # -- object lock ----------------------------------------------------------------------------
    async def lock_config(self, store: ObjectStore) -> LockConfig | None:
        return LockConfig.from_json(await self.configs.get_async(store.id, "object-lock"))

    async def with_lock_defaults(self, store: ObjectStore, attrs: Attributes) -> Attributes:
        """The retention a new version gets (domain/object_lock.retention_for)."""
        mode, until = retention_for(await self.lock_config(store), attrs.lock_mode,
                                    attrs.lock_until, attrs.legal_hold, datetime.now(UTC))
        return attrs if (mode, until) == (attrs.lock_mode, attrs.lock_until) \
            else replace(attrs, lock_mode=mode, lock_until=until)

    async def set_retention(self, store: ObjectStore, key: str, version_id: str | None,
                            retention: Retention, bypass_governance: bool) -> ObjectVersion:
        if await self.lock_config(store) is None:
            raise LockNotEnabled("Bucket is missing Object Lock Configuration")
        now = datetime.now(UTC)

        def check(v: ObjectVersion) -> dict[str, Any]:
            check_retention_change(v, retention, now, bypass_governance)
            return {"lock_mode": retention.mode, "lock_until": retention.until}

        return await self._commit(self._update_work(store, key, version_id, check))

    async def set_legal_hold(self, store: ObjectStore, key: str, version_id: str | None,
                             on: bool) -> ObjectVersion:
        if await self.lock_config(store) is None:
            raise LockNotEnabled("Bucket is missing Object Lock Configuration")
        return await self._commit(self._update_work(store, key, version_id,
                                                    {"legal_hold": on}))

    def source_of(self, source: ObjectVersion | OpenVersion
                  ) -> tuple[ObjectVersion, BlobStore]:
        """A copy source's version and where its bytes are read from (an ``OpenVersion``:
        its open readers)."""
        if isinstance(source, OpenVersion):
            return source.version, source
        return source, self.blobs

    async def copy(self, store: ObjectStore, key: str, opened: ObjectVersion | OpenVersion,
                   attrs: Attributes, cond: Conditions | None = None,
                   source_key: bytes | None = None) -> ObjectVersion:
        """A server-side copy of ``opened`` (best an ``OpenVersion``: ``open``) as the key's
        latest version (a full-object checksum still describes the copied bytes; a
        composite one does not)."""
        source, blobs = self.source_of(opened)
        attrs = await self.with_lock_defaults(store, attrs)
        if source.sse or attrs.encryption is not None or source_key is not None:
            return await sealed_objects.copy(self, store, key, source, attrs, cond, source_key,
                                            blobs)
        if source.store_id == store.id and source.key == key and source.is_latest:
            updated = await self._copy_in_place(store, key, source, attrs)
            if updated is not None:
                return updated
        checksums = copied_checksums(source)
        sums = None
        if source.data is not None and source.size <= self.inline_max_bytes:
            blob_id, size, md5, data = "", source.size, source.etag, source.data
        else:
            data, sums = None, BlockSums()
            try:
                blob_id, size, md5 = await run_sync(copy_into_blob, blobs, source, 0,
                                                    source.size - 1, None, sums)
            except DamagedBlock as exc:
                raise DamagedObject("The source object is damaged (a block does not match "
                                    "its checksum); it cannot be copied.") from exc
        new = self.new_version(store, key, attrs, blob_id=blob_id, size=size, etag=md5,
                                checksums=checksums,
                                data=data,
                                blocks=sums.packed() if sums is not None else None)
        return await self.install(store, new, cond, blob_id, "Copy")

    async def _copy_in_place(self, store: ObjectStore, key: str, source: ObjectVersion,
                             attrs: Attributes) -> ObjectVersion | None:
        """A copy of the latest version onto itself in an unversioned store changes its
        metadata in place (no bytes are copied); None when the store is versioned (the copy
        is then a new version)."""
        changes = {"content_type": attrs.content_type, "headers": attrs.headers,
                   "user_meta": attrs.user_meta, "tags": attrs.tags, "acl": attrs.acl,
                   "grants": attrs.grants, "owner": attrs.owner,
                   "storage_class": attrs.storage_class, "last_modified": datetime.now(UTC)}

        def work(conn: Connection) -> tuple[ObjectVersion | None, bool]:
            state, current = md.state_and_current(conn, store.id, key)
            if state is not None:
                return None, False
            if current is None or current.vseq != source.vseq:
                return None, False  # replaced meanwhile: copy the source's bytes
            return md.update_version(conn, store, key, None, changes), False

        return await self._commit(work, store=store, cause="Copy")

    async def delete(self, store: ObjectStore, key: str, version_id: str | None = None,
                     *, bypass_governance: bool = False) -> Deleted:
        """DELETE: without a version id, the object (unversioned) or a new delete marker
        (versioned); with one, exactly that version (NoSuchVersion if unknown)."""
        if version_id is not None and not is_valid_version_id(version_id):
            raise InvalidVersion("Invalid version id specified")
        now = datetime.now(UTC)

        def work(conn: Connection) -> tuple[Deleted, bool]:
            if version_id is None:
                marker, doomed = md.delete_latest(conn, store, key, now)
                if marker is None:
                    return Deleted(), doomed
                return Deleted(marker.version_id, True), doomed
            gone, doomed = md.delete_version(conn, store, key, version_id,
                                             now=now, bypass_governance=bypass_governance)
            return Deleted(gone.version_id, gone.delete_marker), doomed

        return await self._commit(work, store=store, cause="Delete",
                                  ahead=key if version_id is None else None)

    def _update_work(self, store: ObjectStore, key: str, version_id: str | None,
                     changes: md.Changes
                     ) -> Callable[[Connection], tuple[ObjectVersion, bool]]:
        if version_id is not None and not is_valid_version_id(version_id):
            raise InvalidVersion("Invalid version id specified")

        def work(conn: Connection) -> tuple[ObjectVersion, bool]:
            return md.update_version(conn, store, key, version_id, changes), False

        return work

    async def update(self, store: ObjectStore, key: str, version_id: str | None,
                     **changes: Any) -> ObjectVersion:
        """Change a version's tags or ACL in place (announced as ObjectTagging:Put or
        :Delete, ObjectAcl:Put)."""
        cause = None
        if "tags" in changes:
            cause = "ObjectTagging:Put" if changes["tags"] else "ObjectTagging:Delete"
        elif "acl" in changes or "grants" in changes:
            cause = "ObjectAcl:Put"
        return await self._commit(self._update_work(store, key, version_id, changes),
                                  store=store, cause=cause)

    def update_sync(self, store: ObjectStore, key: str, version_id: str | None = None,
                    **changes: Any) -> ObjectVersion:
        """``update`` for callers outside the event loop (admin tools)."""
        return self.writer.run(self._update_work(store, key, version_id, changes))[0]

    # -- listings (services/engine/scans.py) --------------------------------------------------
    def list_objects_sync(self, store_id: str, prefix: str, delimiter: str,
                          after: str | None, max_keys: int) -> Listing:
        return scans.list_objects(self.engine, store_id, prefix, delimiter, after, max_keys)

    async def list_objects(self, store: ObjectStore, prefix: str, delimiter: str,
                           after: str | None, max_keys: int) -> Listing:
        return await run_sync(self.list_objects_sync, store.id, prefix, delimiter, after,
                              max_keys)

    def list_versions_sync(self, store_id: str, prefix: str, delimiter: str,
                           key_marker: str, version_id_marker: str, max_keys: int
                           ) -> VersionListing:
        return scans.list_object_versions(self.engine, store_id, prefix, delimiter,
                                          key_marker, version_id_marker, max_keys)

    async def list_versions(self, store: ObjectStore, prefix: str, delimiter: str,
                            key_marker: str, version_id_marker: str, max_keys: int
                            ) -> VersionListing:
        return await run_sync(self.list_versions_sync, store.id, prefix, delimiter,
                              key_marker, version_id_marker, max_keys)

    # -- encryption at rest (services/engine/sse.py, sealed_objects.py) -----------------------
    def open_key(self, version: ObjectVersion, customer_key: bytes | None = None
                 ) -> Sealing | None:
        """The data key of an encrypted version (None for a plaintext one); an SSE-C key is
        checked, a disabled KMS key refused."""
        if not version.sse:
            self.sse.check_customer_key(None, customer_key)
            return None
        return self.sse.open_sealing(version.sse, customer_key)

    def check_read_key(self, version: ObjectVersion, customer_key: bytes | None) -> None:
        """The SSE-C check alone (HEAD, conditional GETs): no key is opened."""
        self.sse.check_customer_key(version.sse, customer_key)

__all__ = ["ObjectEngine"]

"""Multipart uploads: parts are charged to usage while in progress; completion writes a
manifest of the part blobs (no second copy) and swaps part usage for the object, atomically."""

from __future__ import annotations

import hashlib
import re
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from anyio.to_thread import run_sync
from sqlalchemy import Connection, Engine, delete, select

from ...domain.errors import (
    EntityTooSmall,
    InvalidInput,
    InvalidPart,
    InvalidPartOrder,
    MalformedRequest,
    UploadNotFound,
)
from ...domain.models import ObjectStore, ObjectVersion
from ...storage.blobs import BlobStore
from ...storage.sql.engine import writing
from ...storage.sql.tables import objectstores, parts, uploads
from ..events.outbox import recording
from ..objectstores import store_from_row
from .blocks import BlockSums, DamagedBlock
from .listing import common_prefix, skip_past
from .metadata import charge, doom, install
from .objects import ObjectEngine
from .opening import OpenVersion
from .sse import Sealing, copy_sealed, sealed_doc
from .transfer import Payload, Summer, copy_into_blob, receive_blob
from .values import Attributes, Conditions, DamagedObject

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000


@dataclass(frozen=True)
class Upload:
    id: str
    store_id: str
    key: str
    initiated: datetime
    content_type: str
    headers: dict[str, str]
    user_meta: dict[str, str]
    checksum_algorithm: str | None
    checksum_type: str | None
    acl: str
    tags: dict[str, str]
    options: dict[str, Any] = field(default_factory=dict)  # lock (and later SSE) settings


@dataclass(frozen=True)
class Part:
    number: int
    blob_id: str
    size: int
    etag: str
    checksums: dict[str, str]
    last_modified: datetime
    blocks: bytes | None = None  # the blob's block checksums (services/engine/blocks.py)


@dataclass(frozen=True)
class CompletedPart:
    number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


def _upload(row: Any) -> Upload:
    m = row._mapping
    return Upload(m["id"], m["store_id"], m["key"], _aware(m["initiated"]), m["content_type"],
                  dict(m["headers"] or {}), dict(m["user_meta"] or {}),
                  m["checksum_algorithm"], m["checksum_type"], m["acl"], dict(m["tags"] or {}),
                  dict(m["options"] or {}))


def _part(row: Any) -> Part:
    m = row._mapping
    return Part(int(m["part_number"]), m["blob_id"], int(m["size"]), m["etag"],
                dict(m["checksums"] or {}), _aware(m["last_modified"]),
                bytes(m["blocks"]) if m.get("blocks") is not None else None)


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _lock_of(options: dict[str, Any]) -> dict[str, Any]:
    """The object lock fields an upload's options carry."""
    lock = options.get("lock")
    return {"lock_mode": lock[0] if lock else None,
            "lock_until": datetime.fromisoformat(lock[1]) if lock else None,
            "legal_hold": bool(options.get("legal_hold"))}


def _sse_of(options: dict[str, Any], numbers: list[int]) -> dict[str, Any] | None:
    """An encrypted upload's ``sse`` for the completed object (with its parts' numbers, which
    their segments are bound to)."""
    sse = options.get("sse")
    return {**sse, "parts": numbers} if sse else None


def multipart_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in part_etags))  # noqa: S324
    return f"{digest.hexdigest()}-{len(part_etags)}"


# combine(upload, parts used, parts as the client listed them) -> (checksums, checksum type):
# the object's checksum from its parts' (a plane-level concern: S3's composite/full-object
# rules), which may refuse the completion by raising.
Combine = Callable[["Upload", list["Part"], list["CompletedPart"]],
                   tuple[dict[str, str], str | None]]


class MultipartService:
    def __init__(self, engine: Engine, objects: ObjectEngine) -> None:
        self.engine = engine
        self.objects = objects

    def create_sync(self, store: ObjectStore, key: str, attrs: Attributes,
                    checksum_algorithm: str | None, checksum_type: str | None,
                    initiator: str | None = None) -> Upload:
        """A new upload; ``initiator``: the credential that starts it (None: anonymous),
        ``attrs.owner`` the completed object's owner (None: the store's owner)."""
        options: dict[str, Any] = {}
        if initiator is not None:
            options["initiator"] = initiator
        if attrs.owner is not None:
            options["owner"] = attrs.owner
        if attrs.lock_mode is not None and attrs.lock_until is not None:
            options["lock"] = [attrs.lock_mode, attrs.lock_until.isoformat()]
        if attrs.legal_hold:
            options["legal_hold"] = True
        if attrs.storage_class is not None:  # the completed object's class (None: STANDARD)
            options["storage_class"] = attrs.storage_class
        if attrs.grants is not None:  # the object's ACL grants, set when it is completed
            options["grants"] = attrs.grants
        if attrs.encryption is not None:  # one data key for every part
            options["sse"] = sealed_doc(self.objects.sse.new_sealing(store, key,
                                                                      attrs.encryption))
        up = Upload(secrets.token_hex(24), store.id, key, datetime.now(UTC),
                    attrs.content_type, attrs.headers, attrs.user_meta, checksum_algorithm,
                    checksum_type, attrs.acl, attrs.tags, options)
        with writing(self.engine) as conn:
            conn.execute(uploads.insert().values(
                id=up.id, store_id=store.id, key=key, initiated=up.initiated,
                content_type=up.content_type, headers=up.headers, user_meta=up.user_meta,
                checksum_algorithm=checksum_algorithm, checksum_type=checksum_type,
                acl=up.acl, tags=up.tags, state="open", options=up.options or None))
        return up

    async def create(self, store: ObjectStore, key: str, attrs: Attributes,
                     checksum_algorithm: str | None, checksum_type: str | None,
                     initiator: str | None = None) -> Upload:
        attrs = await self.objects.with_lock_defaults(store, attrs)
        return await run_sync(self.create_sync, store, key, attrs, checksum_algorithm,
                              checksum_type, initiator)

    async def get_async(self, store: ObjectStore, key: str, upload_id: str) -> Upload:
        return await run_sync(self.get, store.id, key, upload_id)

    async def _record(self, store: ObjectStore, key: str, upload_id: str, part: Part) -> None:
        try:
            await run_sync(self.add_part, store, key, upload_id, part)
        except BaseException:
            await run_sync(self.objects.blobs.delete, part.blob_id)
            raise

    async def upload_part(self, store: ObjectStore, key: str, upload_id: str, number: int,
                          payload: Payload, length: int,
                          customer_key: bytes | None = None) -> Part:
        """Receive a part into its own blob and record it (charged to usage at once);
        an encrypted upload's parts are sealed with its data key (SSE-C: ``customer_key``).
        """
        sealing = await self.part_sealing(store, key, upload_id, customer_key)
        sums = None if sealing else BlockSums()  # sealed parts: their segments' tags
        blob_id = await receive_blob(payload, self.objects.blobs, length,
                                     sealing.sealer(number, length) if sealing else None, sums)
        etag = sealing.etag(payload.md5_hex) if sealing else payload.md5_hex
        part = Part(number, blob_id, payload.size, etag, payload.checksums,
                    datetime.now(UTC), sums.packed() if sums is not None else None)
        await self._record(store, key, upload_id, part)
        return part

    async def upload_part_copy(self, store: ObjectStore, key: str, upload_id: str,
                               number: int, opened: ObjectVersion | OpenVersion,
                               start: int, end: int,
                               algorithm: str | None, summer: Summer | None,
                               source_key: bytes | None = None,
                               customer_key: bytes | None = None) -> Part:
        """Copy bytes [start, end] of ``opened`` (best an ``OpenVersion``: the engine's
        ``open``) into a part; ``summer`` digests them for the upload's checksum algorithm."""
        source, blobs = self.objects.source_of(opened)
        sealing = await self.part_sealing(store, key, upload_id, customer_key)
        sums = None
        if sealing is not None or source.sse or source_key is not None:
            blob_id, size, md5 = await self._copy_sealed_part(
                source, source_key, start, end, sealing, number, summer, blobs)
        else:
            sums = BlockSums()
            try:
                blob_id, size, md5 = await run_sync(copy_into_blob, blobs, source, start, end,
                                                    summer, sums)
            except DamagedBlock as exc:
                raise DamagedObject("The source object is damaged (a block does not match "
                                    "its checksum); it cannot be copied.") from exc
        checksums = {algorithm: summer.b64digest()} if algorithm and summer is not None else {}
        part = Part(number, blob_id, size, md5, checksums, datetime.now(UTC),
                    sums.packed() if sums is not None else None)
        await self._record(store, key, upload_id, part)
        return part

    # -- encryption at rest ---------------------------------------------------------------------
    async def part_sealing(self, store: ObjectStore, key: str, upload_id: str,
                           customer_key: bytes | None) -> Sealing | None:
        """The upload's data key (None when it is not encrypted); SSE-C: the key checked."""
        up = await self.get_async(store, key, upload_id)
        sse = up.options.get("sse")
        if not sse:
            self.objects.sse.check_customer_key(None, customer_key)
            return None
        return await run_sync(self.objects.sse.open_sealing, sse, customer_key)

    async def _copy_sealed_part(self, source: ObjectVersion, source_key: bytes | None,
                                start: int, end: int, sealing: Sealing | None, number: int,
                                summer: Summer | None, blobs: BlobStore
                                ) -> tuple[str, int, str]:
        src = await run_sync(self.objects.open_key, source, source_key)
        blob_id, size, md5, _ = await run_sync(copy_sealed, blobs, source, src,
                                               start, end, sealing, number, summer)
        return blob_id, size, sealing.etag(md5) if sealing is not None else md5

    def _get(self, conn: Connection, store_id: str, key: str, upload_id: str,
             *, lock: bool = False) -> Upload:
        q = select(uploads).where(uploads.c.id == upload_id, uploads.c.store_id == store_id,
                                  uploads.c.key == key, uploads.c.state == "open")
        if lock:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise UploadNotFound("The specified upload does not exist. The upload ID may be "
                                 "invalid, or the upload may have been aborted or completed.")
        return _upload(row)

    def get(self, store_id: str, key: str, upload_id: str) -> Upload:
        with self.engine.connect() as conn:
            return self._get(conn, store_id, key, upload_id)

    def add_part(self, store: ObjectStore, key: str, upload_id: str, part: Part) -> None:
        """Record a stored part; a re-uploaded part number replaces the old one."""

        def work(conn: Connection) -> None:
            self._get(conn, store.id, key, upload_id, lock=True)
            old = conn.execute(select(parts).where(
                parts.c.upload_id == upload_id, parts.c.part_number == part.number)).first()
            old_size = int(old._mapping["size"]) if old else 0
            charge(conn, store.id, part.size - old_size, 0)
            if old is not None:
                conn.execute(delete(parts).where(parts.c.upload_id == upload_id,
                                                 parts.c.part_number == part.number))
                doom(conn, [old._mapping["blob_id"]])
            conn.execute(parts.insert().values(
                upload_id=upload_id, part_number=part.number, blob_id=part.blob_id,
                size=part.size, etag=part.etag, checksums=part.checksums,
                last_modified=part.last_modified, blocks=part.blocks))

        self.objects.writer.run(work)
        self.objects.wake_gc()

    async def list_parts_async(self, store: ObjectStore, key: str, upload_id: str, after: int,
                               limit: int) -> tuple[Upload, list[Part], bool]:
        return await run_sync(self.list_parts, store.id, key, upload_id, after, limit)

    def list_parts(self, store_id: str, key: str, upload_id: str, after: int,
                   limit: int) -> tuple[Upload, list[Part], bool]:
        with self.engine.connect() as conn:
            up = self._get(conn, store_id, key, upload_id)
            rows = conn.execute(
                select(parts).where(parts.c.upload_id == upload_id,
                                    parts.c.part_number > after)
                .order_by(parts.c.part_number).limit(limit + 1)).all()
        found = [_part(r) for r in rows]
        return up, found[:limit], len(found) > limit

    def list_uploads(self, store_id: str, prefix: str, key_marker: str, id_marker: str,
                     limit: int) -> list[Upload]:
        q = select(uploads).where(uploads.c.store_id == store_id, uploads.c.state == "open")
        if prefix:
            q = q.where(uploads.c.key >= prefix)
        if key_marker:
            if id_marker:
                q = q.where((uploads.c.key > key_marker)
                            | ((uploads.c.key == key_marker) & (uploads.c.id > id_marker)))
            else:
                q = q.where(uploads.c.key > key_marker)
        q = q.order_by(uploads.c.key, uploads.c.id).limit(limit)
        with self.engine.connect() as conn:
            rows = conn.execute(q).all()
        return [u for u in map(_upload, rows) if u.key.startswith(prefix)]

    def scan_uploads_sync(self, store_id: str, prefix: str, delimiter: str,
                          key_marker: str, id_marker: str, limit: int
                          ) -> tuple[list[Upload], list[str], bool, tuple[str, str] | None]:
        """Uploads and common prefixes after the markers, in (key, upload id) order; a common
        prefix counts as one entry and is reported once (the scan seeks past its keys).
        Returns (uploads, prefixes, truncated, last (key-or-prefix, upload id) returned)."""
        batch = 1000
        items: list[Upload] = []
        prefixes: list[str] = []
        last: tuple[str, str] | None = None
        ck, ci = key_marker, id_marker if key_marker else ""
        marker_cp = common_prefix(ck, prefix, delimiter) if ck else None
        if marker_cp is not None and marker_cp == ck:
            ck, ci = skip_past(marker_cp), ""
        while True:
            rows = self.list_uploads(store_id, prefix, ck, ci, batch)
            seek = False
            for u in rows:
                if len(items) + len(prefixes) >= limit:
                    return items, prefixes, True, last
                cp = common_prefix(u.key, prefix, delimiter)
                if cp is not None:
                    prefixes.append(cp)
                    last = (cp, "")
                    ck, ci = skip_past(cp), ""
                    seek = True
                    break
                items.append(u)
                last = ck, ci = (u.key, u.id)
            if not seek and len(rows) < batch:
                return items, prefixes, False, last

    async def scan_uploads(self, store: ObjectStore, prefix: str, delimiter: str,
                           key_marker: str, id_marker: str, limit: int
                           ) -> tuple[list[Upload], list[str], bool, tuple[str, str] | None]:
        return await run_sync(self.scan_uploads_sync, store.id, prefix, delimiter, key_marker,
                              id_marker, limit)

    def abort_sync(self, store: ObjectStore, key: str, upload_id: str) -> None:
        with writing(self.engine) as conn:
            self._get(conn, store.id, key, upload_id, lock=True)
            self._drop(conn, store, upload_id)
        self.objects.wake_gc()

    async def abort(self, store: ObjectStore, key: str, upload_id: str) -> None:
        await run_sync(self.abort_sync, store, key, upload_id)

    def _drop(self, conn: Connection, store: ObjectStore, upload_id: str) -> None:
        rows = conn.execute(select(parts.c.blob_id, parts.c.size)
                            .where(parts.c.upload_id == upload_id)).all()
        total = sum(int(r[1]) for r in rows)
        doom(conn, [r[0] for r in rows])
        conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
        conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        if total:
            charge(conn, store.id, -total, 0)

    def complete_sync(self, store: ObjectStore, key: str, upload_id: str,
                      chosen: list[CompletedPart], cond: Conditions | None,
                      combine: Combine) -> ObjectVersion:
        if not chosen:
            raise MalformedRequest("You must specify at least one part")
        if len(chosen) > MAX_PARTS:
            raise InvalidInput("Part count exceeds 10000", "Part")
        numbers = [c.number for c in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise InvalidPartOrder("The list of parts was not in ascending order. Parts must "
                                   "be ordered by part number.")
        now = datetime.now(UTC)
        rec = self.objects.events.recording_sync(store, "CompleteMultipartUpload")
        with writing(self.engine) as conn, recording(conn, rec):
            up = self._get(conn, store.id, key, upload_id, lock=True)
            stored = {p.number: p for p in map(_part, conn.execute(
                select(parts).where(parts.c.upload_id == upload_id)).all())}
            used: list[Part] = []
            for i, c in enumerate(chosen):
                p = stored.get(c.number)
                if p is None or p.etag != c.etag.strip().strip('"'):
                    raise InvalidPart("One or more of the specified parts could not be found. "
                                      "The part may not have been uploaded, or the specified "
                                      "entity tag may not match the part's entity tag.")
                if i < len(chosen) - 1 and p.size < MIN_PART_SIZE:
                    raise EntityTooSmall("Your proposed upload is smaller than the minimum "
                                         "allowed object size.")
                used.append(p)
            checksums, checksum_type = combine(up, used, chosen)
            size = sum(p.size for p in used)
            chosen_numbers = set(numbers)
            unused = [p for n, p in stored.items() if n not in chosen_numbers]
            new = ObjectVersion(
                store_id=store.id, key=key, blob_id="", size=size,
                etag=multipart_etag([p.etag for p in used]), last_modified=now,
                content_type=up.content_type, headers=up.headers, user_meta=up.user_meta,
                checksums=checksums, checksum_type=checksum_type, acl=up.acl,
                parts=tuple((p.blob_id, p.size) for p in used), tags=up.tags,
                # each part's own checksum of the object's algorithm, as UploadPart answered
                part_checksums=tuple({a: p.checksums[a] for a in checksums
                                      if a in p.checksums} for p in used)
                if checksums else None,
                grants=up.options.get("grants"), owner=up.options.get("owner"),
                storage_class=up.options.get("storage_class"), **_lock_of(up.options),
                sse=_sse_of(up.options, [p.number for p in used]),
                # every part's block checksums, in order (none if a part has none)
                blocks=b"".join(p.blocks or b"" for p in used)
                if all(p.blocks is not None for p in used) else None,
            )
            conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            # Part bytes were charged as they arrived: the object adds none of its own, and
            # the parts left out are released.
            version, _doomed = install(conn, store, new, cond.if_match if cond else None,
                                       cond.if_none_match if cond else None, charged=size)
            charge(conn, store.id, -sum(p.size for p in unused), 0)
            doom(conn, [p.blob_id for p in unused])
        self.objects.events.recorded(rec)
        self.objects.wake_gc()
        return version

    async def complete(self, store: ObjectStore, key: str, upload_id: str,
                       chosen: list[CompletedPart], cond: Conditions | None,
                       combine: Combine) -> ObjectVersion:
        return await run_sync(self.complete_sync, store, key, upload_id, chosen, cond, combine)

    def abort_all_sync(self, conn: Connection, store: ObjectStore) -> None:
        """Abort every unfinished upload of a store (in the caller's transaction)."""
        for (upload_id,) in conn.execute(select(uploads.c.id)
                                         .where(uploads.c.store_id == store.id)).all():
            self._drop(conn, store, upload_id)

    def expire(self, max_age: timedelta) -> int:
        """Abort uploads older than ``max_age`` (their parts' bytes are reclaimed)."""
        cutoff = datetime.now(UTC) - max_age
        with self.engine.connect() as conn:
            old = conn.execute(select(uploads.c.id, uploads.c.store_id)
                               .where(uploads.c.initiated < cutoff)).all()
        n = 0
        for upload_id, store_id in old:
            with writing(self.engine) as conn:
                srow = conn.execute(select(objectstores)
                                    .where(objectstores.c.id == store_id)).first()
                if srow is None:
                    continue
                if conn.execute(select(uploads.c.id).where(uploads.c.id == upload_id)
                                .with_for_update()).first() is None:
                    continue
                self._drop(conn, store_from_row(srow), upload_id)
                n += 1
        if n:
            self.objects.wake_gc()
        return n


_DIGITS = re.compile(r"[0-9]{1,5}")  # ASCII only: str.isdigit() admits "²" and "١"


def validate_part_number(raw: str) -> int:
    if not _DIGITS.fullmatch(raw) or not 1 <= int(raw) <= MAX_PARTS:
        raise InvalidInput("Part number must be an integer between 1 and 10000, inclusive",
                           "partNumber")
    return int(raw)

"""Multipart uploads: parts are charged to usage while in progress; completion writes a
manifest of the part blobs (no second copy) and swaps part usage for the object, atomically."""

from __future__ import annotations

import hashlib
import re
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, delete, select

from ..domain.errors import InvalidInput, UploadNotFound
from ..domain.models import ObjectMeta, ObjectStore
from ..storage.sql.engine import writing
from ..storage.sql.tables import objectstores, parts, uploads
from .objects import (
    NewObject,
    ObjectService,
    Preconditions,
    charge,
    check_preconditions,
    doom,
    lock_key,
)
from .objectstores import store_from_row

MIN_PART_SIZE = 5 * 1024 * 1024
MAX_PARTS = 10000


class MultipartError(Exception):
    """An S3-level multipart error (code, message) the S3 plane renders as is."""

    def __init__(self, code: str, message: str, status: int = 400) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status


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


@dataclass(frozen=True)
class Part:
    number: int
    blob_id: str
    size: int
    etag: str
    checksums: dict[str, str]
    last_modified: datetime


@dataclass(frozen=True)
class CompletedPart:
    number: int
    etag: str
    checksums: dict[str, str] = field(default_factory=dict)


def _upload(row: Any) -> Upload:
    m = row._mapping
    return Upload(m["id"], m["store_id"], m["key"], _aware(m["initiated"]), m["content_type"],
                  dict(m["headers"] or {}), dict(m["user_meta"] or {}),
                  m["checksum_algorithm"], m["checksum_type"], m["acl"], dict(m["tags"] or {}))


def _part(row: Any) -> Part:
    m = row._mapping
    return Part(int(m["part_number"]), m["blob_id"], int(m["size"]), m["etag"],
                dict(m["checksums"] or {}), _aware(m["last_modified"]))


def _aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def multipart_etag(part_etags: list[str]) -> str:
    digest = hashlib.md5(b"".join(bytes.fromhex(e) for e in part_etags))  # noqa: S324
    return f"{digest.hexdigest()}-{len(part_etags)}"


class MultipartService:
    def __init__(self, engine: Engine, objects: ObjectService) -> None:
        self.engine = engine
        self.objects = objects

    def create(self, store: ObjectStore, key: str, *, content_type: str,
               headers: dict[str, str], user_meta: dict[str, str], acl: str,
               tags: dict[str, str], checksum_algorithm: str | None,
               checksum_type: str | None) -> Upload:
        up = Upload(secrets.token_hex(24), store.id, key, datetime.now(UTC), content_type,
                    headers, user_meta, checksum_algorithm, checksum_type, acl, tags)
        with writing(self.engine) as conn:
            conn.execute(uploads.insert().values(
                id=up.id, store_id=store.id, key=key, initiated=up.initiated,
                content_type=content_type, headers=headers, user_meta=user_meta,
                checksum_algorithm=checksum_algorithm, checksum_type=checksum_type, acl=acl,
                tags=tags, state="open"))
        return up

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
            charge(conn, store, part.size - old_size, 0)
            if old is not None:
                conn.execute(delete(parts).where(parts.c.upload_id == upload_id,
                                                 parts.c.part_number == part.number))
                doom(conn, [old._mapping["blob_id"]])
            conn.execute(parts.insert().values(
                upload_id=upload_id, part_number=part.number, blob_id=part.blob_id,
                size=part.size, etag=part.etag, checksums=part.checksums,
                last_modified=part.last_modified))

        self.objects.writer.run(work)
        self.objects.wake_gc()

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

    def abort(self, store: ObjectStore, key: str, upload_id: str) -> None:
        with writing(self.engine) as conn:
            self._get(conn, store.id, key, upload_id, lock=True)
            self._drop(conn, store, upload_id)
        self.objects.wake_gc()

    def _drop(self, conn: Connection, store: ObjectStore, upload_id: str) -> None:
        rows = conn.execute(select(parts.c.blob_id, parts.c.size)
                            .where(parts.c.upload_id == upload_id)).all()
        total = sum(int(r[1]) for r in rows)
        doom(conn, [r[0] for r in rows])
        conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
        conn.execute(delete(uploads).where(uploads.c.id == upload_id))
        if total:
            charge(conn, store, -total, 0)

    def complete(self, store: ObjectStore, key: str, upload_id: str,
                 chosen: list[CompletedPart], pre: Preconditions | None,
                 combine: Any) -> ObjectMeta:
        """``combine(upload, parts) -> (checksums, checksum_type)`` computes the object's
        checksums from the parts (a plane-level concern: S3's composite/full-object rules)."""
        if not chosen:
            raise MultipartError("MalformedXML", "You must specify at least one part")
        if len(chosen) > MAX_PARTS:
            raise MultipartError("InvalidArgument", "Part count exceeds 10000")
        numbers = [c.number for c in chosen]
        if numbers != sorted(numbers) or len(set(numbers)) != len(numbers):
            raise MultipartError("InvalidPartOrder", "The list of parts was not in ascending "
                                 "order. Parts must be ordered by part number.")
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            up = self._get(conn, store.id, key, upload_id, lock=True)
            stored = {p.number: p for p in map(_part, conn.execute(
                select(parts).where(parts.c.upload_id == upload_id)).all())}
            used: list[Part] = []
            for i, c in enumerate(chosen):
                p = stored.get(c.number)
                if p is None or p.etag != c.etag.strip().strip('"'):
                    raise MultipartError("InvalidPart", "One or more of the specified parts "
                                         "could not be found. The part may not have been "
                                         "uploaded, or the specified entity tag may not match "
                                         "the part's entity tag.")
                if i < len(chosen) - 1 and p.size < MIN_PART_SIZE:
                    raise MultipartError("EntityTooSmall", "Your proposed upload is smaller "
                                         "than the minimum allowed object size.")
                used.append(p)
            checksums, checksum_type = combine(up, used, chosen)
            lock_key(conn, store.id, key)
            current = self.objects.head_in(conn, store.id, key)
            if pre is not None:
                check_preconditions(current, pre)
            size = sum(p.size for p in used)
            unused = [p for n, p in stored.items() if n not in set(numbers)]
            new = NewObject(
                key=key, blob_id="", size=size, etag=multipart_etag([p.etag for p in used]),
                content_type=up.content_type, headers=up.headers, user_meta=up.user_meta,
                checksums=checksums, checksum_type=checksum_type, acl=up.acl,
                parts=[(p.blob_id, p.size) for p in used], tags=up.tags,
            )
            conn.execute(delete(parts).where(parts.c.upload_id == upload_id))
            conn.execute(delete(uploads).where(uploads.c.id == upload_id))
            # Part bytes were charged as they arrived: release the unused parts and the
            # overwritten object; the object itself adds no bytes.
            released = sum(p.size for p in unused) + (current.size if current else 0)
            charge(conn, store, -released, 0 if current else 1)
            meta = self.objects.write_row(conn, store, new, current, now)
            doom(conn, [p.blob_id for p in unused])
        self.objects.wake_gc()
        return meta

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

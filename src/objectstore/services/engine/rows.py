"""Object version rows <-> ``ObjectVersion``, mapped by column name."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import RowMapping

from ...domain.models import ObjectVersion
from ...storage.sql.tables import objects

# Every column of a version row but the key columns, in one order for prepared statements.
VERSION_COLUMNS: tuple[str, ...] = (
    "blob_id", "size", "etag", "last_modified", "content_type", "headers", "user_meta",
    "checksums", "checksum_type", "acl", "parts", "tags", "data", "version_id",
    "delete_marker", "vseq", "lock_mode", "lock_until", "legal_hold", "grants", "sse",
    "owner", "blocks", "storage_class",
)
# What a point read of the latest version selects (all of it, by name).
HEAD_COLUMNS: tuple[str, ...] = ("key", *VERSION_COLUMNS)
assert set(HEAD_COLUMNS) | {"store_id"} == {c.name for c in objects.c}


def aware(dt: datetime) -> datetime:
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def version_from(store_id: str, m: Mapping[str, Any] | RowMapping, *, is_latest: bool
                 ) -> ObjectVersion:
    """An ``ObjectVersion`` from a row mapping (column name -> value)."""
    data = m.get("data")
    parts = m.get("parts")
    return ObjectVersion(
        store_id=store_id, key=m["key"], blob_id=m["blob_id"], size=int(m["size"]),
        etag=m["etag"], last_modified=aware(m["last_modified"]),
        content_type=m["content_type"], headers=dict(m["headers"] or {}),
        user_meta=dict(m["user_meta"] or {}), checksums=dict(m["checksums"] or {}),
        checksum_type=m["checksum_type"], acl=m["acl"],
        parts=tuple((p[0], int(p[1])) for p in parts) if parts else None,
        tags=dict(m["tags"] or {}), data=bytes(data) if data is not None else None,
        version_id=m["version_id"], vseq=m["vseq"], delete_marker=bool(m["delete_marker"]),
        is_latest=is_latest, lock_mode=m["lock_mode"],
        lock_until=aware(m["lock_until"]) if m["lock_until"] is not None else None,
        legal_hold=bool(m["legal_hold"]), grants=m["grants"], sse=m["sse"],
        owner=m.get("owner"), blocks=_bytes(m.get("blocks")),
        storage_class=m.get("storage_class"), part_checksums=_part_checksums(parts),
    )


def version_from_tuple(store_id: str, names: tuple[str, ...], row: tuple[Any, ...],
                       *, is_latest: bool) -> ObjectVersion:
    """``version_from`` for a row of a prepared statement selecting ``names`` (the hot point
    read: no dict is built; columns are still found by name, through an index)."""
    at = _index(names)
    data, parts, until = row[at["data"]], row[at["parts"]], row[at["lock_until"]]
    headers, user_meta = row[at["headers"]], row[at["user_meta"]]
    checksums, tags = row[at["checksums"]], row[at["tags"]]
    return ObjectVersion(
        store_id, row[at["key"]], row[at["blob_id"]], int(row[at["size"]]), row[at["etag"]],
        aware(row[at["last_modified"]]), row[at["content_type"]],
        dict(headers) if headers else {}, dict(user_meta) if user_meta else {},
        dict(checksums) if checksums else {}, row[at["checksum_type"]], row[at["acl"]],
        tuple((p[0], int(p[1])) for p in parts) if parts else None,
        dict(tags) if tags else {}, bytes(data) if data is not None else None,
        row[at["version_id"]], row[at["vseq"]], bool(row[at["delete_marker"]]), is_latest,
        row[at["lock_mode"]], aware(until) if until is not None else None,
        bool(row[at["legal_hold"]]), row[at["grants"]], row[at["sse"]], row[at["owner"]],
        _bytes(row[at["blocks"]]), row[at["storage_class"]], _part_checksums(parts))


_INDEXES: dict[tuple[str, ...], dict[str, int]] = {}


def _index(names: tuple[str, ...]) -> dict[str, int]:
    found = _INDEXES.get(names)
    if found is None:
        found = _INDEXES[names] = {name: i for i, name in enumerate(names)}
    return found


def row_values(v: ObjectVersion) -> dict[str, Any]:
    """The column values of a version (without store_id and key)."""
    return {
        "blob_id": v.blob_id, "size": v.size, "etag": v.etag,
        "last_modified": v.last_modified, "content_type": v.content_type,
        "headers": v.headers, "user_meta": v.user_meta, "checksums": v.checksums,
        "checksum_type": v.checksum_type, "acl": v.acl,
        "parts": _manifest(v), "tags": v.tags,
        "data": v.data, "version_id": v.version_id, "delete_marker": v.delete_marker,
        "vseq": v.vseq, "lock_mode": v.lock_mode, "lock_until": v.lock_until,
        "legal_hold": v.legal_hold, "grants": v.grants, "sse": v.sse, "owner": v.owner,
        "blocks": v.blocks, "storage_class": v.storage_class,
    }


def _manifest(v: ObjectVersion) -> list[list[Any]] | None:
    """The ``parts`` column: ``[blob_id, size]`` per part, ``[blob_id, size, {algorithm:
    b64}]`` when the part's own checksums are known (a third element older readers skip)."""
    if not v.parts:
        return None
    if v.part_checksums is None or len(v.part_checksums) != len(v.parts):
        return [list(p) for p in v.parts]
    return [[b, s, dict(c)] if c else [b, s]
            for (b, s), c in zip(v.parts, v.part_checksums, strict=True)]


def _part_checksums(parts: Any) -> tuple[dict[str, str], ...] | None:
    """The parts' own checksums from a ``parts`` column (None: none was kept)."""
    if not parts or not any(len(p) > 2 for p in parts):
        return None
    return tuple(dict(p[2]) if len(p) > 2 and p[2] else {} for p in parts)


def _bytes(value: Any) -> bytes | None:
    return bytes(value) if value is not None else None

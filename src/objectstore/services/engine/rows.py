"""Object version rows <-> ``ObjectVersion``, mapped by column name."""

from __future__ import annotations

import dataclasses
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import JSON, LargeBinary, RowMapping
from sqlalchemy.engine import Dialect

from ...domain.models import ObjectVersion
from ...storage.sql.prepared import result_processor
from ...storage.sql.tables import UTCDateTime, objects

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
_HEAD_ORDER = ("key", "blob_id", "size", "etag", "last_modified", "content_type", "headers",
               "user_meta", "checksums", "checksum_type", "acl", "parts", "tags", "data",
               "version_id", "delete_marker", "vseq", "lock_mode", "lock_until", "legal_hold",
               "grants", "sse", "owner", "blocks", "storage_class")
assert HEAD_COLUMNS == _HEAD_ORDER  # HeadDecoder.decode unpacks a row in this order


def _same(value: Any) -> Any:
    return value


class HeadDecoder:
    """The latest version from a ``HEAD_COLUMNS`` row as the DBAPI returns it
    (``Prepared.raw_first_on``), without the per-column result processing of a Core row: the
    hot point read of every GET and HEAD. Each column is converted once, by what its type
    needs on this dialect: timestamps parsed as SQLAlchemy's own processor parses them and
    made UTC-aware (``UTCDateTime``), JSON text decoded (SQLite; the PostgreSQL driver hands
    it decoded), booleans and binary values as ``version_from`` makes them. Reads the same
    ``ObjectVersion`` as ``version_from_tuple`` over the processed row (tests/unit/storage/
    test_head_decoder.py)."""

    def __init__(self, dialect: Dialect) -> None:
        def proc(name: str) -> Callable[[Any], Any]:
            type_ = objects.c[name].type
            if isinstance(type_, UTCDateTime):
                impl = result_processor(type_.impl_instance, dialect)
                if impl is None:
                    return aware
                return lambda value: aware(impl(value))
            assert isinstance(type_, JSON)
            return result_processor(type_, dialect) or _same

        self._when, self._until = proc("last_modified"), proc("lock_until")
        self._json = proc("headers")
        for name in HEAD_COLUMNS:  # every other column needs nothing done (or bool/bytes)
            type_ = objects.c[name].type
            if not isinstance(type_, UTCDateTime | JSON | LargeBinary):
                assert result_processor(type_, dialect) in (None, _bool_processor(dialect)), \
                    name

    def decode(self, store_id: str, row: Any, *, is_latest: bool = True) -> ObjectVersion:
        (key, blob_id, size, etag, when, content_type, headers, user_meta, checksums,
         checksum_type, acl, parts, tags, data, version_id, delete_marker, vseq, lock_mode,
         until, legal_hold, grants, sse, owner, blocks, storage_class) = row
        js = self._json
        parts = js(parts)
        headers, user_meta, checksums, tags = js(headers), js(user_meta), js(checksums), js(tags)
        # the frozen dataclass's __init__ sets each field through object.__setattr__: filling
        # the instance's __dict__ at once makes the same object at a third of the cost
        version = _new_version(ObjectVersion)
        version.__dict__.update(zip(_FIELDS, (
            store_id, key, blob_id, int(size), etag, self._when(when), content_type,
            headers or {}, user_meta or {}, checksums or {}, checksum_type, acl,
            tuple((p[0], int(p[1])) for p in parts) if parts else None,
            tags or {}, bytes(data) if data is not None else None,
            version_id, vseq, bool(delete_marker), is_latest, lock_mode,
            self._until(until) if until is not None else None, bool(legal_hold),
            js(grants), js(sse), owner, bytes(blocks) if blocks is not None else None,
            storage_class, _part_checksums(parts)), strict=True))
        return version


_new_version = object.__new__
_FIELDS = tuple(f.name for f in dataclasses.fields(ObjectVersion))
# HeadDecoder.decode fills an ObjectVersion's __dict__ in this order, every field given
assert _FIELDS == (
    "store_id", "key", "blob_id", "size", "etag", "last_modified", "content_type", "headers",
    "user_meta", "checksums", "checksum_type", "acl", "parts", "tags", "data", "version_id",
    "vseq", "delete_marker", "is_latest", "lock_mode", "lock_until", "legal_hold", "grants",
    "sse", "owner", "blocks", "storage_class", "part_checksums")
assert not hasattr(ObjectVersion, "__post_init__") and not hasattr(ObjectVersion, "__slots__")


def _bool_processor(dialect: Dialect) -> Any:
    return result_processor(objects.c.delete_marker.type, dialect)


_DECODERS: dict[str, HeadDecoder] = {}
_DECODERS_LOCK = threading.Lock()


def head_decoder(dialect: Dialect) -> HeadDecoder:
    """The ``HeadDecoder`` of a dialect (one per dialect name)."""
    found = _DECODERS.get(dialect.name)
    if found is None:
        with _DECODERS_LOCK:
            found = _DECODERS.get(dialect.name)
            if found is None:
                found = _DECODERS[dialect.name] = HeadDecoder(dialect)
    return found


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

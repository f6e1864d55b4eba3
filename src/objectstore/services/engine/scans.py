"""The SQL behind listings: pages of latest versions and of all versions, in key order,
fed to the pure listing algorithms of ``listing.py``."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, Integer, and_, bindparam, false, literal, or_, select, union_all

from ...domain.errors import InvalidVersion
from ...domain.models import ListedObject
from ...storage.sql.prepared import Prepared
from ...storage.sql.tables import object_versions, objects
from . import metadata as md
from .listing import AFTER_ALL, Listing, VersionListing, list_keys, list_versions
from .rows import aware
from .vseq import is_valid_version_id

# Listings need only these: a narrower row is decoded faster (a page is 1,000 rows).
_SCAN = select(objects.c.key, objects.c.size, objects.c.etag, objects.c.last_modified,
               objects.c.checksums, objects.c.owner, objects.c.storage_class).where(
    objects.c.store_id == bindparam("sid"), objects.c.delete_marker == false())
_LIMIT = bindparam("lim", type_=Integer)
_SCAN_AFTER = Prepared(_SCAN.where(objects.c.key > bindparam("key"))
                       .order_by(objects.c.key).limit(_LIMIT))
_SCAN_FROM = Prepared(_SCAN.where(objects.c.key >= bindparam("key"))
                      .order_by(objects.c.key).limit(_LIMIT))
_SCAN_ALL = Prepared(_SCAN.order_by(objects.c.key).limit(_LIMIT))


def _batch(max_keys: int) -> int:
    return min(max(max_keys, 1) + 1, 1001)


def scan_latest(engine: Engine, store_id: str, after: str | None, prefix: str, limit: int
                ) -> list[ListedObject]:
    """Latest versions (not delete markers) with key > after (or >= prefix), in key
    (UTF-8 byte) order."""
    if after is not None and after >= prefix:
        rows = _SCAN_AFTER.all_on(engine, sid=store_id, key=after, lim=limit)
    elif prefix:
        rows = _SCAN_FROM.all_on(engine, sid=store_id, key=prefix, lim=limit)
    else:
        rows = _SCAN_ALL.all_on(engine, sid=store_id, lim=limit)
    return [ListedObject(key, int(size), etag, aware(modified), checksums or {}, owner=owner,
                         storage_class=sclass)
            for key, size, etag, modified, checksums, owner, sclass in rows]


def list_objects(engine: Engine, store_id: str, prefix: str, delimiter: str,
                 after: str | None, max_keys: int) -> Listing:
    return list_keys(lambda a, p, n: scan_latest(engine, store_id, a, p, n), prefix=prefix,
                     delimiter=delimiter, after=after, max_keys=max_keys,
                     batch=_batch(max_keys))


def _versions_select(table: Any, latest: bool, sid: str, key: str, vseq: str, prefix: str
                     ) -> Any:
    return select(table.c.key, table.c.vseq, table.c.version_id, table.c.delete_marker,
                  table.c.size, table.c.etag, table.c.last_modified, table.c.checksums,
                  table.c.owner, table.c.storage_class, literal(latest).label("latest")).where(
        table.c.store_id == sid, table.c.key >= max(key, prefix),
        or_(table.c.key > key, and_(table.c.key == key, table.c.vseq > vseq)))


def scan_versions(engine: Engine, store_id: str, key: str, vseq: str, prefix: str,
                  limit: int) -> list[ListedObject]:
    """Versions and markers of both tables after (key, vseq), newest first within a key."""
    q = union_all(
        _versions_select(objects, True, store_id, key, vseq, prefix),
        _versions_select(object_versions, False, store_id, key, vseq, prefix),
    ).order_by("key", "vseq").limit(limit)
    with engine.connect() as conn:
        rows = conn.execute(q).all()
    return [ListedObject(r.key, int(r.size), r.etag, aware(r.last_modified),
                         r.checksums or {}, r.version_id, bool(r.latest),
                         bool(r.delete_marker), r.vseq, r.owner, r.storage_class)
            for r in rows]


def list_object_versions(engine: Engine, store_id: str, prefix: str, delimiter: str,
                         key_marker: str, version_id_marker: str, max_keys: int
                         ) -> VersionListing:
    after = (key_marker, "")
    if key_marker:
        after = (key_marker, AFTER_ALL)  # every version of the marker key was listed
        if version_id_marker:
            if not is_valid_version_id(version_id_marker):
                raise InvalidVersion("Invalid version id specified")
            with engine.connect() as conn:
                marked = md.find_version(conn, store_id, key_marker, version_id_marker)
            if marked is not None:
                after = (key_marker, marked.vseq)
            elif version_id_marker != "null":
                after = (key_marker, version_id_marker)
    return list_versions(lambda k, v, p, n: scan_versions(engine, store_id, k, v, p, n),
                         prefix=prefix, delimiter=delimiter, after=after,
                         max_keys=max_keys, batch=_batch(max_keys))

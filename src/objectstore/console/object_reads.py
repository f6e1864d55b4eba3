"""The one place the console reads objects from the object services (read-only).

It calls the object engine's synchronous listings (objects, versions) and head and hands
the pages plain values, so re-pointing the object browser at another read API means
changing this file only.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime

from ..services.registry import Services

DELIMITER = "/"


@dataclass(frozen=True)
class Entry:
    key: str
    size: int
    last_modified: datetime


@dataclass(frozen=True)
class ListingPage:
    objects: list[Entry]
    prefixes: list[str]
    truncated: bool
    last: str | None


@dataclass(frozen=True)
class ObjectInfo:
    key: str
    size: int
    content_type: str
    etag: str
    last_modified: datetime
    acl: str
    checksums: dict[str, str] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    tags: dict[str, str] = field(default_factory=dict)
    version_id: str | None = None
    is_latest: bool = True
    lock_mode: str | None = None
    lock_until: datetime | None = None
    legal_hold: bool = False


@dataclass(frozen=True)
class VersionEntry:
    key: str
    size: int
    etag: str
    last_modified: datetime
    version_id: str
    is_latest: bool
    delete_marker: bool


@dataclass(frozen=True)
class VersionPage:
    versions: list[VersionEntry]
    prefixes: list[str]
    truncated: bool
    next_key: str | None
    next_version_id: str | None


def list_page(services: Services, store_id: str, prefix: str, after: str | None,
              limit: int) -> ListingPage:
    listing = services.objects.list_objects_sync(store_id, prefix, DELIMITER, after, limit)
    return ListingPage(
        [Entry(o.key, o.size, o.last_modified) for o in listing.objects],
        list(listing.prefixes), listing.truncated, listing.last)


def list_versions(services: Services, store_id: str, prefix: str, key_marker: str,
                  version_marker: str, limit: int) -> VersionPage:
    """Every version and delete marker of the keys in a folder, each key's newest first."""
    listing = services.objects.list_versions_sync(store_id, prefix, DELIMITER, key_marker,
                                                  version_marker, limit)
    return VersionPage(
        [VersionEntry(v.key, v.size, v.etag, v.last_modified, v.version_id, v.is_latest,
                      v.delete_marker) for v in listing.versions],
        list(listing.prefixes), listing.truncated, listing.next_key, listing.next_version_id)


def head(services: Services, store_id: str, key: str, version_id: str | None = None
         ) -> ObjectInfo:
    """The latest version of ``key``, or the version named (``"null"``: the null one)."""
    m = services.objects.head_sync(store_id, key, version_id)
    return ObjectInfo(
        key=m.key, size=m.size, content_type=m.content_type, etag=m.etag,
        last_modified=m.last_modified, acl=m.acl, checksums=dict(m.checksums),
        headers=dict(m.headers), user_meta=dict(m.user_meta), tags=dict(m.tags),
        version_id=m.version_id, is_latest=m.is_latest, lock_mode=m.lock_mode,
        lock_until=m.lock_until, legal_hold=m.legal_hold)

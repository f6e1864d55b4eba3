"""The one place the console reads objects from the object services (read-only).

It calls the object engine's synchronous listing and head and hands the pages plain values,
so re-pointing the object browser at another read API means changing this file only.
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


def list_page(services: Services, store_id: str, prefix: str, after: str | None,
              limit: int) -> ListingPage:
    listing = services.objects.list_objects_sync(store_id, prefix, DELIMITER, after, limit)
    return ListingPage(
        [Entry(o.key, o.size, o.last_modified) for o in listing.objects],
        list(listing.prefixes), listing.truncated, listing.last)


def head(services: Services, store_id: str, key: str) -> ObjectInfo:
    m = services.objects.head_sync(store_id, key)
    return ObjectInfo(
        key=m.key, size=m.size, content_type=m.content_type, etag=m.etag,
        last_modified=m.last_modified, acl=m.acl, checksums=dict(m.checksums),
        headers=dict(m.headers), user_meta=dict(m.user_meta), tags=dict(m.tags),
        version_id=m.version_id if m.version_id != "null" else None)

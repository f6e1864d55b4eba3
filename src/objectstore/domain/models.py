"""Domain models: frozen dataclasses in Civo's nouns."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Generic, TypeVar

T = TypeVar("T")

GB = 10**9  # sizes are decimal gigabytes, as on Civo: a 500 GB store holds 500 * 10^9 bytes
NULL_VERSION = "null"  # the version id of objects written while versioning was never enabled


@dataclass(frozen=True)
class Account:
    id: str
    name: str
    quota_gb: int
    created_at: datetime


@dataclass(frozen=True)
class Credential:
    id: str
    account_id: str
    region: str
    name: str
    access_key_id: str
    secret_access_key: str
    max_size_gb: int | None
    suspended: bool
    used_bytes: int
    created_at: datetime


@dataclass(frozen=True)
class ObjectStore:
    id: str
    account_id: str
    region: str
    name: str
    max_size_gb: int
    credential_id: str
    owns_credential: bool
    used_bytes: int
    object_count: int
    acl: str
    created_at: datetime
    versioning: str | None = None  # None (never enabled), "Enabled" or "Suspended"


@dataclass(frozen=True)
class StoreWithOwner:
    store: ObjectStore
    owner: Credential


def blobs_of(blob_id: str, parts: Sequence[Sequence[Any]] | None) -> list[str]:
    """The blobs a version row names: its part manifest's, else its own blob (if any). The
    one place that says which blobs hold an object version's bytes."""
    if parts:
        return [str(p[0]) for p in parts]
    return [blob_id] if blob_id else []


@dataclass(frozen=True)
class ObjectVersion:
    """One version of an object: its bytes (inline, one blob, or a manifest of part blobs)
    and metadata. A delete marker is a version with no bytes."""

    store_id: str
    key: str
    blob_id: str
    size: int
    etag: str
    last_modified: datetime
    content_type: str
    headers: dict[str, str] = field(default_factory=dict)  # content-encoding, cache-control, ...
    user_meta: dict[str, str] = field(default_factory=dict)
    checksums: dict[str, str] = field(default_factory=dict)  # algorithm -> b64
    checksum_type: str | None = None
    acl: str = "private"
    parts: tuple[tuple[str, int], ...] | None = None  # multipart manifest: (blob_id, size)
    tags: dict[str, str] = field(default_factory=dict)
    data: bytes | None = None  # a small object's bytes, stored with its row (blob_id "")
    version_id: str = NULL_VERSION
    vseq: str = ""  # sorts newest first among a key's versions (the version id when not null)
    delete_marker: bool = False
    is_latest: bool = True
    lock_mode: str | None = None  # object lock: "GOVERNANCE" or "COMPLIANCE" ...
    lock_until: datetime | None = None  # ... until then
    legal_hold: bool = False
    grants: list[dict[str, str]] | None = None  # explicit ACL grants beyond the canned acl
    sse: dict[str, Any] | None = None  # how the bytes are encrypted (None: not encrypted)
    owner: str | None = None  # the owning credential's id (None: the store's owner)
    # CRC32C of every 1 MiB block of each blob, packed (services/engine/blocks.py); None:
    # written before block checksums, inline or encrypted
    blocks: bytes | None = None
    storage_class: str | None = None  # the S3 storage class (None: STANDARD)
    # A multipart object's parts' own checksums (algorithm -> b64), in ``parts`` order, as
    # UploadPart computed them (GET/HEAD with partNumber, GetObjectAttributes); None: not a
    # multipart object, or completed before they were kept.
    part_checksums: tuple[dict[str, str], ...] | None = None

    def blob_ids(self) -> list[str]:
        """The blobs holding this version's bytes (none for inline objects and markers)."""
        return blobs_of(self.blob_id, self.parts)

    def segments(self, start: int, end: int) -> list[tuple[str, int, int]]:
        """(blob_id, offset, length) pieces covering bytes [start, end] of a blob-held
        version."""
        if not self.parts:
            return [(self.blob_id, start, end - start + 1)]
        out: list[tuple[str, int, int]] = []
        base = 0
        for blob_id, size in self.parts:
            lo, hi = base, base + size - 1
            if hi >= start and lo <= end and size > 0:
                s, e = max(start, lo), min(end, hi)
                out.append((blob_id, s - lo, e - s + 1))
            base += size
            if base > end:
                break
        return out


@dataclass(slots=True)
class ListedObject:
    """What a listing shows of an object (built 1,000 at a time: kept small)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    checksums: dict[str, str]
    version_id: str = NULL_VERSION
    is_latest: bool = True
    delete_marker: bool = False
    vseq: str = ""
    owner: str | None = None  # the owning credential's id (None: the store's owner)
    storage_class: str | None = None  # None: STANDARD


@dataclass(frozen=True)
class Page(Generic[T]):
    page: int
    per_page: int
    total: int
    items: list[T]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

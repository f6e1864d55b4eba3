"""Domain models: frozen dataclasses in Civo's nouns."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Generic, TypeVar

T = TypeVar("T")

GIB = 1024**3  # a store of max_size_gb N holds N GiB of object bytes


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


@dataclass(frozen=True)
class StoreWithOwner:
    store: ObjectStore
    owner: Credential


@dataclass(frozen=True)
class ObjectMeta:
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


@dataclass(slots=True)
class ListedObject:
    """What a listing shows of an object (built 1,000 at a time: kept small)."""

    key: str
    size: int
    etag: str
    last_modified: datetime
    checksums: dict[str, str]


@dataclass(frozen=True)
class Page(Generic[T]):
    page: int
    per_page: int
    total: int
    items: list[T]

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.per_page))

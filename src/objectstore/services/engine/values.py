"""The values the object engine takes and gives back: what a writer says about a new version
(``Attributes``), conditional-write headers, what a read plans and returns, a delete's
outcome, and the error for stored bytes that fail their check."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import datetime

from .sse import SseRequest

SMALL_BODY = 256 * 1024  # read whole into memory (one hop); larger bodies are streamed


@dataclass(frozen=True)
class Attributes:
    """What a writer says about a new object version: all of it is validated before the
    write and committed with the version's row, in one transaction (a refused request leaves
    no trace)."""

    content_type: str = "binary/octet-stream"
    headers: dict[str, str] = field(default_factory=dict)
    user_meta: dict[str, str] = field(default_factory=dict)
    acl: str = "private"
    grants: list[dict[str, str]] | None = None  # explicit ACL grants (x-amz-grant-*)
    tags: dict[str, str] = field(default_factory=dict)
    encryption: SseRequest | None = None  # server-side encryption asked for (or default)
    lock_mode: str | None = None  # object lock retention asked for (x-amz-object-lock-*)
    lock_until: datetime | None = None
    legal_hold: bool = False
    owner: str | None = None  # the credential that owns the version (None: the store's owner)
    storage_class: str | None = None  # x-amz-storage-class (None: STANDARD)


@dataclass(frozen=True)
class Conditions:
    """Conditional write headers: If-Match (an ETag, "*" = must exist), If-None-Match ("*")."""

    if_match: str | None = None
    if_none_match: str | None = None


@dataclass
class ObjectBody:
    """What a read returns: the bytes (small) or a stream of them (large)."""

    length: int
    data: bytes = b""
    stream: AsyncIterator[bytes] | None = None


@dataclass(frozen=True)
class ReadPlan:
    """What a GET reads of the version it resolved: bytes [start, end] (SSE-C:
    ``customer_key``)."""

    start: int
    end: int
    customer_key: bytes | None = None


@dataclass(frozen=True)
class Deleted:
    """A delete's outcome: the version removed or the delete marker made."""

    version_id: str | None = None
    delete_marker: bool = False


class DamagedObject(Exception):
    """Stored bytes do not match their checksum (an internal error: never served)."""


__all__ = ["Attributes", "Conditions", "DamagedObject", "Deleted", "ObjectBody", "ReadPlan"]

"""The per-request context handed to every S3 handler, and the response value they return."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field

from starlette.types import Receive

from ..domain.models import Credential, ObjectStore, ObjectVersion
from ..domain.operations import Op
from ..services.registry import Services
from .routing import Rule
from .sigv4 import SigV4Auth


@dataclass
class S3Response:
    status: int = 200
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None
    content_type: str | None = None


@dataclass(frozen=True)
class CopySource:
    store: ObjectStore
    key: str
    version_id: str | None


@dataclass
class S3Context:
    services: Services
    receive: Receive
    method: str
    raw_path: str
    raw_query: str
    headers: dict[str, str]
    request_id: str
    bucket: str | None
    key: str | None
    rule: Rule
    credential: Credential | None = None
    sigv4: SigV4Auth | None = None
    signing_key: bytes | None = None
    store: ObjectStore | None = None
    query: dict[str, str] = field(default_factory=dict)  # decoded, first value of each key
    version: ObjectVersion | None = None  # the object, when authorization had to read it
    copy_source: CopySource | None = None  # x-amz-copy-source, resolved and authorized
    may_bypass_governance: bool = False  # asked for, and s3:BypassGovernanceRetention allowed

    @property
    def version_id(self) -> str | None:
        """The ``versionId`` query parameter, if any."""
        return self.query.get("versionId")

    @property
    def op(self) -> Op:
        return self.rule.op

    @property
    def resource(self) -> str:
        if self.bucket is None:
            return "/"
        return f"/{self.bucket}" + (f"/{self.key}" if self.key is not None else "")

    def require_store(self) -> ObjectStore:
        assert self.store is not None
        return self.store

    def require_key(self) -> str:
        assert self.key is not None
        return self.key

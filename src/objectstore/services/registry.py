"""The set of services both planes share (built by ``app.py``)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from sqlalchemy import Engine

from ..config import Settings
from ..storage.blobs import BlobStore
from .accounts import AccountService
from .bucket_configs import BucketConfigService
from .cache import SharedGeneration
from .credentials import CredentialService
from .engine.multipart import MultipartService
from .engine.objects import ObjectEngine
from .events.targets import TargetService
from .objectstores import ObjectStoreService
from .regions import RegionService


@dataclass
class Services:
    settings: Settings
    engine: Engine
    blobs: BlobStore
    regions: RegionService
    accounts: AccountService
    credentials: CredentialService
    stores: ObjectStoreService
    objects: ObjectEngine
    multipart: MultipartService
    configs: BucketConfigService
    # run once when the process stops serving (listener threads, connection pools)
    closers: list[Callable[[], None]] = field(default_factory=list)
    # the change counter every cache of this deployment shares (services/cache.py)
    changes: SharedGeneration | None = None
    # bucket event notification targets (services/events)
    targets: TargetService | None = None

    def close(self) -> None:
        while self.closers:
            self.closers.pop()()


    def endpoint_for(self, store_name: str) -> str:
        return f"{self.settings.resolved_public_s3_url()}/{store_name}"

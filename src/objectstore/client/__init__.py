"""Python SDK for the objectstore management API (Civo's v2 Object Store API)."""

from .api import ObjectStoreClient
from .errors import ApiError, ObjectStoreError, TransportError
from .models import (
    Credential,
    EventTarget,
    ObjectStore,
    OwnerInfo,
    Page,
    Quota,
    Region,
    StoreStats,
)

__all__ = [
    "ApiError",
    "Credential",
    "EventTarget",
    "ObjectStore",
    "ObjectStoreClient",
    "ObjectStoreError",
    "OwnerInfo",
    "Page",
    "Quota",
    "Region",
    "StoreStats",
    "TransportError",
]

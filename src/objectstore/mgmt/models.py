"""The management API's response models, by their names here: they are
``objectstore.api_models``' (the one typed set the server renders from, the OpenAPI document's
schemas are generated from and the SDK parses into). tests/api/test_openapi.py checks every
answer against its model, field for field."""

from __future__ import annotations

from ..api_models import (
    Count,
    Credential,
    CredentialPage,
    DateTime,
    Deleted,
    Error,
    EventTarget,
    EventTargetList,
    Health,
    KmsKey,
    KmsKeyList,
    Metrics,
    NonEmpty,
    ObjectStore,
    ObjectStorePage,
    OpenApiDocument,
    OwnerInfo,
    Quota,
    Region,
    RegionFeatures,
    RegionList,
    Stats,
    Uuid,
)

__all__ = ["Count", "Credential", "CredentialPage", "DateTime", "Deleted", "Error",
           "EventTarget", "EventTargetList", "Health", "KmsKey", "KmsKeyList", "Metrics",
           "NonEmpty", "ObjectStore", "ObjectStorePage", "OpenApiDocument", "OwnerInfo",
           "Quota", "Region", "RegionFeatures", "RegionList", "Stats", "Uuid"]

"""Wire models of the management API: the server's own (``objectstore.api_models``, the one
typed set the server parses and renders with and the OpenAPI document is generated from);
every answer is parsed into them (pydantic: an answer that does not fit is an ``ApiError``
``invalid_response``). ``to_dict()`` gives a model's JSON back."""

from __future__ import annotations

from ..api_models import (
    CreateCredential,
    CreateEventTarget,
    CreateObjectStore,
    Credential,
    CredentialPage,
    EventTarget,
    EventTargetList,
    ObjectStore,
    ObjectStorePage,
    OwnerInfo,
    Page,
    Quota,
    Region,
    RegionFeatures,
    RegionList,
    Stats,
    UpdateCredential,
    UpdateEventTarget,
    UpdateObjectStore,
)

StoreStats = Stats  # the SDK's name for it

__all__ = [
    "CreateCredential",
    "CreateEventTarget",
    "CreateObjectStore",
    "Credential",
    "CredentialPage",
    "EventTarget",
    "EventTargetList",
    "ObjectStore",
    "ObjectStorePage",
    "OwnerInfo",
    "Page",
    "Quota",
    "Region",
    "RegionFeatures",
    "RegionList",
    "Stats",
    "StoreStats",
    "UpdateCredential",
    "UpdateEventTarget",
    "UpdateObjectStore",
]

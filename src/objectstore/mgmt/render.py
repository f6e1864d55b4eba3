"""Domain objects -> the management API's response models (objectstore.api_models), with
every field the real clients read; the endpoint sends ``api_models.dump`` of them
(tests/api/test_openapi.py checks every answer against its model, field for field)."""

from __future__ import annotations

import logging
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError

from ..api_models import (
    Credential,
    CredentialPage,
    Deleted,
    KmsKey,
    ObjectStore,
    ObjectStorePage,
    OwnerInfo,
    Quota,
    Region,
    RegionFeatures,
    Stats,
)
from ..config import RegionConfig
from ..domain import models as domain
from ..services.objectstores import StoreStats

log = logging.getLogger("objectstore.mgmt")
M = TypeVar("M", bound=BaseModel)


def build(model: type[M], **fields: Any) -> M:
    """``model`` of ``fields``, validated (pydantic-core: faster than ``model_construct``). A
    value the model refuses (a row older than a rule, say) is logged and sent as it is, not
    turned into a 500 (the tests check every answer against its model strictly)."""
    try:
        return model(**fields)
    except ValidationError as exc:
        log.warning("a %s answer does not fit its model, sent as it is: %s", model.__name__,
                    exc.errors()[0])
        return model.model_construct(**fields)


def store_json(sw: domain.StoreWithOwner, endpoint: str) -> ObjectStore:
    s, owner = sw.store, sw.owner
    return build(
        ObjectStore,
        id=s.id,
        name=s.name,
        max_size=s.max_size_gb,
        max_size_gb=s.max_size_gb,
        owner_info=build(OwnerInfo, name=owner.name, access_key_id=owner.access_key_id,
                         credential_id=owner.id),
        objectstore_endpoint=endpoint,
        region=s.region,
        status="ready",
        state="ready",
        created_at=s.created_at.isoformat(),
    )


def credential_json(c: domain.Credential) -> Credential:
    return build(
        Credential,
        id=c.id,
        name=c.name,
        access_key_id=c.access_key_id,
        secret_access_key_id=c.secret_access_key,
        max_size_gb=c.max_size_gb or 0,
        suspended=c.suspended,
        status="ready",
        state="ready",
        region=c.region,
        created_at=c.created_at.isoformat(),
    )


def store_page(page: domain.Page[domain.StoreWithOwner], items: tuple[ObjectStore, ...]
               ) -> ObjectStorePage:
    return build(ObjectStorePage, page=page.page, per_page=page.per_page, pages=page.pages,
                 items=items)


def credential_page(page: domain.Page[domain.Credential]) -> CredentialPage:
    return build(CredentialPage, page=page.page, per_page=page.per_page, pages=page.pages,
                 items=tuple(credential_json(c) for c in page.items))


def stats_json(st: StoreStats) -> Stats:
    return build(Stats, size_kb_utilised=st.size_kb_utilised, max_size_kb=st.max_size_kb,
                 num_objects=st.num_objects)


def region_json(r: RegionConfig) -> Region:
    return build(
        Region,
        code=r.code,
        name=r.name,
        type="civo",
        out_of_capacity=False,
        country=r.country,
        country_name=r.country_name,
        default=r.default,
        features=build(RegionFeatures, iaas=False, kubernetes=False,
                       object_store=r.object_store, loadbalancer=False, dbaas=False,
                       volume=False, paas=False, kfaas=False, public_ip_node_pools=False),
    )


def quota_json(account: domain.Account, used_gb: int, count: int) -> Quota:
    return build(
        Quota,
        id=account.id,
        default_user_id=account.id,
        default_user_email_address="",
        objectstore_gb_limit=account.quota_gb,
        objectstore_gb_usage=used_gb,
        objectstore_count_usage=count,
    )


def kms_key_json(public: dict[str, Any]) -> KmsKey:
    """A KMS key as the key service shows it (``KmsKey.public``: never its material)."""
    return build(KmsKey, **public)


DELETED = Deleted(result="success")

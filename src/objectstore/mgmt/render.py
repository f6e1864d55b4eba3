"""Domain objects -> Civo JSON, with every field the real clients read (the shapes are
mgmt/models.py's, which the OpenAPI document is generated from; tests/api/test_openapi.py
checks every rendered body against them)."""

from __future__ import annotations

from typing import Any

from ..config import RegionConfig
from ..domain.models import Credential, Page, StoreWithOwner


def store_json(sw: StoreWithOwner, endpoint: str) -> dict[str, Any]:
    s, owner = sw.store, sw.owner
    return {
        "id": s.id,
        "name": s.name,
        "max_size": s.max_size_gb,
        "max_size_gb": s.max_size_gb,
        "owner_info": {
            "name": owner.name,
            "access_key_id": owner.access_key_id,
            "credential_id": owner.id,
        },
        "objectstore_endpoint": endpoint,
        "region": s.region,
        "status": "ready",
        "state": "ready",
        "created_at": s.created_at.isoformat(),
    }


def credential_json(c: Credential) -> dict[str, Any]:
    return {
        "id": c.id,
        "name": c.name,
        "access_key_id": c.access_key_id,
        "secret_access_key_id": c.secret_access_key,
        "max_size_gb": c.max_size_gb or 0,
        "suspended": c.suspended,
        "status": "ready",
        "state": "ready",
        "region": c.region,
        "created_at": c.created_at.isoformat(),
    }


def page_json(page: Page[Any], items: list[dict[str, Any]]) -> dict[str, Any]:
    return {"page": page.page, "per_page": page.per_page, "pages": page.pages, "items": items}


def region_json(r: RegionConfig) -> dict[str, Any]:
    return {
        "code": r.code,
        "name": r.name,
        "type": "civo",
        "out_of_capacity": False,
        "country": r.country,
        "country_name": r.country_name,
        "default": r.default,
        "features": {
            "iaas": False,
            "kubernetes": False,
            "object_store": r.object_store,
            "loadbalancer": False,
            "dbaas": False,
            "volume": False,
            "paas": False,
            "kfaas": False,
            "public_ip_node_pools": False,
        },
    }

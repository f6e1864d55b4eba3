"""/v2/regions and /v2/quota."""

from __future__ import annotations

from typing import Any

from ..handler import Call
from ..render import region_json


def list_regions(call: Call) -> list[dict[str, Any]]:
    return [region_json(r) for r in call.services.regions.regions]


def quota(call: Call) -> dict[str, Any]:
    used_gb, count = call.services.stores.allocation(call.account.id)
    return {
        "id": call.account.id,
        "default_user_id": call.account.id,
        "default_user_email_address": "",
        "objectstore_gb_limit": call.account.quota_gb,
        "objectstore_gb_usage": used_gb,
        "objectstore_count_usage": count,
    }

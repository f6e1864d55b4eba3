"""/v2/regions and /v2/quota."""

from __future__ import annotations

from typing import Any

from .. import models
from ..handler import Call
from ..render import region_json
from ..spec import operation


@operation("listRegions", "Regions (a bare JSON array)", models.RegionList,
           "Every configured region", query=())
def list_regions(call: Call) -> list[dict[str, Any]]:
    return [region_json(r) for r in call.services.regions.regions]


@operation("getQuota", "The account's object store allocation", models.Quota,
           "Allocation and its limit", query=())
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

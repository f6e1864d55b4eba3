"""/v2/regions and /v2/quota."""

from __future__ import annotations

from ... import api_models as wire
from ..handler import Call
from ..render import build, quota_json, region_json
from ..spec import operation


@operation("listRegions", "Regions (a bare JSON array)", wire.RegionList,
           "Every configured region", query=())
def list_regions(call: Call) -> wire.RegionList:
    return build(wire.RegionList, root=[region_json(r) for r in call.services.regions.regions])


@operation("getQuota", "The account's object store allocation", wire.Quota,
           "Allocation and its limit", query=())
def quota(call: Call) -> wire.Quota:
    used_gb, count = call.services.stores.allocation(call.account.id)
    return quota_json(call.account, used_gb, count)

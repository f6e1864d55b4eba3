"""The overview: the endpoints and how to connect a client, quota used and left, and
stores, bytes and objects per region."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from .endpoint import Ctx, own_origin
from .stores_page import all_credentials


@dataclass(frozen=True)
class RegionUsage:
    region: str
    stores: int
    allocated_gb: int
    used_bytes: int
    objects: int


def region_usage(ctx: Ctx) -> list[RegionUsage]:
    out = []
    for code in ctx.state.object_regions():
        items = ctx.services.stores.list(ctx.account.id, code, 1, 100000).items
        out.append(RegionUsage(code, len(items), sum(s.store.max_size_gb for s in items),
                               sum(s.store.used_bytes for s in items),
                               sum(s.store.object_count for s in items)))
    return out


def overview(ctx: Ctx) -> Response:
    allocated, count = ctx.services.stores.allocation(ctx.account.id)
    quota = ctx.account.quota_gb
    creds = all_credentials(ctx)
    return ctx.render("overview.html", quota_gb=quota, allocated_gb=allocated,
                      left_gb=max(0, quota - allocated), store_count=count,
                      regions=region_usage(ctx),
                      s3_endpoint=ctx.services.settings.resolved_public_s3_url(),
                      api_endpoint=own_origin(ctx.request),
                      first_credential=creds[0] if creds else None)

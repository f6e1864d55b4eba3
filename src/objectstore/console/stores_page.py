"""Stores: list, create, details with a usage chart and settings, resize, delete."""

from __future__ import annotations

import time

from starlette.responses import Response

from ..domain.errors import InvalidInput
from ..domain.models import GB, Credential, StoreWithOwner
from .chart import PERIODS, build_chart
from .endpoint import Ctx
from .events_page import notifications_of
from .sampler import Sample
from .store_settings import settings_of
from .templating import url
from .website_settings import website_of


def all_stores(ctx: Ctx) -> list[StoreWithOwner]:
    out: list[StoreWithOwner] = []
    for code in ctx.state.object_regions():
        out.extend(ctx.services.stores.list(ctx.account.id, code, 1, 100000).items)
    return out


def all_credentials(ctx: Ctx) -> list[Credential]:
    out: list[Credential] = []
    for code in ctx.state.object_regions():
        out.extend(ctx.services.credentials.list(ctx.account.id, code, 1, 100000).items)
    return out


def used_fraction(s: StoreWithOwner) -> float:
    return min(1.0, s.store.used_bytes / (s.store.max_size_gb * GB)) \
        if s.store.max_size_gb else 0.0


def list_page(ctx: Ctx) -> Response:
    return ctx.render("stores.html", stores=all_stores(ctx), credentials=all_credentials(ctx),
                      regions=ctx.state.object_regions(),
                      default_region=ctx.services.regions.default.code,
                      default_size=ctx.services.settings.default_store_gb,
                      endpoint_for=ctx.services.endpoint_for, used_fraction=used_fraction)


def create(ctx: Ctx) -> Response:
    f = ctx.form
    name = f.text("name", "Name", max_len=63)
    region = ctx.services.regions.for_object_stores(f.get("region") or None).code
    size = f.integer("size_gb", "Size (GB)", required=False)
    owner_choice = f.get("owner", "new")
    owner: Credential | None = None
    if owner_choice and owner_choice != "new":
        owner = ctx.services.credentials.get(ctx.account.id, owner_choice, None)
        if owner.region != region:
            raise InvalidInput(f"credential {owner.name} is in {owner.region}, "
                               f"not in {region}", "owner")
    sw = ctx.services.stores.create(ctx.account.id, region, name, size, None, owner=owner)
    ctx.state.sampler.history.record(time.time(), [(sw.store.id, 0, 0)])
    return ctx.redirect(url(f"/stores/{sw.store.id}"),
                        ok=f"Store {sw.store.name} created in {region}.")


def detail(ctx: Ctx) -> Response:
    sw = ctx.services.stores.get(ctx.account.id, ctx.request.path_params["id"], None)
    period = ctx.request.query_params.get("period", "day")
    if period not in PERIODS:
        period = "day"
    now = time.time()
    samples = ctx.state.history.since(sw.store.id, now - PERIODS[period])
    # the chart ends at the usage of this moment, whenever the last sample was taken
    samples.append(Sample(now, sw.store.used_bytes, sw.store.object_count))
    return ctx.render("store.html", s=sw, endpoint=ctx.services.endpoint_for(sw.store.name),
                      chart=build_chart(samples, period, now), periods=list(PERIODS),
                      used_fraction=used_fraction(sw),
                      settings=settings_of(ctx, sw.store.id, sw.store.versioning),
                      website=website_of(ctx, sw.store),
                      notifications=notifications_of(ctx, sw.store))


def resize(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    size = ctx.form.integer("size_gb", "Size (GB)")
    sw = ctx.services.stores.update(ctx.account.id, store_id, None, size, None)
    return ctx.redirect(url(f"/stores/{store_id}"),
                        ok=f"Store {sw.store.name} is now {sw.store.max_size_gb} GB.")


def delete(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    sw = ctx.services.stores.get(ctx.account.id, store_id, None)
    typed = ctx.form.get("confirm").strip()
    if typed != sw.store.name:
        raise InvalidInput(f"to delete the store, type its name ({sw.store.name}) exactly",
                           "confirm")
    ctx.services.stores.delete(ctx.account.id, store_id, None)
    ctx.services.objects.wake_gc()
    ctx.state.history.forget(store_id)
    return ctx.redirect(url("/stores"), ok=f"Store {sw.store.name} deleted.")

"""Bucket event notifications in the console (docs/notifications.md): the account's event
targets (list with their delivery counts, create, delete) and, on a store's page, its
notification configuration with each target's backlog, delivered, retried and failed counts.
The configuration itself is set over S3 (PutBucketNotificationConfiguration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..domain.models import ObjectStore
from ..domain.notifications import configurations_from_json, parse_arn
from ..services.events.targets import EventTarget, TargetService
from .endpoint import Ctx
from .templating import url

TYPES = ("webhook", "amqp", "nats", "redis")
OPTION_FIELDS = ("batch_size", "exchange", "routing_key", "subject", "key", "format",
                 "backlog_limit")


@dataclass(frozen=True)
class TargetRow:
    target: EventTarget
    backlog: int


@dataclass(frozen=True)
class NotificationRow:
    id: str
    events: tuple[str, ...]
    prefix: str
    suffix: str
    arn: str
    target: TargetRow | None  # None: the target is gone (or another account's)


def _targets(ctx: Ctx) -> TargetService:
    targets = ctx.services.targets
    assert targets is not None
    return targets


def _rows(ctx: Ctx, targets: list[EventTarget]) -> list[TargetRow]:
    backlogs = _targets(ctx).backlogs([t.id for t in targets]) if targets else {}
    return [TargetRow(t, backlogs.get(t.id, 0)) for t in targets]


def list_page(ctx: Ctx) -> Response:
    return ctx.render("event_targets.html",
                      targets=_rows(ctx, _targets(ctx).of_account(ctx.account.id)),
                      types=TYPES, regions=ctx.state.object_regions(),
                      default_region=ctx.services.regions.default.code)


def create(ctx: Ctx) -> Response:
    f = ctx.form
    name = f.text("name", "Name", max_len=255)
    type_ = f.text("type", "Type", max_len=16)
    endpoint = f.text("endpoint", "Endpoint", max_len=2048)
    region = ctx.services.regions.for_object_stores(f.get("region") or None).code
    token = f.text("auth_token", "Auth token", required=False, max_len=4096) or None
    options: dict[str, Any] = {}
    for name_ in OPTION_FIELDS:
        value = f.text(name_, name_.replace("_", " "), required=False, max_len=255)
        if value:
            options[name_] = value
    target = _targets(ctx).create(ctx.account.id, region, name, type_, endpoint, options,
                                  token)
    return ctx.redirect(url("/event-targets"),
                        ok=f"Event target {target.name} created: name {target.arn} in a "
                           "store's notification configuration.")


def delete(ctx: Ctx) -> Response:
    target_id = ctx.request.path_params["id"]
    target = _targets(ctx).get(ctx.account.id, target_id)
    _targets(ctx).delete(ctx.account.id, target_id)
    return ctx.redirect(url("/event-targets"), ok=f"Event target {target.name} deleted.")


def notifications_of(ctx: Ctx, store: ObjectStore) -> list[NotificationRow]:
    """The store's notification configurations with their targets' counts."""
    configs = configurations_from_json(ctx.services.configs.get(store.id, "notification"))
    if not configs:
        return []
    mine = {t.id: t for t in _targets(ctx).of_account(store.account_id)}
    wanted = [mine[p.target_id] for c in configs
              if (p := parse_arn(c.arn)) is not None and p.target_id in mine]
    rows = {r.target.id: r for r in _rows(ctx, wanted)}
    out = []
    for c in configs:
        parsed = parse_arn(c.arn)
        out.append(NotificationRow(c.id, c.events, c.prefix, c.suffix, c.arn,
                                   rows.get(parsed.target_id) if parsed else None))
    return out

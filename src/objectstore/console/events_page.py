"""Bucket event notifications in the console (docs/notifications.md): the account's event
targets (list with their delivery counts, backlog limits and batch sizes, create, edit,
delete) and, on a store's page, its notification configuration with each target's backlog,
delivered, retried and failed counts. The configuration itself is set over S3
(PutBucketNotificationConfiguration)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from starlette.responses import Response

from ..domain.models import ObjectStore
from ..domain.notifications import configurations_from_json, parse_arn
from ..services.events.targets import OPTIONS, EventTarget, TargetChange, TargetService
from .endpoint import Ctx
from .templating import url

TYPES = ("webhook", "amqp", "nats", "redis")
OPTION_FIELDS = ("batch_size", "exchange", "routing_key", "subject", "key", "format",
                 "backlog_limit")


@dataclass(frozen=True)
class TargetRow:
    target: EventTarget
    backlog: int
    limit: int = 0          # the backlog limit that applies: the target's own or the server's
    batch: int | None = None  # a webhook's records per POST (None: not a webhook)

    @property
    def own_limit(self) -> bool:
        return bool(self.target.options.get("backlog_limit"))


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
    service = _targets(ctx)
    backlogs = service.backlogs([t.id for t in targets]) if targets else {}
    return [TargetRow(t, backlogs.get(t.id, 0),
                      min(int(t.options.get("backlog_limit") or service.backlog_limit),
                          service.backlog_limit),
                      int(t.options.get("batch_size") or 1) if t.type == "webhook" else None)
            for t in targets]


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


def edit_page(ctx: Ctx) -> Response:
    target = _targets(ctx).get(ctx.account.id, ctx.request.path_params["id"])
    [row] = _rows(ctx, [target])
    return ctx.render("event_target.html", row=row, t=target,
                      fields=[name for name, _required in OPTIONS[target.type]],
                      server_limit=_targets(ctx).backlog_limit)


def update(ctx: Ctx) -> Response:
    """The edit form: what differs from the target as shown changes (a field left as it
    was is not sent again, so an unchanged endpoint is not checked again); an emptied
    option is removed; the token field left empty keeps the token."""
    service = _targets(ctx)
    target = service.get(ctx.account.id, ctx.request.path_params["id"])
    f = ctx.form
    name = f.text("name", "Name", max_len=255)
    endpoint = f.text("endpoint", "Endpoint", max_len=2048)
    options: dict[str, Any] = {}
    for name_, _required in OPTIONS[target.type]:
        value = f.text(name_, name_.replace("_", " "), required=False, max_len=255)
        if value != str(target.options.get(name_) or ""):
            options[name_] = value
    limit = f.text("backlog_limit", "Backlog limit", required=False, max_len=20)
    if limit != str(target.options.get("backlog_limit") or ""):
        options["backlog_limit"] = limit or 0
    token: str | None = None
    if target.type == "webhook":
        token = f.text("auth_token", "Auth token", required=False, max_len=4096) or None
        if f.get("remove_auth_token") == "1":
            token = ""
    changed = service.update(ctx.account.id, target.id, TargetChange(
        name=name if name != target.name else None,
        endpoint=endpoint if endpoint != target.endpoint else None,
        auth_token=token, options=options))
    return ctx.redirect(url("/event-targets"),
                        ok=f"Event target {changed.name} saved: the next delivery uses the "
                           "change.")


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

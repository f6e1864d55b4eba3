"""A store's settings on its page: versioning (enable, suspend), object lock (shown) and
lifecycle rules (shown as a table, the configuration deleted).

Reads and changes go through the store and configuration services, like the store page's
resize and delete (object writes alone go over S3).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC

from starlette.responses import Response

from ..domain.errors import InvalidInput
from ..domain.lifecycle import DAY, Rule, rules_from_json
from ..domain.object_lock import LockConfig
from .endpoint import Ctx
from .templating import url

VERSIONING_WORDS = {None: "Never enabled", "Enabled": "Enabled", "Suspended": "Suspended"}


@dataclass(frozen=True)
class RuleRow:
    id: str
    status: str
    filter: str
    actions: list[str]


@dataclass(frozen=True)
class StoreSettings:
    versioning: str | None
    versioning_word: str
    lock: LockConfig | None
    lock_retention: str
    has_lifecycle: bool
    rules: list[RuleRow]
    day_seconds: int


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"


def _size(n: int) -> str:
    return f"{n:,} bytes"


def describe_filter(rule: Rule) -> str:
    f = rule.filter
    parts: list[str] = []
    if f.prefix:
        parts.append(f"keys starting with “{f.prefix}”")
    parts.extend(f"tag {k} = {v}" for k, v in f.tags)
    if f.size_greater_than is not None:
        parts.append(f"larger than {_size(f.size_greater_than)}")
    if f.size_less_than is not None:
        parts.append(f"smaller than {_size(f.size_less_than)}")
    return " and ".join(parts) if parts else "every object"


def describe_actions(rule: Rule) -> list[str]:
    out: list[str] = []
    if rule.expiration_days is not None:
        out.append(f"Expire current versions {_days(rule.expiration_days)} after creation")
    if rule.expiration_date is not None:
        when = rule.expiration_date.astimezone(UTC).strftime("%Y-%m-%d %H:%M UTC")
        out.append(f"Expire current versions on {when}")
    if rule.expired_object_delete_marker:
        out.append("Remove expired delete markers")
    if rule.noncurrent_days is not None:
        text = (f"Delete noncurrent versions {_days(rule.noncurrent_days)} after they "
                "become noncurrent")
        if rule.newer_noncurrent_versions is not None:
            text += f", keeping the {rule.newer_noncurrent_versions} newest"
        out.append(text)
    if rule.abort_days is not None:
        out.append(f"Abort incomplete multipart uploads {_days(rule.abort_days)} after "
                   "they start")
    return out or ["none"]


def describe_retention(lock: LockConfig | None) -> str:
    if lock is None or lock.mode is None:
        return "none (versions are locked only when an upload asks for it)"
    period = _days(lock.days) if lock.days is not None else \
        (f"{lock.years} year" if lock.years == 1 else f"{lock.years} years")
    return f"{lock.mode} for {period}"


def settings_of(ctx: Ctx, store_id: str, versioning: str | None) -> StoreSettings:
    configs = ctx.services.configs
    lock = LockConfig.from_json(configs.get(store_id, "object-lock"))
    doc = configs.get(store_id, "lifecycle")
    rows = [RuleRow(r.id, "Enabled" if r.enabled else "Disabled", describe_filter(r),
                    describe_actions(r)) for r in rules_from_json(doc)]
    return StoreSettings(versioning, VERSIONING_WORDS.get(versioning, versioning or ""),
                         lock, describe_retention(lock), doc is not None, rows,
                         ctx.services.settings.lifecycle_day_seconds or DAY)


def set_versioning(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    sw = ctx.services.stores.get(ctx.account.id, store_id, None)
    status = ctx.form.get("status")
    if status not in ("Enabled", "Suspended"):
        raise InvalidInput("versioning can be Enabled or Suspended", "status")
    ctx.services.stores.set_versioning(sw.store.id, status)
    word = "enabled" if status == "Enabled" else "suspended"
    return ctx.redirect(url(f"/stores/{store_id}"),
                        ok=f"Versioning is now {word} on {sw.store.name}.")


def delete_lifecycle(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    sw = ctx.services.stores.get(ctx.account.id, store_id, None)
    typed = ctx.form.get("confirm").strip()
    if typed != sw.store.name:
        raise InvalidInput("to delete the lifecycle configuration, type the store's name "
                           f"({sw.store.name}) exactly", "confirm")
    if not ctx.services.configs.delete(sw.store.id, "lifecycle"):
        raise InvalidInput(f"{sw.store.name} has no lifecycle configuration")
    return ctx.redirect(url(f"/stores/{store_id}"),
                        ok=f"The lifecycle configuration of {sw.store.name} is deleted.")

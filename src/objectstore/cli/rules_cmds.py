"""`objectstore rules STORE`: a store's lifecycle rules and object lock configuration (admin:
works directly on the data dir / database, like `account`)."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ..domain.lifecycle import rules_from_json
from ..domain.object_lock import LockConfig

Command = Callable[..., None]


def register(main: click.Group, common: Callable[[Command], Command],
             services: Callable[..., Any]) -> None:
    @main.command("rules")
    @common
    @click.argument("store", metavar="NAME|ID")
    @click.option("--output", type=click.Choice(["text", "json"]), default="text")
    def rules(store: str, output: str, **flags: Any) -> None:
        """Show a store's lifecycle rules and object lock (by store name or ID)."""
        svc = services(flags)
        by_id = svc.stores.by_id(store)
        found = [by_id] if by_id is not None else svc.stores.by_name(store)
        if not found:
            raise click.ClickException(f"no object store named {store}")
        for s in found:
            lifecycle = rules_from_json(svc.configs.get(s.id, "lifecycle"))
            lock = LockConfig.from_json(svc.configs.get(s.id, "object-lock"))
            if output == "json":
                click.echo(json.dumps({
                    "store": s.name, "region": s.region, "versioning": s.versioning,
                    "object_lock": lock.to_json() if lock else None,
                    "lifecycle": [r.to_json() for r in lifecycle]}))
                continue
            click.echo(f"{s.name} ({s.region}): versioning {s.versioning or 'never enabled'}")
            if lock is None:
                click.echo("  object lock: not enabled")
            elif lock.mode:
                span = f"{lock.days} days" if lock.days else f"{lock.years} years"
                click.echo(f"  object lock: enabled, default retention {lock.mode} {span}")
            else:
                click.echo("  object lock: enabled, no default retention")
            if not lifecycle:
                click.echo("  lifecycle: no rules")
            for r in lifecycle:
                actions = []
                if r.expiration_days is not None:
                    actions.append(f"expire after {r.expiration_days} days")
                if r.expiration_date is not None:
                    actions.append(f"expire on {r.expiration_date.date()}")
                if r.expired_object_delete_marker:
                    actions.append("remove expired delete markers")
                if r.noncurrent_days is not None:
                    keep = (f", keeping {r.newer_noncurrent_versions} newer"
                            if r.newer_noncurrent_versions is not None else "")
                    actions.append(f"noncurrent versions after {r.noncurrent_days} days{keep}")
                if r.abort_days is not None:
                    actions.append(f"abort uploads after {r.abort_days} days")
                f = r.filter
                where = [f"prefix {f.prefix!r}"] if f.prefix else []
                where += [f"tag {k}={v}" for k, v in f.tags]
                if f.size_greater_than is not None:
                    where.append(f"size > {f.size_greater_than}")
                if f.size_less_than is not None:
                    where.append(f"size < {f.size_less_than}")
                state = "enabled" if r.enabled else "disabled"
                click.echo(f"  lifecycle rule {r.id} ({state}; {', '.join(where) or 'all'}): "
                           + "; ".join(actions))

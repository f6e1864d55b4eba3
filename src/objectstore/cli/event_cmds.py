"""`objectstore event-target list|create|show|update|delete`: the account's bucket event targets
through the management API (docs/notifications.md). A bucket names a target by its ARN in its
S3 notification configuration (e.g. `aws s3api put-bucket-notification-configuration`)."""

from __future__ import annotations

from typing import Any

import click

from ..client import EventTarget
from .client_cmds import (
    Env,
    echo_fields,
    echo_json,
    echo_table,
    fail,
    show_deleted,
    with_client,
)

OPTIONS = ("batch_size", "exchange", "routing_key", "subject", "key", "format",
           "backlog_limit")


def show_target(env: Env, t: EventTarget) -> None:
    if env.json:
        echo_json(t.to_dict())
        return
    echo_fields([
        ("ID", t.id), ("Name", t.name), ("Type", t.type), ("Region", t.region),
        ("Endpoint", t.endpoint), ("ARN", t.arn),
        *[(k.replace("_", " ").capitalize(), getattr(t, k)) for k in OPTIONS
          if getattr(t, k, None) is not None],
        ("Auth token", "set" if t.auth_token_set else "none"),
        ("Backlog", t.backlog), ("Delivered", t.delivered), ("Retried", t.retried),
        ("Failed", t.failed), ("Last error", t.last_error or "-"), ("Created", t.created_at),
    ])


@click.group("event-target")
def event_target() -> None:
    """Bucket event targets (webhook, AMQP, NATS, Redis) that stores' notification
    configurations name by ARN."""


@event_target.command("list")
@with_client()
def target_list(env: Env) -> None:
    """List the account's event targets with their delivery counts."""
    targets = env.client.list_event_targets()
    if env.json:
        echo_json([t.to_dict() for t in targets])
        return
    # LIMIT: the target's own backlog limit ("-": the server's); BATCH: a webhook's records
    # per POST ("-": not a webhook)
    echo_table(["ID", "NAME", "TYPE", "ENDPOINT", "BACKLOG", "LIMIT", "BATCH", "DELIVERED",
                "RETRIED", "FAILED", "ARN"],
               [[t.id, t.name, t.type, t.endpoint, t.backlog, t.backlog_limit or "-",
                 (t.batch_size or 1) if t.type == "webhook" else "-", t.delivered,
                 t.retried, t.failed, t.arn] for t in targets])


@event_target.command("create")
@with_client()
@click.argument("name")
@click.option("--type", "type_", type=click.Choice(["webhook", "amqp", "nats", "redis"]),
              required=True, help="Target type")
@click.option("--endpoint", required=True,
              help="http(s)://..., amqp://user:pass@host/vhost, nats://host:4222, "
                   "redis://host:6379/0 (a password in it is stored sealed)")
@click.option("--auth-token", envvar="OBJECTSTORE_EVENT_AUTH_TOKEN", default=None,
              help="webhook: Authorization: Bearer token [env OBJECTSTORE_EVENT_AUTH_TOKEN]")
@click.option("--batch-size", type=click.IntRange(1, 100), default=None,
              help="webhook: records per POST (default 1)")
@click.option("--exchange", default=None, help="amqp: exchange")
@click.option("--routing-key", default=None, help="amqp: routing key")
@click.option("--subject", default=None, help="nats: subject")
@click.option("--key", default=None, help="redis: list or stream key")
@click.option("--format", "fmt", type=click.Choice(["list", "stream"]), default=None,
              help="redis: list (RPUSH) or stream (XADD)")
@click.option("--backlog-limit", type=click.IntRange(min=1), default=None,
              help="any type: the most undelivered events kept (the oldest past it are "
                   "dropped, counted as failed); at most the server's "
                   "OBJECTSTORE_EVENT_BACKLOG_LIMIT (default: that limit)")
def target_create(env: Env, name: str, type_: str, endpoint: str, auth_token: str | None,
                  batch_size: int | None, exchange: str | None, routing_key: str | None,
                  subject: str | None, key: str | None, fmt: str | None,
                  backlog_limit: int | None) -> None:
    """Create an event target NAME; prints its ARN (secrets are never shown again)."""
    options: dict[str, Any] = {"batch_size": batch_size, "exchange": exchange,
                               "routing_key": routing_key, "subject": subject, "key": key,
                               "format": fmt, "backlog_limit": backlog_limit}
    show_target(env, env.client.create_event_target(
        name, type_, endpoint, auth_token=auth_token,
        **{k: v for k, v in options.items() if v is not None}))


@event_target.command("show")
@with_client()
@click.argument("id", metavar="ID")
def target_show(env: Env, id: str) -> None:
    """Show one event target and its delivery counts."""
    show_target(env, env.client.get_event_target(id))


@event_target.command("update")
@with_client()
@click.argument("id", metavar="ID")
@click.option("--name", default=None, help="New name")
@click.option("--endpoint", default=None,
              help="New endpoint of the target's type (checked as on create); a password "
                   "left out of it, or given as ***, keeps the current one; an empty one "
                   "(user:@host) removes it")
@click.option("--auth-token", default=None,
              help="webhook: a new Authorization: Bearer token (left out: kept)")
@click.option("--no-auth-token", "clear_token", is_flag=True, default=False,
              help="webhook: remove the token")
@click.option("--batch-size", type=click.IntRange(1, 100), default=None,
              help="webhook: records per POST")
@click.option("--exchange", default=None, help="amqp: exchange (\"\": the default exchange)")
@click.option("--routing-key", default=None, help="amqp: routing key (\"\": none)")
@click.option("--subject", default=None, help="nats: subject")
@click.option("--key", default=None, help="redis: list or stream key")
@click.option("--format", "fmt", type=click.Choice(["list", "stream"]), default=None,
              help="redis: list (RPUSH) or stream (XADD)")
@click.option("--backlog-limit", type=click.IntRange(min=0), default=None,
              help="any type: the most undelivered events kept, at most the server's "
                   "OBJECTSTORE_EVENT_BACKLOG_LIMIT; 0 removes the target's own limit")
def target_update(env: Env, id: str, name: str | None, endpoint: str | None,
                  auth_token: str | None, clear_token: bool, batch_size: int | None,
                  exchange: str | None, routing_key: str | None, subject: str | None,
                  key: str | None, fmt: str | None, backlog_limit: int | None) -> None:
    """Change event target ID in place (its type and region cannot change): only the options
    given change; the backlog is kept and the next delivery uses the change."""
    if clear_token and auth_token is not None:
        fail("conflicting_options", "give --auth-token or --no-auth-token, not both")
    options: dict[str, Any] = {"batch_size": batch_size, "exchange": exchange,
                               "routing_key": routing_key, "subject": subject, "key": key,
                               "format": fmt, "backlog_limit": backlog_limit}
    given = {k: v for k, v in options.items() if v is not None}
    if not given and name is None and endpoint is None and auth_token is None \
            and not clear_token:
        fail("nothing_to_update", "give at least one option to change")
    show_target(env, env.client.update_event_target(
        id, name=name, endpoint=endpoint, auth_token="" if clear_token else auth_token,
        **given))


@event_target.command("delete")
@with_client()
@click.argument("id", metavar="ID")
def target_delete(env: Env, id: str) -> None:
    """Delete an event target (refused while a store's notification configuration names
    it)."""
    env.client.delete_event_target(id)
    show_deleted(env, "event target", id)


def register(main: click.Group) -> None:
    main.add_command(event_target)

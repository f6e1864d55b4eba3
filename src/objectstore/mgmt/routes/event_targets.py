"""/v2/objectstore/event-targets: where the account's buckets announce their changes
(webhook, AMQP, NATS, Redis; docs/notifications.md). A bucket names a target by its ``arn``
in its S3 notification configuration. Secrets (``auth_token``, a password in ``endpoint``)
are sealed at rest and never shown again."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ...services.events.targets import TargetService
from .. import models
from ..handler import Call
from ..params import BODY_REGION, REGION, Body, PathId, Text
from ..spec import operation

TARGET_ID = PathId("eventTargetId", "An event target's id")
NAME = Text("name", "A name for the target (1-255 characters)", example="thumbnailer")
TYPE = Text("type", "webhook, amqp, nats or redis", example="webhook",
            enum=["webhook", "amqp", "nats", "redis"])
ENDPOINT = Text("endpoint", "webhook: http(s)://...; amqp: amqp(s)://user:pass@host:port/"
                "vhost; nats: nats://host:port; redis: redis://[:pass@]host:port/db. A "
                "password in it is kept sealed and shown as ***. Endpoints resolving to "
                "link-local or metadata addresses, or to this server's own ports, are "
                "refused (422)", example="https://hooks.example.com/s3")
AUTH_TOKEN = Text("auth_token", "webhook: sent as Authorization: Bearer <token>; sealed at "
                  "rest, never shown again")
EXCHANGE = Text("exchange", "amqp: the exchange to publish to (empty: the default exchange)")
ROUTING_KEY = Text("routing_key", "amqp: the routing key (with the default exchange, the "
                   "queue's name)")
SUBJECT = Text("subject", "nats: the subject to publish to (required)")
KEY = Text("key", "redis: the list or stream key (required)")
FORMAT = Text("format", "redis: list (RPUSH, default) or stream (XADD)",
              enum=["list", "stream"])
CREATE = Body("CreateEventTarget", NAME, TYPE, ENDPOINT, AUTH_TOKEN, EXCHANGE, ROUTING_KEY,
              SUBJECT, KEY, FORMAT, BODY_REGION, required=True,
              required_fields=("name", "type", "endpoint"))
OPTION_FIELDS = (EXCHANGE, ROUTING_KEY, SUBJECT, KEY, FORMAT)


def _targets(call: Call) -> TargetService:
    targets = call.services.targets
    assert targets is not None
    return targets


def _public(call: Call, targets: list[Any]) -> list[dict[str, Any]]:
    backlogs = _targets(call).backlogs([t.id for t in targets]) if targets else {}
    return [t.public(backlogs.get(t.id, 0)) for t in targets]


@operation("listEventTargets", "The account's bucket event targets, with their delivery "
           "counts", models.EventTargetList, "Targets (never their secrets)", query=())
def list_event_targets(call: Call) -> list[dict[str, Any]]:
    return _public(call, _targets(call).of_account(call.account.id))


@operation("createEventTarget", "Create a bucket event target (webhook, amqp, nats, redis)",
           models.EventTarget, "The new target, with the arn buckets name it by",
           body=CREATE, errors=(404, 422))
def create_event_target(call: Call) -> dict[str, Any]:
    region = call.services.regions.for_object_stores(REGION.read(call.params)).code
    name, type_, endpoint = (NAME.read(call.params), TYPE.read(call.params),
                             ENDPOINT.read(call.params))
    for field, value in (("name", name), ("type", type_), ("endpoint", endpoint)):
        if not value:
            raise InvalidInput(f"{field} is required", field)
    options = {f.name: f.read(call.params) for f in OPTION_FIELDS}
    target = _targets(call).create(call.account.id, region, name or "", type_ or "",
                                   endpoint or "", options, AUTH_TOKEN.read(call.params))
    return target.public()


@operation("getEventTarget", "A bucket event target and its delivery counts",
           models.EventTarget, "The target", path=TARGET_ID, query=(), errors=(404,))
def get_event_target(call: Call) -> dict[str, Any]:
    return _public(call, [_targets(call).get(call.account.id, TARGET_ID.read(call.path))])[0]


@operation("deleteEventTarget", "Delete a bucket event target (409 while a bucket's "
           "notification configuration names it); its undelivered events go with it",
           models.Deleted, "Deleted", path=TARGET_ID, query=(), errors=(404, 409))
def delete_event_target(call: Call) -> dict[str, Any]:
    _targets(call).delete(call.account.id, TARGET_ID.read(call.path))
    return {"result": "success"}

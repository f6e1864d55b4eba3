"""/v2/objectstore/event-targets: where the account's buckets announce their changes
(webhook, AMQP, NATS, Redis; docs/notifications.md). A bucket names a target by its ``arn``
in its S3 notification configuration. Secrets (``auth_token``, a password in ``endpoint``)
are sealed at rest and never shown again."""

from __future__ import annotations

from ... import api_models as wire
from ...services.events.targets import EventTarget, TargetChange, TargetService
from ..handler import Call
from ..params import REGION, Body, PathId
from ..render import DELETED, build
from ..spec import operation

TARGET_ID = PathId("eventTargetId", "An event target's id")
CREATE = Body(wire.CreateEventTarget, required=True)
UPDATE = Body(wire.UpdateEventTarget)


def _targets(call: Call) -> TargetService:
    targets = call.services.targets
    assert targets is not None
    return targets


def _public(call: Call, targets: list[EventTarget]) -> list[wire.EventTarget]:
    backlogs = _targets(call).backlogs([t.id for t in targets]) if targets else {}
    return [_target(t, backlogs.get(t.id, 0)) for t in targets]


def _target(target: EventTarget, backlog: int = 0) -> wire.EventTarget:
    # the options a target has are set, the others are left out (as the service shows it)
    return build(wire.EventTarget, **target.public(backlog))


@operation("listEventTargets", "The account's bucket event targets, with their delivery "
           "counts", wire.EventTargetList, "Targets (never their secrets)", query=())
def list_event_targets(call: Call) -> wire.EventTargetList:
    return build(wire.EventTargetList,
                 root=_public(call, _targets(call).of_account(call.account.id)))


@operation("createEventTarget", "Create a bucket event target (webhook, amqp, nats, redis)",
           wire.EventTarget, "The new target, with the arn buckets name it by",
           body=CREATE, errors=(404, 422))
def create_event_target(call: Call) -> wire.EventTarget:
    region = call.services.regions.for_object_stores(REGION.read(call.params)).code
    body = call.body(wire.CreateEventTarget)
    target = _targets(call).create(call.account.id, region, body.name or "", body.type or "",
                                   body.endpoint or "", body.options(), body.auth_token)
    return _target(target)


@operation("getEventTarget", "A bucket event target and its delivery counts",
           wire.EventTarget, "The target", path=TARGET_ID, query=(), errors=(404,))
def get_event_target(call: Call) -> wire.EventTarget:
    return _public(call, [_targets(call).get(call.account.id, TARGET_ID.read(call.path))])[0]


@operation("updateEventTarget", "Change a bucket event target in place: its name, endpoint, "
           "auth_token or options (not its type or region: 422). Only the fields given "
           "change; a secret left out is kept, an empty auth_token removes the token; the "
           "backlog is kept and the next delivery uses the change", wire.EventTarget,
           "The updated target", path=TARGET_ID, body=UPDATE, errors=(404, 409, 422))
def update_event_target(call: Call) -> wire.EventTarget:
    region = REGION.read(call.params)
    body = call.body(wire.UpdateEventTarget)
    change = TargetChange(
        name=body.name, endpoint=body.endpoint, auth_token=body.auth_token,
        options=body.options(), type=body.type,
        region=None if region is None else call.services.regions.for_object_stores(
            region).code)
    target = _targets(call).update(call.account.id, TARGET_ID.read(call.path), change)
    return _public(call, [target])[0]


@operation("deleteEventTarget", "Delete a bucket event target (409 while a bucket's "
           "notification configuration names it); its undelivered events go with it",
           wire.Deleted, "Deleted", path=TARGET_ID, query=(), errors=(404, 409))
def delete_event_target(call: Call) -> wire.Deleted:
    _targets(call).delete(call.account.id, TARGET_ID.read(call.path))
    return DELETED

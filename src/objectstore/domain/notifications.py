"""Bucket notification configurations as values, and which configured target an event goes
to (pure decisions; the S3 plane parses and renders the XML, services/events records and
delivers).

A configuration (``QueueConfiguration`` or ``TopicConfiguration``) names a target by its ARN
(``arn:objectstore:sqs:<region>:<target id>:<type>``), the event types it wants (``s3:`` names,
``*`` wildcards per family) and an optional key prefix and suffix."""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from .errors import DomainError

ARN_PREFIX = "arn:objectstore:sqs:"
TARGET_TYPES = ("webhook", "amqp", "nats", "redis")

# the event types this server announces, per family
FAMILIES: dict[str, tuple[str, ...]] = {
    "ObjectCreated": ("Put", "Post", "Copy", "CompleteMultipartUpload"),
    "ObjectRemoved": ("Delete", "DeleteMarkerCreated"),
    "ObjectTagging": ("Put", "Delete"),
    "ObjectAcl": ("Put",),
    "LifecycleExpiration": ("Delete", "DeleteMarkerCreated"),
}
# AWS names a configuration may list that never happen here (no restores, replication,
# transitions or reduced-redundancy storage): accepted, never sent
NEVER = frozenset({
    "s3:ObjectRestore:*", "s3:ObjectRestore:Post", "s3:ObjectRestore:Completed",
    "s3:ObjectRestore:Delete", "s3:ReducedRedundancyLostObject", "s3:Replication:*",
    "s3:Replication:OperationFailedReplication", "s3:Replication:OperationNotTracked",
    "s3:Replication:OperationMissedThreshold",
    "s3:Replication:OperationReplicatedAfterThreshold", "s3:LifecycleTransition",
    "s3:IntelligentTiering",
})
KNOWN = frozenset({f"s3:{fam}:*" for fam in FAMILIES}
                  | {f"s3:{fam}:{name}" for fam, names in FAMILIES.items() for name in names})


class NotificationError(ValueError):
    """A configuration S3 refuses (400 InvalidArgument), with AWS's wording."""

    def __init__(self, message: str, argument: tuple[str, str] | None = None) -> None:
        super().__init__(message)
        self.argument = argument


@dataclass(frozen=True)
class TargetArn:
    region: str
    target_id: str
    type: str

    def __str__(self) -> str:
        return f"{ARN_PREFIX}{self.region}:{self.target_id}:{self.type}"


@lru_cache(maxsize=4096)
def parse_arn(arn: str) -> TargetArn | None:
    """``arn:objectstore:sqs:<region>:<id>:<type>`` -> its parts; None if it is not one."""
    if not arn.startswith(ARN_PREFIX):
        return None
    parts = arn[len(ARN_PREFIX):].split(":")
    if len(parts) != 3 or not all(parts) or parts[2] not in TARGET_TYPES:
        return None
    return TargetArn(parts[0].upper(), parts[1], parts[2])


def target_arn(region: str, target_id: str, type_: str) -> str:
    return str(TargetArn(region.upper(), target_id, type_))


@dataclass(frozen=True)
class Configuration:
    kind: str  # "Queue" or "Topic"
    id: str
    arn: str
    events: tuple[str, ...]
    prefix: str = ""
    suffix: str = ""

    def wants(self, event_name: str, key: str) -> bool:
        """Whether ``event_name`` (e.g. ``ObjectCreated:Put``) on ``key`` is announced."""
        family = event_name.split(":", 1)[0]
        if f"s3:{event_name}" not in self.events and f"s3:{family}:*" not in self.events:
            return False
        return key.startswith(self.prefix) and key.endswith(self.suffix)

    def to_json(self) -> dict[str, Any]:
        return {"kind": self.kind, "id": self.id, "arn": self.arn, "events": list(self.events),
                "prefix": self.prefix, "suffix": self.suffix}

    @staticmethod
    def from_json(doc: dict[str, Any]) -> Configuration:
        return Configuration(doc["kind"], doc["id"], doc["arn"], tuple(doc["events"]),
                             doc.get("prefix", ""), doc.get("suffix", ""))


def check_event(name: str) -> None:
    if name not in KNOWN and name not in NEVER:
        raise NotificationError("The event is not supported for notifications",
                                ("Event", name))


def configurations_from_json(doc: Any) -> list[Configuration]:
    if not doc:
        return []
    return [Configuration.from_json(c) for c in doc.get("configurations", [])]


def configurations_to_json(configs: list[Configuration]) -> dict[str, Any]:
    return {"configurations": [c.to_json() for c in configs]}


@dataclass(frozen=True)
class Route:
    """Where one event goes: a target, and the configuration that sent it there."""

    target_id: str
    configuration_id: str


def routes(configs: list[Configuration], event_name: str, key: str) -> list[Route]:
    """The targets an event goes to, each once (the first configuration that wants it)."""
    out: list[Route] = []
    seen: set[str] = set()
    for c in configs:
        if not c.wants(event_name, key):
            continue
        parsed = parse_arn(c.arn)
        if parsed is None or parsed.target_id in seen:
            continue
        seen.add(parsed.target_id)
        out.append(Route(parsed.target_id, c.id))
    return out


class TargetNotFound(DomainError):
    """The event target does not exist (or belongs to another account)."""

    kind = "event_target_not_found"


class TargetInUse(DomainError):
    """A bucket's notification configuration names the target."""

    kind = "event_target_in_use"


class TargetInvalid(DomainError):
    """The target's endpoint or options are well-formed but not usable (the broker
    senders' checks)."""

    kind = "event_target_invalid"


class EndpointRefused(DomainError):
    """The endpoint resolves to an address (or port) targets may not reach."""

    kind = "event_target_endpoint_refused"

"""The checks a broker target passes before it is stored (``POST /v2/objectstore/event-targets``):
``validate(spec)`` raises ``ValueError`` with a reason a person can act on (the management API
answers it as a 422). They check the form only; whether the broker answers, and whether the
endpoint's address is allowed (link-local, the service's own ports), are checked elsewhere.

- amqp: ``amqp://`` or ``amqps://`` with a host, the path one virtual host; ``exchange`` and
  ``routing_key`` (each at most 255 bytes), at least one of them: no exchange means the
  default exchange, which delivers to the queue named by the routing key.
- nats: ``nats://`` or ``tls://`` with a host; ``subject`` (required): dot-separated tokens,
  no wildcards (``*``, ``>``) and no white space.
- redis: ``redis://`` or ``rediss://`` with a host, the path empty or a database number;
  ``key`` (required); ``format`` "list" (RPUSH, the default) or "stream" (XADD).

No endpoint may carry a query string or fragment: the client libraries read connection options
(file paths for TLS keys among them) from the query, which a tenant must not set."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any
from urllib.parse import SplitResult, unquote, urlsplit

from objectstore.services.events.senders.base import TargetSpec
from objectstore.services.events.senders.endpoints import split_netloc

BROKER_TYPES = ("amqp", "nats", "redis")
REDIS_FORMATS = ("list", "stream")
_SUBJECT_TOKEN = re.compile(r"[^\s.*>]+")


def validate(spec: TargetSpec) -> None:
    """Checks a broker target (type amqp, nats or redis); ``ValueError`` with the reason."""
    check = _VALIDATORS.get(spec.type)
    if check is None:
        raise ValueError(f"unknown target type {spec.type!r}: expected one of "
                         f"{', '.join(BROKER_TYPES)} (webhook targets are checked elsewhere)")
    check(spec)


def validate_amqp(spec: TargetSpec) -> None:
    parts = _endpoint(spec.endpoint, ("amqp", "amqps"), "AMQP")
    if parts.path.count("/") > 1:
        raise ValueError("AMQP endpoint: the path is one virtual host, e.g. amqp://host/vhost "
                         "(a / in its name is written %2F)")
    user, _, _ = split_netloc(parts.netloc)
    if spec.secret is not None and not user:
        raise ValueError("AMQP endpoint: a password given apart needs the user name in the "
                         "endpoint (amqp://user@host/vhost)")
    exchange = _string(spec.options, "exchange", "AMQP", required=False)
    if len(exchange.encode()) > 255:
        raise ValueError("AMQP exchange: at most 255 bytes")
    routing_key = _string(spec.options, "routing_key", "AMQP", required=False)
    if len(routing_key.encode()) > 255:
        raise ValueError("AMQP routing_key: at most 255 bytes")
    if not exchange and not routing_key:
        raise ValueError("AMQP target: an exchange, or a routing_key alone (the default "
                         "exchange delivers to the queue of that name)")


def validate_nats(spec: TargetSpec) -> None:
    parts = _endpoint(spec.endpoint, ("nats", "tls"), "NATS")
    if parts.path not in ("", "/"):
        raise ValueError("NATS endpoint: no path (nats://host:port)")
    subject = _string(spec.options, "subject", "NATS", required=True)
    if len(subject.encode()) > 1024:
        raise ValueError("NATS subject: at most 1024 bytes")
    tokens = subject.split(".")
    if not all(_SUBJECT_TOKEN.fullmatch(t) for t in tokens):
        raise ValueError(f"NATS subject {subject!r}: dot-separated non-empty tokens without "
                         "white space or wildcards (* and > only subscribe)")


def validate_redis(spec: TargetSpec) -> None:
    parts = _endpoint(spec.endpoint, ("redis", "rediss"), "Redis")
    db = parts.path.lstrip("/")
    if db and not (db.isdigit() and int(db) < 2**31):
        raise ValueError(f"Redis endpoint: the path is a database number "
                         f"(redis://host:port/0), not {unquote(parts.path)!r}")
    key = _string(spec.options, "key", "Redis", required=True)
    if len(key.encode()) > 1024:
        raise ValueError("Redis key: at most 1024 bytes")
    fmt = spec.options.get("format", "list")
    if fmt not in REDIS_FORMATS:
        raise ValueError(f"Redis format {fmt!r}: expected \"list\" (RPUSH) or \"stream\" (XADD)")


_VALIDATORS: dict[str, Callable[[TargetSpec], None]] = {
    "amqp": validate_amqp,
    "nats": validate_nats,
    "redis": validate_redis,
}


def _endpoint(endpoint: Any, schemes: tuple[str, ...], what: str) -> SplitResult:
    if not isinstance(endpoint, str) or not endpoint:
        raise ValueError(f"{what} endpoint: a URL is required, e.g. {schemes[0]}://host")
    if any(c.isspace() or ord(c) < 32 for c in endpoint):
        raise ValueError(f"{what} endpoint: no white space or control characters")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise ValueError(f"{what} endpoint: not a valid URL ({exc})") from None
    if parts.scheme.lower() not in schemes:
        shown = parts.scheme or "none"
        raise ValueError(f"{what} endpoint: the scheme must be "
                         f"{' or '.join(s + '://' for s in schemes)}, not {shown}")
    if not parts.hostname:
        raise ValueError(f"{what} endpoint: a host is required ({schemes[0]}://host:port)")
    if port == 0:
        raise ValueError(f"{what} endpoint: port 0")
    if parts.query or parts.fragment or endpoint.endswith(("?", "#")):
        raise ValueError(f"{what} endpoint: no query string or fragment (connection options "
                         "are not taken from the URL)")
    return parts


def _string(options: dict[str, Any], name: str, what: str, *, required: bool) -> str:
    value = options.get(name)
    if value is None:
        if required:
            raise ValueError(f"{what} target: {name!r} is required")
        return ""
    if not isinstance(value, str):
        raise ValueError(f"{what} {name}: a string is required")
    if required and not value:
        raise ValueError(f"{what} target: {name!r} must not be empty")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise ValueError(f"{what} {name}: no control characters")
    return value

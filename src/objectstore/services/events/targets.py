"""Event targets: an account's webhooks, AMQP exchanges, NATS subjects and Redis lists or
streams that its buckets' notification configurations name by ARN. Secrets (a webhook's
auth token, a password in the endpoint URL) are sealed with the server key (services/
secrets.py) and never shown again: the endpoint is shown with ``***`` for its password.

An update (``TargetService.update``) changes a target in place — name, endpoint, secrets,
options — never its type or region (its ARN names them): a secret left out is kept, an empty
one is cleared, and the deliverer picks the change up at its next round (the backlog stays:
it is keyed by the target's id)."""

from __future__ import annotations

import json
import uuid
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import SplitResult, urlsplit, urlunsplit

from sqlalchemy import Engine, delete, func, select

from ...domain.errors import Conflict, InvalidInput
from ...domain.notifications import (
    TARGET_TYPES,
    TargetInUse,
    TargetInvalid,
    TargetNotFound,
    configurations_from_json,
    parse_arn,
    target_arn,
)
from ...storage.sql.engine import writing
from ...storage.sql.tables import bucket_configs, event_outbox, event_targets
from ..cache import SharedGeneration
from ..secrets import SecretBox
from .guard import Guard
from .senders.base import TargetSpec
from .senders.validation import BROKER_TYPES, validate

SCHEMES: dict[str, tuple[str, ...]] = {
    "webhook": ("http", "https"),
    "amqp": ("amqp", "amqps"),
    "nats": ("nats", "tls"),
    "redis": ("redis", "rediss"),
}
DEFAULT_PORTS = {"http": 80, "https": 443, "amqp": 5672, "amqps": 5671, "nats": 4222,
                 "tls": 4222, "redis": 6379, "rediss": 6379}
# per type: (option name, required, description)
OPTIONS: dict[str, tuple[tuple[str, bool], ...]] = {
    "webhook": (("batch_size", False),),
    "amqp": (("exchange", False), ("routing_key", False)),
    "nats": (("subject", True),),
    "redis": (("key", True), ("format", False)),
}
# every type's: the most undelivered events kept for the target (the server's limit if unset)
COMMON_OPTIONS: tuple[tuple[str, bool], ...] = (("backlog_limit", False),)
DEFAULT_BACKLOG_LIMIT = 100_000  # OBJECTSTORE_EVENT_BACKLOG_LIMIT's default
MAX_OPTION = 255


@dataclass(frozen=True)
class TargetChange:
    """What an update changes; None leaves a field as it is. ``endpoint``: a password left
    out of the URL, or given as ``***`` (as the target is shown), keeps the current one; an
    empty one (``user:@host``) removes it. ``auth_token``: ``""`` removes the token.
    ``options``: the given ones only; ``""`` (and ``backlog_limit`` 0) removes an option (its
    default applies). ``type`` and ``region`` may only repeat the target's own."""

    name: str | None = None
    endpoint: str | None = None
    auth_token: str | None = None
    options: dict[str, Any] = field(default_factory=dict)
    type: str | None = None
    region: str | None = None


@dataclass(frozen=True)
class EventTarget:
    id: str
    account_id: str
    name: str
    region: str
    type: str
    endpoint: str  # as shown: a password in it replaced by ***
    options: dict[str, Any]
    created_at: datetime
    delivered: int = 0
    retried: int = 0
    failed: int = 0
    last_error: str | None = None
    last_error_at: datetime | None = None
    auth_token_set: bool = False
    sealed: str = field(default="", repr=False)

    @property
    def arn(self) -> str:
        return target_arn(self.region, self.id, self.type)

    def public(self, backlog: int = 0) -> dict[str, Any]:
        out: dict[str, Any] = {
            "id": self.id, "name": self.name, "region": self.region, "type": self.type,
            "endpoint": self.endpoint, "arn": self.arn, **self.options,
            "auth_token_set": self.auth_token_set,
            "backlog": backlog, "delivered": self.delivered, "retried": self.retried,
            "failed": self.failed, "last_error": self.last_error or "",
            "created_at": self.created_at.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return out


SHOWN_PASSWORD = "***"  # noqa: S105 - what an endpoint shows for its password


def _redact(parts: SplitResult) -> str:
    if parts.password is None:
        return urlunsplit(parts)
    host = parts.hostname or ""
    if ":" in host:
        host = f"[{host}]"
    netloc = (f"{parts.username or ''}:{SHOWN_PASSWORD}@{host}"
              + (f":{parts.port}" if parts.port else ""))
    return urlunsplit(parts._replace(netloc=netloc))


def _hostport(parts: SplitResult) -> str:
    return parts.netloc.rpartition("@")[2]


def _keep_password(endpoint: str, current: str) -> str:
    """``endpoint`` with the current endpoint's password where it leaves the password out
    (no user info at all keeps the current user too) or gives ``***``; an empty password
    (``user:@host``) is removed. Usernames and passwords stay as written (percent-encoded)."""
    new, old = urlsplit(endpoint), urlsplit(current)
    user, password = new.username, new.password
    if user is None and password is None:  # no user info: the current one's
        user, password = old.username, old.password
    elif password is None or password == SHOWN_PASSWORD:
        if password == SHOWN_PASSWORD and old.password is None:
            raise InvalidInput("endpoint: *** stands for the target's current password, and "
                               "it has none: give the password", "endpoint")
        password = old.password
    userinfo = f"{user or ''}:{password}@" if password else (f"{user}@" if user else "")
    return urlunsplit(new._replace(netloc=userinfo + _hostport(new)))


def check_endpoint(type_: str, endpoint: str) -> tuple[SplitResult, str, int]:
    """The parsed endpoint URL, its host and port; InvalidInput naming what is wrong."""
    if type_ not in TARGET_TYPES:
        raise InvalidInput(f"type must be one of {', '.join(TARGET_TYPES)}", "type")
    if not endpoint or len(endpoint) > 2048 or any(c.isspace() for c in endpoint):
        raise InvalidInput("endpoint must be a URL without spaces (at most 2048 characters)",
                           "endpoint")
    try:
        parts = urlsplit(endpoint)
        port = parts.port
    except ValueError as exc:
        raise InvalidInput(f"endpoint is not a valid URL ({exc})", "endpoint") from None
    schemes = SCHEMES[type_]
    if parts.scheme not in schemes:
        raise InvalidInput(f"a {type_} endpoint must be a {' or '.join(s + '://' for s in schemes)}"
                           " URL", "endpoint")
    if not parts.hostname:
        raise InvalidInput("endpoint has no host", "endpoint")
    if type_ == "redis" and parts.path not in ("", "/") and not parts.path[1:].isdigit():
        raise InvalidInput("a redis endpoint's path is the database number "
                           "(redis://host:port/0)", "endpoint")
    return parts, parts.hostname, port or DEFAULT_PORTS[parts.scheme]


MAX_BATCH = 100


def _batch_size(value: Any) -> int:
    """A webhook's records per message: 1 (the default: one record per POST, as AWS sends
    them) to 100."""
    try:
        n = int(value)
    except (TypeError, ValueError):
        n = 0
    if isinstance(value, bool) or not 1 <= n <= MAX_BATCH:
        raise InvalidInput(f"batch_size must be an integer from 1 to {MAX_BATCH}",
                           "batch_size")
    return n


def _backlog_limit(value: Any, ceiling: int) -> int:
    """A target's own backlog limit: 1 to the server's (OBJECTSTORE_EVENT_BACKLOG_LIMIT, which
    is also the limit of a target without one)."""
    n = 0
    if isinstance(value, int) and not isinstance(value, bool):
        n = value
    elif isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        n = int(value.strip())
    if not 1 <= n <= ceiling:
        raise InvalidInput(f"backlog_limit must be an integer from 1 to {ceiling} (the "
                           "server's OBJECTSTORE_EVENT_BACKLOG_LIMIT)", "backlog_limit")
    return n


class TargetService:
    def __init__(self, engine: Engine, box: SecretBox, guard: Guard | None = None, *,
                 backlog_limit: int = DEFAULT_BACKLOG_LIMIT,
                 changes: SharedGeneration | None = None) -> None:
        self.engine = engine
        self.box = box
        self.guard = guard or Guard()
        self.backlog_limit = backlog_limit  # the server's: the default and the ceiling
        # bumped by an update: the deliverer (in whichever process holds the role) reads its
        # target again before its next send
        self.changes = changes

    # -- rows -------------------------------------------------------------------------------
    @staticmethod
    def _from_row(row: Any) -> EventTarget:
        m = row._mapping
        options = dict(m["options"] or {})
        auth = bool(options.pop("_auth", False))
        return EventTarget(
            id=m["id"], account_id=m["account_id"], name=m["name"], region=m["region"],
            type=m["type"], endpoint=m["endpoint"], options=options,
            created_at=m["created_at"], delivered=m["delivered"] or 0,
            retried=m["retried"] or 0, failed=m["failed"] or 0, last_error=m["last_error"],
            last_error_at=m["last_error_at"],
            auth_token_set=auth,
            sealed=m["sealed"])

    def _options(self, type_: str, given: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, required in OPTIONS[type_] + COMMON_OPTIONS:
            value = given.get(name)
            if value is None or value == "":
                if required:
                    raise InvalidInput(f"{name} is required for a {type_} target", name)
                continue
            if name == "batch_size":
                out[name] = _batch_size(value)
                continue
            if name == "backlog_limit":
                out[name] = _backlog_limit(value, self.backlog_limit)
                continue
            if not isinstance(value, str) or len(value) > MAX_OPTION:
                raise InvalidInput(f"{name} must be a string of at most {MAX_OPTION} "
                                   "characters", name)
            out[name] = value
        if type_ == "redis":
            fmt = out.setdefault("format", "list")
            if fmt not in ("list", "stream"):
                raise InvalidInput("format must be list or stream", "format")
        if type_ == "amqp" and not out.get("exchange") and not out.get("routing_key"):
            raise InvalidInput("an amqp target needs an exchange or a routing_key (with the "
                               "default exchange: the queue's name)", "routing_key")
        return out

    # -- operations -------------------------------------------------------------------------
    @staticmethod
    def _check_name(name: str) -> None:
        if not name or len(name) > 255:
            raise InvalidInput("name is required (1-255 characters)", "name")

    @staticmethod
    def _check_token(type_: str, auth_token: str | None) -> None:
        if auth_token is not None and type_ != "webhook":
            raise InvalidInput("auth_token is for webhook targets (put other targets' "
                               "credentials in the endpoint URL)", "auth_token")
        if auth_token is not None and (not auth_token or len(auth_token) > 4096
                                       or any(c in auth_token for c in "\r\n")):
            raise InvalidInput("auth_token must be 1-4096 characters on one line",
                               "auth_token")

    @staticmethod
    def _check_broker(type_: str, endpoint: str, opts: dict[str, Any]) -> None:
        if type_ in BROKER_TYPES:  # the broker senders' own checks (services/events/senders)
            try:
                validate(TargetSpec("", type_, endpoint, opts, None))
            except ValueError as exc:
                raise TargetInvalid(str(exc)) from None

    def create(self, account_id: str, region: str, name: str, type_: str, endpoint: str,
               options: dict[str, Any], auth_token: str | None = None) -> EventTarget:
        self._check_name(name)
        parts, host, port = check_endpoint(type_, endpoint)
        opts = self._options(type_, options)
        self._check_token(type_, auth_token)
        self._check_broker(type_, endpoint, opts)
        self.guard.check(host, port)
        now = datetime.now(UTC)
        target = EventTarget(str(uuid.uuid4()), account_id, name, region.upper(), type_,
                             _redact(parts), opts, now, auth_token_set=auth_token is not None)
        sealed = self.box.seal(json.dumps({"endpoint": endpoint, "auth_token": auth_token}))
        stored = dict(opts)
        if auth_token is not None:
            stored["_auth"] = True
        with writing(self.engine) as conn:
            conn.execute(event_targets.insert().values(
                id=target.id, account_id=account_id, name=name, region=target.region,
                type=type_, endpoint=target.endpoint, options=stored, sealed=sealed,
                created_at=now, delivered=0, retried=0, failed=0))
        return target

    def update(self, account_id: str, target_id: str, change: TargetChange) -> EventTarget:
        """Change the account's target in place (TargetChange says how); TargetNotFound for
        another account's, TargetInvalid for a new type or region, InvalidInput or
        EndpointRefused (the guard, as on create, for a new endpoint) with nothing changed.
        Two updates at once: the row's ``sealed`` (new on every update) is the version each
        writes over, the loser computes its change again on the winner's."""
        for _attempt in range(10):
            target = self.get(account_id, target_id)
            row = self._changed(target, change)
            with writing(self.engine) as conn:
                done = conn.execute(event_targets.update().where(
                    event_targets.c.id == target.id,
                    event_targets.c.account_id == account_id,
                    event_targets.c.sealed == target.sealed).values(**row)).rowcount
            if done:
                if self.changes is not None:
                    self.changes.bump()
                return self.get(account_id, target_id)
        raise Conflict("the event target was changed at the same time: try again")

    def _changed(self, target: EventTarget, change: TargetChange) -> dict[str, Any]:
        """The row's new values (everything checked), from ``target`` and ``change``."""
        type_ = target.type
        if change.type is not None and change.type != type_:
            raise TargetInvalid(f"an event target's type cannot be changed (it is part of its "
                                f"arn, {target.arn}): make a new {change.type} target and "
                                "name it in the stores' notification configurations")
        if change.region is not None and change.region.upper() != target.region:
            raise TargetInvalid(f"an event target's region cannot be changed (it is part of "
                                f"its arn, {target.arn}; the target is in {target.region}): "
                                f"make a new target in {change.region.upper()}")
        name = target.name if change.name is None else change.name
        self._check_name(name)
        secrets = json.loads(self.box.open(target.sealed))
        endpoint: str = secrets["endpoint"]
        guarded: tuple[str, int] | None = None
        if change.endpoint is not None:
            check_endpoint(type_, change.endpoint)  # as written (*** is a valid password)
            endpoint = _keep_password(change.endpoint, endpoint)
            _parts, host, port = check_endpoint(type_, endpoint)
            guarded = (host, port)
        merged = dict(target.options)
        for key, value in change.options.items():
            if value is None:
                continue
            if value == "" or (key == "backlog_limit" and value == 0):
                merged.pop(key, None)
            else:
                merged[key] = value
        # a limit kept from before (the server's may have been lowered since) is not
        # checked again: the deliverer holds the target to the server's anyway
        kept_limit = None if "backlog_limit" in change.options else merged.pop(
            "backlog_limit", None)
        opts = self._options(type_, merged)
        if kept_limit is not None:
            opts["backlog_limit"] = kept_limit
        auth_token: str | None = secrets.get("auth_token")
        if change.auth_token == "":
            auth_token = None
        elif change.auth_token is not None:
            self._check_token(type_, change.auth_token)
            auth_token = change.auth_token
        self._check_broker(type_, endpoint, opts)
        if guarded is not None:
            self.guard.check(*guarded)
        stored = dict(opts)
        if auth_token is not None:
            stored["_auth"] = True
        return {"name": name, "endpoint": _redact(urlsplit(endpoint)), "options": stored,
                "sealed": self.box.seal(json.dumps({"endpoint": endpoint,
                                                    "auth_token": auth_token}))}

    def of_account(self, account_id: str) -> list[EventTarget]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(event_targets).where(
                event_targets.c.account_id == account_id).order_by(
                event_targets.c.created_at, event_targets.c.id)).all()
        return [self._from_row(r) for r in rows]

    def all(self) -> list[EventTarget]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(event_targets).order_by(event_targets.c.id)).all()
        return [self._from_row(r) for r in rows]

    def get(self, account_id: str | None, target_id: str) -> EventTarget:
        with self.engine.connect() as conn:
            row = conn.execute(select(event_targets).where(
                event_targets.c.id == target_id)).first()
        if row is None or (account_id is not None and row.account_id != account_id):
            raise TargetNotFound(f"no event target {target_id}")
        return self._from_row(row)

    def for_arn(self, account_id: str, arn: str) -> EventTarget | None:
        """The account's target this ARN names (its region and type too), or None."""
        parsed = parse_arn(arn)
        if parsed is None:
            return None
        try:
            target = self.get(account_id, parsed.target_id)
        except TargetNotFound:
            return None
        if target.region != parsed.region or target.type != parsed.type:
            return None
        return target

    def users(self, target_id: str) -> list[str]:
        """Ids of the stores whose notification configuration names the target."""
        with self.engine.connect() as conn:
            rows = conn.execute(select(bucket_configs.c.store_id, bucket_configs.c.document)
                                .where(bucket_configs.c.name == "notification")).all()
        out = []
        for store_id, doc in rows:
            for c in configurations_from_json(json.loads(doc)):
                parsed = parse_arn(c.arn)
                if parsed is not None and parsed.target_id == target_id:
                    out.append(store_id)
                    break
        return out

    def delete(self, account_id: str, target_id: str) -> None:
        self.get(account_id, target_id)
        if self.users(target_id):
            raise TargetInUse("the event target is named by a bucket's notification "
                              "configuration; remove it there first")
        with writing(self.engine) as conn:
            conn.execute(delete(event_targets).where(event_targets.c.id == target_id))
            conn.execute(delete(event_outbox).where(event_outbox.c.target_id == target_id))

    def spec(self, target: EventTarget) -> TargetSpec:
        """What a sender needs (the secrets opened)."""
        secrets = json.loads(self.box.open(target.sealed))
        return TargetSpec(target.id, target.type, secrets["endpoint"], dict(target.options),
                          secrets.get("auth_token"))

    def check_reachable(self, spec: TargetSpec) -> None:
        """The guard, again, before a deliverer connects (a name may resolve elsewhere
        now)."""
        _parts, host, port = check_endpoint(spec.type, spec.endpoint)
        self.guard.check(host, port)

    def backlogs(self, target_ids: list[str] | None = None) -> dict[str, int]:
        with self.engine.connect() as conn:
            q = select(event_outbox.c.target_id, func.sum(event_outbox.c.events)).group_by(
                event_outbox.c.target_id)
            if target_ids is not None:
                q = q.where(event_outbox.c.target_id.in_(target_ids))
            return {t: int(n) for t, n in conn.execute(q).all()}

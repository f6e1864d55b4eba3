"""Request bodies of the management API: one ``RequestBody`` model per operation that
takes one."""

from __future__ import annotations

from functools import cache
from typing import Annotated, Any, ClassVar, Self

from pydantic import (
    BaseModel,
    ConfigDict,
)

from ..domain.errors import InvalidInput
from .params import BODY_REGION, Clearable, Flag, Integer, Param, ParamSource, RegionParam, Text

# -- request bodies ---------------------------------------------------------------------------

class RequestBody(BaseModel):
    """A request body: named fields, JSON or form-encoded; any field may also be sent in the
    query string instead (the body wins, except for ``region``). Each field is annotated with
    the ``Param`` that parses and describes it, named like the field. ``required_fields`` must
    be there; an ``aliases`` field (alias -> the field it stands for) is read only when the
    field it stands for is missing."""

    model_config = ConfigDict(frozen=True)
    required_fields: ClassVar[tuple[str, ...]] = ()
    aliases: ClassVar[dict[str, str]] = {}

    @classmethod
    def __pydantic_init_subclass__(cls, **kwargs: Any) -> None:
        super().__pydantic_init_subclass__(**kwargs)
        params = cls.params()
        assert set(cls.required_fields) <= set(params), cls.required_fields
        assert {*cls.aliases, *cls.aliases.values()} <= set(params), cls.aliases

    @classmethod
    def params(cls) -> dict[str, Param]:
        """Each field's ``Param``, in field order."""
        return _params_of(cls)

    @classmethod
    def read(cls, source: ParamSource) -> Self:
        """The body, parsed: a missing required field is reported first (in field order),
        then the first malformed one (in field order), as InvalidInput naming it."""
        values: dict[str, Any] = {}
        for name, param in cls.params().items():
            if cls.aliases.get(name) in values:
                continue
            value = param.raw(source)
            if value is None:
                if name in cls.required_fields:
                    raise InvalidInput(f"{name} is required", name)
                continue
            values[name] = value
        return cls.model_validate(values)

    @classmethod
    def fields_of(cls, **values: Any) -> dict[str, Any]:
        """A body of this model's fields (the SDK's requests): the given ones, None dropped."""
        unknown = set(values) - set(cls.model_fields)
        if unknown:
            raise TypeError(f"{cls.__name__} has no field {', '.join(sorted(unknown))}")
        return {k: v for k, v in values.items() if v is not None}


@cache
def _params_of(model: type[RequestBody]) -> dict[str, Param]:
    out: dict[str, Param] = {}
    for name, field in model.model_fields.items():
        found = [m for m in field.metadata if isinstance(m, Param)]
        assert len(found) == 1 and found[0].name == name, (model.__name__, name)
        out[name] = found[0]
    return out


_STORE_NAME = ("Bucket name: 3-63 letters, digits, '-' and '.', starting and ending with a "
               "letter or digit, no '..', not an IPv4 address; unique within the region")


class CreateObjectStore(RequestBody):
    """POST /v2/objectstores."""

    required_fields = ("name",)
    aliases = {"size": "max_size_gb"}
    name: Annotated[str | None, Text(
        "name", _STORE_NAME, pattern="^[a-zA-Z0-9][a-zA-Z0-9.-]{1,61}[a-zA-Z0-9]$")] = None
    region: Annotated[str | None, BODY_REGION] = None
    # a size given on create must be positive; only a missing one means the default
    max_size_gb: Annotated[int | None, Integer(
        "max_size_gb", "Size in GB (default 500)", minimum=1)] = None
    size: Annotated[int | None, Integer(
        "size", "Alias of max_size_gb (Civo's page calls it size)", minimum=1)] = None
    access_key_id: Annotated[str | None, Text(
        "access_key_id", "Owner: an existing credential of the account in the region; null or "
        "missing creates a new credential owned by (and deleted with) the store",
        nullable=True)] = None

    @property
    def size_gb(self) -> int | None:
        return self.max_size_gb if self.max_size_gb is not None else self.size


class UpdateObjectStore(RequestBody):
    """PUT (or PATCH) /v2/objectstores/{id}."""

    aliases = {"size": "max_size_gb"}
    region: Annotated[str | None, BODY_REGION] = None
    max_size_gb: Annotated[int | None, Integer(
        "max_size_gb", "New size in GB; 0 or missing leaves it unchanged")] = None
    size: Annotated[int | None, Integer("size", "Alias of max_size_gb")] = None
    access_key_id: Annotated[str | None, Text(
        "access_key_id", "Move the store to another credential of the account; null leaves "
        "the owner unchanged", nullable=True)] = None

    @property
    def size_gb(self) -> int | None:
        return self.max_size_gb if self.max_size_gb is not None else self.size


_KEY = "^[A-Za-z0-9_-]{3,128}$"
_PRINTABLE = "^[\\x21-\\x7e]{8,128}$"
_CREDENTIAL_NAME = Text("name", min_length=1, max_length=255)


class CreateCredential(RequestBody):
    """POST /v2/objectstore/credentials."""

    required_fields = ("name",)
    name: Annotated[str | None, _CREDENTIAL_NAME] = None
    region: Annotated[str | None, BODY_REGION] = None
    access_key_id: Annotated[str | None, Text(
        "access_key_id", "null or missing: 20 generated upper-case alphanumerics",
        nullable=True, pattern=_KEY)] = None
    secret_access_key_id: Annotated[str | None, Text(
        "secret_access_key_id", "null or missing: 40 generated alphanumerics", nullable=True,
        pattern=_PRINTABLE)] = None
    max_size_gb: Annotated[int | None, Integer(
        "max_size_gb", "Usage cap in GB; 0 or missing means no cap")] = None


class UpdateCredential(RequestBody):
    """PUT (or PATCH) /v2/objectstore/credentials/{id}."""

    name: Annotated[str | None, _CREDENTIAL_NAME] = None
    region: Annotated[str | None, BODY_REGION] = None
    access_key_id: Annotated[str | None, Text(
        "access_key_id", "Rotate the access key; null or the current key leaves it unchanged",
        nullable=True, pattern=_KEY)] = None
    secret_access_key_id: Annotated[str | None, Text(
        "secret_access_key_id", "Rotate the secret; null leaves it", nullable=True,
        pattern=_PRINTABLE)] = None
    max_size_gb: Annotated[int | None, Integer(
        "max_size_gb", "Usage cap in GB; 0 removes the cap")] = None
    suspended: Annotated[bool | None, Flag(
        "suspended", "A suspended credential is refused by the S3 API (also accepts "
        "true/false/1/0/yes/no/on/off strings)")] = None


class CreateKey(RequestBody):
    """POST /v2/objectstore/keys (``alias`` or ``name`` is required)."""

    aliases = {"name": "alias"}
    alias: Annotated[str | None, Text(
        "alias", "The key's alias (with or without alias/): 1-250 letters, digits, '/', '_' "
        "or '-', not starting with aws/")] = None
    name: Annotated[str | None, Text("name", "Alias of alias (used when alias is missing)")] \
        = None
    description: Annotated[str | None, Text(
        "description", "Free text (up to 1000 characters kept)")] = None
    region: Annotated[str | None, BODY_REGION] = None


class UpdateKey(RequestBody):
    """PUT (or PATCH) /v2/objectstore/keys/{id}."""

    enabled: Annotated[bool | None, Flag(
        "enabled", "false disables the key (SSE-KMS writes and reads with it are refused), "
        "true enables it again; missing leaves it")] = None
    region: Annotated[str | None, BODY_REGION] = None


class CreateEventTarget(RequestBody):
    """POST /v2/objectstore/event-targets."""

    required_fields = ("name", "type", "endpoint")
    name: Annotated[str | None, Text(
        "name", "A name for the target (1-255 characters)", example="thumbnailer")] = None
    type: Annotated[str | None, Text(
        "type", "webhook, amqp, nats or redis", example="webhook",
        enum=["webhook", "amqp", "nats", "redis"])] = None
    endpoint: Annotated[str | None, Text(
        "endpoint", "webhook: http(s)://...; amqp: amqp(s)://user:pass@host:port/vhost; nats: "
        "nats://host:port; redis: redis://[:pass@]host:port/db. A password in it is kept "
        "sealed and shown as ***. Endpoints resolving to link-local or metadata addresses, or "
        "to this server's own ports, are refused (422)",
        example="https://hooks.example.com/s3")] = None
    auth_token: Annotated[str | None, Text(
        "auth_token", "webhook: sent as Authorization: Bearer <token>; sealed at rest, never "
        "shown again")] = None
    batch_size: Annotated[int | None, Integer(
        "batch_size", "webhook: event records per POST, 1 (the default: one record per "
        "message, as AWS sends them) to 100 (fewer requests under load; the consumer must read "
        "every element of Records)", minimum=1, maximum=100)] = None
    exchange: Annotated[str | None, Text(
        "exchange", "amqp: the exchange to publish to (empty: the default exchange)")] = None
    routing_key: Annotated[str | None, Text(
        "routing_key", "amqp: the routing key (with the default exchange, the queue's "
        "name)")] = None
    subject: Annotated[str | None, Text(
        "subject", "nats: the subject to publish to (required)")] = None
    key: Annotated[str | None, Text("key", "redis: the list or stream key (required)")] = None
    format: Annotated[str | None, Text(
        "format", "redis: list (RPUSH, default) or stream (XADD)",
        enum=["list", "stream"])] = None
    backlog_limit: Annotated[int | None, Integer(
        "backlog_limit", "any type: the most undelivered events kept for the target, 1 to "
        "the server's OBJECTSTORE_EVENT_BACKLOG_LIMIT (the default: that limit; a larger "
        "value is refused). Past it the oldest are dropped, counted as failed, and "
        "last_error says so", minimum=1)] = None
    region: Annotated[str | None, BODY_REGION] = None

    OPTIONS: ClassVar[tuple[str, ...]] = ("batch_size", "exchange", "routing_key", "subject",
                                          "key", "format", "backlog_limit")

    def options(self) -> dict[str, str | int | None]:
        """The type-specific options (each target type takes some of them)."""
        return {name: getattr(self, name) for name in self.OPTIONS}


class UpdateEventTarget(RequestBody):
    """PUT (or PATCH) /v2/objectstore/event-targets/{id}: only the fields given change."""

    name: Annotated[str | None, Text(
        "name", "A new name (1-255 characters)", example="thumbnailer")] = None
    endpoint: Annotated[str | None, Text(
        "endpoint", "A new endpoint URL of the target's type, checked as on create (refused "
        "addresses: 422). A password left out of the URL, or given as *** (as the target is "
        "shown), keeps the current one; an empty one (user:@host) removes it",
        example="https://hooks.example.com/s3-v2")] = None
    auth_token: Annotated[str | None, Clearable(
        "auth_token", "webhook: a new token (sealed at rest, never shown); missing or null "
        "keeps the current one; an empty string removes it")] = None
    batch_size: Annotated[int | None, Integer(
        "batch_size", "webhook: event records per POST, 1 to 100", minimum=1,
        maximum=100)] = None
    exchange: Annotated[str | None, Clearable(
        "exchange", "amqp: the exchange (empty: the default exchange)")] = None
    routing_key: Annotated[str | None, Clearable(
        "routing_key", "amqp: the routing key (empty: none)")] = None
    subject: Annotated[str | None, Clearable("subject", "nats: the subject (required)")] = None
    key: Annotated[str | None, Clearable("key", "redis: the list or stream key "
                                               "(required)")] = None
    format: Annotated[str | None, Clearable(
        "format", "redis: list or stream (empty: list)", enum=["list", "stream", ""])] = None
    backlog_limit: Annotated[int | None, Integer(
        "backlog_limit", "any type: the target's own backlog limit, 1 to the server's "
        "OBJECTSTORE_EVENT_BACKLOG_LIMIT; 0 removes it (the server's applies)")] = None
    type: Annotated[str | None, Text(
        "type", "Cannot change (the arn contains it): a type other than the target's is "
        "refused (422)", enum=["webhook", "amqp", "nats", "redis"])] = None
    region: Annotated[str | None, RegionParam(
        "region", "Cannot change (the arn contains it): a region other than the target's, "
        "in the query or the body, is refused (422); an unknown one is 404",
        example="LON1")] = None

    def options(self) -> dict[str, str | int | None]:
        """The type-specific options given (None: not given)."""
        return {name: getattr(self, name) for name in CreateEventTarget.OPTIONS
                if getattr(self, name) is not None}

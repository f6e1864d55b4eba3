"""The management API's wire models: one typed set (pydantic) for every side of it.

- **Request bodies** (``RequestBody`` subclasses: ``CreateObjectStore``, ...): the server
  parses each body with its model (``RequestBody.read``: JSON or form fields, or the query
  string, through a ``ParamSource``), and the OpenAPI document's request schemas are generated
  from the same fields (each field's ``Param`` — ``Text``, ``Integer``, ``Flag``, ``RegionParam`` —
  validates it, as Civo's clients send it, and describes it). The SDK builds its bodies with
  the models' field names.
- **Responses** (``ObjectStore``, ``Credential``, ``Region``, ``Quota``, ...): the server
  renders every answer from them (``mgmt/render.py``), the OpenAPI document's response schemas
  are generated from them, and the SDK (``objectstore.client``) parses every answer into
  them; the CLI prints them.

Nothing here imports the server: the SDK imports this module (import-linter contract
"The wire models are independent of the server")."""

from __future__ import annotations

import re
from functools import cache
from typing import Annotated, Any, ClassVar, Generic, Literal, Protocol, Self, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    GetCoreSchemaHandler,
    RootModel,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema
from pydantic_core import core_schema

from .domain.errors import InvalidInput

# -- field kinds: how a request parameter is parsed and described --------------------------------

INTEGER_RE = re.compile(r"[+-]?[0-9]{1,18}")  # ASCII only: str.isdigit() admits "²" and "١"
# NUL and lone surrogates (JSON "\u0000", "\ud800") cannot be stored by PostgreSQL / encoded
UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")
MAX_INT = 10**9  # a larger integer is refused


def parse_string(name: str, value: Any) -> str:
    """A string parameter: JSON strings and numbers (Civo's clients send numbers as either)."""
    if not isinstance(value, str | int | float) or isinstance(value, bool):
        raise InvalidInput(f"{name} must be a string", name)
    text = str(value)
    if UNSTORABLE_RE.search(text):
        raise InvalidInput(f"{name} contains characters that are not allowed", name)
    return text


def parse_integer(name: str, value: Any, *, allow_zero: bool = True) -> int:
    """An integer parameter: a JSON integer (or integral float) or a string of ASCII digits."""
    if isinstance(value, bool):
        raise InvalidInput(f"{name} must be an integer", name)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    if isinstance(value, str):
        value = value.strip()
        if not INTEGER_RE.fullmatch(value):
            raise InvalidInput(f"{name} must be an integer", name)
        value = int(value)
    if not isinstance(value, int):
        raise InvalidInput(f"{name} must be an integer", name)
    if value < 0 or (value == 0 and not allow_zero):
        raise InvalidInput(f"{name} must be a positive integer", name)
    if value > MAX_INT:
        raise InvalidInput(f"{name} is too large", name)
    return value


def parse_boolean(name: str, value: Any) -> bool:
    """A boolean parameter: JSON true/false, or true/false/1/0/yes/no/on/off as a string."""
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in {"true", "1", "yes", "on"}:
        return True
    if text in {"false", "0", "no", "off"}:
        return False
    raise InvalidInput(f"{name} must be true or false", name)


class ParamSource(Protocol):
    """Where a request's parameters come from (the server's ``mgmt/params.Params``): a named
    value (the body's, else the query string's; None when missing or empty), and the region
    (the query string's first)."""

    def get(self, name: str) -> Any: ...

    def given(self, name: str) -> Any:
        """The value as sent, an empty string included (None: missing or null)."""
        ...

    @property
    def region(self) -> str | None: ...


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Param:
    """One named request parameter. As ``Annotated`` metadata of a ``RequestBody`` field it is
    that field's validator (``parse``: the value as Civo's clients send it, or InvalidInput
    naming the parameter); ``read`` takes it from a ``ParamSource`` (for the query
    parameters); ``schema`` is its JSON-body OpenAPI schema and ``form_schema`` the same field
    as a form-encoded string."""

    kind = "string"

    def __init__(self, name: str, description: str = "", *, nullable: bool = False,
                 example: Any = None, **constraints: Any) -> None:
        self.name, self.description, self.nullable = name, description, nullable
        # JSON Schema keywords (min_length -> minLength, ...)
        self.example, self.constraints = example, {
            _camel(k): v for k, v in constraints.items()}

    def parse(self, value: Any) -> Any:
        return value

    def raw(self, source: ParamSource) -> Any:
        """The unparsed value in the request; None: missing."""
        return source.get(self.name)

    def read(self, source: ParamSource) -> Any:
        value = self.raw(source)
        return None if value is None else self.parse(value)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, **self.constraints}
        if self.nullable:
            out["nullable"] = True
        if self.example is not None:
            out["example"] = self.example
        if self.description:
            out["description"] = self.description
        return out

    def form_schema(self) -> dict[str, Any]:
        """Form fields are strings: keep the description, pattern and example."""
        return {k: v for k, v in self.schema().items()
                if k in ("description", "pattern", "example")} | {"type": "string"}

    # pydantic: the field's whole validation is ``parse`` (None: the field is missing)
    def __get_pydantic_core_schema__(self, source: Any, handler: GetCoreSchemaHandler
                                     ) -> core_schema.CoreSchema:
        return core_schema.no_info_plain_validator_function(
            lambda value: None if value is None else self.parse(value))


class Text(Param):
    def parse(self, value: Any) -> str:
        return parse_string(self.name, value)


class Clearable(Text):
    """A string an update may empty: ``""`` (sent explicitly) removes the value, where
    other parameters take an empty value as missing."""

    def raw(self, source: ParamSource) -> Any:
        return source.given(self.name)


class Integer(Param):
    """An integer (or a string of ASCII digits); ``minimum`` 0 or 1 (0 admits zero)."""

    kind = "integer"

    def __init__(self, name: str, description: str = "", *, minimum: int = 0,
                 maximum: int = MAX_INT, **kw: Any) -> None:
        super().__init__(name, description, minimum=minimum, maximum=maximum, **kw)
        self.allow_zero = minimum <= 0

    def parse(self, value: Any) -> int:
        return parse_integer(self.name, value, allow_zero=self.allow_zero)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"pattern": "^[0-9]{1,9}$"}


class Flag(Param):
    """A boolean (or true/false/1/0/yes/no/on/off as a string)."""

    kind = "boolean"

    def parse(self, value: Any) -> bool:
        return parse_boolean(self.name, value)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"enum": ["true", "false"]}


class RegionParam(Text):
    """``region``: the query string wins over the body; missing or empty means the default."""

    def raw(self, source: ParamSource) -> Any:
        return source.region

    def parse(self, value: Any) -> str:
        return str(value)  # (a blank one is missing: ParamSource.region)


BODY_REGION = RegionParam("region", "Region code (case-insensitive); the query parameter "
                          "wins; missing or empty means the default region", example="LON1")


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


# -- responses --------------------------------------------------------------------------------

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Uuid = Annotated[str, Field(pattern=UUID_PATTERN, json_schema_extra={"format": "uuid"})]
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
NonEmpty = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0)]
T = TypeVar("T")


class Wire(BaseModel):
    """A response body (or part of one)."""

    model_config = ConfigDict(frozen=True)

    def to_dict(self) -> dict[str, Any]:
        """The JSON the server sends for it."""
        out: dict[str, Any] = self.model_dump(mode="json", exclude_unset=True)
        return out


def _status_or_state(data: Any) -> Any:
    """A body with only ``state`` (Civo's page) or only ``status`` (its clients) gets both."""
    if isinstance(data, dict):
        if "status" not in data and "state" in data:
            data = {**data, "status": data["state"]}
        elif "state" not in data and "status" in data:
            data = {**data, "state": data["status"]}
    return data


class Error(BaseModel):
    """Every error (status >= 400). All fields are strings when present."""

    model_config = ConfigDict(extra="forbid")
    code: NonEmpty = Field(examples=["database_objectstore_not_found"])
    reason: NonEmpty
    details: str | SkipJsonSchema[None] = None


class OwnerInfo(Wire):
    name: NonEmpty
    access_key_id: NonEmpty
    credential_id: Uuid


class ObjectStore(Wire):
    id: Uuid
    name: Annotated[str, Field(min_length=3, max_length=63)]
    max_size: int = Field(ge=1, description="Size in GB (same as max_size_gb)")
    max_size_gb: int = Field(ge=1)
    owner_info: OwnerInfo
    objectstore_endpoint: str = Field(description="S3 endpoint URL including the bucket")
    region: str
    status: Literal["ready"]
    state: Literal["ready"]
    created_at: DateTime

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        data = _status_or_state(data)
        if isinstance(data, dict):  # either size alone stands for both
            if "max_size" not in data and "max_size_gb" in data:
                data = {**data, "max_size": data["max_size_gb"]}
            elif "max_size_gb" not in data and "max_size" in data:
                data = {**data, "max_size_gb": data["max_size"]}
        return data


class Credential(Wire):
    id: Uuid
    name: Annotated[str, Field(min_length=1, max_length=255)]
    access_key_id: NonEmpty
    secret_access_key_id: NonEmpty
    max_size_gb: int = Field(ge=0, description="Usage cap in GB; 0 means no cap")
    suspended: bool
    status: Literal["ready"]
    state: Literal["ready"]
    region: str
    created_at: DateTime

    @model_validator(mode="before")
    @classmethod
    def _lenient(cls, data: Any) -> Any:
        return _status_or_state(data)

    @property
    def secret_access_key(self) -> str:
        return self.secret_access_key_id


def _as_tuple(value: Any) -> Any:
    return tuple(value) if isinstance(value, list) else value


class Page(Wire, Generic[T]):
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=10000)
    pages: int = Field(ge=1)
    # a JSON array, as a tuple (strict validation too: it is the wire's form of one)
    items: Annotated[tuple[T, ...], BeforeValidator(_as_tuple)]


class ObjectStorePage(Page[ObjectStore]):
    pass


class CredentialPage(Page[Credential]):
    pass


class Stats(Wire):
    size_kb_utilised: Count = Field(description="Stored bytes / 1000")
    max_size_kb: Count = Field(description="max_size_gb GiB / 1000")
    num_objects: Count


class RegionFeatures(Wire):
    model_config = ConfigDict(extra="allow", json_schema_extra={
        "additionalProperties": {"type": "boolean"}})
    iaas: bool
    kubernetes: bool
    object_store: bool
    loadbalancer: bool
    dbaas: bool
    volume: bool
    paas: bool
    kfaas: bool
    public_ip_node_pools: bool

    def __getitem__(self, name: str) -> bool:
        """``features["object_store"]``, as in the JSON (extra features too)."""
        value = self.to_dict()[name]
        assert isinstance(value, bool)
        return value


class Region(Wire):
    code: str
    name: str
    type: Literal["civo"]
    out_of_capacity: bool
    country: str
    country_name: str
    default: bool = Field(description="Exactly one region is the default")
    features: RegionFeatures

    @property
    def object_store(self) -> bool:
        return self.features.object_store


class RegionList(RootModel[list[Region]]):
    """Every configured region (a bare JSON array)."""

    model_config = ConfigDict(frozen=True)
    root: list[Region] = Field(min_length=1)


class Quota(Wire):
    id: Uuid
    default_user_id: Uuid
    default_user_email_address: str
    objectstore_gb_limit: Count
    objectstore_gb_usage: Count = Field(description="GB allocated to the account's stores")
    objectstore_count_usage: Count


class KmsKey(Wire):
    """A KMS key (SSE-KMS); its material never leaves the server."""

    id: Uuid
    arn: NonEmpty
    alias: Annotated[str, Field(pattern="^alias/")]
    description: str
    enabled: bool
    created_at: DateTime


class KmsKeyList(RootModel[list[KmsKey]]):
    """The account's KMS keys (a bare JSON array)."""

    model_config = ConfigDict(frozen=True)


class EventTarget(Wire):
    """A bucket event target (docs/notifications.md): buckets name it by ``arn`` in their
    S3 notification configuration. Secrets are never shown (``auth_token_set`` says whether
    a webhook has a token; a password in ``endpoint`` shows as ***)."""

    id: Uuid
    name: Annotated[str, Field(min_length=1, max_length=255)]
    region: NonEmpty
    type: Literal["webhook", "amqp", "nats", "redis"]
    endpoint: NonEmpty
    arn: Annotated[str, Field(pattern="^arn:objectstore:sqs:", description="arn:objectstore:"
                              "sqs:<region>:<id>:<type>")]
    batch_size: Annotated[int, Field(ge=1, le=100)] | SkipJsonSchema[None] = Field(
        default=None, description="webhook: records per POST")
    exchange: str | SkipJsonSchema[None] = Field(default=None, description="amqp")
    routing_key: str | SkipJsonSchema[None] = Field(default=None, description="amqp")
    subject: str | SkipJsonSchema[None] = Field(default=None, description="nats")
    key: str | SkipJsonSchema[None] = Field(default=None, description="redis")
    format: Literal["list", "stream"] | SkipJsonSchema[None] = Field(
        default=None, description="redis")
    backlog_limit: Annotated[int, Field(ge=1)] | SkipJsonSchema[None] = Field(
        default=None, description="The target's own backlog limit (missing: the server's, "
        "OBJECTSTORE_EVENT_BACKLOG_LIMIT): past it the oldest undelivered events are dropped "
        "and counted as failed")
    auth_token_set: bool
    backlog: Count = Field(description="Events recorded and not yet delivered")
    delivered: Count = Field(description="Events the target acknowledged")
    retried: Count = Field(description="Delivery attempts that failed (and were retried)")
    failed: Count = Field(description="Failed attempts a retry cannot fix (the target's "
                          "configuration: refused login, no such exchange, a 4xx; still "
                          "retried) and events dropped undelivered at the backlog limit")
    last_error: str = Field(description="The last delivery failure (empty: none)")
    created_at: DateTime

    @property
    def options(self) -> dict[str, Any]:
        """The options the target has (batch_size, exchange, ..., backlog_limit)."""
        return {name: getattr(self, name) for name in CreateEventTarget.OPTIONS
                if getattr(self, name) is not None}


class EventTargetList(RootModel[list[EventTarget]]):
    """The account's event targets (a bare JSON array)."""

    model_config = ConfigDict(frozen=True)


class Deleted(Wire):
    result: Literal["success"]


class Health(Wire):
    status: Literal["ok"]


class OpenApiDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.0 document."""


class Metrics(RootModel[str]):
    """Prometheus text exposition format."""


def to_json(body: BaseModel) -> bytes:
    """A response model as it goes on the wire: compact JSON, UTF-8 (the bytes Starlette's
    JSONResponse sends for ``to_dict()``, a few times faster), fields left unset left out."""
    return body.__pydantic_serializer__.to_json(body, exclude_unset=True)


"""Responses of the management API: every answer is rendered from one of these models."""

from __future__ import annotations

from typing import Annotated, Any, Generic, Literal, TypeVar

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    RootModel,
    model_validator,
)
from pydantic.json_schema import SkipJsonSchema

from .requests import CreateEventTarget

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

"""The management API's response bodies as pydantic models: the OpenAPI document's response
schemas are generated from these, and tests/api/test_openapi.py checks that every body
``mgmt/render.py`` (and the routes) produce validates against them, field for field."""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, RootModel
from pydantic.json_schema import SkipJsonSchema

UUID_PATTERN = "^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$"
Uuid = Annotated[str, Field(pattern=UUID_PATTERN, json_schema_extra={"format": "uuid"})]
DateTime = Annotated[str, Field(json_schema_extra={"format": "date-time"})]
NonEmpty = Annotated[str, Field(min_length=1)]
Count = Annotated[int, Field(ge=0)]


class Error(BaseModel):
    """Every error (status >= 400). All fields are strings when present."""

    model_config = ConfigDict(extra="forbid")
    code: NonEmpty = Field(examples=["database_objectstore_not_found"])
    reason: NonEmpty
    details: str | SkipJsonSchema[None] = None


class OwnerInfo(BaseModel):
    name: NonEmpty
    access_key_id: NonEmpty
    credential_id: Uuid


class ObjectStore(BaseModel):
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


class Credential(BaseModel):
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


class _Page(BaseModel):
    page: int = Field(ge=1)
    per_page: int = Field(ge=1, le=10000)
    pages: int = Field(ge=1)


class ObjectStorePage(_Page):
    items: list[ObjectStore]


class CredentialPage(_Page):
    items: list[Credential]


class Stats(BaseModel):
    size_kb_utilised: Count = Field(description="Stored bytes / 1000")
    max_size_kb: Count = Field(description="max_size_gb GiB / 1000")
    num_objects: Count


class RegionFeatures(BaseModel):
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


class Region(BaseModel):
    code: str
    name: str
    type: Literal["civo"]
    out_of_capacity: bool
    country: str
    country_name: str
    default: bool = Field(description="Exactly one region is the default")
    features: RegionFeatures


class RegionList(RootModel[list[Region]]):
    """Every configured region (a bare JSON array)."""

    root: list[Region] = Field(min_length=1)


class Quota(BaseModel):
    id: Uuid
    default_user_id: Uuid
    default_user_email_address: str
    objectstore_gb_limit: Count
    objectstore_gb_usage: Count = Field(description="GB allocated to the account's stores")
    objectstore_count_usage: Count


class KmsKey(BaseModel):
    """A KMS key (SSE-KMS); its material never leaves the server."""

    id: Uuid
    arn: NonEmpty
    alias: Annotated[str, Field(pattern="^alias/")]
    description: str
    enabled: bool
    created_at: DateTime


class KmsKeyList(RootModel[list[KmsKey]]):
    """The account's KMS keys (a bare JSON array)."""


class EventTarget(BaseModel):
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
    exchange: str | SkipJsonSchema[None] = Field(default=None, description="amqp")
    routing_key: str | SkipJsonSchema[None] = Field(default=None, description="amqp")
    subject: str | SkipJsonSchema[None] = Field(default=None, description="nats")
    key: str | SkipJsonSchema[None] = Field(default=None, description="redis")
    format: Literal["list", "stream"] | SkipJsonSchema[None] = Field(
        default=None, description="redis")
    auth_token_set: bool
    backlog: Count = Field(description="Events recorded and not yet delivered")
    delivered: Count = Field(description="Events the target acknowledged")
    retried: Count = Field(description="Delivery attempts that failed (and were retried)")
    failed: Count = Field(description="Events dropped undelivered at the backlog limit")
    last_error: str = Field(description="The last delivery failure (empty: none)")
    created_at: DateTime


class EventTargetList(RootModel[list[EventTarget]]):
    """The account's event targets (a bare JSON array)."""


class Deleted(BaseModel):
    result: Literal["success"]


class Health(BaseModel):
    status: Literal["ok"]


class OpenApiDocument(RootModel[dict[str, Any]]):
    """An OpenAPI 3.0 document."""


class Metrics(RootModel[str]):
    """Prometheus text exposition format."""

"""Wire models of the management API, as frozen dataclasses parsed from Civo JSON."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, Generic, TypeVar

T = TypeVar("T")


def _str(data: Mapping[str, Any], key: str, default: str = "") -> str:
    value = data.get(key)
    return default if value is None else str(value)


def _opt_str(data: Mapping[str, Any], key: str) -> str | None:
    value = data.get(key)
    return None if value is None else str(value)


def _int(data: Mapping[str, Any], key: str, default: int = 0) -> int:
    value = data.get(key)
    return default if value is None else int(value)


class _Model:
    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)  # type: ignore[call-overload, no-any-return]


@dataclass(frozen=True)
class OwnerInfo(_Model):
    name: str
    access_key_id: str
    credential_id: str

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> OwnerInfo:
        return cls(_str(data, "name"), _str(data, "access_key_id"), _str(data, "credential_id"))


@dataclass(frozen=True)
class ObjectStore(_Model):
    id: str
    name: str
    max_size_gb: int
    owner_info: OwnerInfo
    objectstore_endpoint: str
    status: str
    region: str | None = None
    created_at: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> ObjectStore:
        size = data.get("max_size_gb", data.get("max_size"))
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            max_size_gb=int(size) if size is not None else 0,
            owner_info=OwnerInfo.from_json(data.get("owner_info") or {}),
            objectstore_endpoint=_str(data, "objectstore_endpoint"),
            status=_str(data, "status", _str(data, "state")),
            region=_opt_str(data, "region"),
            created_at=_opt_str(data, "created_at"),
        )


@dataclass(frozen=True)
class Credential(_Model):
    id: str
    name: str
    access_key_id: str
    secret_access_key_id: str
    max_size_gb: int
    suspended: bool
    status: str
    region: str | None = None
    created_at: str | None = None

    @property
    def secret_access_key(self) -> str:
        return self.secret_access_key_id

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Credential:
        return cls(
            id=_str(data, "id"),
            name=_str(data, "name"),
            access_key_id=_str(data, "access_key_id"),
            secret_access_key_id=_str(data, "secret_access_key_id"),
            max_size_gb=_int(data, "max_size_gb"),
            suspended=bool(data.get("suspended", False)),
            status=_str(data, "status", _str(data, "state")),
            region=_opt_str(data, "region"),
            created_at=_opt_str(data, "created_at"),
        )


@dataclass(frozen=True)
class Region(_Model):
    code: str
    name: str
    type: str
    out_of_capacity: bool
    country: str
    country_name: str
    default: bool
    features: dict[str, bool] = field(default_factory=dict)

    @property
    def object_store(self) -> bool:
        return bool(self.features.get("object_store", False))

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Region:
        features = data.get("features") or {}
        return cls(
            code=_str(data, "code"),
            name=_str(data, "name"),
            type=_str(data, "type"),
            out_of_capacity=bool(data.get("out_of_capacity", False)),
            country=_str(data, "country"),
            country_name=_str(data, "country_name"),
            default=bool(data.get("default", False)),
            features={str(k): bool(v) for k, v in features.items()},
        )


@dataclass(frozen=True)
class Quota(_Model):
    objectstore_gb_limit: int
    objectstore_gb_usage: int
    objectstore_count_usage: int | None = None
    id: str | None = None

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> Quota:
        count = data.get("objectstore_count_usage")
        return cls(
            objectstore_gb_limit=_int(data, "objectstore_gb_limit"),
            objectstore_gb_usage=_int(data, "objectstore_gb_usage"),
            objectstore_count_usage=None if count is None else int(count),
            id=_opt_str(data, "id"),
        )


@dataclass(frozen=True)
class StoreStats(_Model):
    size_kb_utilised: int
    max_size_kb: int
    num_objects: int

    @classmethod
    def from_json(cls, data: Mapping[str, Any]) -> StoreStats:
        return cls(_int(data, "size_kb_utilised"), _int(data, "max_size_kb"),
                   _int(data, "num_objects"))


@dataclass(frozen=True)
class Page(_Model, Generic[T]):
    page: int
    per_page: int | None
    pages: int
    items: tuple[T, ...]

    @classmethod
    def from_json(cls, data: Mapping[str, Any], item: Callable[[Mapping[str, Any]], T]
                  ) -> Page[T]:
        per_page = data.get("per_page")
        return cls(
            page=_int(data, "page", 1),
            per_page=None if per_page is None else int(per_page),
            pages=_int(data, "pages", 1),
            items=tuple(item(i) for i in data.get("items") or []),
        )

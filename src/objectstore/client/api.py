"""ObjectStoreClient: the management API (Civo's v2 Object Store API) over httpx."""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx

from .errors import ApiError, TransportError
from .models import Credential, ObjectStore, Page, Quota, Region, StoreStats

T = TypeVar("T")

STORES = "/v2/objectstores"
CREDENTIALS = "/v2/objectstore/credentials"
ITER_PER_PAGE = 100


def _one(base: str, id: str, suffix: str = "") -> str:
    if not id or not str(id).strip():
        raise ValueError("an id is required")
    return f"{base}/{quote(str(id), safe='')}{suffix}"


def _drop_none(values: Mapping[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in values.items() if v is not None}


class ObjectStoreClient:
    """A typed client for one account (API key) and, optionally, one region.

    Every call sends ``?region=`` when ``region`` is set (else the server's default region is
    used). Any response with status >= 400 raises :class:`ApiError`; an unreachable server
    raises :class:`TransportError`.
    """

    def __init__(self, api_url: str, api_key: str, region: str | None = None,
                 timeout: float = 30, *, transport: httpx.BaseTransport | None = None) -> None:
        self.api_url = api_url.rstrip("/")
        self.region = region or None
        self._http = httpx.Client(
            base_url=self.api_url, timeout=timeout, transport=transport,
            headers={"Authorization": f"bearer {api_key}", "Accept": "application/json",
                     "User-Agent": "objectstore-client"},
        )

    # -- lifecycle ------------------------------------------------------------------------------
    def close(self) -> None:
        self._http.close()

    @property
    def is_closed(self) -> bool:
        return self._http.is_closed

    def __enter__(self) -> ObjectStoreClient:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    # -- plumbing -------------------------------------------------------------------------------
    def _request(self, method: str, path: str, *, params: Mapping[str, Any] | None = None,
                 body: Mapping[str, Any] | None = None) -> Any:
        query = _drop_none(params or {})
        if self.region:
            query["region"] = self.region
        try:
            response = self._http.request(method, path, params=query,
                                          json=dict(body) if body is not None else None)
        except httpx.HTTPError as exc:
            raise TransportError(f"{method} {self.api_url}{path}: {exc}") from exc
        if response.status_code >= 400:
            raise ApiError.from_response(response)
        try:
            return response.json()
        except ValueError as exc:
            raise ApiError(response.status_code, "invalid_response",
                           f"{method} {path} did not answer JSON") from exc

    def _object(self, method: str, path: str, parse: Callable[[Mapping[str, Any]], T], *,
                params: Mapping[str, Any] | None = None,
                body: Mapping[str, Any] | None = None) -> T:
        data = self._request(method, path, params=params, body=body)
        if not isinstance(data, dict):
            raise ApiError(200, "invalid_response", f"{method} {path} did not answer an object")
        return parse(data)

    def _page(self, path: str, parse: Callable[[Mapping[str, Any]], T], page: int | None,
              per_page: int | None) -> Page[T]:
        data = self._request("GET", path, params={"page": page, "per_page": per_page})
        if not isinstance(data, dict) or not isinstance(data.get("items"), list):
            raise ApiError(200, "invalid_response", f"GET {path} did not answer a page")
        return Page.from_json(data, parse)

    def _iter(self, path: str, parse: Callable[[Mapping[str, Any]], T], per_page: int
              ) -> Iterator[T]:
        page = 1
        while True:
            result = self._page(path, parse, page, per_page)
            yield from result.items
            if not result.items or page >= result.pages:
                return
            page += 1

    def _delete(self, path: str) -> None:
        self._request("DELETE", path)

    # -- object stores --------------------------------------------------------------------------
    def list_stores(self, page: int | None = None, per_page: int | None = None
                    ) -> Page[ObjectStore]:
        return self._page(STORES, ObjectStore.from_json, page, per_page)

    def iter_stores(self, per_page: int = ITER_PER_PAGE) -> Iterator[ObjectStore]:
        return self._iter(STORES, ObjectStore.from_json, per_page)

    def create_store(self, name: str, max_size_gb: int | None = None,
                     access_key_id: str | None = None) -> ObjectStore:
        body = _drop_none({"name": name, "max_size_gb": max_size_gb,
                           "access_key_id": access_key_id})
        return self._object("POST", STORES, ObjectStore.from_json, body=body)

    def get_store(self, id: str) -> ObjectStore:
        return self._object("GET", _one(STORES, id), ObjectStore.from_json)

    def update_store(self, id: str, max_size_gb: int | None = None,
                     access_key_id: str | None = None) -> ObjectStore:
        body = _drop_none({"max_size_gb": max_size_gb, "access_key_id": access_key_id})
        return self._object("PATCH", _one(STORES, id), ObjectStore.from_json, body=body)

    def delete_store(self, id: str) -> None:
        self._delete(_one(STORES, id))

    def store_stats(self, id: str) -> StoreStats:
        return self._object("GET", _one(STORES, id, "/stats"), StoreStats.from_json)

    # -- credentials ----------------------------------------------------------------------------
    def list_credentials(self, page: int | None = None, per_page: int | None = None
                         ) -> Page[Credential]:
        return self._page(CREDENTIALS, Credential.from_json, page, per_page)

    def iter_credentials(self, per_page: int = ITER_PER_PAGE) -> Iterator[Credential]:
        return self._iter(CREDENTIALS, Credential.from_json, per_page)

    def create_credential(self, name: str, access_key_id: str | None = None,
                          secret_access_key: str | None = None,
                          max_size_gb: int | None = None) -> Credential:
        body = _drop_none({"name": name, "access_key_id": access_key_id,
                           "secret_access_key_id": secret_access_key,
                           "max_size_gb": max_size_gb})
        return self._object("POST", CREDENTIALS, Credential.from_json, body=body)

    def get_credential(self, id: str) -> Credential:
        return self._object("GET", _one(CREDENTIALS, id), Credential.from_json)

    def update_credential(self, id: str, name: str | None = None,
                          access_key_id: str | None = None,
                          secret_access_key: str | None = None,
                          max_size_gb: int | None = None,
                          suspended: bool | None = None) -> Credential:
        body = _drop_none({"name": name, "access_key_id": access_key_id,
                           "secret_access_key_id": secret_access_key,
                           "max_size_gb": max_size_gb, "suspended": suspended})
        return self._object("PATCH", _one(CREDENTIALS, id), Credential.from_json, body=body)

    def delete_credential(self, id: str) -> None:
        self._delete(_one(CREDENTIALS, id))

    # -- account --------------------------------------------------------------------------------
    def regions(self) -> list[Region]:
        data = self._request("GET", "/v2/regions")
        if not isinstance(data, list):
            raise ApiError(200, "invalid_response", "GET /v2/regions did not answer a list")
        return [Region.from_json(r) for r in data]

    def quota(self) -> Quota:
        return self._object("GET", "/v2/quota", Quota.from_json)

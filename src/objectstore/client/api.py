"""ObjectStoreClient: the management API (Civo's v2 Object Store API) over httpx."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from types import TracebackType
from typing import Any, TypeVar
from urllib.parse import quote

import httpx
from pydantic import BaseModel, ValidationError

from .errors import ApiError, TransportError
from .models import (
    CreateCredential,
    CreateEventTarget,
    CreateObjectStore,
    Credential,
    CredentialPage,
    EventTarget,
    EventTargetList,
    ObjectStore,
    ObjectStorePage,
    Page,
    Quota,
    Region,
    RegionList,
    StoreStats,
    UpdateCredential,
    UpdateEventTarget,
    UpdateObjectStore,
)

T = TypeVar("T")
M = TypeVar("M", bound=BaseModel)
P = TypeVar("P", bound=Page[Any])

STORES = "/v2/objectstores"
CREDENTIALS = "/v2/objectstore/credentials"
EVENT_TARGETS = "/v2/objectstore/event-targets"
EVENT_TARGETS = "/v2/objectstore/event-targets"
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

    def _object(self, method: str, path: str, model: type[M], *,
                params: Mapping[str, Any] | None = None,
                body: Mapping[str, Any] | None = None) -> M:
        return _parse(model, self._request(method, path, params=params, body=body),
                      f"{method} {path}")

    def _page(self, path: str, model: type[P], page: int | None, per_page: int | None) -> P:
        data = self._request("GET", path, params={"page": page, "per_page": per_page})
        return _parse(model, data, f"GET {path}")

    def _iter(self, path: str, model: type[Page[T]], per_page: int) -> Iterator[T]:
        page = 1
        while True:
            result = self._page(path, model, page, per_page)
            yield from result.items
            if not result.items or page >= result.pages:
                return
            page += 1

    def _delete(self, path: str) -> None:
        self._request("DELETE", path)

    # -- object stores --------------------------------------------------------------------------
    def list_stores(self, page: int | None = None, per_page: int | None = None
                    ) -> ObjectStorePage:
        return self._page(STORES, ObjectStorePage, page, per_page)

    def iter_stores(self, per_page: int = ITER_PER_PAGE) -> Iterator[ObjectStore]:
        return self._iter(STORES, ObjectStorePage, per_page)

    def create_store(self, name: str, max_size_gb: int | None = None,
                     access_key_id: str | None = None) -> ObjectStore:
        body = CreateObjectStore.fields_of(name=name, max_size_gb=max_size_gb,
                                           access_key_id=access_key_id)
        return self._object("POST", STORES, ObjectStore, body=body)

    def get_store(self, id: str) -> ObjectStore:
        return self._object("GET", _one(STORES, id), ObjectStore)

    def update_store(self, id: str, max_size_gb: int | None = None,
                     access_key_id: str | None = None) -> ObjectStore:
        body = UpdateObjectStore.fields_of(max_size_gb=max_size_gb, access_key_id=access_key_id)
        return self._object("PATCH", _one(STORES, id), ObjectStore, body=body)

    def delete_store(self, id: str) -> None:
        self._delete(_one(STORES, id))

    def store_stats(self, id: str) -> StoreStats:
        return self._object("GET", _one(STORES, id, "/stats"), StoreStats)

    # -- credentials ----------------------------------------------------------------------------
    def list_credentials(self, page: int | None = None, per_page: int | None = None
                         ) -> CredentialPage:
        return self._page(CREDENTIALS, CredentialPage, page, per_page)

    def iter_credentials(self, per_page: int = ITER_PER_PAGE) -> Iterator[Credential]:
        return self._iter(CREDENTIALS, CredentialPage, per_page)

    def create_credential(self, name: str, access_key_id: str | None = None,
                          secret_access_key: str | None = None,
                          max_size_gb: int | None = None) -> Credential:
        body = CreateCredential.fields_of(name=name, access_key_id=access_key_id,
                                          secret_access_key_id=secret_access_key,
                                          max_size_gb=max_size_gb)
        return self._object("POST", CREDENTIALS, Credential, body=body)

    def get_credential(self, id: str) -> Credential:
        return self._object("GET", _one(CREDENTIALS, id), Credential)

    def update_credential(self, id: str, name: str | None = None,
                          access_key_id: str | None = None,
                          secret_access_key: str | None = None,
                          max_size_gb: int | None = None,
                          suspended: bool | None = None) -> Credential:
        body = UpdateCredential.fields_of(name=name, access_key_id=access_key_id,
                                          secret_access_key_id=secret_access_key,
                                          max_size_gb=max_size_gb, suspended=suspended)
        return self._object("PATCH", _one(CREDENTIALS, id), Credential, body=body)

    def delete_credential(self, id: str) -> None:
        self._delete(_one(CREDENTIALS, id))

    # -- event targets --------------------------------------------------------------------------
    def list_event_targets(self) -> list[EventTarget]:
        return self._object("GET", EVENT_TARGETS, EventTargetList).root

    def create_event_target(self, name: str, type: str, endpoint: str, *,
                            auth_token: str | None = None, **options: Any) -> EventTarget:
        """``options``: the type's own (batch_size, exchange, routing_key, subject, key,
        format) and any type's ``backlog_limit`` (1 to the server's
        OBJECTSTORE_EVENT_BACKLOG_LIMIT; missing: that limit)."""
        body = CreateEventTarget.fields_of(name=name, type=type, endpoint=endpoint,
                                           auth_token=auth_token, **options)
        return self._object("POST", EVENT_TARGETS, EventTarget, body=body)

    def get_event_target(self, id: str) -> EventTarget:
        return self._object("GET", _one(EVENT_TARGETS, id), EventTarget)

    def update_event_target(self, id: str, *, name: str | None = None,
                            endpoint: str | None = None, auth_token: str | None = None,
                            **options: Any) -> EventTarget:
        """Change a target in place (``PUT``): only what is given changes; never its type or
        region. ``auth_token``: None keeps the current one, ``""`` removes it. A password
        left out of ``endpoint`` (or given as ``***``) is kept, an empty one removed.
        ``options``: batch_size, exchange, routing_key, subject, key, format (``""``
        removes one) and backlog_limit (0 removes the target's own limit)."""
        body = UpdateEventTarget.fields_of(name=name, endpoint=endpoint, auth_token=auth_token,
                                           **options)
        return self._object("PUT", _one(EVENT_TARGETS, id), EventTarget, body=body)

    def delete_event_target(self, id: str) -> None:
        self._delete(_one(EVENT_TARGETS, id))

    # -- account --------------------------------------------------------------------------------
    def regions(self) -> list[Region]:
        return self._object("GET", "/v2/regions", RegionList).root

    def quota(self) -> Quota:
        return self._object("GET", "/v2/quota", Quota)


def _parse(model: type[M], data: Any, what: str) -> M:
    """``data`` (a decoded answer) as ``model``; an answer that does not fit it is an
    ``ApiError`` ``invalid_response`` naming the first field that does not."""
    try:
        return model.model_validate(data)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first["loc"]) or "the body"
        raise ApiError(200, "invalid_response",
                       f"{what} answered no valid {model.__name__} ({where}: "
                       f"{first['msg']})") from None

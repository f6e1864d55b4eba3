"""One wrapper for every management endpoint: body, auth, thread hop, error mapping — and,
for the listings marked ``@cached_listing``, their rendered responses cached per account.

A listing's cache entry is the exact JSON body the handler rendered, keyed by the handler,
the account and the request's parameters (query string, body, content type). It lives at
most ``LISTING_TTL_S`` and is dropped by any change through any process or gateway (the
deployment's change counter: services/cache.py, services/notify.py), like the S3 plane's
caches. A hit needs the API key's account to be cached as well (AccountService.cached: the
key is still checked against its stored hash), so a repeated listing is answered on the
event loop, without a thread hop or a query — and, for a GET without a body, straight from
the ASGI scope, before the router (``cached_listing_body``, used by the middleware
mgmt/middleware.py CachedListings; it also joins a load already running for it, and anything
else it leaves to the full way). When an entry expires, the concurrent requests
for it wait for one load instead of each running their own — but only requests that began
before any change since that load started (a request never gets an answer read before a
change it could have seen), and only while the change counter is trusted (on PostgreSQL,
while the gateway's notification connection is up: otherwise nothing is cached either)."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Hashable
from dataclasses import dataclass
from typing import Any, TypeVar

from starlette.concurrency import run_in_threadpool
from starlette.datastructures import QueryParams
from starlette.requests import Request
from starlette.responses import Response
from starlette.types import Scope, Send

from ..api_models import RequestBody, to_json
from ..domain.errors import DomainError
from ..domain.models import Account
from ..services.availability import unavailable
from ..services.cache import MISS, SharedGeneration, SingleFlight, TtlCache
from ..services.registry import Services
from ..services.secrets import hash_api_key
from .auth import bearer_of, bearer_token
from .errors import civo_error, domain_error_response, service_unavailable
from .params import BadBody, Params, parse_body, read_body

log = logging.getLogger("objectstore.mgmt")

LISTING_TTL_S = 1.0
LISTING_MAX_ENTRIES = 512
LISTING_MAX_BYTES = 64 * 1024  # a larger page (per_page goes up to 10000) is not kept
_KEY_MAX_BYTES = 1024  # nor the answer to a request with a larger body


@dataclass
class Call:
    services: Services
    account: Account
    params: Params
    path: dict[str, str]

    def body(self, model: type[B]) -> B:
        """The request's body, parsed by its model (InvalidInput naming a bad field)."""
        return model.read(self.params)


Handler = Callable[[Call], Any]  # its answer: a response model (objectstore.api_models)
B = TypeVar("B", bound=RequestBody)
H = TypeVar("H", bound=Handler)
K = TypeVar("K", bound=Hashable)
V = TypeVar("V")
_CACHED_LISTINGS: set[Handler] = set()

# (handler, account id, query items, body, content type)
ListingKey = tuple[str, str, tuple[tuple[str, str], ...], bytes, str]


def cached_listing(fn: H) -> H:
    """Mark a read-only handler whose answer depends only on the account, the request's
    parameters and rows whose every change is announced (services/cache.py) — not on usage
    counters, which the S3 plane updates without announcing."""
    _CACHED_LISTINGS.add(fn)
    return fn


def is_cached_listing(fn: Handler) -> bool:
    return fn in _CACHED_LISTINGS


class ListingCache:
    """Rendered listing bodies per (handler, account, parameters), and the single flights of
    their loads and of the API key lookups they need."""

    def __init__(self, shared: SharedGeneration) -> None:
        self._shared = shared
        self._cache: TtlCache[ListingKey, bytes] = TtlCache(
            LISTING_TTL_S, LISTING_MAX_ENTRIES, shared=shared)
        self.loads: SingleFlight[ListingKey, Response] = SingleFlight()
        self.logins: SingleFlight[str, Account] = SingleFlight()

    def get(self, key: ListingKey) -> bytes | None:
        hit = self._cache.get(key)
        return None if hit is MISS else hit

    def generation(self) -> int:
        """Moves with every change anywhere (the counter is shared by every cache)."""
        return self._cache.generation()

    def trusted(self) -> bool:
        """Whether the counter hears of every change now: while a gateway's notification
        connection is down nothing is cached, and no load is shared either."""
        return self._shared.usable()

    def put(self, key: ListingKey, body: bytes, generation: int) -> None:
        if len(body) <= LISTING_MAX_BYTES:
            self._cache.put(key, body, generation)


def listing_cache(services: Services) -> ListingCache | None:
    """None (nothing cached) without a change counter: nothing would tell of changes."""
    return ListingCache(services.changes) if services.changes is not None else None


def _json(body: bytes) -> Response:
    return Response(body, media_type="application/json")  # the headers JSONResponse sends


def civo_endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
    cacheable = fn in _CACHED_LISTINGS

    async def endpoint(request: Request) -> Response:
        services: Services = request.app.state.services
        settings = services.settings
        if sum(len(k) + len(v) for k, v in request.scope["headers"]) > settings.max_header_bytes:
            return civo_error(431, "request_header_too_large",
                              "the request headers are larger than the server accepts")
        try:
            body = await read_body(request, settings.max_api_body_bytes,
                                   settings.request_body_timeout_s)
        except BadBody as bad:  # oversize: refused before anything else, without buffering
            return civo_error(bad.status, bad.code, bad.reason)
        token = bearer_token(request)
        query = dict(request.query_params)
        content_type = request.headers.get("content-type", "")
        path = dict(request.path_params)

        async def answer() -> Response:
            try:
                result = await run_in_threadpool(
                    _run, fn, services, token, query, body, content_type, path)
            except BadBody as bad:
                return civo_error(bad.status, bad.code, bad.reason)
            except DomainError as exc:
                return domain_error_response(exc)
            except Exception as exc:
                if unavailable(exc):  # a backend outage, not a bug: retryable
                    log.warning("%s %s: a backend cannot be reached (%s)", request.method,
                                request.url.path, type(exc).__name__)
                    return service_unavailable()
                log.exception("unhandled error in %s %s", request.method, request.url.path)
                return civo_error(500, "internal_server_error", "an internal error occurred")
            return _json(result)

        listings: ListingCache | None = request.app.state.listings
        if not cacheable or listings is None or not token or len(body) > _KEY_MAX_BYTES:
            return await answer()
        return await _cached_answer(listings, services, fn, token, query, body, content_type,
                                    answer)

    endpoint.__name__ = fn.__name__
    return endpoint


async def _cached_answer(listings: ListingCache, services: Services, fn: Handler, token: str,
                         query: dict[str, str], body: bytes, content_type: str,
                         answer: Callable[[], Awaitable[Response]]) -> Response:
    account = services.accounts.cached(token)
    if account is MISS:
        try:
            found, _own = await listings.logins.run(
                hash_api_key(token), listings.generation(),
                lambda: run_in_threadpool(services.accounts.authenticate, token),
                join=listings.trusted())
        except Exception:  # e.g. a wrong key: answered (401) the usual way
            return await answer()
        if found is None:
            return await answer()
        account = found
    key = _listing_key(fn, account, query, body, content_type)
    hit = listings.get(key)
    if hit is not None:
        return _json(hit)
    generation = listings.generation()  # before reading: a change meanwhile drops the result

    async def load() -> Response:
        response = await answer()
        if response.status_code == 200:
            listings.put(key, bytes(response.body), generation)
        return response

    response, own = await listings.loads.run(key, generation, load, join=listings.trusted())
    if own and response is not None:
        return response
    if response is None or response.status_code != 200:  # errors are not shared
        return await answer()
    return _json(bytes(response.body))


def _listing_key(fn: Handler, account: Account, query: dict[str, str], body: bytes,
                 content_type: str) -> ListingKey:
    return (fn.__name__, account.id, tuple(sorted(query.items())), body, content_type)


async def send_json(send: Send, body: bytes) -> None:
    """Send ``body`` as ``_json(body)`` does (the same messages and headers, in that order)
    without building a Response."""
    await send({"type": "http.response.start", "status": 200, "headers": [
        (b"content-length", str(len(body)).encode("latin-1")),
        (b"content-type", b"application/json")]})
    await send({"type": "http.response.body", "body": body})


async def cached_listing_body(scope: Scope, fn: Handler, services: Services,
                              listings: ListingCache | None) -> bytes | None:
    """The body that ``civo_endpoint(fn)`` would answer this GET with from the cache — a
    cached one, or the one a load already running for it (begun since the last change) is
    getting — read straight from the ASGI scope (no Request, no routing, no thread hop), or
    None: then the request takes the full path, which answers it in every case (errors and
    loads of its own included) as before. Only a request without a body qualifies (no
    Content-Length or Transfer-Encoding: RFC 9112 6.3), under the header size limit, whose
    bearer key matches a cached account (still compared with its stored hash in constant
    time): the full path's checks, in effect, for such a request."""
    if listings is None or fn not in _CACHED_LISTINGS:
        return None
    size = 0
    authorization = content_type = None
    for name, value in scope["headers"]:
        size += len(name) + len(value)
        if name == b"authorization":
            if authorization is None:
                authorization = value
        elif name == b"content-type":
            if content_type is None:
                content_type = value
        elif name in (b"content-length", b"transfer-encoding"):
            return None
    if size > services.settings.max_header_bytes or authorization is None:
        return None
    token = bearer_of(authorization.decode("latin-1"))
    if not token:
        return None
    account = services.accounts.cached(token)
    if account is MISS:
        return None
    raw_query: bytes = scope["query_string"]
    query = dict(QueryParams(raw_query)) if raw_query else {}
    ctype = content_type.decode("latin-1") if content_type is not None else ""
    key = _listing_key(fn, account, query, b"", ctype)
    hit = listings.get(key)
    if hit is not None or not listings.trusted():
        return hit
    running = listings.loads.running(key, listings.generation())
    if running is None:
        return None
    response = await asyncio.shield(running)
    if response is None or response.status_code != 200:  # errors are not shared
        return None
    return bytes(response.body)


def _run(fn: Handler, services: Services, token: str | None, query: dict[str, str],
         body: bytes, content_type: str, path: dict[str, str]) -> bytes:
    # authenticate first: a request with a bad key gets 401 whatever its body looks like
    account = services.accounts.authenticate(token)
    params = Params(query, parse_body(body, content_type))
    return to_json(fn(Call(services, account, params, path)))

"""``CachedListings``: the management app's middleware for the cached listings.

A ``GET`` of a listing its handler marks ``@cached_listing`` (``/v2/objectstores`` and
``/v2/objectstore/credentials``, with or without the trailing slash) whose answer is in the
listing cache — or is being loaded, since the last change, by a request already running — is
answered here, in front of the router: no routing, no ``Request`` or ``Response`` objects, no
thread hop, which is most of such a request's CPU time (``mgmt/handler.py``
``cached_listing_body`` says which requests qualify: no body, the header limit, a bearer key
matching a cached account). The scope still gets what the router puts on it (``router``,
``route``, ``endpoint``, ``path_params``), so the metrics label
(``objectstore.observability``) is the same either way.

Everything else — other paths and methods, requests with a body, a mount's ``root_path``,
cache misses, unknown keys — goes on to the router unchanged, whose endpoint answers it in
every case (from the cache too) exactly as before. It sits in the app's middleware stack
(``create_mgmt_app``), inside Starlette's error handling."""

from __future__ import annotations

from collections.abc import Mapping

from starlette.routing import Route
from starlette.types import ASGIApp, Receive, Scope, Send

from ..services.registry import Services
from .handler import Handler, ListingCache, cached_listing_body, is_cached_listing, send_json


class CachedListings:
    """ASGI middleware: ``routes`` maps a path to its GET route and handler (only those of
    cached listings are considered)."""

    def __init__(self, app: ASGIApp, services: Services, listings: ListingCache | None,
                 routes: Mapping[str, tuple[Route, Handler]]) -> None:
        self.app = app
        self._services = services
        self._listings = listings
        self._routes = {path: (route, fn) for path, (route, fn) in routes.items()
                        if is_cached_listing(fn)} if listings is not None else {}

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "GET" \
                and not scope.get("root_path"):
            get = self._routes.get(scope["path"])
            if get is not None:
                route, fn = get
                body = await cached_listing_body(scope, fn, self._services, self._listings)
                if body is not None:
                    scope["router"] = scope["app"].router
                    scope["route"] = route
                    scope["endpoint"] = route.endpoint
                    scope["path_params"] = {}
                    await send_json(send, body)
                    return
        await self.app(scope, receive, send)

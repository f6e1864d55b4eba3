"""The management plane: Civo's v2 Object Store API as a Starlette app."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from functools import cache
from typing import Any

from starlette.applications import Starlette
from starlette.exceptions import HTTPException
from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import BaseRoute, Route

from ..services.registry import Services
from .errors import civo_error
from .handler import Handler, civo_endpoint, listing_cache
from .middleware import CachedListings
from .models import Health, Metrics, OpenApiDocument
from .routes import account, credentials, event_targets, keys, objectstores
from .schema import Documented, build_openapi
from .spec import Operation, operation, operation_of

UPDATE = ["PUT", "PATCH"]

# (path, methods, handler): each handler declares its OpenAPI operation with @operation, next to
# it in mgmt/routes/; the document (/openapi.json, /docs) is generated from this table.
ROUTE_TABLE: list[tuple[str, list[str], Handler]] = [
    ("/v2/objectstores", ["GET"], objectstores.list_stores),
    ("/v2/objectstores", ["POST"], objectstores.create_store),
    ("/v2/objectstores/{id}", ["GET"], objectstores.get_store),
    ("/v2/objectstores/{id}", UPDATE, objectstores.update_store),
    ("/v2/objectstores/{id}", ["DELETE"], objectstores.delete_store),
    ("/v2/objectstores/{id}/stats", ["GET"], objectstores.store_stats),
    ("/v2/objectstore/credentials", ["GET"], credentials.list_credentials),
    ("/v2/objectstore/credentials", ["POST"], credentials.create_credential),
    ("/v2/objectstore/credentials/{id}", ["GET"], credentials.get_credential),
    ("/v2/objectstore/credentials/{id}", UPDATE, credentials.update_credential),
    ("/v2/objectstore/credentials/{id}", ["DELETE"], credentials.delete_credential),
    ("/v2/objectstore/keys", ["GET"], keys.list_keys),
    ("/v2/objectstore/keys", ["POST"], keys.create_key),
    ("/v2/objectstore/keys/{id}", ["GET"], keys.get_key),
    ("/v2/objectstore/keys/{id}", UPDATE, keys.update_key),
    ("/v2/objectstore/event-targets", ["GET"], event_targets.list_event_targets),
    ("/v2/objectstore/event-targets", ["POST"], event_targets.create_event_target),
    ("/v2/objectstore/event-targets/{id}", ["GET"], event_targets.get_event_target),
    ("/v2/objectstore/event-targets/{id}", UPDATE, event_targets.update_event_target),
    ("/v2/objectstore/event-targets/{id}", ["DELETE"], event_targets.delete_event_target),
    ("/v2/regions", ["GET"], account.list_regions),
    ("/v2/quota", ["GET"], account.quota),
]


def _routes() -> tuple[list[Route], dict[str, tuple[Route, Handler]]]:
    """The routes, and by path the GET routes (with their handler) of the table's paths
    without parameters (the cached listings among them: CachedListings)."""
    routes: list[Route] = []
    gets: dict[str, tuple[Route, Handler]] = {}
    for path, methods, fn in ROUTE_TABLE:
        endpoint = civo_endpoint(fn)
        # The spec's own examples use a trailing slash on some paths: serve both forms.
        for form in (path, path + "/"):
            route = Route(form, endpoint, methods=methods)
            routes.append(route)
            if "GET" in methods and "{" not in form:
                gets[form] = (route, fn)
    routes.append(Route("/healthz", healthz, methods=["GET"]))
    routes.append(Route("/openapi.json", openapi, methods=["GET"]))
    return routes, gets


@operation("health", "Liveness (no authentication)", Health, "The server is up", query=(),
           authenticated=False)
async def healthz(request: Request) -> Response:
    return JSONResponse({"status": "ok"})


@operation("openapi", "This document (no authentication)", OpenApiDocument,
           "OpenAPI 3.0 document", query=(), authenticated=False)
async def openapi(request: Request) -> Response:
    return JSONResponse(openapi_document())


# served by the metrics wrapper in front of this app (objectstore.observability)
METRICS = Operation("metrics", "Prometheus metrics: aggregate series without "
                    "authentication; per-store series with the metrics token "
                    "(OBJECTSTORE_METRICS_TOKEN) or the operator's API key as the bearer "
                    "token (any other token: 401 metrics_token_invalid)", Metrics,
                    "Prometheus text exposition format", query=(), authenticated=False,
                    media_type="text/plain")


def documented_routes() -> list[Documented]:
    """Every documented operation: the route table's, this app's own and the wrapper's."""
    served: list[tuple[str, list[str], Callable[..., Any]]] = [
        *ROUTE_TABLE, ("/healthz", ["GET"], healthz), ("/openapi.json", ["GET"], openapi)]
    out: list[Documented] = [(path, methods, operation_of(fn)) for path, methods, fn in served]
    return [*out, ("/metrics", ["GET"], METRICS)]


@cache
def openapi_document() -> dict[str, Any]:
    """The OpenAPI document of this API, generated from the route table (built once)."""
    return build_openapi(documented_routes())


async def _http_error(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, HTTPException)
    if exc.status_code == 404:
        return civo_error(404, "not_found", f"no such endpoint: {request.url.path}")
    if exc.status_code == 405:
        return civo_error(405, "method_not_allowed",
                          f"{request.method} is not allowed on {request.url.path}")
    return civo_error(exc.status_code, "http_error", str(exc.detail))


def create_mgmt_app(services: Services, extra_routes: Sequence[BaseRoute] = (),
                    **state: Any) -> Starlette:
    """The management API; ``extra_routes`` (the web console's, passed in by the composition
    root) are served on the same port, ``state`` lands on ``app.state``. Its one middleware,
    ``CachedListings`` (mgmt/middleware.py), answers a cached listing before the router."""
    routes, gets = _routes()  # before extra_routes: they match first
    listings = listing_cache(services)
    app = Starlette(routes=[*routes, *extra_routes],
                    exception_handlers={HTTPException: _http_error},
                    middleware=[Middleware(CachedListings, services=services,
                                           listings=listings, routes=gets)])
    app.router.redirect_slashes = False
    app.state.services = services
    app.state.listings = listings  # the one cache the middleware and the endpoints read
    for name, value in state.items():
        setattr(app.state, name, value)
    return app

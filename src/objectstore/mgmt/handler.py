"""One wrapper for every management endpoint: body, auth, thread hop, error mapping."""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from ..domain.errors import DomainError
from ..domain.models import Account
from ..services.registry import Services
from .auth import bearer_token
from .errors import civo_error, domain_error_response
from .params import BadBody, Params, parse_body, read_body

log = logging.getLogger("objectstore.mgmt")


@dataclass
class Call:
    services: Services
    account: Account
    params: Params
    path: dict[str, str]


Handler = Callable[[Call], Any]


def civo_endpoint(fn: Handler) -> Callable[[Request], Awaitable[Response]]:
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
        try:
            result = await run_in_threadpool(
                _run, fn, services, token, dict(request.query_params), body,
                request.headers.get("content-type", ""), dict(request.path_params))
        except BadBody as bad:
            return civo_error(bad.status, bad.code, bad.reason)
        except DomainError as exc:
            return domain_error_response(exc)
        except Exception:
            log.exception("unhandled error in %s %s", request.method, request.url.path)
            return civo_error(500, "internal_server_error", "an internal error occurred")
        return JSONResponse(result)

    endpoint.__name__ = fn.__name__
    return endpoint


def _run(fn: Handler, services: Services, token: str | None, query: dict[str, str],
         body: bytes, content_type: str, path: dict[str, str]) -> Any:
    # authenticate first: a request with a bad key gets 401 whatever its body looks like
    account = services.accounts.authenticate(token)
    params = Params(query, parse_body(body, content_type))
    return fn(Call(services, account, params, path))

"""The console's route table, mounted on the management plane at ``/console`` (``/`` leads
there)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from starlette.middleware import Middleware
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import BaseRoute, Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..services.registry import Services
from ..services.signin_throttle import SignInThrottle
from . import (
    accounts_page,
    credentials_page,
    events_page,
    objects_page,
    objects_transfer,
    overview_page,
    store_settings,
    stores_page,
    website_settings,
)
from .docs_page import api_reference
from .endpoint import OutagePages, PageFn, error_page, page
from .headers import HEADERS
from .sampler import Sampler, UsageHistory
from .sessions import SessionStore
from .signin_page import SignInPages, signout
from .state import ConsoleState
from .templating import PREFIX, make_environment

STATIC_DIR = Path(__file__).parent / "static"


class _Secured:
    """Static files with the console's security headers and a short cache lifetime."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                extra = [(k.lower().encode(), v.encode()) for k, v in HEADERS.items()]
                extra.append((b"cache-control", b"public, max-age=300"))
                message["headers"] = list(message.get("headers", [])) + extra
            await send(message)

        await self.app(scope, receive, send_with_headers)


class Console:
    def __init__(self, state: ConsoleState, openapi: dict[str, Any]) -> None:
        self.state, self.openapi = state, openapi

    def _r(self, path: str, fn: PageFn, methods: list[str], **kw: bool) -> Route:
        return Route(path, page(self.state, fn, **kw), methods=methods)

    def _page_routes(self) -> list[BaseRoute]:
        g, p = ["GET"], ["POST"]
        obj = "/stores/{id}"
        r = self._r
        return [
            r("/", overview_page.overview, g),
            r("/signout", signout, p),
            r("/stores", stores_page.list_page, g),
            r("/stores", stores_page.create, p),
            r(obj, stores_page.detail, g),
            r(obj + "/resize", stores_page.resize, p),
            r(obj + "/delete", stores_page.delete, p),
            r(obj + "/versioning", store_settings.set_versioning, p),
            r(obj + "/lifecycle/delete", store_settings.delete_lifecycle, p),
            r(obj + "/website", website_settings.save_website, p),
            r(obj + "/website/delete", website_settings.delete_website, p),
            r(obj + "/objects", objects_page.browse, g),
            r(obj + "/object", objects_page.details, g),
            r(obj + "/download", objects_transfer.download, g),
            r(obj + "/objects/delete", objects_transfer.delete_objects, p),
            r(obj + "/version/delete", objects_transfer.delete_version, p),
            r(obj + "/folder", objects_transfer.new_folder, p),
            r(obj + "/acl", objects_transfer.set_acl, p),
            r(obj + "/share", objects_transfer.share, p),
            r(obj + "/upload", objects_transfer.upload, ["PUT"], api=True, stream=True),
            r(obj + "/multipart", objects_transfer.multipart_start, p, api=True, stream=True),
            r(obj + "/multipart/part", objects_transfer.multipart_part, ["PUT"], api=True,
              stream=True),
            r(obj + "/multipart/complete", objects_transfer.multipart_complete, p, api=True,
              stream=True),
            r(obj + "/multipart/abort", objects_transfer.multipart_abort, p, api=True,
              stream=True),
            r("/credentials", credentials_page.list_page, g),
            r("/credentials", credentials_page.create, p),
            r("/credentials/{id}", credentials_page.detail, g),
            r("/credentials/{id}/suspend", credentials_page.suspend, p),
            r("/credentials/{id}/keys", credentials_page.replace_keys, p),
            r("/credentials/{id}/limit", credentials_page.set_limit, p),
            r("/credentials/{id}/delete", credentials_page.delete, p),
            r("/event-targets", events_page.list_page, g),
            r("/event-targets", events_page.create, p),
            r("/event-targets/{id}", events_page.edit_page, g),
            r("/event-targets/{id}", events_page.update, p),
            r("/event-targets/{id}/delete", events_page.delete, p),
            r("/accounts", accounts_page.list_page, g),
            r("/accounts", accounts_page.create, p),
            r("/accounts/{id}/quota", accounts_page.set_quota, p),
            r("/accounts/{id}/delete", accounts_page.delete, p),
        ]

    def routes(self) -> list[BaseRoute]:
        """Routes for the management app: ``/``, ``/docs`` and everything under /console."""
        signin = SignInPages(self.state)
        static = _Secured(StaticFiles(directory=STATIC_DIR))
        inner: list[BaseRoute] = [
            Mount("/static", app=static),
            Route("/signin", signin.show, methods=["GET"]),
            Route("/signin", signin.submit, methods=["POST"]),
            *self._page_routes(),
            Route("/{rest:path}", self.not_found,
                  methods=["GET", "POST", "PUT", "DELETE", "PATCH"]),
        ]
        state, openapi = self.state, self.openapi

        async def docs(request: Request) -> Response:
            return api_reference(state, openapi)

        return [
            Route("/", _to_console, methods=["GET", "HEAD"]),
            Route(PREFIX, _to_console, methods=["GET", "HEAD"]),
            Route("/docs", docs, methods=["GET"]),
            Mount(PREFIX, routes=inner,
                  middleware=[Middleware(OutagePages, state=self.state)]),
        ]

    async def not_found(self, request: Request) -> Response:
        return error_page(self.state, 404, f"There is no console page at {request.url.path}.")


async def _to_console(request: Request) -> Response:
    return RedirectResponse(PREFIX + "/", status_code=302)


def create_console(services: Services, openapi: dict[str, Any] | None = None) -> Console:
    """The console over these services; ``openapi``: the document ``/docs`` renders."""
    db = services.settings.data_dir / "console.db"
    history = UsageHistory(db)
    state = ConsoleState(
        services=services, sessions=SessionStore(services.engine),
        throttle=SignInThrottle(services.engine), history=history,
        sampler=Sampler(services, history), env=make_environment())
    return Console(state, openapi or {})

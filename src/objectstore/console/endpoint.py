"""One wrapper for every signed-in console page: session, CSRF, thread hop, errors."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, RedirectResponse, Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import DomainError, InvalidInput
from ..domain.models import Account
from ..services.availability import unavailable
from ..services.registry import Services
from .csrf import SAFE_METHODS, same_origin, submitted_token, token_matches
from .errors import status_of
from .forms import MAX_FORM_BYTES, Form
from .headers import secure
from .s3_calls import S3CallFailed
from .sessions import COOKIE, Session
from .state import OPERATOR_ACCOUNT, ConsoleState
from .templating import PREFIX, url

log = logging.getLogger("objectstore.console")


@dataclass
class Ctx:
    request: Request
    state: ConsoleState
    session: Session
    token: str
    account: Account
    form: Form

    @property
    def services(self) -> Services:
        return self.state.services

    @property
    def operator(self) -> bool:
        return self.account.name == OPERATOR_ACCOUNT

    def render(self, template: str, status: int = 200, **values: Any) -> Response:
        flash = self.state.sessions.pop_flash(self.token)
        html = self.state.env.get_template(template).render(
            account=self.account, operator=self.operator, csrf=self.session.csrf,
            flash=flash, path=self.request.url.path, **values)
        return Response(html, status_code=status, media_type="text/html")

    def redirect(self, target: str, *, ok: str | None = None) -> Response:
        if ok:
            self.state.sessions.set_flash(self.token, "ok", ok)
        return RedirectResponse(target, status_code=303)


PageFn = Callable[[Ctx], Response] | Callable[[Ctx], Awaitable[Response]]


def own_origin(request: Request) -> str:
    return f"{request.url.scheme}://{request.headers.get('host', '')}"


def _status_of(exc: Exception) -> int:
    if isinstance(exc, S3CallFailed):
        return exc.status if 400 <= exc.status < 600 else 502
    if isinstance(exc, DomainError):
        return status_of(exc)
    return 503 if unavailable(exc) else 500


def message_of(exc: Exception) -> str:
    if isinstance(exc, S3CallFailed):
        return f"{exc.message} ({exc.code})" if exc.code and exc.code not in exc.message \
            else exc.message
    if isinstance(exc, DomainError):
        return exc.message
    return OUTAGE_MESSAGE if unavailable(exc) else "an internal error occurred"


OUTAGE_MESSAGE = ("The service cannot reach its database or blob store right now. Nothing was "
                  "changed: try again in a moment.")


class OutagePages:
    """ASGI middleware for the console's routes: a backend outage met outside a page's own
    error handling (the session lookup, the sign-in throttle) is a 503 page with a readable
    message, not a bare 500 (``services/availability.py`` says which failures are outages)."""

    def __init__(self, app: ASGIApp, state: ConsoleState) -> None:
        self.app, self.state = app, state

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        started = False

        async def tracked(message: Message) -> None:
            nonlocal started
            started = started or message["type"] == "http.response.start"
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        except Exception as exc:
            if started or scope["type"] != "http" or not unavailable(exc):
                raise
            log.warning("console: a backend cannot be reached (%s)", type(exc).__name__)
            resp = error_page(self.state, 503, OUTAGE_MESSAGE)
            resp.headers["Retry-After"] = "1"
            await resp(scope, receive, send)


def _local(target: str) -> bool:
    return target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target


def _back(request: Request, form: Form) -> str:
    """Where a failed form sends the browser to show its error: the form's ``back`` field,
    else the page the form was on (the same-origin Referer), else the overview."""
    back = form.get("back")
    if _local(back):
        return back
    origin = own_origin(request)
    referer = request.headers.get("referer", "")
    if referer.startswith(origin + "/") and _local(referer[len(origin):]):
        return referer[len(origin):]
    return PREFIX + "/"


def error_page(state: ConsoleState, status: int, message: str) -> Response:
    html = state.env.get_template("error.html").render(status=status, message=message,
                                                       account=None, flash=None)
    return secure(Response(html, status_code=status, media_type="text/html"))


def _signed_out(request: Request, api: bool) -> Response:
    if api or request.headers.get("hx-request"):
        resp: Response = JSONResponse({"error": "your session has ended: sign in again"},
                                      status_code=401)
        resp.headers["HX-Redirect"] = url("/signin")
        return secure(resp)
    target = url("/signin", next=request.url.path if request.method == "GET" else None)
    return secure(RedirectResponse(target, status_code=303))


def page(state: ConsoleState, fn: PageFn, *, api: bool = False, stream: bool = False
         ) -> Callable[[Request], Awaitable[Response]]:
    """``api``: answers JSON errors (for the upload script); ``stream``: the handler reads
    the body itself (uploads), so it is not parsed as a form."""

    async def endpoint(request: Request) -> Response:
        state.sampler.start()
        token = request.cookies.get(COOKIE, "")
        session = await run_in_threadpool(state.sessions.get, token)
        account = await run_in_threadpool(state.account, session.account_id) \
            if session else None
        if session is None or account is None:
            return _signed_out(request, api)
        form = Form([])
        if request.method not in SAFE_METHODS:
            if not same_origin(request.headers, own_origin(request)):
                return error_page(state, 403, "cross-site request refused")
            if not stream:
                body = await _read_form(request)
                if body is None:
                    return error_page(state, 413, "the form is too large")
                try:
                    form = Form.parse(body, request.headers.get("content-type", ""))
                except InvalidInput as exc:
                    return error_page(state, 400, exc.message)
            if not token_matches(session.csrf, submitted_token(request.headers, form)):
                return error_page(state, 403, "the form has expired or did not come from "
                                  "this console (CSRF token missing or wrong): reload the "
                                  "page and try again")
        ctx = Ctx(request, state, session, token, account, form)
        try:
            if inspect.iscoroutinefunction(fn):
                resp: Response = await fn(ctx)
            else:
                resp = await run_in_threadpool(fn, ctx)  # type: ignore[arg-type]
        except (DomainError, S3CallFailed) as exc:
            return await _failed(ctx, exc, api)
        except Exception as exc:
            log.exception("console error in %s %s", request.method, request.url.path)
            return await _failed(ctx, exc, api)
        return secure(resp)

    endpoint.__name__ = getattr(fn, "__name__", "page")
    return endpoint


async def _failed(ctx: Ctx, exc: Exception, api: bool) -> Response:
    status, message = _status_of(exc), message_of(exc)
    if api:
        return secure(JSONResponse({"error": message}, status_code=status))
    if ctx.request.method in SAFE_METHODS:
        return error_page(ctx.state, status, message)
    await run_in_threadpool(ctx.state.sessions.set_flash, ctx.token, "error", message)
    return secure(RedirectResponse(_back(ctx.request, ctx.form), status_code=303))


async def _read_form(request: Request) -> bytes | None:
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.stream():
        size += len(chunk)
        if size > MAX_FORM_BYTES:
            return None
        chunks.append(chunk)
    return b"".join(chunks)

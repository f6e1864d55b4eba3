"""Sign in with an account's API key, and sign out."""

from __future__ import annotations

import asyncio
import math
import secrets

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response

from ..domain.errors import InvalidInput, Unauthenticated
from .csrf import FIELD, same_origin, token_matches
from .endpoint import Ctx, own_origin
from .forms import MAX_FORM_BYTES, Form
from .headers import secure
from .sessions import COOKIE
from .state import ConsoleState
from .templating import PREFIX, url

PRE_COOKIE = "objectstore_signin"  # double-submit token for the sign-in form itself


def _safe_next(target: str) -> str:
    if target.startswith(PREFIX + "/") and "//" not in target and "\\" not in target:
        return target
    return PREFIX + "/"


def client_address(request: Request) -> str:
    """The client as ``objectstore.forwarded`` decided (forwarded headers count only from
    the proxies the operator lists)."""
    return request.client.host if request.client else "unknown"


def _form_page(state: ConsoleState, request: Request, *, status: int = 200,
               error: str | None = None, headers: dict[str, str] | None = None) -> Response:
    pre = request.cookies.get(PRE_COOKIE) or secrets.token_urlsafe(24)
    html = state.env.get_template("signin.html").render(
        csrf=pre, error=error, next=request.query_params.get("next", ""), account=None,
        flash=None)
    resp = Response(html, status_code=status, media_type="text/html", headers=headers)
    resp.set_cookie(PRE_COOKIE, pre, httponly=True, samesite="strict", path=PREFIX,
                    secure=request.url.scheme == "https")
    return secure(resp)


class SignInPages:
    def __init__(self, state: ConsoleState) -> None:
        self.state = state

    async def show(self, request: Request) -> Response:
        state = self.state
        session = await run_in_threadpool(state.sessions.get, request.cookies.get(COOKIE))
        if session is not None:
            return secure(RedirectResponse(PREFIX + "/", status_code=303))
        return _form_page(state, request)

    async def submit(self, request: Request) -> Response:
        state = self.state
        body = await request.body()
        if len(body) > MAX_FORM_BYTES:
            return _form_page(state, request, status=413, error="The form is too large.")
        try:
            form = Form.parse(body, request.headers.get("content-type", ""))
        except InvalidInput as exc:
            return _form_page(state, request, status=400, error=exc.message)
        if not same_origin(request.headers, own_origin(request)) or not token_matches(
                request.cookies.get(PRE_COOKIE, ""), form.get(FIELD)):
            return _form_page(state, request, status=403,
                              error="The sign-in form expired or came from another site: "
                                    "please try again.")
        addr = client_address(request)
        # counted before the key is checked (forgotten if it is right): tries sent at once,
        # or to other workers and gateways, count like tries sent one after another
        attempt = await run_in_threadpool(state.throttle.attempt, addr)
        if attempt.retry_after is not None:
            seconds = max(1, math.ceil(attempt.retry_after))
            return _form_page(state, request, status=429, headers={"Retry-After": str(seconds)},
                              error=f"Too many failed sign-ins from your address. Try again "
                                    f"in {seconds} seconds.")
        key = form.get("api_key").strip()
        try:
            account = await run_in_threadpool(state.services.accounts.authenticate, key)
        except Unauthenticated:
            await asyncio.sleep(attempt.delay)
            message = ("Enter your API key." if not key else
                       "That API key is not valid. Check it and try again.")
            return _form_page(state, request, status=401, error=message)
        await run_in_threadpool(state.throttle.succeeded, addr)
        token, _session = await run_in_threadpool(state.sessions.create, account.id)
        resp = RedirectResponse(_safe_next(form.get("next")), status_code=303)
        resp.set_cookie(COOKIE, token, max_age=int(state.sessions.absolute_s), httponly=True,
                        samesite="strict", path=PREFIX, secure=request.url.scheme == "https")
        resp.delete_cookie(PRE_COOKIE, path=PREFIX)
        return secure(resp)


def signout(ctx: Ctx) -> Response:
    ctx.state.sessions.end(ctx.token)
    resp = RedirectResponse(url("/signin"), status_code=303)
    resp.delete_cookie(COOKIE, path=PREFIX)
    return resp

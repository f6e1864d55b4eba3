"""The S3 plane: addressing -> operation -> auth -> authorisation -> handler -> render."""

from __future__ import annotations

import logging
import secrets
from typing import Any

from starlette.concurrency import run_in_threadpool
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import DomainError
from ..domain.models import ObjectStore
from ..observability import OPERATION, REQUEST_ID
from ..services.cache import MISS
from ..services.registry import Services
from . import xml
from .addressing import split_target
from .authn import authenticate
from .context import S3Context, S3Response
from .errors import S3Error, access_denied, from_domain, no_such_bucket
from .handlers import HANDLERS
from .request_view import RequestView
from .routing import Access, Target, resolve

log = logging.getLogger("objectstore.s3")


def _headers(scope: Scope, limit: int) -> dict[str, str]:
    headers: dict[str, str] = {}
    total = 0
    for k, v in scope["headers"]:
        total += len(k) + len(v)
        name = k.decode("latin-1").lower()
        value = v.decode("latin-1")
        headers[name] = f"{headers[name]},{value}" if name in headers else value
    if total > limit:
        raise S3Error("RequestHeaderSectionTooLarge",
                      "Your request header section exceeds the maximum allowed size.", 400)
    return headers


class _BodyState:
    """Whether the request announced a body that has not been received completely."""

    def __init__(self, scope: Scope, receive: Receive) -> None:
        self._receive = receive
        self.expected = False
        for k, v in scope["headers"]:
            name = k.lower()
            if name == b"transfer-encoding" or (name == b"content-length" and v.strip() != b"0"):
                self.expected = True
        self.done = False

    async def receive(self) -> Message:
        message = await self._receive()
        if message["type"] != "http.request" or not message.get("more_body", False):
            self.done = True
        return message

    @property
    def unread(self) -> bool:
        return self.expected and not self.done


class S3App:
    def __init__(self, services: Services) -> None:
        self.services = services

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        request_id = scope.get(REQUEST_ID) or secrets.token_hex(8).upper()
        method = scope["method"]
        resource = scope.get("path", "/")
        body = _BodyState(scope, receive)
        try:
            response = await self._handle(scope, body.receive, request_id)
        except S3Error as exc:
            response = _error_response(exc, resource, request_id)
        except DomainError as exc:
            response = _error_response(from_domain(exc), resource, request_id)
        except Exception:
            log.exception("internal error in %s %s", method, resource)
            response = _error_response(
                S3Error("InternalError", "We encountered an internal error. Please try again.",
                        500), resource, request_id)
        if body.unread:
            # Answered before the body was read (an early error, or a client that waits for
            # "100 Continue" and will now never send it): the rest of the connection's byte
            # stream is not a request boundary, so it must not be reused.
            response.headers.append(("Connection", "close"))
        await _send(send, response, request_id, head=method == "HEAD")

    async def _handle(self, scope: Scope, receive: Receive, request_id: str) -> S3Response:
        settings = self.services.settings
        headers = _headers(scope, settings.max_header_bytes)
        raw_path = scope.get("raw_path", b"").decode("latin-1") or scope["path"]
        raw_query = scope.get("query_string", b"").decode("latin-1")
        if "?" in raw_path:  # some servers include the query in raw_path
            raw_path = raw_path.split("?", 1)[0]
        host = headers.get("host", "")
        bucket, key = split_target(host, raw_path, settings.s3_domain)
        target = Target.SERVICE if bucket is None else (
            Target.BUCKET if key is None else Target.OBJECT)
        view = RequestView(scope["method"], raw_path, raw_query, headers, host)
        query: dict[str, str] = {}  # decoded once; auth and the handlers read it from here
        for k, v in view.query:
            if "\x00" in k or "\x00" in v:
                # No key, marker, prefix or upload id holds a NUL (and PostgreSQL cannot
                # compare one): refuse it here rather than let it reach a query.
                raise S3Error("InvalidArgument", "Query parameters must not contain NUL "
                              "characters", 400)
            if k not in query:
                query[k] = v if v.isascii() else _valid_text(v)
        rule = resolve(scope["method"], target, set(query), headers)
        if rule is None:
            raise S3Error("NotImplemented", "A header or query you provided implies "
                          "functionality that is not implemented.", 501)
        scope[OPERATION] = rule.op
        virtual = bucket if settings.s3_domain and host.lower().startswith(f"{bucket}.") \
            else None
        caller = await authenticate(self.services, view, virtual)
        ctx = S3Context(self.services, receive, scope["method"], raw_path, raw_query, headers,
                        request_id, bucket, key, rule, caller.credential, caller.sigv4,
                        caller.signing_key, query=query)
        if bucket is not None and rule.op != "CreateBucket":
            ctx.store = await self._authorise_store(ctx, bucket)
        elif rule.access is not Access.READ and ctx.credential is None:
            raise access_denied()
        handler = HANDLERS.get(rule.op)
        if handler is None:
            raise S3Error("NotImplemented", f"{rule.op} is not implemented.", 501)
        return await handler(ctx)

    async def _authorise_store(self, ctx: S3Context, bucket: str) -> ObjectStore:
        hit = self.services.stores.cached_bucket(bucket)  # no I/O: skip the hop on a hit
        stores = hit if hit is not MISS else await run_in_threadpool(
            self.services.stores.resolve_bucket, bucket)
        cred = ctx.credential
        if not stores:
            if cred is None:
                raise access_denied()
            raise no_such_bucket(bucket)
        if cred is not None:
            mine = [s for s in stores if s.credential_id == cred.id]
            if mine:
                return mine[0]
            raise access_denied()
        # Anonymous: only public-read buckets (listing/reading) or public objects (checked by
        # the object handlers); pick the store of the default region when names repeat.
        default = self.services.regions.default.code
        store = next((s for s in stores if s.region == default), stores[0])
        if ctx.rule.access is Access.LIST and store.acl == "public-read":
            return store
        if ctx.rule.access is Access.READ:
            return store
        raise access_denied()


def _valid_text(value: str) -> str:
    """Bytes that were not UTF-8 (kept as surrogates for signing) become U+FFFD for use."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _error_response(exc: S3Error, resource: str, request_id: str) -> S3Response:
    body = xml.error_document(exc.code, exc.message, resource, request_id, exc.extra)
    return S3Response(exc.status, [], body, content_type="application/xml")


async def _send(send: Send, response: S3Response, request_id: str, *, head: bool) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"x-amz-request-id", request_id.encode()),
        (b"x-amz-id-2", request_id.encode()),
        (b"server", b"objectstore"),
    ]
    if response.content_type:
        headers.append((b"content-type", response.content_type.encode()))
    has_length = False
    for k, v in response.headers:
        if k.lower() == "content-length":
            has_length = True
        headers.append((k.encode("latin-1"), _latin1(v)))
    if response.stream is None and not has_length:
        headers.append((b"content-length", str(len(response.body)).encode()))
    start: dict[str, Any] = {"type": "http.response.start", "status": response.status,
                             "headers": headers}
    await send(start)
    if head or response.status in (204, 304):
        if response.stream is not None:
            await response.stream.aclose()  # type: ignore[attr-defined]
        await send({"type": "http.response.body", "body": b""})
        return
    if response.stream is None:
        await send({"type": "http.response.body", "body": response.body})
        return
    async for chunk in response.stream:
        await send({"type": "http.response.body", "body": chunk, "more_body": True})
    await send({"type": "http.response.body", "body": b""})


def _latin1(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        from urllib.parse import quote

        return quote(value, safe="!#$&'()*+,/:;=?@[]~ ").encode("latin-1")


def create_s3_app(services: Services) -> ASGIApp:
    return S3App(services)

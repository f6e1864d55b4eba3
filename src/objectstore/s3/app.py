"""The S3 plane: addressing -> operation -> auth -> authorisation -> handler -> render."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import DomainError
from ..domain.models import ObjectStore
from ..observability import OPERATION, REQUEST_ID
from ..services.engine.values import DamagedObject
from ..services.registry import Services
from . import xml
from .addressing import split_target
from .authn import authenticate
from .authorization import authorize_request
from .context import S3Context, S3Response
from .errors import S3Error, from_domain, from_unexpected, no_such_bucket
from .handlers import HANDLERS
from .handlers import cors as cors_rules
from .handlers.post import PostContext
from .request_view import RequestView
from .routing import Step, Target, resolve

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
        state = _State()
        try:
            response = await self._handle(scope, body.receive, request_id, state)
        except S3Error as exc:
            response = _error_response(exc, resource, request_id)
        except DomainError as exc:
            response = _error_response(from_domain(exc), resource, request_id)
        except DamagedObject:
            log.error("damaged object in %s %s", method, resource)
            response = _error_response(
                S3Error("InternalError", "The stored object is damaged (checksum mismatch); it "
                        "cannot be served.", 500), resource, request_id)
        except Exception as exc:
            error = from_unexpected(exc)
            if error.status == 503:
                log.warning("%s in %s %s: %s", error.code, method, resource, exc)
            else:
                log.exception("internal error in %s %s", method, resource)
            response = _error_response(error, resource, request_id)
        if body.unread:
            # Answered before the body was read (an early error, or a client that waits for
            # "100 Continue" and will now never send it): the rest of the connection's byte
            # stream is not a request boundary, so it must not be reused.
            response.headers.append(("Connection", "close"))
        if state.origin is not None and state.bucket is not None:
            response.headers += await self._cors_headers(state, method)
        await _send(send, response, request_id, head=method == "HEAD", receive=receive)

    async def _cors_headers(self, state: _State, method: str) -> list[tuple[str, str]]:
        """CORS headers of an actual response (errors included) to a browser request."""
        try:
            store = state.store
            if store is None:
                stores = await self.services.stores.resolve_bucket_async(state.bucket or "")
                if not stores:
                    return []
                store = stores[0]
            rules = await cors_rules.store_rules(self.services, store)
        except Exception:
            log.exception("CORS headers for %s", state.bucket)
            return []
        return cors_rules.response_headers(rules, state.origin, method)

    async def _preflight(self, bucket: str | None, headers: dict[str, str]) -> S3Response:
        """OPTIONS: answered from the store's CORS rules, with no authentication."""
        if bucket is None:
            raise S3Error("BadRequest", "A preflight request must name a bucket", 400)
        stores = await self.services.stores.resolve_bucket_async(bucket)
        if not stores:
            raise no_such_bucket(bucket)
        return cors_rules.preflight(await cors_rules.store_rules(self.services, stores[0]),
                                    headers)

    async def _handle(self, scope: Scope, receive: Receive, request_id: str, state: _State
                      ) -> S3Response:
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
        state.bucket, state.origin = bucket, headers.get("origin")
        if scope["method"] == "OPTIONS":
            state.origin = None  # the preflight answer carries its own headers
            return await self._preflight(bucket, headers)
        view = RequestView(scope["method"], raw_path, raw_query, headers, host)
        if "%00" in raw_query or "\x00" in raw_query:
            for k, v in view.query:
                if "\x00" in k or "\x00" in v:
                    # No key, marker, prefix or upload id holds a NUL (and PostgreSQL cannot
                    # compare one): refuse it here rather than let it reach a query.
                    raise S3Error("InvalidArgument", "Query parameters must not contain NUL "
                                  "characters", 400)
        # decoded once (the first value of each name); auth and the handlers read it here
        query = {k: v if v.isascii() else _valid_text(v) for k, v in view.params.items()}
        rule = resolve(scope["method"], target, query, headers)
        if rule is None:
            raise S3Error("NotImplemented", "A header or query you provided implies "
                          "functionality that is not implemented.", 501)
        scope[OPERATION] = rule.op
        virtual = bucket if settings.s3_domain and host.lower().startswith(f"{bucket}.") \
            else None
        caller = await authenticate(self.services, view, virtual)
        cls = PostContext if Step.FORM in rule.steps else S3Context
        ctx = cls(self.services, receive, scope["method"], raw_path, raw_query, headers,
                  request_id, bucket, key, rule, caller.credential, caller.sigv4,
                  caller.signing_key, query=query)
        await authorize_request(self.services, ctx, bucket, scope)
        state.store = ctx.store
        handler = HANDLERS.get(rule.op)
        if handler is None:
            raise S3Error("NotImplemented", f"{rule.op} is not implemented.", 501)
        return await handler(ctx)

@dataclass
class _State:
    """What the response path needs to know of a request (for CORS headers)."""

    bucket: str | None = None
    store: ObjectStore | None = None
    origin: str | None = None


def _valid_text(value: str) -> str:
    """Bytes that were not UTF-8 (kept as surrogates for signing) become U+FFFD for use."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _error_response(exc: S3Error, resource: str, request_id: str) -> S3Response:
    body = xml.error_document(exc.code, exc.message, resource, request_id, exc.extra)
    return S3Response(exc.status, list(exc.headers), body, content_type="application/xml")


async def _send(send: Send, response: S3Response, request_id: str, *, head: bool,
                receive: Receive | None = None) -> None:
    headers: list[tuple[bytes, bytes]] = [
        (b"x-amz-request-id", request_id.encode()),
        (b"x-amz-id-2", request_id.encode()),
        (b"server", b"objectstore"),
    ]
    if response.content_type:
        headers.append((b"content-type", response.content_type.encode()))
    has_length = False
    for k, v in response.headers:
        if not has_length and (k == "Content-Length" or k.lower() == "content-length"):
            has_length = True
        try:
            value = v.encode("latin-1")
        except UnicodeEncodeError:
            value = _latin1(v)
        headers.append((k.encode("latin-1"), value))
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
    await _send_stream(send, response.stream, receive)


async def _send_stream(send: Send, stream: AsyncIterator[bytes], receive: Receive | None
                       ) -> None:
    """Send a streamed body, stopping as soon as the client is gone. The server drops a
    response's writes once its connection is lost (``send`` returns at once), so without
    this watch the object's stream would read every remaining byte from the blob store for
    nobody (issue 20.10). The ASGI way: ``receive`` answers ``http.disconnect`` then (the
    request body has been read by now; anything left of it is not ours to keep)."""
    gone: asyncio.Future[None] | None = None
    if receive is not None:
        async def watch() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass

        gone = asyncio.ensure_future(watch())
    try:
        async for chunk in stream:
            if gone is not None and gone.done():
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            if gone is not None:
                await asyncio.sleep(0)  # let the watch see a disconnect the send ran into
                if gone.done():
                    return
        await send({"type": "http.response.body", "body": b""})
    finally:
        if gone is not None:
            gone.cancel()
        aclose = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()  # stops the read-ahead and closes the blob at once


def _latin1(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        from urllib.parse import quote

        return quote(value, safe="!#$&'()*+,/:;=?@[]~ ").encode("latin-1")


def create_s3_app(services: Services) -> ASGIApp:
    return S3App(services)

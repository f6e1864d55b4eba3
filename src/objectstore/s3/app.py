"""The S3 plane: addressing -> operation -> auth -> authorisation -> handler -> render."""

from __future__ import annotations

import logging
import secrets
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import AccessDenied, DomainError
from ..domain.models import ObjectStore
from ..domain.names import validate_object_key
from ..observability import OPERATION, REQUEST_ID
from ..services.access import Access, authorize
from ..services.access.authorize import needs_object
from ..services.engine.objects import DamagedObject
from ..services.registry import Services
from . import xml
from .addressing import split_target
from .authn import authenticate
from .context import CopySource, S3Context, S3Response
from .errors import S3Error, from_domain, no_such_bucket
from .handlers import HANDLERS
from .request_view import RequestView
from .routing import Target, resolve

COPY_SOURCE_OPS = frozenset({"CopyObject", "UploadPartCopy"})

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
        except DamagedObject:
            log.error("damaged object in %s %s", method, resource)
            response = _error_response(
                S3Error("InternalError", "The stored object is damaged (checksum mismatch); it "
                        "cannot be served.", 500), resource, request_id)
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
        await self._authorize(ctx, bucket)
        handler = HANDLERS.get(rule.op)
        if handler is None:
            raise S3Error("NotImplemented", f"{rule.op} is not implemented.", 501)
        return await handler(ctx)

    async def _authorize(self, ctx: S3Context, bucket: str | None) -> None:
        """The one authorization decision of a request (and of its copy source)."""
        principal, access = ctx.credential, ctx.rule.access
        if bucket is None or ctx.rule.op == "CreateBucket":
            authorize(principal, access, None)
            return
        store = await self._store(ctx, bucket)
        obj = None
        if ctx.key is not None and needs_object(principal, access, store):
            try:
                obj = await self.services.objects.head(store, ctx.key, ctx.version_id)
            except DomainError:
                raise AccessDenied("Access Denied") from None
        authorize(principal, access, store, obj)
        ctx.store, ctx.version = store, obj
        if ctx.rule.op in COPY_SOURCE_OPS:
            src_bucket, src_key, src_version = parse_copy_source(
                ctx.headers.get("x-amz-copy-source", ""))
            src_store = await self._store(ctx, src_bucket)
            authorize(principal, Access.READ, src_store)
            ctx.copy_source = CopySource(src_store, src_key, src_version)

    async def _store(self, ctx: S3Context, bucket: str) -> ObjectStore:
        """The store a bucket name means to this caller (the caller's own, where names repeat
        across regions; else the default region's)."""
        stores = await self.services.stores.resolve_bucket_async(bucket)
        if not stores:
            if ctx.credential is None:
                raise AccessDenied("Access Denied")
            raise no_such_bucket(bucket)
        cred = ctx.credential
        if cred is not None:
            mine = [s for s in stores if s.credential_id == cred.id]
            if mine:
                return mine[0]
        default = self.services.regions.default.code
        return next((s for s in stores if s.region == default), stores[0])


def parse_copy_source(raw: str) -> tuple[str, str, str | None]:
    """(bucket, key, versionId) of an ``x-amz-copy-source`` header, with the key checked by
    the same rules as request keys."""
    path, _, query = raw.partition("?")
    version: str | None = None
    if query:
        name, _, value = query.partition("=")
        if name != "versionId" or not value:
            raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and "
                          "key: sourcebucket/sourcekey[?versionId=id]", 400)
        version = unquote(value)
    try:
        decoded = unquote(path, errors="strict").lstrip("/")
    except UnicodeDecodeError as exc:
        raise S3Error("InvalidArgument", "Copy Source is not valid UTF-8", 400) from exc
    bucket, _, key = decoded.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and "
                      "key: sourcebucket/sourcekey", 400)
    validate_object_key(key)
    return bucket, key, version


def _valid_text(value: str) -> str:
    """Bytes that were not UTF-8 (kept as surrogates for signing) become U+FFFD for use."""
    return value.encode("utf-8", "surrogateescape").decode("utf-8", "replace")


def _error_response(exc: S3Error, resource: str, request_id: str) -> S3Response:
    body = xml.error_document(exc.code, exc.message, resource, request_id, exc.extra)
    return S3Response(exc.status, list(exc.headers), body, content_type="application/xml")


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

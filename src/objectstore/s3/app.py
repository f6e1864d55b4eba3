"""The S3 plane: addressing -> operation -> auth -> authorisation -> handler -> render."""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from ..domain.errors import AccessDenied, DomainError
from ..domain.models import Credential, ObjectStore
from ..domain.names import validate_object_key
from ..domain.operations import Op
from ..observability import OPERATION, REQUEST_ID
from ..services.access import (
    Access,
    AclIntent,
    RequestContext,
    authorize,
    authorize_each,
    check_acl,
)
from ..services.access.acl import CANNED
from ..services.access.authorize import NO_DOCUMENTS
from ..services.access.principals import canonical_id
from ..services.engine.objects import DamagedObject
from ..services.registry import Services
from . import post as form_post
from . import xml
from .access import condition_keys, decide
from .addressing import split_target
from .authn import authenticate
from .context import CopySource, S3Context, S3Response
from .errors import S3Error, from_domain, from_unexpected, no_such_bucket
from .handlers import HANDLERS
from .handlers import cors as cors_rules
from .handlers.acl import acl_from_headers
from .handlers.post import PostContext
from .request_view import RequestView
from .routing import Step, Target, resolve

MAX_DELETE_BODY = 2 * 1024 * 1024

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
        await self._authorize(ctx, bucket, scope)
        state.store = ctx.store
        handler = HANDLERS.get(rule.op)
        if handler is None:
            raise S3Error("NotImplemented", f"{rule.op} is not implemented.", 501)
        return await handler(ctx)

    async def _authorize(self, ctx: S3Context, bucket: str | None, scope: Scope) -> None:
        """The one authorization decision of a request, with the steps its operation's rule
        declares (``routing.Step``) before and after it, in the pipeline's order."""
        rule = ctx.rule
        if bucket is None or Step.NO_STORE in rule.steps:
            authorize(ctx.credential, rule.access, None)
            return
        store = await self._store(ctx, bucket)
        check_expected_owner(ctx.headers.get("x-amz-expected-bucket-owner"), store)
        auth = _Authorization(ctx, scope, store, ctx.credential)
        for step in rule.before:
            await _STEPS[step](self, auth)
        request = RequestContext(rule.op, ctx.key, ctx.version_id)
        auth.bucket, obj = await decide(self.services, auth.principal, rule.access, store,
                                        request, auth.keys)
        ctx.store, ctx.version = store, obj
        for step in rule.after:
            await _STEPS[step](self, auth)

    async def _form(self, auth: _Authorization) -> None:
        """Step.FORM: a POST form's fields and signer; the caller is the form's signer and
        the fields count as headers for the condition keys."""
        ctx = auth.ctx
        assert isinstance(ctx, PostContext)
        await self._read_form(ctx, auth.store)
        auth.principal = ctx.credential
        auth.fields = ctx.form.fields if ctx.form else None
        auth.acl = auth.fields.get("acl") if auth.fields else None
        auth.auth_type = "POST"

    async def _acl(self, auth: _Authorization) -> None:
        """Step.ACL: an ACL the request sets (headers, or a form's ``acl`` field) is refused
        where ownership controls disable ACLs or the public access block public ones."""
        if auth.fields is None:
            intent = acl_from_headers(auth.ctx)
        else:
            intent = AclIntent(auth.acl) if auth.acl is not None else None
        if intent is not None:
            check_acl(auth.bucket, intent, auth.store.credential_id)

    async def _delete_keys_step(self, auth: _Authorization) -> None:
        """Step.DELETE_KEYS: under a policy, each key of a DeleteObjects body is decided as a
        DeleteObject of its own; they are the request's targets (none without a policy)."""
        keys: list[tuple[str, str | None]] = []
        if auth.bucket.policy is not None:
            keys = await self._delete_keys(auth.ctx)
            authorize_each(auth.principal, auth.store, auth.bucket, Op.DeleteObject, keys,
                           lambda: condition_keys(auth.ctx, auth.scope))
        auth.targets = list(keys)

    async def _bypass(self, auth: _Authorization) -> None:
        """Step.BYPASS: ``x-amz-bypass-governance-retention: true`` is a permission of its own
        (a policy may deny it), decided for every target of the request."""
        ctx = auth.ctx
        if ctx.headers.get("x-amz-bypass-governance-retention", "").strip().lower() != "true":
            return
        targets = auth.targets if auth.targets is not None else [(ctx.key, ctx.version_id)]
        try:
            for key, version in targets:
                await decide(self.services, auth.principal, Access.WRITE, auth.store,
                             RequestContext(Op.BypassGovernanceRetention, key, version),
                             auth.keys)
            ctx.may_bypass_governance = True
        except AccessDenied:
            ctx.may_bypass_governance = False

    async def _copy_source(self, auth: _Authorization) -> None:
        """Step.COPY_SOURCE: ``x-amz-copy-source`` resolved, and authorized as a GetObject."""
        ctx = auth.ctx
        src_bucket, src_key, src_version = parse_copy_source(
            ctx.headers.get("x-amz-copy-source", ""))
        src_store = await self._store(ctx, src_bucket)
        check_expected_owner(ctx.headers.get("x-amz-source-expected-bucket-owner"), src_store)
        await decide(self.services, auth.principal, Access.READ, src_store, RequestContext(
            Op.GetObject, src_key, src_version,
            {"s3:versionid": src_version} if src_version else {}), auth.keys)
        ctx.copy_source = CopySource(src_store, src_key, src_version)

    async def _read_form(self, ctx: PostContext, store: ObjectStore) -> None:
        """POST object: the form's fields, its signer, its policy's conditions and key."""
        form = await form_post.read_form(ctx)
        ctx.credential = await form_post.authenticate(self.services, form)
        key = form.fields.get("key")
        if key is None:
            raise S3Error("InvalidArgument", "Bucket POST must contain a field named 'key'.  "
                          "If it is specified, please check the order of the fields.", 400,
                          {"ArgumentName": "key", "ArgumentValue": ""})
        key = key.replace("${filename}", form.filename)
        validate_object_key(key)
        form_post.check_policy(form, store.name, key, datetime.now(UTC))
        acl = form.fields.get("acl")
        if acl is not None and acl.strip() not in CANNED:
            raise S3Error("InvalidArgument", f"Invalid canned ACL {acl[:64]}", 400)
        ctx.form, ctx.key = form, key

    async def _delete_keys(self, ctx: S3Context) -> list[tuple[str, str | None]]:
        """The keys of a DeleteObjects body, read here (for the per-key decision) and
        replayed to the handler, which verifies and parses it again."""
        messages: list[Message] = []
        size = 0
        while True:
            message = await ctx.receive()
            messages.append(message)
            size += len(message.get("body", b""))
            if size > MAX_DELETE_BODY:
                raise S3Error("MaxMessageLengthExceeded", "Your request was too big.", 400)
            if message["type"] != "http.request" or not message.get("more_body", False):
                break
        replay = iter(messages)
        original = ctx.receive

        async def receive() -> Message:
            return next(replay, None) or await original()

        ctx.receive = receive
        data = b"".join(m.get("body", b"") for m in messages)
        try:
            root = xml.parse(data)
        except S3Error:
            return []  # the handler refuses the body
        return [(o.findtext("Key") or "", o.findtext("VersionId"))
                for o in root.findall("Object")]

    async def _store(self, ctx: S3Context, bucket: str) -> ObjectStore:
        """The store a bucket name means to this caller (the caller's own, where names repeat
        across regions; else the default region's)."""
        stores = await self.services.stores.resolve_bucket_async(bucket)
        if not stores:  # anonymous callers too (AWS: bucket names are public knowledge)
            raise no_such_bucket(bucket)
        cred = ctx.credential
        if cred is not None:
            mine = [s for s in stores if s.credential_id == cred.id]
            if mine:
                return mine[0]
        default = self.services.regions.default.code
        return next((s for s in stores if s.region == default), stores[0])


class _Authorization:
    """One request's authorization as the pipeline's steps build it."""

    __slots__ = ("acl", "auth_type", "bucket", "ctx", "fields", "keys", "principal", "scope",
                 "store", "targets")

    def __init__(self, ctx: S3Context, scope: Scope, store: ObjectStore,
                 principal: Credential | None) -> None:
        self.ctx, self.scope, self.store, self.principal = ctx, scope, store, principal
        self.bucket = NO_DOCUMENTS  # the store's access documents, once decided
        self.fields: dict[str, str] | None = None  # a POST form's fields
        self.acl: str | None = None                # its canned ACL field
        self.auth_type: str | None = None
        # the (key, version) pairs a request on several keys acts on (None: its own key)
        self.targets: list[tuple[str | None, str | None]] | None = None
        # the condition keys, computed once, only if the store has a policy to read them
        self.keys = _Once(lambda: condition_keys(ctx, scope, acl=self.acl,
                                                 auth_type=self.auth_type, fields=self.fields))


_STEPS: dict[Step, Callable[[S3App, _Authorization], Awaitable[None]]] = {
    Step.FORM: S3App._form,
    Step.ACL: S3App._acl,
    Step.DELETE_KEYS: S3App._delete_keys_step,
    Step.BYPASS: S3App._bypass,
    Step.COPY_SOURCE: S3App._copy_source,
}


class _Once:
    """``fn()``, computed at the first call only (``functools.cache`` builds a wrapper with
    copied attributes: several µs for each request)."""

    __slots__ = ("_fn", "_value")

    def __init__(self, fn: Callable[[], dict[str, str]]) -> None:
        self._fn: Callable[[], dict[str, str]] | None = fn
        self._value: dict[str, str] = {}

    def __call__(self) -> dict[str, str]:
        fn = self._fn
        if fn is not None:
            self._value, self._fn = fn(), None
        return self._value


@dataclass
class _State:
    """What the response path needs to know of a request (for CORS headers)."""

    bucket: str | None = None
    store: ObjectStore | None = None
    origin: str | None = None


def check_expected_owner(expected: str | None, store: ObjectStore) -> None:
    """``x-amz-expected-bucket-owner`` (or ``-source-`` for a copy source): a store owned by
    someone else is refused with 403 AccessDenied, as AWS does. The owner is named by the
    ID ListBuckets reports as ``Owner`` (its canonical ID) or by its account id."""
    if expected is None:
        return
    expected = expected.strip()
    if expected not in (canonical_id(store.credential_id), store.account_id):
        raise S3Error("AccessDenied", "Access Denied", 403)


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

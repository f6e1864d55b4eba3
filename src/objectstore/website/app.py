"""The website plane: serve the store the Host names as a static website, as AWS's website
endpoints do (docs/website.md).

- The store: ``<store>.<OBJECTSTORE_WEB_DOMAIN>``, or a Host equal to a store's name (stores
  named like domains, behind a CNAME). Its ``website`` document (``domain/website.py``)
  says how to serve; none (or an unknown Host) answers an HTML 404 naming the reason.
- GET and HEAD only (405 otherwise), anonymous: each object is read only if an anonymous
  caller may read it by the store's policy and ACLs (``services.access.authorize``, the one
  decision both planes use), else 403.
- ``/`` and ``dir/`` serve the index document; ``dir`` redirects (302) to ``dir/`` when that
  index exists; a missing key answers the error document with 404 (403 when the key may not
  be read), or an HTML page when there is none. Routing rules and redirect-all redirect; an
  object's ``x-amz-website-redirect-location`` redirects (301).
- Objects are read through the object engine's resolve-and-open step (``ObjectEngine.get``)
  with Range (206, 416) and conditional requests (304, 412), with their Content-Type and
  stored cache headers. Every answer is HTML or the object, never S3 XML.
- Redirects use the scheme and Host the client used (``forwarded.ClientView`` rewrites them
  from a trusted TLS proxy's headers). All state is in the database: any gateway serves any
  site.
"""

from __future__ import annotations

import asyncio
import logging
import re
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote

from starlette.types import ASGIApp, Receive, Scope, Send

from ..domain.errors import AccessDenied, DomainError
from ..domain.http_dates import http_date, parse_http_date
from ..domain.models import ObjectStore, ObjectVersion
from ..domain.names import validate_object_key
from ..domain.operations import Op
from ..domain.website import (
    WebsiteConfig,
    key_path,
    redirect_all_location,
    rule_location,
)
from ..observability import OPERATION, REQUEST_ID
from ..services.access import (
    Access,
    BucketAccess,
    RequestContext,
    authorize,
    load_bucket_access,
    needs_object,
)
from ..services.availability import unavailable
from ..services.engine.sse import SSE_C
from ..services.engine.values import DamagedObject, ReadPlan
from ..services.registry import Services
from . import pages

log = logging.getLogger("objectstore.website")
HTML = "text/html; charset=utf-8"
REDIRECT_HEADER = "x-amz-website-redirect-location"
_RANGE_RE = re.compile(r"^bytes=([0-9]{0,19})-([0-9]{0,19})$")


@dataclass
class Answer:
    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""
    stream: AsyncIterator[bytes] | None = None


class Refused(Exception):
    """An answer of the site's error kind (the error document or an HTML page)."""

    def __init__(self, status: int, code: str, message: str,
                 details: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.code, self.message, self.details = status, code, message, details


@dataclass
class Request:
    method: str
    path: str            # as received (percent-encoded), without the query
    headers: dict[str, str]
    scheme: str
    host: str            # the Host header as the client sent it (port included)
    client: str | None
    request_id: str


def _etag_in(etag: str, header: str) -> bool:
    wanted = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in wanted or etag in wanted


def conditional(headers: dict[str, str], meta: ObjectVersion) -> int | None:
    """304, 412 (RFC 7232 as S3 applies it), or None to serve."""
    modified = meta.last_modified.replace(microsecond=0)
    if_match = headers.get("if-match")
    if if_match is not None:
        if not _etag_in(meta.etag, if_match):
            return 412
    else:
        since = parse_http_date(headers.get("if-unmodified-since"))
        if since is not None and modified > since:
            return 412
    if_none = headers.get("if-none-match")
    if if_none is not None:
        return 304 if _etag_in(meta.etag, if_none) else None
    since = parse_http_date(headers.get("if-modified-since"))
    return 304 if since is not None and modified <= since else None


def byte_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive, None for the whole object (no header, or one that is not a
    single byte range: ignored, as S3 does); raises Refused(416) when unsatisfiable."""
    if not header:
        return None
    m = _RANGE_RE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None
    first, last = m.group(1), m.group(2)
    if not first:
        n = int(last)
        if n == 0 or size == 0:
            raise _not_satisfiable(size)
        return max(0, size - n), size - 1
    start = int(first)
    end = int(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise _not_satisfiable(size)
    return start, min(end, size - 1)


def _not_satisfiable(size: int) -> Refused:
    return Refused(416, "InvalidRange", "The requested range is not satisfiable",
                   {"ActualObjectSize": str(size)})


def store_name(host: str, domain: str | None) -> str:
    """The store a Host header names: ``<store>.<domain>``, else the whole host name."""
    name = host.strip().lower()
    if name.startswith("["):  # an IPv6 literal: never a store
        return name
    name = name.rsplit(":", 1)[0] if ":" in name else name
    name = name.rstrip(".")
    if domain and name.endswith("." + domain):
        return name[: -len(domain) - 1]
    return name


class WebsiteApp:
    def __init__(self, services: Services) -> None:
        self.services = services
        domain = services.settings.web_domain
        self.domain = domain.strip(".").lower() if domain else None

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        req = self._request(scope)
        scope[OPERATION] = "WebsiteGet" if req.method in ("GET", "HEAD") else "WebsiteOther"
        try:
            answer = await self._serve(req)
        except Refused as exc:  # before a store or configuration was known
            answer = self._page(req, exc)
        except Exception as exc:
            answer = self._failure(req, exc)
        await _send(send, answer, req, receive)

    @staticmethod
    def _request(scope: Scope) -> Request:
        headers: dict[str, str] = {}
        for k, v in scope["headers"]:
            name = k.decode("latin-1").lower()
            value = v.decode("latin-1")
            headers[name] = f"{headers[name]},{value}" if name in headers else value
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1").split("?", 1)[0]
        client = scope.get("client")
        return Request(scope["method"], path, headers, scope.get("scheme", "http"),
                       headers.get("host", ""), str(client[0]) if client else None,
                       scope.get(REQUEST_ID) or secrets.token_hex(8).upper())

    def _page(self, req: Request, exc: Refused) -> Answer:
        headers = [("Allow", "GET, HEAD")] if exc.status == 405 else []
        return Answer(exc.status, headers, pages.error_page(
            exc.status, exc.code, exc.message, req.request_id, exc.details))

    def _failure(self, req: Request, exc: Exception) -> Answer:
        code = unavailable(exc)
        if code is not None:
            log.warning("%s in website %s %s: %s", code, req.method, req.path, exc)
            return Answer(503, [("Retry-After", "1")], pages.error_page(
                503, code, "The service is unavailable. Please retry.", req.request_id))
        if isinstance(exc, DamagedObject):
            log.error("damaged object in website %s %s", req.method, req.path)
        else:
            log.exception("internal error in website %s %s", req.method, req.path)
        return Answer(500, [], pages.error_page(
            500, "InternalError", "We encountered an internal error. Please try again.",
            req.request_id))

    # -- the site -------------------------------------------------------------------------------
    async def _store(self, req: Request) -> ObjectStore:
        name = store_name(req.host, self.domain)
        stores = await self.services.stores.resolve_bucket_async(name) if name else []
        if not stores:
            raise Refused(404, "NoSuchBucket", "The specified bucket does not exist",
                          {"BucketName": name})
        default = self.services.regions.default.code
        return next((s for s in stores if s.region == default), stores[0])

    async def _serve(self, req: Request) -> Answer:
        if req.method not in ("GET", "HEAD"):
            raise Refused(405, "MethodNotAllowed", f"The specified method is not allowed "
                          f"against this resource ({req.method[:16]}).")
        store = await self._store(req)
        config = WebsiteConfig.from_json(
            await self.services.configs.get_async(store.id, "website"))
        if config is None:
            raise Refused(404, "NoSuchWebsiteConfiguration", "The specified bucket does not "
                          "have a website configuration", {"BucketName": store.name})
        if config.redirect_all is not None:
            return _redirect(301, redirect_all_location(config.redirect_all, req.path,
                                                        req.scheme))
        site = _Site(self.services, store, config, req,
                     await load_bucket_access(self.services.configs, store))
        return await site.serve()


class _Site:
    """One request to one store's website."""

    def __init__(self, services: Services, store: ObjectStore, config: WebsiteConfig,
                 req: Request, bucket: BucketAccess) -> None:
        self.services, self.store, self.config, self.req = services, store, config, req
        self.bucket = bucket
        self._keys: dict[str, str] | None = None

    def _condition_keys(self) -> dict[str, str]:
        if self._keys is None:
            now = datetime.now(UTC)
            h = self.req.headers
            keys = {"aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
                    "aws:epochtime": str(int(now.timestamp())),
                    "aws:securetransport": "true" if self.req.scheme == "https" else "false"}
            if self.req.client:
                keys["aws:sourceip"] = self.req.client
            if "referer" in h:
                keys["aws:referer"] = h["referer"]
            if "user-agent" in h:
                keys["aws:useragent"] = h["user-agent"]
            self._keys = keys
        return self._keys

    async def serve(self) -> Answer:
        try:
            path_key = unquote(self.req.path, errors="strict").removeprefix("/")
        except UnicodeDecodeError:
            return await self._error(Refused(400, "InvalidURI", "Couldn't parse the specified "
                                             "URI."), "")
        rule = self.config.rule_for(path_key)
        if rule is not None:
            return _redirect(*rule_location(rule, path_key, self.req.scheme, self.req.host))
        key = path_key
        if not key or key.endswith("/"):
            key += self.config.index or ""
        try:
            obj = await self._readable(key)
        except Refused as exc:
            if exc.status in (403, 404) and path_key and not path_key.endswith("/"):
                # "dir" for "dir/": redirect when dir/<index> is there (and may be read)
                try:
                    await self._readable(f"{path_key}/{self.config.index}")
                except Refused:
                    pass
                else:
                    return _redirect(302, key_path(path_key + "/"))
            return await self._error(exc, path_key)
        redirect = obj.headers.get(REDIRECT_HEADER)
        if redirect:
            if redirect.startswith("/"):
                redirect = f"{self.req.scheme}://{self.req.host}{redirect}"
            return _redirect(301, redirect)
        return await self._object(key, obj)

    async def _readable(self, key: str) -> ObjectVersion:
        """The latest version of ``key`` if an anonymous caller may read it; Refused(403 or
        404) otherwise — decided by ``authorize`` as for an anonymous S3 GetObject."""
        try:
            validate_object_key(key)
        except DomainError:
            raise Refused(400, "InvalidArgument", "The key is not valid",
                          {"Key": key[:1024]}) from None
        obj: ObjectVersion | None = None
        missing = False
        try:
            obj = await self.services.objects.head(self.store, key)
        except DomainError:
            missing = True
        request = RequestContext(Op.GetObject, key, None,
                                 self._condition_keys() if self.bucket.policy else {})
        needed = needs_object(None, Access.READ, self.store, request, self.bucket)
        try:
            authorize(None, Access.READ, self.store, obj if needed else None, request,
                      self.bucket)
        except AccessDenied:
            raise Refused(403, "AccessDenied", "Access Denied") from None
        if missing or obj is None:
            raise Refused(404, "NoSuchKey", "The specified key does not exist.", {"Key": key})
        if obj.sse and obj.sse.get("mode") == SSE_C:
            raise Refused(403, "AccessDenied", "The object is encrypted with a customer key")
        return obj

    async def _object(self, key: str, obj: ObjectVersion, status: int | None = None
                      ) -> Answer:
        """The object's bytes (``status``: an error document's, served whole with that
        status); ranges and conditions for a normal read."""
        decided: list[tuple[int, list[tuple[str, str]]]] = []
        head = self.req.method == "HEAD"

        def plan(meta: ObjectVersion) -> ReadPlan | None:
            headers = _object_headers(meta)
            if status is not None:
                decided[:] = [(status, headers)]
                headers.append(("Content-Length", str(meta.size)))
                return None if head or meta.size == 0 else ReadPlan(0, meta.size - 1)
            cond = conditional(self.req.headers, meta)
            if cond == 304:
                keep = ("ETag", "Last-Modified", "Cache-Control", "Expires")
                decided[:] = [(304, [h for h in headers if h[0] in keep])]
                return None
            if cond == 412:
                raise Refused(412, "PreconditionFailed", "At least one of the pre-conditions "
                              "you specified did not hold")
            rng = byte_range(self.req.headers.get("range"), meta.size)
            if rng is None:
                code, start, end = 200, 0, meta.size - 1
            else:
                code, (start, end) = 206, rng
                headers.append(("Content-Range", f"bytes {start}-{end}/{meta.size}"))
            headers.append(("Content-Length", str(max(0, end - start + 1))))
            decided[:] = [(code, headers)]
            return None if head or end < start else ReadPlan(start, end)

        try:
            meta, body = await self.services.objects.get(self.store, key, None, plan,
                                                         known=obj)
        except DomainError:  # the key went away between the decision and the read
            raise Refused(404, "NoSuchKey", "The specified key does not exist.",
                          {"Key": key}) from None
        code, headers = decided[0]
        if body is None:
            return Answer(code, headers)
        return Answer(code, headers, body.data, body.stream)

    async def _error(self, exc: Refused, path_key: str) -> Answer:
        """A 4XX for ``path_key``: a routing rule on that code, else the error document
        (with the error's status), else the HTML page."""
        rule = self.config.rule_for(path_key, exc.status)
        if rule is not None:
            return _redirect(*rule_location(rule, path_key, self.req.scheme, self.req.host))
        note = None
        if self.config.error and exc.status in (403, 404):
            try:
                doc = await self._readable(self.config.error)
                return await self._object(self.config.error, doc, status=exc.status)
            except Refused as doc_exc:
                note = "An Error Occurred While Attempting to Retrieve a Custom Error Document"
                log.debug("error document %s of %s: %s", self.config.error, self.store.name,
                          doc_exc.code)
        return Answer(exc.status, [], pages.error_page(
            exc.status, exc.code, exc.message, self.req.request_id, exc.details, note))


def _object_headers(meta: ObjectVersion) -> list[tuple[str, str]]:
    headers = [("ETag", f'"{meta.etag}"'), ("Last-Modified", http_date(meta.last_modified)),
               ("Accept-Ranges", "bytes"), ("Content-Type", meta.content_type)]
    headers += [(k.title(), v) for k, v in meta.headers.items() if k != REDIRECT_HEADER]
    headers += [(f"x-amz-meta-{k}", v) for k, v in meta.user_meta.items()]
    return headers


def _redirect(status: int, location: str) -> Answer:
    return Answer(status, [("Location", location)], pages.redirect_page(status, location))


def _latin1(value: str) -> bytes:
    try:
        return value.encode("latin-1")
    except UnicodeEncodeError:
        from urllib.parse import quote

        return quote(value, safe="!#$&'()*+,/:;=?@[]~ ").encode("latin-1")


async def _send(send: Send, answer: Answer, req: Request, receive: Receive) -> None:
    headers: list[tuple[bytes, bytes]] = [(b"x-amz-request-id", req.request_id.encode()),
                                          (b"server", b"objectstore")]
    has_type = has_length = False
    for k, v in answer.headers:
        lower = k.lower()
        has_type = has_type or lower == "content-type"
        has_length = has_length or lower == "content-length"
        headers.append((k.encode("latin-1"), _latin1(v)))
    if not has_type and answer.status != 304:
        headers.append((b"content-type", HTML.encode()))
    if not has_length and answer.stream is None and answer.status != 304:
        headers.append((b"content-length", str(len(answer.body)).encode()))
    await send({"type": "http.response.start", "status": answer.status, "headers": headers})
    stream = answer.stream
    if req.method == "HEAD" or answer.status == 304 or stream is None:
        if stream is not None:
            await stream.aclose()  # type: ignore[attr-defined]
        body = b"" if req.method == "HEAD" or answer.status == 304 else answer.body
        await send({"type": "http.response.body", "body": body})
        return
    await _send_stream(send, stream, receive)


async def _send_stream(send: Send, stream: AsyncIterator[bytes], receive: Receive) -> None:
    """A streamed body, stopped as soon as the client is gone (as the S3 plane does)."""
    async def watch() -> None:
        while (await receive())["type"] != "http.disconnect":
            pass

    gone = asyncio.ensure_future(watch())
    try:
        async for chunk in stream:
            if gone.done():
                return
            await send({"type": "http.response.body", "body": chunk, "more_body": True})
            await asyncio.sleep(0)
            if gone.done():
                return
        await send({"type": "http.response.body", "body": b""})
    finally:
        gone.cancel()
        aclose: Any = getattr(stream, "aclose", None)
        if aclose is not None:
            await aclose()


def create_website_app(services: Services) -> ASGIApp:
    return WebsiteApp(services)

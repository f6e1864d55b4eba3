"""PutObject, DeleteObject, DeleteObjects, PutObjectAcl."""

from __future__ import annotations

import logging
from dataclasses import replace

from ...domain.errors import DomainError, InvalidVersion, NoSuchVersion
from ...services.access import owner_on_write
from ...services.engine.values import Attributes, Conditions
from .. import xml
from ..body import MAX_PUT_SIZE, Body, body_length, read_small_body
from ..checksums import PayloadVerifier, header_name
from ..context import S3Context, S3Response
from ..errors import S3Error, from_domain
from ..payload import BodyPayload
from . import sse
from .acl import bucket_documents, header_grants
from .common import (
    announced_version,
    canned_acl,
    content_headers,
    quote_etag,
    storage_class,
    user_metadata,
)
from .lifecycle import expiration_header
from .object_lock import bypass_governance, with_lock_headers
from .tagging import tags_from_header

MAX_DELETE_KEYS = 1000
log = logging.getLogger("objectstore.s3")


def preconditions(ctx: S3Context) -> Conditions | None:
    if_match = ctx.headers.get("if-match")
    if_none = ctx.headers.get("if-none-match")
    if if_none is not None and if_none.strip() != "*":
        raise S3Error("NotImplemented", "If-None-Match on writes supports only '*'", 501)
    if if_match is None and if_none is None:
        return None
    return Conditions(if_match=if_match, if_none_match=if_none)


def attributes(ctx: S3Context) -> Attributes:
    """What the request's headers say about the object it writes."""
    return with_lock_headers(ctx, Attributes(
        content_type=ctx.headers.get("content-type") or "binary/octet-stream",
        headers=content_headers(ctx), user_meta=user_metadata(ctx), acl=canned_acl(ctx),
        tags=tags_from_header(ctx),
        storage_class=storage_class(ctx.headers.get("x-amz-storage-class"))))


async def owner_for(ctx: S3Context, acl: str) -> str | None:
    """The owner of the object this request writes with canned ``acl`` (None: the store's
    owner): ``services.access.owner_on_write`` under the store's ownership controls."""
    store, cred = ctx.require_store(), ctx.credential
    if cred is None or cred.account_id == store.account_id:
        return None  # the store's owner (no documents to read)
    return owner_on_write(cred, store, await bucket_documents(ctx, store), acl)


def make_payload(ctx: S3Context, extra_algorithm: str | None = None) -> BodyPayload:
    """The verified request body; ``extra_algorithm`` adds a checksum to compute even if the
    request names none (a multipart upload's algorithm, for its parts)."""
    verifier = None
    if extra_algorithm:
        headers = dict(ctx.headers)
        headers.setdefault("x-amz-checksum-algorithm", extra_algorithm)
        verifier = PayloadVerifier.from_headers(headers)
    return BodyPayload(Body(ctx, verifier))


async def ensure_room(ctx: S3Context, length: int, key: str | None = None) -> None:
    """Refuse a write whose declared size does not fit, before its body is read."""
    store = ctx.require_store()
    owner = ctx.credential if ctx.credential and ctx.credential.id == store.credential_id \
        else None
    await ctx.services.objects.ensure_room(store, owner, length, key)


async def put_object(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    key = ctx.require_key()
    length = body_length(ctx)  # None: a Transfer-Encoding: chunked body of unknown size
    attrs = attributes(ctx)
    attrs = replace(attrs, encryption=await sse.for_write(ctx),
                    grants=await header_grants(ctx), owner=await owner_for(ctx, attrs.acl))
    pre = preconditions(ctx)
    await ensure_room(ctx, length or 0, key)  # (the commit checks the size received)
    if length is None and attrs.encryption is not None:
        # sealed segments authenticate the object's size, which must be known up front
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP "
                      "header (an encrypted object's size must be known before its body).",
                      411)
    payload = make_payload(ctx)
    if length is None:
        payload.body.length_unknown = True
        length = MAX_PUT_SIZE  # no more than this is read; stored as a blob
    payload.body.verifier.default_checksum()
    version = await ctx.services.objects.put(store, key, attrs, payload, length, pre)
    checksums = version.checksums
    headers = [("ETag", quote_etag(version.etag))]
    headers += [(header_name(a), v) for a, v in checksums.items()]
    if checksums:
        headers.append(("x-amz-checksum-type", "FULL_OBJECT"))
    headers += announced_version(ctx, version.version_id)
    headers += await expiration_header(ctx, store, version)
    headers += sse.response_headers(ctx, version.sse, context=True)
    return S3Response(headers=headers)


async def delete_object(ctx: S3Context) -> S3Response:
    result = await ctx.services.objects.delete(ctx.require_store(), ctx.require_key(),
                                               ctx.version_id,
                                               bypass_governance=bypass_governance(ctx))
    headers = []
    if result.delete_marker:
        headers.append(("x-amz-delete-marker", "true"))
    if result.version_id is not None:
        headers += announced_version(ctx, result.version_id)
    return S3Response(204, headers)


async def delete_objects(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    root = xml.parse(await read_small_body(ctx))
    if root.tag != "Delete":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema", 400)
    quiet = (root.findtext("Quiet") or "").strip().lower() == "true"
    keys = [(o.findtext("Key"), o.findtext("VersionId")) for o in root.findall("Object")]
    if not keys or len(keys) > MAX_DELETE_KEYS or any(k is None for k, _ in keys):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema (1 to 1000 Object keys)", 400)
    results: list[str] = []
    bypass = bypass_governance(ctx)
    for key, version in keys:
        assert key is not None
        version = version.strip() if version else None
        try:
            result = await ctx.services.objects.delete(store, key, version or None,
                                                       bypass_governance=bypass)
        except (NoSuchVersion, InvalidVersion):  # nothing was touched
            results.append(xml.node("Error", Key=key, VersionId=version, Code="NoSuchVersion",
                                    Message="The specified version does not exist."))
            continue
        except DomainError as exc:  # reported per key, as S3 does
            err = from_domain(exc)
            results.append(xml.node("Error", Key=key, VersionId=version, Code=err.code,
                                    Message=err.message))
            continue
        except Exception:
            log.exception("DeleteObjects: deleting %r failed", key)
            results.append(xml.node("Error", Key=key, VersionId=version, Code="InternalError",
                                    Message="We encountered an internal error. Please try "
                                    "again."))
            continue
        if not quiet:
            marker_id = result.version_id if result.delete_marker else None
            results.append(xml.node(
                "Deleted", Key=key, VersionId=version,
                DeleteMarker="true" if result.delete_marker else None,
                DeleteMarkerVersionId=marker_id if version is None else None))
    return S3Response(body=xml.document("DeleteResult", *results),
                      content_type="application/xml")

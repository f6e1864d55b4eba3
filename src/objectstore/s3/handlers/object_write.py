"""PutObject, DeleteObject, DeleteObjects, PutObjectAcl."""

from __future__ import annotations

from starlette.concurrency import run_in_threadpool

from ...domain.errors import ObjectNotFound
from ...domain.models import GIB
from ...services.objects import NewObject, Preconditions
from .. import xml
from ..auth_errors import S3AuthError
from ..body import Body, read_small_body, require_length
from ..checksums import PayloadVerifier, header_name
from ..context import S3Context, S3Response
from ..errors import S3Error, from_auth
from .common import acl_from_xml, canned_acl, content_headers, quote_etag, user_metadata
from .streams import receive_and_store, receive_inline
from .tagging import tags_from_header

MAX_DELETE_KEYS = 1000


def preconditions(ctx: S3Context) -> Preconditions | None:
    if_match = ctx.headers.get("if-match")
    if_none = ctx.headers.get("if-none-match")
    if if_none is not None and if_none.strip() != "*":
        raise S3Error("NotImplemented", "If-None-Match on writes supports only '*'", 501)
    if if_match is None and if_none is None:
        return None
    return Preconditions(if_match=if_match, if_none_match=if_none)


def make_body(ctx: S3Context, extra_algorithm: str | None = None) -> Body:
    """The verified request body; ``extra_algorithm`` adds a checksum to compute even if the
    request names none (a multipart upload's algorithm, for its parts)."""
    verifier = None
    if extra_algorithm:
        headers = dict(ctx.headers)
        headers.setdefault("x-amz-checksum-algorithm", extra_algorithm)
        try:
            verifier = PayloadVerifier.from_headers(headers)
        except S3AuthError as exc:
            raise from_auth(exc) from exc
    return Body(ctx, verifier)


async def ensure_room(ctx: S3Context, length: int, key: str | None = None) -> None:
    """Refuse a write whose declared size does not fit, before its body is read (the commit
    re-checks exactly, in SQL). The cached store and credential figures may be up to a second
    old, so they settle it only when the write fits with a wide margin; otherwise the usage
    is read fresh (and, for an overwrite of ``key``, the size it replaces)."""
    store, cred = ctx.require_store(), ctx.credential
    assert cred is not None
    cap = cred.max_size_gb * GIB if cred.max_size_gb else None
    if store.used_bytes + length <= store.max_size_gb * GIB // 2 and (
            cap is None or cred.used_bytes + length <= cap // 2):
        return
    await run_in_threadpool(ctx.services.objects.ensure_room, store.id, length, key)


async def put_object(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    key = ctx.require_key()
    length = require_length(ctx)
    acl = canned_acl(ctx)
    meta = user_metadata(ctx)
    tags = tags_from_header(ctx)
    pre = preconditions(ctx)
    await ensure_room(ctx, length, key)
    objects = ctx.services.objects
    body = make_body(ctx)
    body.verifier.default_checksum()

    def describe(blob_id: str, data: bytes | None = None) -> NewObject:
        checksums = body.verifier.checksums
        return NewObject(
            key=key, blob_id=blob_id, size=body.size, etag=body.verifier.md5_hex,
            content_type=ctx.headers.get("content-type") or "binary/octet-stream",
            headers=content_headers(ctx), user_meta=meta, checksums=checksums,
            checksum_type="FULL_OBJECT" if checksums else None, acl=acl, tags=tags, data=data,
        )

    async def commit(blob_id: str) -> NewObject:
        new = describe(blob_id)
        await objects.commit_async(store, new, pre,
                                   on_failure=lambda: ctx.services.blobs.delete(blob_id))
        return new

    if length <= ctx.services.settings.inline_max_bytes:
        # A small object's bytes go into its metadata row: one durable commit, no file.
        new = describe("", await receive_inline(body, length))
        await objects.commit_async(store, new, pre)
    else:
        new = await receive_and_store(body, ctx.services.blobs, length, commit)
    checksums = new.checksums
    headers = [("ETag", quote_etag(new.etag))]
    headers += [(header_name(a), v) for a, v in checksums.items()]
    if checksums:
        headers.append(("x-amz-checksum-type", "FULL_OBJECT"))
    return S3Response(headers=headers)


async def delete_object(ctx: S3Context) -> S3Response:
    await run_in_threadpool(ctx.services.objects.delete, ctx.require_store(), ctx.require_key())
    return S3Response(204)


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
    for key, version in keys:
        assert key is not None
        if version not in (None, "", "null"):
            results.append(xml.node("Error", Key=key, VersionId=version, Code="NoSuchVersion",
                                    Message="The specified version does not exist."))
            continue
        try:
            await run_in_threadpool(ctx.services.objects.delete, store, key)
        except Exception as exc:  # report per key, as S3 does
            results.append(xml.node("Error", Key=key, Code="InternalError", Message=str(exc)))
            continue
        if not quiet:
            results.append(xml.node("Deleted", Key=key))
    return S3Response(body=xml.document("DeleteResult", *results),
                      content_type="application/xml")


async def put_object_acl(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    body = await read_small_body(ctx, 64 * 1024)
    acl = acl_from_xml(body) if body.strip() else canned_acl(ctx)
    try:
        await run_in_threadpool(lambda: ctx.services.objects.update_meta(
            store, ctx.require_key(), acl=acl))
    except ObjectNotFound:
        raise
    return S3Response()

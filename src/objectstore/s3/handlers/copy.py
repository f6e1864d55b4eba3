"""CopyObject and UploadPartCopy: server-side copies with the copy-source conditions."""

from __future__ import annotations

from dataclasses import replace

from ...domain.errors import DeleteMarker
from ...domain.http_dates import parse_http_date
from ...domain.models import ObjectVersion
from ...services.engine.multipart import Upload
from ...services.engine.opening import OpenVersion
from ...services.engine.values import Attributes
from .. import xml
from ..checksums import new_checksummer
from ..context import S3Context, S3Response
from ..errors import S3Error
from . import sse
from .acl import header_grants
from .common import (
    WEBSITE_REDIRECT,
    announced_version,
    canned_acl,
    content_headers,
    iso8601,
    quote_etag,
    storage_class,
    user_metadata,
)
from .multipart import ascii_int, part_number, upload_of
from .object_lock import with_lock_headers
from .object_read import _etag_matches
from .object_write import ensure_room, owner_for, preconditions
from .tagging import tags_from_header

XML = "application/xml"
MAX_COPY = 5 * 1024**3


async def _source(ctx: S3Context) -> OpenVersion:
    """The copy source version (authorized by the pipeline) with its bytes open (the
    engine resolves and opens it as one step: an overwrite meanwhile cannot take its bytes
    away), its conditions checked. The caller closes it."""
    src = ctx.copy_source
    assert src is not None
    try:
        opened = await ctx.services.objects.open(src.store, src.key, src.version_id)
    except DeleteMarker as exc:
        if src.version_id is not None:  # a copy of a delete marker itself
            raise S3Error("InvalidRequest", "The source of a copy request may not "
                          "specifically refer to a delete marker by version id.", 400) from exc
        raise S3Error("NoSuchKey", "The specified key does not exist.", 404,
                      {"Key": src.key}) from exc
    try:
        _check_source_conditions(ctx, opened.version)
    except BaseException:
        opened.close()
        raise
    return opened


def _source_headers(ctx: S3Context, src: ObjectVersion) -> list[tuple[str, str]]:
    assert ctx.copy_source is not None
    if ctx.copy_source.store.versioning is None and src.version_id == "null":
        return []
    return [("x-amz-copy-source-version-id", src.version_id)]


def _check_source_conditions(ctx: S3Context, meta: ObjectVersion) -> None:
    h = ctx.headers
    modified = meta.last_modified.replace(microsecond=0)
    failed = False
    if (v := h.get("x-amz-copy-source-if-match")) is not None:
        failed |= not _etag_matches(meta.etag, v)
    elif (d := parse_http_date(h.get("x-amz-copy-source-if-unmodified-since"))) is not None:
        failed |= modified > d
    if (v := h.get("x-amz-copy-source-if-none-match")) is not None:
        failed |= _etag_matches(meta.etag, v)
    elif (d := parse_http_date(h.get("x-amz-copy-source-if-modified-since"))) is not None:
        failed |= modified <= d
    if failed:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified "
                      "did not hold", 412)


async def copy_object(ctx: S3Context) -> S3Response:
    with await _source(ctx) as opened:
        return await _copy_object(ctx, opened)


async def _copy_object(ctx: S3Context, opened: OpenVersion) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    src = opened.version
    assert ctx.copy_source is not None
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    tag_directive = ctx.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", 400)
    # the class asked for (AWS: STANDARD when none is, whatever the source's)
    sclass = storage_class(ctx.headers.get("x-amz-storage-class"))
    same = ctx.copy_source.store.id == store.id and src.key == key
    if same and directive == "COPY" and tag_directive == "COPY" \
            and "x-amz-acl" not in ctx.headers and ctx.copy_source.version_id is None \
            and not sse.has_headers(ctx) and sclass == src.storage_class \
            and WEBSITE_REDIRECT not in ctx.headers:
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to "
                      "copy an object to itself without changing the object's metadata, "
                      "storage class, website redirect location or encryption attributes.", 400)
    if directive == "REPLACE":
        ctype = ctx.headers.get("content-type") or "binary/octet-stream"
        headers, meta = content_headers(ctx), user_metadata(ctx)
    else:
        ctype, headers, meta = src.content_type, src.headers, src.user_meta
        # the website redirect is the copy's own, never the source's (as on AWS)
        headers = {k: v for k, v in headers.items() if k != WEBSITE_REDIRECT}
        headers.update({k: v for k, v in content_headers(ctx).items()
                        if k == WEBSITE_REDIRECT})
    tags = tags_from_header(ctx) if tag_directive == "REPLACE" else src.tags
    attrs = with_lock_headers(ctx, Attributes(content_type=ctype, headers=headers,
                                              user_meta=meta, acl=canned_acl(ctx), tags=tags,
                                              storage_class=sclass))
    src_key = sse.copy_source_key(ctx, src)
    attrs = replace(attrs, encryption=await sse.for_write(ctx), grants=await header_grants(ctx),
                    owner=await owner_for(ctx, attrs.acl))
    await ensure_room(ctx, src.size, key)
    result = await ctx.services.objects.copy(store, key, opened, attrs, preconditions(ctx),
                                             src_key)
    fields = {"LastModified": iso8601(result.last_modified), "ETag": quote_etag(result.etag)}
    fields.update({f"Checksum{a}": v for a, v in result.checksums.items()})
    return S3Response(headers=_source_headers(ctx, src)
                      + announced_version(ctx, result.version_id)
                      + sse.response_headers(ctx, result.sse, context=True),
                      body=xml.document("CopyObjectResult", **fields), content_type=XML)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size - 1  # a whole empty source is the range (0, -1): no bytes
    value = header.strip()
    if not value.startswith("bytes="):
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the "
                      "form bytes=first-last", 400)
    first, _, last = value[6:].partition("-")
    if not ascii_int(first, 18) or not ascii_int(last, 18) or int(last) < int(first):
        raise S3Error("InvalidArgument", "The x-amz-copy-source-range value must be of the "
                      "form bytes=first-last", 400)
    if int(last) >= size:
        raise S3Error("InvalidRange", "The requested range is not satisfiable", 416)
    return int(first), int(last)


async def upload_part_copy(ctx: S3Context) -> S3Response:
    number = part_number(ctx)
    up = await upload_of(ctx)
    with await _source(ctx) as opened:
        return await _upload_part_copy(ctx, number, up, opened)


async def _upload_part_copy(ctx: S3Context, number: int, up: Upload, opened: OpenVersion
                            ) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    src = opened.version
    start, end = _copy_range(ctx.headers.get("x-amz-copy-source-range"), src.size)
    if end - start + 1 > MAX_COPY:
        raise S3Error("InvalidRequest", "The specified copy source is larger than the maximum "
                      "allowable size for a copy source: 5368709120", 400)
    await ensure_room(ctx, max(0, end - start + 1))
    # a part of an upload with a checksum algorithm carries that checksum, copied or not
    alg = up.checksum_algorithm
    summer = new_checksummer(alg) if alg else None
    src_key = sse.copy_source_key(ctx, src)
    part = await ctx.services.multipart.upload_part_copy(
        store, key, up.id, number, opened, start, end, alg, summer, src_key,
        sse.customer_key(ctx))
    body = xml.document("CopyPartResult", LastModified=iso8601(src.last_modified),
                        ETag=quote_etag(part.etag),
                        **{f"Checksum{a}": v for a, v in part.checksums.items()})
    return S3Response(headers=_source_headers(ctx, src)
                      + sse.response_headers(ctx, up.options.get("sse")),
                      body=body, content_type=XML)

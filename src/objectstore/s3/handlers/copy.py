"""CopyObject and UploadPartCopy: server-side copies with the copy-source conditions."""

from __future__ import annotations

import hashlib
from urllib.parse import unquote

from starlette.concurrency import run_in_threadpool

from ...domain.errors import ObjectNotFound
from ...domain.models import ObjectMeta, ObjectStore
from ...services.objects import NewObject
from .. import xml
from ..checksums import Checksummer, new_checksummer
from ..context import S3Context, S3Response
from ..errors import S3Error, access_denied, no_such_bucket
from .common import (
    canned_acl,
    content_headers,
    iso8601,
    parse_http_date,
    quote_etag,
    user_metadata,
)
from .multipart import _part_number, _upload_of, ascii_int, record_part
from .object_read import _etag_matches
from .object_write import ensure_room, preconditions
from .streams import open_segments, segments
from .tagging import tags_from_header

XML = "application/xml"
COPY_CHUNK = 4 * 1024 * 1024
MAX_COPY = 5 * 1024**3


async def _source(ctx: S3Context) -> tuple[ObjectStore, ObjectMeta]:
    raw = ctx.headers.get("x-amz-copy-source", "")
    path = unquote(raw.split("?", 1)[0]).lstrip("/")
    if "?" in raw and not raw.split("?", 1)[1].startswith("versionId=null"):
        raise S3Error("NotImplemented", "Copying a specific version is not supported", 501)
    bucket, _, key = path.partition("/")
    if not bucket or not key:
        raise S3Error("InvalidArgument", "Copy Source must mention the source bucket and "
                      "key: sourcebucket/sourcekey", 400)
    cred = ctx.credential
    assert cred is not None
    stores = await run_in_threadpool(ctx.services.stores.by_name, bucket)
    if not stores:
        raise no_such_bucket(bucket)
    mine = [s for s in stores if s.credential_id == cred.id]
    if not mine:
        raise access_denied()
    try:
        meta = await run_in_threadpool(ctx.services.objects.head, mine[0].id, key)
    except ObjectNotFound as exc:
        raise S3Error("NoSuchKey", "The specified key does not exist.", 404,
                      {"Key": key}) from exc
    _check_source_conditions(ctx, meta)
    return mine[0], meta


def _check_source_conditions(ctx: S3Context, meta: ObjectMeta) -> None:
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


async def _copy_bytes(ctx: S3Context, meta: ObjectMeta, start: int, end: int,
                      summer: Checksummer | None = None) -> tuple[str, int, str]:
    """Copy bytes [start, end] of ``meta`` into a new durable blob: (blob_id, size, md5).
    ``summer``, when given, also digests the copied bytes."""
    opened = [] if meta.data is not None else await run_in_threadpool(
        open_segments, ctx.services.blobs, segments(meta, start, end))
    writer = await run_in_threadpool(ctx.services.blobs.open_writer)

    def work() -> tuple[int, str]:
        md5 = hashlib.md5()  # noqa: S324 - ETag
        total = 0
        if meta.data is not None:  # an inline source
            data = meta.data[start:end + 1]
            md5.update(data)
            if summer is not None:
                summer.update(data)
            writer.write(data)
            total = len(data)
        for f, offset, length in opened:
            f.seek(offset)
            remaining = length
            while remaining:
                data = f.read(min(COPY_CHUNK, remaining))
                if not data:
                    raise OSError("blob shorter than recorded size")
                md5.update(data)
                if summer is not None:
                    summer.update(data)
                writer.write(data)
                remaining -= len(data)
                total += len(data)
        return total, md5.hexdigest()

    try:
        size, md5 = await run_in_threadpool(work)
        blob_id = await run_in_threadpool(writer.commit)
    except BaseException:
        await run_in_threadpool(writer.abort)
        raise
    finally:
        for f, _, _ in opened:
            f.close()
    return blob_id, size, md5


async def copy_object(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    src_store, src = await _source(ctx)
    directive = ctx.headers.get("x-amz-metadata-directive", "COPY").upper()
    tag_directive = ctx.headers.get("x-amz-tagging-directive", "COPY").upper()
    if directive not in ("COPY", "REPLACE") or tag_directive not in ("COPY", "REPLACE"):
        raise S3Error("InvalidArgument", "Unknown metadata directive.", 400)
    same = src_store.id == store.id and src.key == key
    if same and directive == "COPY" and tag_directive == "COPY" \
            and "x-amz-acl" not in ctx.headers:
        raise S3Error("InvalidRequest", "This copy request is illegal because it is trying to "
                      "copy an object to itself without changing the object's metadata, "
                      "storage class, website redirect location or encryption attributes.", 400)
    if directive == "REPLACE":
        ctype = ctx.headers.get("content-type") or "binary/octet-stream"
        headers, meta = content_headers(ctx), user_metadata(ctx)
    else:
        ctype, headers, meta = src.content_type, src.headers, src.user_meta
    tags = tags_from_header(ctx) if tag_directive == "REPLACE" else src.tags
    acl = canned_acl(ctx)
    if same:
        updated = await run_in_threadpool(lambda: ctx.services.objects.update_meta(
            store, key, content_type=ctype, headers=headers, user_meta=meta, tags=tags,
            acl=acl))
        return _copy_result(updated)
    await ensure_room(ctx, src.size, key)
    # a full-object checksum still describes the copied bytes; a composite one (per part)
    # does not describe the single-part copy
    keep = not src.parts or src.checksum_type == "FULL_OBJECT"
    checksums = src.checksums if keep else {}
    data: bytes | None = None
    if src.data is not None and src.size <= ctx.services.settings.inline_max_bytes:
        blob_id, size, md5, data = "", src.size, src.etag, src.data  # inline stays inline
    elif src.size:
        blob_id, size, md5 = await _copy_bytes(ctx, src, 0, src.size - 1)
    else:
        blob_id, size, md5 = await _copy_bytes_empty(ctx)
    new = NewObject(key=key, blob_id=blob_id, size=size, etag=md5, content_type=ctype,
                    headers=headers, user_meta=meta, checksums=checksums,
                    checksum_type="FULL_OBJECT" if checksums else None, acl=acl, tags=tags,
                    data=data)
    result = await ctx.services.objects.commit_async(
        store, new, preconditions(ctx),
        on_failure=(lambda: ctx.services.blobs.delete(blob_id)) if blob_id else None)
    return _copy_result(result)


async def _copy_bytes_empty(ctx: S3Context) -> tuple[str, int, str]:
    writer = await run_in_threadpool(ctx.services.blobs.open_writer)
    blob_id = await run_in_threadpool(writer.commit)
    return blob_id, 0, "d41d8cd98f00b204e9800998ecf8427e"


def _copy_result(meta: ObjectMeta) -> S3Response:
    fields = {"LastModified": iso8601(meta.last_modified), "ETag": quote_etag(meta.etag)}
    fields.update({f"Checksum{a}": v for a, v in meta.checksums.items()})
    return S3Response(body=xml.document("CopyObjectResult", **fields), content_type=XML)


def _copy_range(header: str | None, size: int) -> tuple[int, int]:
    if header is None:
        return 0, size - 1
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
    store = ctx.require_store()
    number = _part_number(ctx)
    up = await _upload_of(ctx)
    _src_store, src = await _source(ctx)
    start, end = _copy_range(ctx.headers.get("x-amz-copy-source-range"), src.size)
    if end - start + 1 > MAX_COPY:
        raise S3Error("InvalidRequest", "The specified copy source is larger than the maximum "
                      "allowable size for a copy source: 5368709120", 400)
    await ensure_room(ctx, end - start + 1)
    # a part of an upload with a checksum algorithm carries that checksum, copied or not
    alg = up.checksum_algorithm
    summer = new_checksummer(alg) if alg else None
    if src.size == 0:
        blob_id, size, md5 = await _copy_bytes_empty(ctx)
    else:
        blob_id, size, md5 = await _copy_bytes(ctx, src, start, end, summer)
    checksums = {alg: summer.b64digest()} if alg and summer is not None else {}
    await record_part(ctx, store, number, blob_id, size, md5, checksums)
    meta_modified = iso8601(src.last_modified)
    body = xml.document("CopyPartResult", LastModified=meta_modified, ETag=quote_etag(md5),
                        **{f"Checksum{a}": v for a, v in checksums.items()})
    return S3Response(body=body, content_type=XML)

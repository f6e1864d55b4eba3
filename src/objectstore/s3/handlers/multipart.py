"""Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any

from starlette.concurrency import run_in_threadpool

from ...domain.models import ObjectStore
from ...services.listing import common_prefix, skip_past
from ...services.multipart import (
    MAX_PARTS,
    CompletedPart,
    MultipartError,
    Part,
    Upload,
    validate_part_number,
)
from .. import xml
from ..body import read_small_body, require_length
from ..checksums import (
    ALGORITHMS,
    algorithm_from_header,
    combine_composite,
    combine_full_object_crc,
    header_name,
)
from ..context import S3Context, S3Response
from ..errors import S3Error
from .common import (
    canned_acl,
    content_headers,
    iso8601,
    owner_xml,
    quote_etag,
    user_metadata,
)
from .object_write import ensure_room, make_body, preconditions
from .streams import receive_and_store
from .tagging import tags_from_header

XML = "application/xml"
CRCS = {"CRC32", "CRC32C", "CRC64NVME"}
MAX_PART_SIZE = 5 * 1024**3


def ascii_int(raw: str, max_digits: int) -> bool:
    """Whether ``raw`` is 1..max_digits ASCII digits (``str.isdigit`` admits "²" and "١",
    which ``int`` refuses; very long strings are refused by ``int`` too)."""
    return 0 < len(raw) <= max_digits and all("0" <= c <= "9" for c in raw)


def _s3(exc: MultipartError) -> S3Error:
    return S3Error(exc.code, exc.message, exc.status)


def _checksum_request(ctx: S3Context) -> tuple[str | None, str | None]:
    alg = (ctx.headers.get("x-amz-checksum-algorithm") or "").strip().upper() or None
    ctype = (ctx.headers.get("x-amz-checksum-type") or "").strip().upper() or None
    if alg is not None and alg not in ALGORITHMS:
        raise S3Error("InvalidRequest", f"Checksum algorithm {alg} is not supported", 400)
    if ctype is not None:
        if ctype not in ("COMPOSITE", "FULL_OBJECT"):
            raise S3Error("InvalidRequest", "Invalid x-amz-checksum-type", 400)
        if alg is None:
            raise S3Error("InvalidRequest", "x-amz-checksum-type needs "
                          "x-amz-checksum-algorithm", 400)
        if ctype == "FULL_OBJECT" and alg not in CRCS:
            raise S3Error("InvalidRequest", f"The FULL_OBJECT checksum type cannot be used "
                          f"with the {alg} checksum algorithm.", 400)
        if ctype == "COMPOSITE" and alg == "CRC64NVME":
            raise S3Error("InvalidRequest", "The COMPOSITE checksum type cannot be used with "
                          "the CRC64NVME checksum algorithm.", 400)
    if alg is not None and ctype is None:
        ctype = "FULL_OBJECT" if alg == "CRC64NVME" else "COMPOSITE"
    return alg, ctype


async def create_multipart_upload(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    alg, ctype = _checksum_request(ctx)
    up = await run_in_threadpool(lambda: ctx.services.multipart.create(
        store, key, content_type=ctx.headers.get("content-type") or "binary/octet-stream",
        headers=content_headers(ctx), user_meta=user_metadata(ctx), acl=canned_acl(ctx),
        tags=tags_from_header(ctx), checksum_algorithm=alg, checksum_type=ctype))
    headers = []
    if alg:
        headers = [("x-amz-checksum-algorithm", alg), ("x-amz-checksum-type", ctype or "")]
    body = xml.document("InitiateMultipartUploadResult", Bucket=ctx.bucket, Key=key,
                        UploadId=up.id)
    return S3Response(headers=headers, body=body, content_type=XML)


async def _upload_of(ctx: S3Context) -> Upload:
    try:
        return await run_in_threadpool(ctx.services.multipart.get, ctx.require_store().id,
                                       ctx.require_key(), ctx.query.get("uploadId", ""))
    except MultipartError as exc:
        raise _s3(exc) from exc


def _part_number(ctx: S3Context) -> int:
    try:
        return validate_part_number(ctx.query.get("partNumber", ""))
    except Exception as exc:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and "
                      "10000, inclusive", 400) from exc


async def record_part(ctx: S3Context, store: ObjectStore, number: int, blob_id: str,
                      size: int, etag: str, checksums: dict[str, str]) -> None:
    part = Part(number, blob_id, size, etag, checksums, datetime.now(UTC))
    try:
        await run_in_threadpool(ctx.services.multipart.add_part, store, ctx.require_key(),
                                ctx.query.get("uploadId", ""), part)
    except BaseException:
        await run_in_threadpool(ctx.services.blobs.delete, blob_id)
        raise


async def upload_part(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    number = _part_number(ctx)
    up = await _upload_of(ctx)
    length = require_length(ctx, MAX_PART_SIZE)
    await ensure_room(ctx, length)
    body = make_body(ctx, up.checksum_algorithm)

    async def commit(blob_id: str) -> None:
        await record_part(ctx, store, number, blob_id, body.size, body.verifier.md5_hex,
                          body.verifier.checksums)

    await receive_and_store(body, ctx.services.blobs, length, commit)
    checksums = body.verifier.checksums
    headers = [("ETag", quote_etag(body.verifier.md5_hex))]
    headers += [(header_name(a), v) for a, v in checksums.items()]
    return S3Response(headers=headers)


def _combine(up: Upload, used: list[Part], chosen: list[CompletedPart]
             ) -> tuple[dict[str, str], str | None]:
    for part, c in zip(used, chosen, strict=True):
        for alg, value in c.checksums.items():
            if part.checksums.get(alg) not in (None, value):
                raise MultipartError("InvalidPart", f"The {alg} checksum of part "
                                     f"{part.number} does not match the uploaded part.")
    alg = up.checksum_algorithm
    if alg is None or any(alg not in p.checksums for p in used):
        return {}, None
    if up.checksum_type == "FULL_OBJECT":
        value = combine_full_object_crc(alg, [(p.checksums[alg], p.size) for p in used])
        return {alg: value}, "FULL_OBJECT"
    return {alg: combine_composite(alg, [p.checksums[alg] for p in used])}, "COMPOSITE"


def _parse_complete(body: bytes) -> list[CompletedPart]:
    root = xml.parse(body)
    if root.tag != "CompleteMultipartUpload":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema", 400)
    chosen = []
    for p in root.findall("Part"):
        number, etag = p.findtext("PartNumber"), p.findtext("ETag")
        if number is None or etag is None or not ascii_int(number.strip(), 5):
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did "
                          "not validate against our published schema", 400)
        sums = {a: v for a in ALGORITHMS if (v := p.findtext(f"Checksum{a}"))}
        chosen.append(CompletedPart(int(number.strip()), etag, sums))
    if len(chosen) > MAX_PARTS:
        raise S3Error("InvalidArgument", "Part count exceeds 10000", 400)
    return chosen


def _object_checksum(ctx: S3Context) -> tuple[dict[str, str], tuple[str, str] | None]:
    """On CompleteMultipartUpload an x-amz-checksum-<alg> header is the checksum of the whole
    object, not of the XML body: split it from the headers that verify the body."""
    body_headers: dict[str, str] = {}
    wanted: tuple[str, str] | None = None
    for name, value in ctx.headers.items():
        alg = algorithm_from_header(name)
        if alg is None:
            body_headers[name] = value
            continue
        if wanted is not None:
            raise S3Error("InvalidRequest", "Expecting a single x-amz-checksum- header. "
                          "Multiple checksum Types are not allowed.", 400)
        wanted = (alg, value.strip())
    return body_headers, wanted


def _checked_combine(ctx: S3Context, wanted: tuple[str, str] | None) -> Any:
    ctype = (ctx.headers.get("x-amz-checksum-type") or "").strip().upper() or None

    def combine(up: Upload, used: list[Part], chosen: list[CompletedPart]
                ) -> tuple[dict[str, str], str | None]:
        checksums, checksum_type = _combine(up, used, chosen)
        if ctype is not None and ctype != (up.checksum_type or ""):
            raise MultipartError("InvalidRequest", f"The upload was created using the "
                                 f"{up.checksum_type or 'null'} checksum type, not {ctype}.")
        if wanted is None:
            return checksums, checksum_type
        alg, value = wanted
        if alg != up.checksum_algorithm or alg not in checksums:
            raise MultipartError("InvalidRequest", f"The upload was created using the "
                                 f"{up.checksum_algorithm or 'null'} checksum algorithm, "
                                 f"not {alg}.")
        if checksums[alg].split("-")[0] != value.split("-")[0]:
            raise MultipartError("BadDigest", f"The {alg} you specified did not match the "
                                 "calculated checksum.")
        return checksums, checksum_type

    return combine


async def complete_multipart_upload(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    body_headers, wanted = _object_checksum(ctx)
    body = await read_small_body(replace(ctx, headers=body_headers), 4 * 1024 * 1024)
    chosen = _parse_complete(body)
    pre = preconditions(ctx)
    try:
        meta = await run_in_threadpool(lambda: ctx.services.multipart.complete(
            store, key, ctx.query.get("uploadId", ""), chosen, pre,
            _checked_combine(ctx, wanted)))
    except MultipartError as exc:
        raise _s3(exc) from exc
    fields: dict[str, Any] = {"Location": f"/{ctx.bucket}/{key}", "Bucket": ctx.bucket,
                              "Key": key, "ETag": quote_etag(meta.etag)}
    for alg, value in meta.checksums.items():
        fields[f"Checksum{alg}"] = value
    if meta.checksum_type:
        fields["ChecksumType"] = meta.checksum_type
    return S3Response(body=xml.document("CompleteMultipartUploadResult", **fields),
                      content_type=XML)


async def abort_multipart_upload(ctx: S3Context) -> S3Response:
    await run_in_threadpool(ctx.services.multipart.abort, ctx.require_store(),
                            ctx.require_key(), ctx.query.get("uploadId", ""))
    return S3Response(204)


def _int_param(ctx: S3Context, name: str, default: int, cap: int) -> int:
    raw = ctx.query.get(name, str(default))
    if not ascii_int(raw, 9):
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer "
                      "range", 400)
    return min(int(raw), cap)


async def list_parts(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    marker = _int_param(ctx, "part-number-marker", 0, MAX_PARTS)
    limit = _int_param(ctx, "max-parts", 1000, 1000)
    up, found, truncated = await run_in_threadpool(
        ctx.services.multipart.list_parts, store.id, key, ctx.query.get("uploadId", ""),
        marker, limit)
    cred = ctx.credential
    assert cred is not None
    items = [xml.node("Part", PartNumber=p.number, LastModified=iso8601(p.last_modified),
                      ETag=quote_etag(p.etag), Size=p.size,
                      **{f"Checksum{a}": v for a, v in p.checksums.items()})
             for p in found]
    body = xml.document(
        "ListPartsResult", owner_xml(cred, "Initiator"), owner_xml(cred),
        *items, Bucket=ctx.bucket, Key=key, UploadId=up.id, StorageClass="STANDARD",
        PartNumberMarker=marker,
        NextPartNumberMarker=found[-1].number if found else None, MaxParts=limit,
        IsTruncated=truncated, ChecksumAlgorithm=up.checksum_algorithm,
        ChecksumType=up.checksum_type,
    )
    return S3Response(body=body, content_type=XML)


def _scan_uploads(ctx: S3Context, store_id: str, prefix: str, delimiter: str,
                  key_marker: str, id_marker: str, limit: int
                  ) -> tuple[list[Upload], list[str], bool, tuple[str, str] | None]:
    """Uploads and common prefixes after the markers, in (key, upload id) order; a common
    prefix counts as one entry and is reported once (the scan seeks past its keys).
    Returns (uploads, prefixes, truncated, last (key-or-prefix, upload id) returned)."""
    batch = 1000
    items: list[Upload] = []
    prefixes: list[str] = []
    last: tuple[str, str] | None = None
    ck, ci = key_marker, id_marker if key_marker else ""
    marker_cp = common_prefix(ck, prefix, delimiter) if ck else None
    if marker_cp is not None and marker_cp == ck:
        ck, ci = skip_past(marker_cp), ""
    while True:
        rows = ctx.services.multipart.list_uploads(store_id, prefix, ck, ci, batch)
        seek = False
        for u in rows:
            if len(items) + len(prefixes) >= limit:
                return items, prefixes, True, last
            cp = common_prefix(u.key, prefix, delimiter)
            if cp is not None:
                prefixes.append(cp)
                last = (cp, "")
                ck, ci = skip_past(cp), ""
                seek = True
                break
            items.append(u)
            last = ck, ci = (u.key, u.id)
        if not seek and len(rows) < batch:
            return items, prefixes, False, last


async def list_multipart_uploads(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    limit = _int_param(ctx, "max-uploads", 1000, 1000)
    found, prefixes, truncated, last = await run_in_threadpool(
        _scan_uploads, ctx, store.id, prefix, delimiter, key_marker, id_marker, limit)
    cred = ctx.credential
    assert cred is not None
    items = [xml.node("Upload", owner_xml(cred, "Initiator"), owner_xml(cred),
                      Key=u.key, UploadId=u.id, StorageClass="STANDARD",
                      Initiated=iso8601(u.initiated), ChecksumAlgorithm=u.checksum_algorithm)
             for u in found]
    body = xml.document(
        "ListMultipartUploadsResult", *items,
        *[xml.node("CommonPrefixes", Prefix=p) for p in prefixes],
        Bucket=ctx.bucket, KeyMarker=key_marker, UploadIdMarker=id_marker,
        NextKeyMarker=last[0] if truncated and last else None,
        NextUploadIdMarker=last[1] if truncated and last and last[1] else None,
        Prefix=prefix, Delimiter=delimiter or None, MaxUploads=limit, IsTruncated=truncated,
    )
    return S3Response(body=body, content_type=XML)

"""GetObject, HeadObject (ranges, conditionals, response-* overrides, checksums, versions),
GetObjectAcl, GetObjectAttributes."""

from __future__ import annotations

import re

from ...domain.http_dates import http_date, parse_http_date
from ...domain.models import ObjectVersion
from ...domain.storage_classes import reported
from ...services.engine.values import ReadPlan
from .. import xml
from ..checksums import header_name
from ..context import S3Context, S3Response
from ..errors import S3Error
from . import sse
from .common import (
    announced_version,
    quote_etag,
    storage_class_header,
)
from .lifecycle import expiration_header
from .object_lock import lock_headers

_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


async def load_version(ctx: S3Context) -> ObjectVersion:
    """The addressed version (latest, or ``versionId``); authorization may have read it."""
    if ctx.version is not None:
        return ctx.version
    return await ctx.services.objects.head(ctx.require_store(), ctx.require_key(),
                                           ctx.version_id)


def _etag_matches(etag: str, header: str) -> bool:
    wanted = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in wanted or etag in wanted


def check_conditions(ctx: S3Context, meta: ObjectVersion) -> int | None:
    """Return 304 or raise 412 per RFC 7232 as S3 applies it; None to proceed."""
    h = ctx.headers
    modified = meta.last_modified.replace(microsecond=0)
    if_match = h.get("if-match")
    if if_match is not None:
        if not _etag_matches(meta.etag, if_match):
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", 412, {"Condition": "If-Match"})
    else:
        since = parse_http_date(h.get("if-unmodified-since"))
        if since is not None and modified > since:
            raise S3Error("PreconditionFailed", "At least one of the pre-conditions you "
                          "specified did not hold", 412, {"Condition": "If-Unmodified-Since"})
    if_none = h.get("if-none-match")
    if if_none is not None:
        if _etag_matches(meta.etag, if_none):
            return 304
    else:
        since = parse_http_date(h.get("if-modified-since"))
        if since is not None and modified <= since:
            return 304
    return None


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """(start, end) inclusive, or None for the whole object; raise 416 when unsatisfiable."""
    if not header:
        return None
    m = _RANGE_RE.match(header.strip())
    if not m or (not m.group(1) and not m.group(2)):
        return None  # malformed or multiple ranges: serve the whole object, as S3 does
    first, last = m.group(1), m.group(2)
    if not first:  # suffix range
        n = _number(last)
        if n == 0:
            raise _invalid_range(size)
        return (max(0, size - n), size - 1) if size else _raise_range(size)
    start = _number(first)
    end = _number(last) if last else size - 1
    if last and end < start:
        return None
    if start >= size:
        raise _invalid_range(size)
    return start, min(end, size - 1)


def _number(digits: str) -> int:
    if len(digits) > 19:  # beyond a 64-bit offset: garbage, not a position
        raise S3Error("InvalidArgument", "The Range header holds a number out of range", 400)
    return int(digits)


def _invalid_range(size: int) -> S3Error:
    return S3Error("InvalidRange", "The requested range is not satisfiable", 416,
                   {"ActualObjectSize": str(size)})


def _raise_range(size: int) -> tuple[int, int]:
    raise _invalid_range(size)


def object_headers(ctx: S3Context, meta: ObjectVersion) -> list[tuple[str, str]]:
    headers = [
        ("ETag", quote_etag(meta.etag)),
        ("Last-Modified", http_date(meta.last_modified)),
        ("Accept-Ranges", "bytes"),
        ("Content-Type", meta.content_type),
    ]
    headers += [(k.title(), v) for k, v in meta.headers.items()]
    headers += [(f"x-amz-meta-{k}", v) for k, v in meta.user_meta.items()]
    if meta.tags:
        headers.append(("x-amz-tagging-count", str(len(meta.tags))))
    headers += storage_class_header(meta.storage_class)
    headers += announced_version(ctx, meta.version_id)
    if ctx.credential is not None:  # AWS ignores overrides on anonymous requests
        overrides = {v: ctx.query[k] for k, v in OVERRIDES.items() if k in ctx.query}
        if overrides:
            headers = [(k, v) for k, v in headers if k not in overrides]
            headers += list(overrides.items())
    return headers


def _part_range(meta: ObjectVersion, part_number: str) -> tuple[int, int, int]:
    if not re.fullmatch(r"[0-9]{1,5}", part_number) or not 1 <= int(part_number) <= 10000:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, "
                      "inclusive", 400)
    n = int(part_number)
    parts = meta.parts or ((meta.blob_id, meta.size),)
    if n > len(parts):
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
    start = sum(size for _, size in parts[: n - 1])
    return start, start + parts[n - 1][1] - 1, len(parts)


def _prepare(ctx: S3Context, meta: ObjectVersion) -> tuple[S3Response | None, int, int,
                                                            list[tuple[str, str]], int]:
    """Conditions, range and headers: (an early response or None, start, end, headers,
    status)."""
    status = check_conditions(ctx, meta)
    headers = object_headers(ctx, meta)
    if status == 304:
        keep = ("ETag", "Last-Modified", "x-amz-version-id")
        return S3Response(304, [h for h in headers if h[0] in keep]), 0, 0, headers, 304
    size = meta.size
    rng: tuple[int, int] | None = None
    checksums: dict[str, str] | None = meta.checksums
    if "partNumber" in ctx.query:
        start, end, count = _part_range(meta, ctx.query["partNumber"])
        headers.append(("x-amz-mp-parts-count", str(count)))
        if meta.parts:
            rng = (start, end)
            # a part of a multipart object: that part's own checksum (none if not kept)
            n = int(ctx.query["partNumber"])
            checksums = meta.part_checksums[n - 1] if meta.part_checksums else None
    else:
        rng = parse_range(ctx.headers.get("range"), size)
        if rng is not None:
            checksums = None  # a range has no checksum of its own (AWS sends none)
    if checksums and ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        for algorithm, value in checksums.items():
            headers.append((header_name(algorithm), value))
        headers.append(("x-amz-checksum-type", meta.checksum_type or "FULL_OBJECT"))
    if rng is None:
        status, start, end = 200, 0, size - 1
    else:
        status, (start, end) = 206, rng
        headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    headers.append(("Content-Length", str(max(0, end - start + 1))))
    return None, start, end, headers, status


# Headers that ask for encryption: meaningful on writes only; a read sending one is refused
# (AWS: 400 InvalidArgument), not silently ignored.
WRITE_ONLY_SSE = ("x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
                  "x-amz-server-side-encryption-context",
                  "x-amz-server-side-encryption-bucket-key-enabled")


async def get_object(ctx: S3Context, *, head: bool = False) -> S3Response:
    for name in WRITE_ONLY_SSE:
        if name in ctx.headers:
            raise S3Error("InvalidArgument", "x-amz-server-side-encryption header is not "
                          "supported for this operation.", 400,
                          {"ArgumentName": name, "ArgumentValue": ctx.headers[name][:64]})
    decided: list[tuple[S3Response | None, list[tuple[str, str]], int]] = []

    def plan(meta: ObjectVersion) -> ReadPlan | None:
        ckey = sse.read_key(ctx, meta)  # SSE-C: required, checked before anything is said
        early, start, end, headers, status = _prepare(ctx, meta)
        decided[:] = [(early, headers, status)]
        return None if early is not None or head else ReadPlan(start, end, ckey)

    if head:
        meta, body = await load_version(ctx), None
        plan(meta)
    else:  # the engine resolves the version and opens its bytes as one step
        meta, body = await ctx.services.objects.get(
            ctx.require_store(), ctx.require_key(), ctx.version_id, plan, known=ctx.version)
    early, headers, status = decided[0]
    if early is not None:
        return early
    headers += sse.response_headers(ctx, meta.sse)
    if meta.lock_mode or meta.legal_hold:
        headers += lock_headers(meta)
    headers += await expiration_header(ctx, ctx.require_store(), meta)
    if body is None:
        return S3Response(status, headers)
    return S3Response(status, headers, body=body.data, stream=body.stream)


async def head_object(ctx: S3Context) -> S3Response:
    return await get_object(ctx, head=True)


ATTRIBUTES = ("ETag", "Checksum", "ObjectParts", "StorageClass", "ObjectSize")


async def get_object_attributes(ctx: S3Context) -> S3Response:
    wanted = {a.strip() for a in ctx.headers.get("x-amz-object-attributes", "").split(",")
              if a.strip()}
    if not wanted or wanted - set(ATTRIBUTES):
        raise S3Error("InvalidArgument", "Invalid attribute name specified: expected some of "
                      + ", ".join(ATTRIBUTES), 400)
    meta = await load_version(ctx)
    sse.read_key(ctx, meta)  # SSE-C: the key is required, as for HEAD, before anything is said
    children: list[str] = []
    if "Checksum" in wanted and meta.checksums:
        children.append(xml.node("Checksum", **{f"Checksum{a}": v
                                                for a, v in meta.checksums.items()},
                                 ChecksumType=meta.checksum_type or "FULL_OBJECT"))
    if "ObjectParts" in wanted and meta.parts:
        children.append(_object_parts(ctx, meta))
    body = xml.document(
        "GetObjectAttributesResponse", *children,
        ETag=meta.etag if "ETag" in wanted else None,
        StorageClass=reported(meta.storage_class) if "StorageClass" in wanted else None,
        ObjectSize=meta.size if "ObjectSize" in wanted else None)
    headers = [("Last-Modified", http_date(meta.last_modified))]
    headers += announced_version(ctx, meta.version_id)
    return S3Response(headers=headers, body=body, content_type="application/xml")


def _count_header(ctx: S3Context, name: str, default: int, limit: int) -> int:
    raw = ctx.headers.get(name)
    if raw is None:
        return default
    if not re.fullmatch(r"[0-9]{1,9}", raw.strip()):
        raise S3Error("InvalidArgument", f"Provided {name} not an integer or within integer "
                      "range", 400, {"ArgumentName": name, "ArgumentValue": raw[:64]})
    return min(int(raw.strip()), limit)


def _object_parts(ctx: S3Context, meta: ObjectVersion) -> str:
    """GetObjectAttributes' ObjectParts: the count (``PartsCount`` on the wire: the SDKs'
    TotalPartsCount) and, when the parts' own checksums were kept, a page of the parts
    (``x-amz-max-parts``, default 1,000; ``x-amz-part-number-marker``) with their checksums,
    as AWS lists them only for objects uploaded with checksums."""
    assert meta.parts is not None
    count = len(meta.parts)
    if not meta.part_checksums:
        return xml.node("ObjectParts", PartsCount=count)
    max_parts = _count_header(ctx, "x-amz-max-parts", 1000, 1000)
    marker = _count_header(ctx, "x-amz-part-number-marker", 0, 10000)
    numbers = list(range(marker + 1, min(count, marker + max_parts) + 1))
    truncated = bool(numbers) and numbers[-1] < count
    listed = [xml.node("Part", **{f"Checksum{a}": v
                                  for a, v in meta.part_checksums[n - 1].items()},
                       PartNumber=n, Size=meta.parts[n - 1][1]) for n in numbers]
    return xml.node("ObjectParts", *listed, IsTruncated="true" if truncated else "false",
                    MaxParts=max_parts, NextPartNumberMarker=numbers[-1] if numbers else None,
                    PartNumberMarker=marker, PartsCount=count)

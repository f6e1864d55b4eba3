"""GetObject, HeadObject (ranges, conditionals, response-* overrides, checksums), GetObjectAcl."""

from __future__ import annotations

import re

from starlette.concurrency import run_in_threadpool

from ...domain.models import ObjectMeta
from ...services.integrity import full_object_digest
from ..checksums import header_name
from ..context import S3Context, S3Response
from ..errors import S3Error, access_denied
from .common import acl_document, http_date, parse_http_date, quote_etag
from .streams import open_segments, read_all, segments, stream_segments

_RANGE_RE = re.compile(r"^bytes=([0-9]*)-([0-9]*)$")
OVERRIDES = {
    "response-content-type": "Content-Type",
    "response-content-language": "Content-Language",
    "response-expires": "Expires",
    "response-cache-control": "Cache-Control",
    "response-content-disposition": "Content-Disposition",
    "response-content-encoding": "Content-Encoding",
}


def readable(ctx: S3Context) -> ObjectMeta:
    """The object, if the caller may read it (runs in a worker thread)."""
    store = ctx.require_store()
    anonymous = ctx.credential is None
    try:
        meta = ctx.services.objects.head(store.id, ctx.require_key())
    except Exception:
        if anonymous and store.acl != "public-read":
            raise access_denied() from None
        raise
    if anonymous and store.acl != "public-read" and meta.acl != "public-read":
        raise access_denied()
    return meta


async def load_readable(ctx: S3Context) -> ObjectMeta:
    return await run_in_threadpool(readable, ctx)


def _etag_matches(etag: str, header: str) -> bool:
    wanted = [t.strip().removeprefix("W/").strip('"') for t in header.split(",")]
    return "*" in wanted or etag in wanted


def check_conditions(ctx: S3Context, meta: ObjectMeta) -> int | None:
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


def object_headers(ctx: S3Context, meta: ObjectMeta) -> list[tuple[str, str]]:
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
    if ctx.credential is not None:  # AWS ignores overrides on anonymous requests
        overrides = {v: ctx.query[k] for k, v in OVERRIDES.items() if k in ctx.query}
        if overrides:
            headers = [(k, v) for k, v in headers if k not in overrides]
            headers += list(overrides.items())
    return headers


def _part_range(meta: ObjectMeta, part_number: str) -> tuple[int, int, int]:
    if not re.fullmatch(r"[0-9]{1,5}", part_number) or not 1 <= int(part_number) <= 10000:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and 10000, "
                      "inclusive", 400)
    n = int(part_number)
    parts = meta.parts or ((meta.blob_id, meta.size),)
    if n > len(parts):
        raise S3Error("InvalidPartNumber", "The requested partnumber is not satisfiable", 416)
    start = sum(size for _, size in parts[: n - 1])
    return start, start + parts[n - 1][1] - 1, len(parts)


SMALL_BODY = 256 * 1024  # read whole into memory (one hop); larger bodies are streamed
LOOP_READ_MAX = 64 * 1024  # with inline reads, bodies up to this are read on the event loop


def _prepare_get(ctx: S3Context, head: bool) -> S3Response:
    """Everything a GET/HEAD needs from metadata and disk, in one worker-thread hop."""
    return _respond(ctx, readable(ctx), head)


def _respond(ctx: S3Context, meta: ObjectMeta, head: bool) -> S3Response:
    """The conditions, the range, and the open files (or, for small bodies, the bytes
    themselves, verified against the object's checksum when the whole object is read)."""
    status = check_conditions(ctx, meta)
    headers = object_headers(ctx, meta)
    if status == 304:
        return S3Response(304, [h for h in headers if h[0] in ("ETag", "Last-Modified")])
    size = meta.size
    rng: tuple[int, int] | None = None
    if "partNumber" in ctx.query:
        start, end, count = _part_range(meta, ctx.query["partNumber"])
        headers.append(("x-amz-mp-parts-count", str(count)))
        if meta.parts:
            rng = (start, end)
    else:
        rng = parse_range(ctx.headers.get("range"), size)
    if rng is None and ctx.headers.get("x-amz-checksum-mode", "").upper() == "ENABLED":
        for algorithm, value in meta.checksums.items():
            headers.append((header_name(algorithm), value))
        if meta.checksums:
            headers.append(("x-amz-checksum-type", meta.checksum_type or "FULL_OBJECT"))
    if rng is None:
        status, start, end = 200, 0, size - 1
    else:
        status, (start, end) = 206, rng
        headers.append(("Content-Range", f"bytes {start}-{end}/{size}"))
    length = max(0, end - start + 1)
    headers.append(("Content-Length", str(length)))
    if head or length == 0:
        return S3Response(status, headers)
    mode = ctx.services.settings.verify_reads
    digest = None
    if rng is None and mode != "off":
        digest = full_object_digest(meta, allow_md5=mode != "crc")
    if meta.data is not None:  # inline: the bytes came with the row
        body = meta.data[start:end + 1]
        if digest is not None:
            digest.update(body)
    else:
        opened = open_segments(ctx.services.blobs, segments(meta, start, end))
        if length > SMALL_BODY:
            return S3Response(status, headers, stream=stream_segments(opened, digest))
        body = read_all(opened, digest)
    if digest is not None and not digest.matches():
        raise S3Error("InternalError", "The stored object is damaged (checksum mismatch); "
                      "it cannot be served.", 500)
    return S3Response(status, headers, body=body)


async def get_object(ctx: S3Context, *, head: bool = False) -> S3Response:
    if not ctx.services.inline_reads:
        return await run_in_threadpool(_prepare_get, ctx, head)
    # Embedded SQLite: the metadata read is a ~30 µs in-process B-tree lookup that never
    # waits for a writer (WAL), far cheaper than a hop to a worker thread and back; a small
    # body read from the page cache costs about as much. Larger bodies still go to threads.
    meta = readable(ctx)
    if head or meta.data is not None or meta.size <= LOOP_READ_MAX:
        return _respond(ctx, meta, head)
    return await run_in_threadpool(_respond, ctx, meta, head)


async def head_object(ctx: S3Context) -> S3Response:
    return await get_object(ctx, head=True)


async def get_object_acl(ctx: S3Context) -> S3Response:
    meta = await load_readable(ctx)
    if ctx.credential is None:
        raise access_denied()
    return S3Response(body=acl_document(ctx.credential, meta.acl),
                      content_type="application/xml")

"""Multipart uploads: Create, UploadPart, Complete, Abort, ListParts, ListMultipartUploads."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

from ...domain.errors import DomainError, UploadNotFound
from ...domain.models import ObjectVersion
from ...domain.storage_classes import reported
from ...services.engine.multipart import (
    MAX_PARTS,
    Combine,
    CompletedPart,
    Part,
    Upload,
    multipart_etag,
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
from . import sse
from .acl import header_grants
from .common import announced_version, iso8601, owner_names, owner_node, quote_etag
from .object_write import attributes, ensure_room, make_payload, owner_for, preconditions

XML = "application/xml"
CRCS = {"CRC32", "CRC32C", "CRC64NVME"}
MAX_PART_SIZE = 5 * 1024**3


def ascii_int(raw: str, max_digits: int) -> bool:
    """Whether ``raw`` is 1..max_digits ASCII digits (``str.isdigit`` admits "²" and "١",
    which ``int`` refuses; very long strings are refused by ``int`` too)."""
    return 0 < len(raw) <= max_digits and all("0" <= c <= "9" for c in raw)


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
    attrs = attributes(ctx)
    attrs = replace(attrs, encryption=await sse.for_write(ctx),
                    grants=await header_grants(ctx), owner=await owner_for(ctx, attrs.acl))
    up = await ctx.services.multipart.create(
        store, key, attrs, alg, ctype, ctx.credential.id if ctx.credential else None)
    headers = sse.response_headers(ctx, up.options.get("sse"), context=True)
    if alg:
        headers += [("x-amz-checksum-algorithm", alg), ("x-amz-checksum-type", ctype or "")]
    body = xml.document("InitiateMultipartUploadResult", Bucket=ctx.bucket, Key=key,
                        UploadId=up.id)
    return S3Response(headers=headers, body=body, content_type=XML)


async def upload_of(ctx: S3Context) -> Upload:
    return await ctx.services.multipart.get_async(ctx.require_store(), ctx.require_key(),
                                                  ctx.query.get("uploadId", ""))


def part_number(ctx: S3Context) -> int:
    try:
        return validate_part_number(ctx.query.get("partNumber", ""))
    except Exception as exc:
        raise S3Error("InvalidArgument", "Part number must be an integer between 1 and "
                      "10000, inclusive", 400) from exc


async def upload_part(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    number = part_number(ctx)
    up = await upload_of(ctx)
    length = require_length(ctx, MAX_PART_SIZE)
    await ensure_room(ctx, length)
    payload = make_payload(ctx, up.checksum_algorithm)
    part = await ctx.services.multipart.upload_part(store, key, up.id, number, payload,
                                                    length, sse.customer_key(ctx))
    headers = [("ETag", quote_etag(part.etag))]
    headers += sse.response_headers(ctx, up.options.get("sse"))
    headers += [(header_name(a), v) for a, v in part.checksums.items()]
    return S3Response(headers=headers)


def _combine(up: Upload, used: list[Part], chosen: list[CompletedPart]
             ) -> tuple[dict[str, str], str | None]:
    for part, c in zip(used, chosen, strict=True):
        for name, value in c.checksums.items():
            if part.checksums.get(name) not in (None, value):
                raise S3Error("InvalidPart", f"The {name} checksum of part {part.number} "
                              "does not match the uploaded part.", 400)
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


def _checked_combine(ctx: S3Context, wanted: tuple[str, str] | None) -> Combine:
    ctype = (ctx.headers.get("x-amz-checksum-type") or "").strip().upper() or None

    def combine(up: Upload, used: list[Part], chosen: list[CompletedPart]
                ) -> tuple[dict[str, str], str | None]:
        checksums, checksum_type = _combine(up, used, chosen)
        if ctype is not None and ctype != (up.checksum_type or ""):
            raise S3Error("InvalidRequest", f"The upload was created using the "
                          f"{up.checksum_type or 'null'} checksum type, not {ctype}.", 400)
        if wanted is None:
            return checksums, checksum_type
        alg, value = wanted
        if alg != up.checksum_algorithm or alg not in checksums:
            raise S3Error("InvalidRequest", f"The upload was created using the "
                          f"{up.checksum_algorithm or 'null'} checksum algorithm, not {alg}.",
                          400)
        if checksums[alg].split("-")[0] != value.split("-")[0]:
            raise S3Error("BadDigest", f"The {alg} you specified did not match the "
                          "calculated checksum.", 400)
        return checksums, checksum_type

    return combine


async def complete_multipart_upload(ctx: S3Context) -> S3Response:
    store, key = ctx.require_store(), ctx.require_key()
    body_headers, wanted = _object_checksum(ctx)
    body = await read_small_body(replace(ctx, headers=body_headers), 4 * 1024 * 1024)
    chosen = _parse_complete(body)
    pre = preconditions(ctx)
    try:
        meta = await ctx.services.multipart.complete(store, key, ctx.query.get("uploadId", ""),
                                                     chosen, pre, _checked_combine(ctx, wanted))
    except UploadNotFound:
        before = await _completed_before(ctx, chosen)
        if before is None:
            raise
        meta = before
    fields: dict[str, Any] = {"Location": f"/{ctx.bucket}/{key}", "Bucket": ctx.bucket,
                              "Key": key, "ETag": quote_etag(meta.etag)}
    for alg, value in meta.checksums.items():
        fields[f"Checksum{alg}"] = value
    if meta.checksum_type:
        fields["ChecksumType"] = meta.checksum_type
    return S3Response(headers=announced_version(ctx, meta.version_id)
                      + sse.response_headers(ctx, meta.sse),
                      body=xml.document("CompleteMultipartUploadResult", **fields),
                      content_type=XML)


async def _completed_before(ctx: S3Context, chosen: list[CompletedPart]
                            ) -> ObjectVersion | None:
    """A repeated CompleteMultipartUpload (a client retrying after a lost answer): the key's
    latest version when it is the object those very parts made (its ETag is theirs), which
    AWS answers again with 200; None otherwise."""
    try:
        etag = multipart_etag([c.etag.strip().strip('"') for c in chosen])
        latest = await ctx.services.objects.head(ctx.require_store(), ctx.require_key())
    except (ValueError, DomainError):  # a part ETag that is not hex; no such key
        return None
    return latest if latest.etag == etag and latest.parts \
        and len(latest.parts) == len(chosen) else None


async def abort_multipart_upload(ctx: S3Context) -> S3Response:
    await ctx.services.multipart.abort(ctx.require_store(), ctx.require_key(),
                                       ctx.query.get("uploadId", ""))
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
    up, found, truncated = await ctx.services.multipart.list_parts_async(
        store, key, ctx.query.get("uploadId", ""), marker, limit)
    items = [xml.node("Part", PartNumber=p.number, LastModified=iso8601(p.last_modified),
                      ETag=quote_etag(p.etag), Size=p.size,
                      **{f"Checksum{a}": v for a, v in p.checksums.items()})
             for p in found]
    body = xml.document(
        "ListPartsResult", *await _initiator_and_owner(ctx, [up]),
        *items, Bucket=ctx.bucket, Key=key, UploadId=up.id,
        StorageClass=reported(up.options.get("storage_class")),
        PartNumberMarker=marker,
        NextPartNumberMarker=found[-1].number if found else None, MaxParts=limit,
        IsTruncated=truncated, ChecksumAlgorithm=up.checksum_algorithm,
        ChecksumType=up.checksum_type,
    )
    return S3Response(body=body, content_type=XML)


async def _initiator_and_owner(ctx: S3Context, ups: list[Upload]) -> list[str]:
    """``<Initiator>`` and ``<Owner>`` of each upload, in turn: the credential that started
    it and the owner its object will have (the store's owner for uploads that record none:
    older ones, anonymous ones)."""
    store = ctx.require_store()
    people = [(u.options.get("initiator"), u.options.get("owner")) for u in ups]
    names = await owner_names(ctx, store, (p for pair in people for p in pair))
    out = []
    for initiator, owner in people:
        out += [owner_node(initiator or store.credential_id, names, "Initiator"),
                owner_node(owner or store.credential_id, names)]
    return out


async def list_multipart_uploads(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, id_marker = q.get("key-marker", ""), q.get("upload-id-marker", "")
    limit = _int_param(ctx, "max-uploads", 1000, 1000)
    found, prefixes, truncated, last = await ctx.services.multipart.scan_uploads(
        store, prefix, delimiter, key_marker, id_marker, limit)
    people = await _initiator_and_owner(ctx, found)
    items = [xml.node("Upload", people[2 * i], people[2 * i + 1],
                      Key=u.key, UploadId=u.id,
                      StorageClass=reported(u.options.get("storage_class")),
                      Initiated=iso8601(u.initiated), ChecksumAlgorithm=u.checksum_algorithm)
             for i, u in enumerate(found)]
    body = xml.document(
        "ListMultipartUploadsResult", *items,
        *[xml.node("CommonPrefixes", Prefix=p) for p in prefixes],
        Bucket=ctx.bucket, KeyMarker=key_marker, UploadIdMarker=id_marker,
        NextKeyMarker=last[0] if truncated and last else None,
        NextUploadIdMarker=last[1] if truncated and last and last[1] else None,
        Prefix=prefix, Delimiter=delimiter or None, MaxUploads=limit, IsTruncated=truncated,
    )
    return S3Response(body=body, content_type=XML)

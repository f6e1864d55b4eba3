"""ListObjects (v1), ListObjectsV2 and ListObjectVersions."""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Callable
from urllib.parse import quote

from ...domain.models import ListedObject
from ...services.engine.listing import Listing
from .. import xml
from ..context import S3Context, S3Response
from ..errors import S3Error
from .acl import bucket_documents
from .common import iso8601, owner_names, owner_node, quote_etag

MAX_KEYS = 1000
Encoder = Callable[[str], str]


def _max_keys(ctx: S3Context) -> int:
    raw = ctx.query.get("max-keys", str(MAX_KEYS))
    # ASCII digits only ("²".isdigit() is True) and within a 32-bit int, as S3 requires.
    if not re.fullmatch(r"[0-9]{1,10}", raw) or int(raw) > 2**31 - 1:
        raise S3Error("InvalidArgument", "Provided max-keys not an integer or within integer "
                      "range", 400)
    return min(int(raw), MAX_KEYS)


def _encoder(ctx: S3Context) -> Encoder:
    enc = ctx.query.get("encoding-type")
    if enc is None:
        return lambda s: s
    if enc != "url":
        raise S3Error("InvalidArgument", "Invalid Encoding Method specified in Request", 400)
    return lambda s: quote(s, safe="/")


async def _list(ctx: S3Context, prefix: str, delimiter: str, after: str | None,
                max_keys: int) -> Listing:
    if max_keys == 0:  # nothing asked for: an empty page, not truncated (AWS)
        return Listing()
    return await ctx.services.objects.list_objects(ctx.require_store(), prefix, delimiter,
                                                   after, max_keys)


async def _owners(ctx: S3Context, objs: list[ListedObject]) -> dict[str | None, str]:
    """The ``<Owner>`` element of each owner among ``objs`` (key None: the store's owner;
    under ``BucketOwnerEnforced`` the store's owner owns them all)."""
    if not objs:
        return {}
    store = ctx.require_store()
    enforced = (await bucket_documents(ctx, store)).acls_disabled
    owners: set[str | None] = {None} if enforced else {o.owner for o in objs}
    names = await owner_names(ctx, store, owners)
    return {who: owner_node(who or store.credential_id, names) for who in owners}


def _contents(objs: list[ListedObject], enc: Encoder,
              owners: dict[str | None, str] | None, tag: str = "Contents",
              version: bool = False) -> list[str]:
    """``Contents`` (or ``Version``) elements; ``version``: with VersionId and IsLatest;
    ``owners``: their ``<Owner>`` elements (from ``_owners``), None for none."""
    # Up to 1,000 entries a page: the same elements as xml.node would build, but only the
    # key (the one free-form value) goes through escaping.
    items = []
    for o in objs:
        head = f"<{tag}>" + (owners.get(o.owner) or owners[None] if owners is not None
                             else "")
        versioned = (f"<VersionId>{xml.text(o.version_id)}</VersionId>"
                     f"<IsLatest>{'true' if o.is_latest else 'false'}</IsLatest>"
                     if version else "")
        checksum = (f"<ChecksumAlgorithm>{next(iter(o.checksums))}</ChecksumAlgorithm>"
                    if o.checksums else "")
        items.append(
            f"{head}<Key>{xml.text(enc(o.key))}</Key>{versioned}"
            f"<LastModified>{iso8601(o.last_modified)}</LastModified>"
            f"<ETag>{xml.text(quote_etag(o.etag))}</ETag>{checksum}<Size>{o.size}</Size>"
            f"<StorageClass>{o.storage_class or 'STANDARD'}</StorageClass></{tag}>")
    return items


def _prefixes(result: Listing, enc: Encoder) -> list[str]:
    return _prefixes_of(result.prefixes, enc)


async def list_objects(ctx: S3Context) -> S3Response:
    q = ctx.query
    prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
    max_keys, enc = _max_keys(ctx), _encoder(ctx)
    result = await _list(ctx, prefix, delimiter, marker or None, max_keys)
    next_marker = result.last if result.truncated and delimiter else None
    body = xml.document(
        "ListBucketResult",
        # v1 echoes Prefix as sent even with encoding-type=url (AWS; the SDKs decode it
        # only in v2)
        xml.leaf("Name", ctx.bucket), xml.leaf("Prefix", prefix),
        xml.leaf("Marker", enc(marker)), xml.leaf("NextMarker", enc(next_marker)
                                                  if next_marker else None),
        xml.leaf("MaxKeys", max_keys), xml.leaf("Delimiter", enc(delimiter) or None),
        xml.leaf("EncodingType", q.get("encoding-type")),
        xml.leaf("IsTruncated", result.truncated),
        *_contents(result.objects, enc, await _owners(ctx, result.objects)),
        *_prefixes(result, enc),
    )
    return S3Response(body=body, content_type="application/xml")


def _token(value: str) -> str:
    return base64.urlsafe_b64encode(value.encode("utf-8", "surrogatepass")).decode()


def _untoken(token: str) -> str:
    try:
        key = base64.urlsafe_b64decode(token.encode()).decode("utf-8", "surrogatepass")
    except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                      400) from exc
    if "\x00" in key:  # no key holds one (and PostgreSQL cannot compare it)
        raise S3Error("InvalidArgument", "The continuation token provided is incorrect", 400)
    return key


async def list_objects_v2(ctx: S3Context) -> S3Response:
    q = ctx.query
    if q.get("list-type") != "2":
        raise S3Error("InvalidArgument", "Invalid list-type", 400)
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    token = q.get("continuation-token")
    start_after = q.get("start-after", "")
    # A continuation token carries on where the last page stopped; start-after then only
    # echoes (AWS). minio's SDKs send both on every page after the first.
    after = _untoken(token) if token else (start_after or None)
    max_keys, enc = _max_keys(ctx), _encoder(ctx)
    result = await _list(ctx, prefix, delimiter, after, max_keys)
    fetch_owner = q.get("fetch-owner", "").lower() == "true"
    body = xml.document(
        "ListBucketResult",
        xml.leaf("Name", ctx.bucket), xml.leaf("Prefix", enc(prefix)),
        xml.leaf("StartAfter", enc(start_after) if start_after else None),
        xml.leaf("ContinuationToken", token),
        xml.leaf("NextContinuationToken",
                 _token(result.last) if result.truncated and result.last else None),
        xml.leaf("KeyCount", len(result.objects) + len(result.prefixes)),
        xml.leaf("MaxKeys", max_keys), xml.leaf("Delimiter", enc(delimiter) or None),
        xml.leaf("EncodingType", q.get("encoding-type")),
        xml.leaf("IsTruncated", result.truncated),
        *_contents(result.objects, enc,
                   await _owners(ctx, result.objects) if fetch_owner else None),
        *_prefixes(result, enc),
    )
    return S3Response(body=body, content_type="application/xml")


def _markers(objs: list[ListedObject], enc: Encoder, owners: dict[str | None, str]
             ) -> list[str]:
    return [f"<DeleteMarker>{owners.get(o.owner) or owners[None]}"
            f"<Key>{xml.text(enc(o.key))}</Key>"
            f"<VersionId>{xml.text(o.version_id)}</VersionId>"
            f"<IsLatest>{'true' if o.is_latest else 'false'}</IsLatest>"
            f"<LastModified>{iso8601(o.last_modified)}</LastModified></DeleteMarker>"
            for o in objs]


async def list_object_versions(ctx: S3Context) -> S3Response:
    q = ctx.query
    prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
    key_marker, vid_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
    if vid_marker and not key_marker:
        raise S3Error("InvalidArgument", "A version-id marker cannot be specified without a "
                      "key marker.", 400)
    max_keys, enc = _max_keys(ctx), _encoder(ctx)
    # Each page is a fresh ordered scan strictly after (key-marker, version-id-marker):
    # correct even if the caller deletes versions between pages.
    result = await ctx.services.objects.list_versions(
        ctx.require_store(), prefix, delimiter, key_marker, vid_marker, max_keys)
    # Versions and markers in one order (S3 interleaves them by key, newest first).
    entries: list[str] = []
    owners = await _owners(ctx, result.versions)
    for o in result.versions:
        entries += (_markers([o], enc, owners) if o.delete_marker
                    else _contents([o], enc, owners, tag="Version", version=True))
    truncated = result.truncated
    body = xml.document(
        "ListVersionsResult",
        xml.leaf("Name", ctx.bucket), xml.leaf("Prefix", enc(prefix)),
        xml.leaf("KeyMarker", enc(key_marker)), xml.leaf("VersionIdMarker", vid_marker),
        xml.leaf("NextKeyMarker", enc(result.next_key) if truncated and result.next_key
                 else None),
        xml.leaf("NextVersionIdMarker", result.next_version_id if truncated else None),
        xml.leaf("MaxKeys", max_keys), xml.leaf("Delimiter", enc(delimiter) or None),
        xml.leaf("EncodingType", q.get("encoding-type")),
        xml.leaf("IsTruncated", truncated),
        *entries, *_prefixes_of(result.prefixes, enc),
    )
    return S3Response(body=body, content_type="application/xml")


def _prefixes_of(prefixes: list[str], enc: Encoder) -> list[str]:
    return [xml.node("CommonPrefixes", Prefix=enc(p)) for p in prefixes]

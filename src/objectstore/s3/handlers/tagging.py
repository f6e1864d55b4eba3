"""Object tags: the x-amz-tagging header and Put/Get/DeleteObjectTagging, with S3's limits."""

from __future__ import annotations

from ...domain.parsing import TooDeep, parse_form
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error
from .common import announced_version

MAX_TAGS = 10
MAX_TAG_KEY = 128
MAX_TAG_VALUE = 256


def validate_tags(pairs: list[tuple[str, str]]) -> dict[str, str]:
    if len(pairs) > MAX_TAGS:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", 400)
    tags: dict[str, str] = {}
    for k, v in pairs:
        if not k or len(k) > MAX_TAG_KEY:
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", 400)
        if len(v) > MAX_TAG_VALUE:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", 400)
        if k in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", 400)
        tags[k] = v
    return tags


def tags_from_header(ctx: S3Context) -> dict[str, str]:
    raw = ctx.headers.get("x-amz-tagging")
    if not raw:
        return {}
    try:
        pairs = parse_form(raw, MAX_TAGS)
    except TooDeep:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", 400) from None
    return validate_tags(pairs)


def tags_from_xml(body: bytes) -> dict[str, str]:
    root = xml.parse(body)
    if root.tag != "Tagging":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema", 400)
    pairs = [(t.findtext("Key") or "", t.findtext("Value") or "")
             for t in root.iter("Tag")]
    return validate_tags(pairs)


def tagging_document(tags: dict[str, str]) -> bytes:
    """``<Tagging>`` with the tags sorted by key (code point order), as S3 returns them
    whatever order they were put in."""
    items = [xml.node("Tag", Key=k, Value=v) for k, v in sorted(tags.items())]
    return xml.document("Tagging", xml.node("TagSet", *items))


async def get_object_tagging(ctx: S3Context) -> S3Response:
    meta = await ctx.services.objects.head(ctx.require_store(), ctx.require_key(),
                                           ctx.version_id)
    return S3Response(headers=announced_version(ctx, meta.version_id),
                      body=tagging_document(meta.tags), content_type="application/xml")


async def put_object_tagging(ctx: S3Context) -> S3Response:
    tags = tags_from_xml(await read_small_body(ctx, 64 * 1024))
    meta = await ctx.services.objects.update(ctx.require_store(), ctx.require_key(),
                                             ctx.version_id, tags=tags)
    return S3Response(headers=announced_version(ctx, meta.version_id))


async def delete_object_tagging(ctx: S3Context) -> S3Response:
    meta = await ctx.services.objects.update(ctx.require_store(), ctx.require_key(),
                                             ctx.version_id, tags={})
    return S3Response(204, announced_version(ctx, meta.version_id))

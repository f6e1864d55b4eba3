"""Put/Get/DeleteBucketTagging (up to 50 tags, kept in ``bucket_configs``)."""

from __future__ import annotations

from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error
from .tagging import MAX_TAG_KEY, MAX_TAG_VALUE

MAX_BUCKET_TAGS = 50


def _tags_from_xml(body: bytes) -> dict[str, str]:
    root = xml.parse(body)
    tag_set = root.find("TagSet")
    if root.tag != "Tagging" or tag_set is None:
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema", 400)
    tags: dict[str, str] = {}
    for t in tag_set:
        key, value = t.findtext("Key"), t.findtext("Value")
        if t.tag != "Tag" or key is None or value is None:
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did "
                          "not validate against our published schema", 400)
        if not key or len(key) > MAX_TAG_KEY or key.startswith("aws:"):
            raise S3Error("InvalidTag", "The TagKey you have provided is invalid", 400)
        if len(value) > MAX_TAG_VALUE:
            raise S3Error("InvalidTag", "The TagValue you have provided is invalid", 400)
        if key in tags:
            raise S3Error("InvalidTag", "Cannot provide multiple Tags with the same key", 400)
        tags[key] = value
    if len(tags) > MAX_BUCKET_TAGS:
        raise S3Error("InvalidTag", "Bucket tag count cannot be greater than 50", 400)
    return tags


async def put_bucket_tagging(ctx: S3Context) -> S3Response:
    tags = _tags_from_xml(await read_small_body(ctx, 64 * 1024))
    # kept as pairs: the stored JSON sorts object keys, a Get returns the order that was set
    await ctx.services.configs.put_async(ctx.require_store().id, "tagging",
                                         [[k, v] for k, v in tags.items()])
    return S3Response(204)


async def get_bucket_tagging(ctx: S3Context) -> S3Response:
    tags = await ctx.services.configs.get_async(ctx.require_store().id, "tagging")
    if not isinstance(tags, list):
        raise S3Error("NoSuchTagSet", "The TagSet does not exist", 404,
                      {"BucketName": ctx.bucket or ""})
    items = [xml.node("Tag", Key=k, Value=v) for k, v in tags]
    return S3Response(body=xml.document("Tagging", xml.node("TagSet", *items)),
                      content_type="application/xml")


async def delete_bucket_tagging(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "tagging")
    return S3Response(204)

"""Put/Get/DeletePublicAccessBlock and Put/Get/DeleteBucketOwnershipControls."""

from __future__ import annotations

from ...services.access.authorize import OWNERSHIP_VALUES, PublicAccessBlock
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

XML = "application/xml"


def _malformed() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema", 400)


async def put_public_access_block(ctx: S3Context) -> S3Response:
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    if root.tag != "PublicAccessBlockConfiguration":
        raise _malformed()
    values: dict[str, bool] = {}
    for child in root:
        text = (child.text or "").strip().lower()
        if child.tag not in PublicAccessBlock.FIELDS or text not in ("true", "false"):
            raise _malformed()
        values[child.tag] = text == "true"
    block = PublicAccessBlock.from_json(values)
    await ctx.services.configs.put_async(ctx.require_store().id, "public-access-block",
                                         block.to_json())
    return S3Response()


async def get_public_access_block(ctx: S3Context) -> S3Response:
    doc = await ctx.services.configs.get_async(ctx.require_store().id, "public-access-block")
    if not isinstance(doc, dict):
        raise S3Error("NoSuchPublicAccessBlockConfiguration", "The public access block "
                      "configuration was not found", 404, {"BucketName": ctx.bucket or ""})
    block = PublicAccessBlock.from_json(doc)
    return S3Response(body=xml.document("PublicAccessBlockConfiguration",
                                        **block.to_json()), content_type=XML)


async def delete_public_access_block(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "public-access-block")
    return S3Response(204)


async def put_ownership_controls(ctx: S3Context) -> S3Response:
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    rules = root.findall("Rule")
    if root.tag != "OwnershipControls" or len(rules) != 1:
        raise _malformed()
    value = (rules[0].findtext("ObjectOwnership") or "").strip()
    if value not in OWNERSHIP_VALUES:
        raise _malformed()
    await ctx.services.configs.put_async(ctx.require_store().id, "ownership",
                                         {"ObjectOwnership": value})
    return S3Response()


async def get_ownership_controls(ctx: S3Context) -> S3Response:
    doc = await ctx.services.configs.get_async(ctx.require_store().id, "ownership")
    if not isinstance(doc, dict):
        raise S3Error("OwnershipControlsNotFoundError", "The bucket ownership controls were "
                      "not found", 404, {"BucketName": ctx.bucket or ""})
    rule = xml.node("Rule", ObjectOwnership=doc.get("ObjectOwnership"))
    return S3Response(body=xml.document("OwnershipControls", rule), content_type=XML)


async def delete_ownership_controls(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "ownership")
    return S3Response(204)

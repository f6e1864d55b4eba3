"""Put/Get/DeleteBucketPolicy and GetBucketPolicyStatus."""

from __future__ import annotations

from ...services.access.policy import MAX_POLICY_BYTES, PolicyError, parse_policy
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error
from .acl import bucket_documents


def no_such_policy(ctx: S3Context) -> S3Error:
    return S3Error("NoSuchBucketPolicy", "The bucket policy does not exist", 404,
                   {"BucketName": ctx.bucket or ""})


async def _stored_text(ctx: S3Context) -> str:
    doc = await ctx.services.configs.get_async(ctx.require_store().id, "policy")
    if not isinstance(doc, dict) or not isinstance(doc.get("text"), str):
        raise no_such_policy(ctx)
    return str(doc["text"])


async def put_bucket_policy(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    body = await read_small_body(ctx, MAX_POLICY_BYTES)
    try:
        text = body.decode("utf-8")
        policy = parse_policy(text, store.name)
    except UnicodeDecodeError:
        raise S3Error("MalformedPolicy", "Policies must be valid UTF-8 JSON", 400) from None
    except PolicyError as exc:
        raise S3Error("MalformedPolicy", exc.message, 400) from None
    bucket = await bucket_documents(ctx, store)
    if bucket.block.block_public_policy and policy.public:
        raise S3Error("AccessDenied", "Access Denied: this store's public access block "
                      "(BlockPublicPolicy) refuses public policies", 403)
    await ctx.services.configs.put_async(store.id, "policy", {"text": text})
    return S3Response(204)


async def get_bucket_policy(ctx: S3Context) -> S3Response:
    return S3Response(body=(await _stored_text(ctx)).encode(), content_type="application/json")


async def delete_bucket_policy(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "policy")
    return S3Response(204)


async def get_bucket_policy_status(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    text = await _stored_text(ctx)
    try:
        public = parse_policy(text, store.name).public
    except PolicyError:
        public = False
    return S3Response(body=xml.document("PolicyStatus", IsPublic=public),
                      content_type="application/xml")

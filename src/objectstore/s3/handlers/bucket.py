"""Service and bucket operations: ListBuckets, Create/Head/DeleteBucket, location, versioning,
ACLs, and the honest 'not configured' answers for bucket features this server lacks."""

from __future__ import annotations

import base64
import binascii
import re

from ...domain.errors import StoreExists
from ...domain.names import validate_s3_bucket_name
from ...domain.object_lock import LockConfig
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error, access_denied
from .acl import bucket_acl_on_create, bucket_documents_on_create, reset_bucket_acl
from .common import iso8601, owner_xml

XML = "application/xml"


def _cred(ctx: S3Context):  # type: ignore[no-untyped-def]
    if ctx.credential is None:
        raise access_denied()
    return ctx.credential


MAX_BUCKETS = 10000


def _max_buckets(ctx: S3Context) -> int | None:
    """``max-buckets`` (1..10000); None when absent and no other paging parameter asks for
    pages (then every bucket, as before AWS paged ListBuckets)."""
    raw = ctx.query.get("max-buckets")
    if raw is None:
        paged = any(k in ctx.query for k in ("prefix", "continuation-token", "bucket-region"))
        return MAX_BUCKETS if paged else None
    if not re.fullmatch(r"[0-9]{1,5}", raw) or not 1 <= int(raw) <= MAX_BUCKETS:
        raise S3Error("InvalidArgument", "max-buckets must be an integer between 1 and "
                      f"{MAX_BUCKETS}", 400, {"ArgumentName": "max-buckets",
                                              "ArgumentValue": raw[:64]})
    return int(raw)


async def list_buckets(ctx: S3Context) -> S3Response:
    """The caller's stores by name; ``prefix``, ``bucket-region``, and pages of
    ``max-buckets`` continued by an opaque ``continuation-token`` (the last name given)."""
    cred = _cred(ctx)
    q = ctx.query
    limit = _max_buckets(ctx)
    prefix, region = q.get("prefix", ""), q.get("bucket-region")
    token = q.get("continuation-token")
    after = ""
    if token:
        try:
            after = base64.urlsafe_b64decode(token.encode()).decode()
        except (binascii.Error, ValueError, UnicodeDecodeError) as exc:
            raise S3Error("InvalidArgument", "The continuation token provided is incorrect",
                          400, {"ArgumentName": "continuation-token"}) from exc
    stores = sorted((s for s in await ctx.services.stores.for_credential_async(cred)
                     if s.name.startswith(prefix) and s.name > after
                     and (region is None or s.region.lower() == region.lower())),
                    key=lambda s: s.name)
    more = limit is not None and len(stores) > limit
    stores = stores[:limit] if limit is not None else stores
    buckets = [xml.node("Bucket", Name=s.name, CreationDate=iso8601(s.created_at),
                        BucketRegion=s.region) for s in stores]
    next_token = (base64.urlsafe_b64encode(stores[-1].name.encode()).decode()
                  if more and stores else None)
    body = xml.document("ListAllMyBucketsResult", xml.node("Buckets", *buckets),
                        owner_xml(cred), xml.leaf("ContinuationToken", next_token),
                        xml.leaf("Prefix", q.get("prefix")))
    return S3Response(body=body, content_type=XML)


# Where AWS answers an owner's CreateBucket of its own bucket with 200, not
# BucketAlreadyOwnedByYou (the region of the request's signature).
LEGACY_REGION = "us-east-1"


async def create_bucket(ctx: S3Context) -> S3Response:
    cred = _cred(ctx)
    assert ctx.bucket is not None
    try:
        validate_s3_bucket_name(ctx.bucket)  # AWS's rules (lower case only)
    except Exception as exc:
        raise S3Error("InvalidBucketName", "The specified bucket is not valid.", 400,
                      {"BucketName": ctx.bucket}) from exc
    body = await read_small_body(ctx, 64 * 1024)
    if body.strip():
        root = xml.parse(body)
        if root.tag != "CreateBucketConfiguration":
            raise S3Error("MalformedXML", "The XML you provided was not well-formed or did "
                          "not validate against our published schema", 400)
    acl, grants, ownership = await bucket_acl_on_create(ctx, cred)
    existing = await ctx.services.stores.by_name_async(ctx.bucket)
    for s in existing:
        if s.region == cred.region:
            if s.credential_id == cred.id:
                if ctx.sigv4 is not None and ctx.sigv4.region == LEGACY_REGION:
                    # AWS's legacy answer in us-east-1: 200, the ACL reset to the request's
                    await reset_bucket_acl(ctx, s, acl, grants)
                    return S3Response(headers=[("Location", f"/{ctx.bucket}")])
                raise S3Error("BucketAlreadyOwnedByYou", "Your previous request to create the "
                              "named bucket succeeded and you already own it.", 409,
                              {"BucketName": ctx.bucket})
            raise S3Error("BucketAlreadyExists", "The requested bucket name is not available.",
                          409, {"BucketName": ctx.bucket})
    lock = ctx.headers.get("x-amz-bucket-object-lock-enabled", "").strip().lower()
    if lock not in ("", "true", "false"):
        raise S3Error("InvalidArgument", "x-amz-bucket-object-lock-enabled must be true or "
                      "false", 400)
    documents = bucket_documents_on_create(grants, ownership)
    if lock == "true":  # object lock turns versioning on, for good
        documents["object-lock"] = LockConfig().to_json()
    try:  # the store, its versioning and documents: one transaction
        await ctx.services.stores.create_async(
            cred.account_id, cred.region, ctx.bucket, acl=acl, owner=cred,
            versioning="Enabled" if lock == "true" else None, documents=documents)
    except StoreExists as exc:
        raise S3Error("BucketAlreadyExists", "The requested bucket name is not available.", 409,
                      {"BucketName": ctx.bucket or ""}) from exc
    return S3Response(headers=[("Location", f"/{ctx.bucket}")])


async def head_bucket(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    return S3Response(headers=[("x-amz-bucket-region", store.region)])


async def put_bucket_versioning(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    if root.tag != "VersioningConfiguration":
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema", 400)
    status = (root.findtext("Status") or "").strip()
    mfa = (root.findtext("MfaDelete") or "").strip()
    if mfa == "Enabled" or "x-amz-mfa" in ctx.headers:
        raise S3Error("InvalidArgument", "MFA delete is not supported by this server; send "
                      "the configuration without MfaDelete (or with MfaDelete Disabled).", 400)
    if mfa not in ("", "Disabled") or status not in ("Enabled", "Suspended"):
        raise S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                      "validate against our published schema (Status must be Enabled or "
                      "Suspended)", 400)
    await ctx.services.stores.set_versioning_async(store.id, status)
    return S3Response()


async def delete_bucket(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    await ctx.services.stores.delete_empty_async(store.id)
    ctx.services.objects.wake_gc()
    return S3Response(204)


async def get_bucket_location(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    body = ('<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns='
            f'"{xml.NS}">{xml._text(store.region)}</LocationConstraint>').encode()
    return S3Response(body=body, content_type=XML)


async def get_bucket_versioning(ctx: S3Context) -> S3Response:
    stores = await ctx.services.stores.by_name_async(ctx.bucket or "")
    store = next((s for s in stores if s.id == ctx.require_store().id), ctx.require_store())
    return S3Response(body=xml.document("VersioningConfiguration", Status=store.versioning),
                      content_type=XML)


def _not_configured(code: str, message: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: S3Context) -> S3Response:
        ctx.require_store()
        raise S3Error(code, message, 404, {"BucketName": ctx.bucket or ""})

    return handler


get_bucket_encryption = _not_configured("ServerSideEncryptionConfigurationNotFoundError",
                                        "The server side encryption configuration was not found")

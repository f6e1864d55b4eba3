"""Service and bucket operations: ListBuckets, Create/Head/DeleteBucket, location, versioning,
ACLs, and the honest 'not configured' answers for bucket features this server lacks."""

from __future__ import annotations

from ...domain.errors import StoreExists
from ...domain.names import validate_store_name
from ...domain.object_lock import LockConfig
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error, access_denied
from .acl import bucket_acl_on_create, bucket_documents_on_create
from .common import iso8601, owner_xml

XML = "application/xml"


def _cred(ctx: S3Context):  # type: ignore[no-untyped-def]
    if ctx.credential is None:
        raise access_denied()
    return ctx.credential


async def list_buckets(ctx: S3Context) -> S3Response:
    cred = _cred(ctx)
    stores = await ctx.services.stores.for_credential_async(cred)
    buckets = [xml.node("Bucket", Name=s.name, CreationDate=iso8601(s.created_at),
                        BucketRegion=s.region) for s in stores]
    body = xml.document("ListAllMyBucketsResult", owner_xml(cred),
                        xml.node("Buckets", *buckets))
    return S3Response(body=body, content_type=XML)


async def create_bucket(ctx: S3Context) -> S3Response:
    cred = _cred(ctx)
    assert ctx.bucket is not None
    try:
        validate_store_name(ctx.bucket)
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


async def get_bucket_notification_configuration(ctx: S3Context) -> S3Response:
    """No notification is ever configured (PutBucketNotificationConfiguration answers 501):
    the empty configuration, as AWS answers for a bucket without one."""
    ctx.require_store()
    return S3Response(body=xml.document("NotificationConfiguration"), content_type=XML)


def _not_configured(code: str, message: str):  # type: ignore[no-untyped-def]
    async def handler(ctx: S3Context) -> S3Response:
        ctx.require_store()
        raise S3Error(code, message, 404, {"BucketName": ctx.bucket or ""})

    return handler


get_bucket_encryption = _not_configured("ServerSideEncryptionConfigurationNotFoundError",
                                        "The server side encryption configuration was not found")
get_bucket_website = _not_configured("NoSuchWebsiteConfiguration",
                                     "The specified bucket does not have a website configuration")

"""Put/Get/DeleteBucketEncryption: a store's default encryption for new objects (requests
that name no encryption of their own get it)."""

from __future__ import annotations

from anyio.to_thread import run_sync

from ...domain.encryption import KmsKeyNotFound
from ...services.engine.sse import AES256, KMS
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

XML = "application/xml"
CONFIG = "encryption"


def _malformed() -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema", 400)


async def put_bucket_encryption(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    if root.tag != "ServerSideEncryptionConfiguration":
        raise _malformed()
    rules = root.findall("Rule")
    if len(rules) != 1:
        raise _malformed()
    default = rules[0].find("ApplyServerSideEncryptionByDefault")
    if default is None:
        raise _malformed()
    algorithm = (default.findtext("SSEAlgorithm") or "").strip()
    key_id = (default.findtext("KMSMasterKeyID") or "").strip() or None
    raw_bk = (rules[0].findtext("BucketKeyEnabled") or "false").strip().lower()
    if raw_bk not in ("true", "false"):
        raise _malformed()
    if algorithm not in (AES256, KMS):
        if algorithm == "aws:kms:dsse":
            raise S3Error("NotImplemented", "Dual-layer SSE-KMS is not implemented", 501)
        raise S3Error("InvalidArgument", "The encryption method specified is not supported",
                      400, {"ArgumentName": "SSEAlgorithm"})
    if algorithm == AES256 and key_id is not None:
        raise S3Error("InvalidArgument", "a KMSMasterKeyID is allowed only with aws:kms", 400,
                      {"ArgumentName": "KMSMasterKeyID"})
    keys = ctx.services.objects.sse.keys
    if key_id is not None and keys is not None:
        try:  # a key this account does not have would make every later PUT fail
            await _check_key(ctx, store.account_id, key_id)
        except KmsKeyNotFound as exc:
            raise S3Error("KMS.NotFoundException", f"Invalid keyId {key_id}", 400) from exc
    await ctx.services.configs.put_async(store.id, CONFIG, {
        "algorithm": algorithm, "kms_key_id": key_id, "bucket_key": raw_bk == "true"})
    return S3Response()


async def _check_key(ctx: S3Context, account_id: str, key_id: str) -> None:
    keys = ctx.services.objects.sse.keys
    assert keys is not None
    await run_sync(keys.find, account_id, key_id)


async def get_bucket_encryption(ctx: S3Context) -> S3Response:
    doc = await ctx.services.configs.get_async(ctx.require_store().id, CONFIG)
    if not isinstance(doc, dict):
        raise S3Error("ServerSideEncryptionConfigurationNotFoundError",
                      "The server side encryption configuration was not found", 404,
                      {"BucketName": ctx.bucket or ""})
    default = xml.node("ApplyServerSideEncryptionByDefault", SSEAlgorithm=doc["algorithm"],
                       KMSMasterKeyID=doc.get("kms_key_id"))
    rule = xml.node("Rule", default,
                    BucketKeyEnabled="true" if doc.get("bucket_key") else "false")
    return S3Response(body=xml.document("ServerSideEncryptionConfiguration", rule),
                      content_type=XML)


async def delete_bucket_encryption(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, CONFIG)
    return S3Response(204)

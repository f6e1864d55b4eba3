"""Server-side encryption on the wire: the SSE-S3 / SSE-KMS / SSE-C request headers parsed
into an engine request (or the bucket's default encryption), the customer key headers of
reads and copy sources, and the response headers S3 sends for each mode."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
from typing import Any

from ...domain.models import ObjectVersion
from ...domain.parsing import load_json
from ...services.engine.sse import AES256, KMS, SSE_C, SseRequest
from ..context import S3Context
from ..errors import S3Error

SSE = "x-amz-server-side-encryption"
KMS_KEY = f"{SSE}-aws-kms-key-id"
CONTEXT = f"{SSE}-context"
BUCKET_KEY = f"{SSE}-bucket-key-enabled"
CUSTOMER = f"{SSE}-customer-"
COPY_CUSTOMER = "x-amz-copy-source-server-side-encryption-customer-"
_SSEC_MSG = "Requests specifying Server Side Encryption with Customer provided keys must "


def _invalid(message: str, argument: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400, {"ArgumentName": argument})


def secure(ctx: S3Context) -> bool:
    """Whether a customer key may travel on this request: the S3 listener speaks TLS, or a
    setting allows plain HTTP (local use)."""
    settings = ctx.services.settings
    return settings.tls_cert is not None or settings.sse_c_allow_http


def customer_key(ctx: S3Context, prefix: str = CUSTOMER) -> bytes | None:
    """The SSE-C key of the request (``prefix``: the copy source's headers), checked
    against its MD5; None when the request names none."""
    h = ctx.headers
    alg, key, md5 = h.get(prefix + "algorithm"), h.get(prefix + "key"), h.get(prefix + "key-md5")
    if alg is None and key is None and md5 is None:
        return None
    name = prefix.rstrip("-")
    if alg is None:
        raise _invalid(_SSEC_MSG + "provide a valid encryption algorithm.", name + "-algorithm")
    if alg.strip() != "AES256":
        raise S3Error("InvalidEncryptionAlgorithmError", "The Encryption request you specified "
                      "is not valid. Supported value: AES256.", 400,
                      {"ArgumentName": name + "-algorithm"})
    if key is None:
        raise _invalid(_SSEC_MSG + "provide an appropriate secret key.", name + "-key")
    try:
        raw = base64.b64decode(key.strip(), validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise _invalid("The secret key was invalid for the specified algorithm.", name + "-key")
    if md5 is None:
        raise _invalid(_SSEC_MSG + "provide the client calculated MD5 of the secret key.",
                       name + "-key-MD5")
    expected = base64.b64encode(hashlib.md5(raw).digest()).decode()  # noqa: S324 - S3's
    if not hmac.compare_digest(expected.encode(), md5.strip().encode()):
        raise _invalid("The calculated MD5 hash of the key did not match the hash that was "
                       "provided.", name + "-key-MD5")
    if not secure(ctx):
        raise S3Error("InvalidRequest", _SSEC_MSG + "be made over a secure connection.", 400)
    return raw


def _context(raw: str | None) -> dict[str, str] | None:
    if raw is None:
        return None
    try:
        doc = load_json(base64.b64decode(raw.strip(), validate=True))
    except (ValueError, binascii.Error):
        doc = None
    if not isinstance(doc, dict) or not all(isinstance(k, str) and isinstance(v, str)
                                            for k, v in doc.items()):
        raise _invalid("The encryption context must be base64-encoded JSON of string pairs",
                       CONTEXT)
    return doc


def _bool(raw: str | None, name: str) -> bool:
    if raw is None:
        return False
    value = raw.strip().lower()
    if value not in ("true", "false"):
        raise _invalid(f"{name} must be true or false", name)
    return value == "true"


def parse_request(ctx: S3Context) -> SseRequest | None:
    """The encryption a write's headers ask for (None: they ask for none)."""
    h = ctx.headers
    mode = h.get(SSE)
    ckey = customer_key(ctx)
    kms_id, context = h.get(KMS_KEY), h.get(CONTEXT)
    bucket_key = _bool(h.get(BUCKET_KEY), BUCKET_KEY)
    if ckey is not None:
        if mode is not None or kms_id is not None:
            raise _invalid("Server Side Encryption with Customer provided key is incompatible "
                           "with the encryption method specified", SSE)
        return SseRequest(SSE_C, customer_key=ckey)
    if mode is None:
        if kms_id is not None or context is not None:
            raise _invalid("Server Side Encryption with AWS KMS managed key requires HTTP "
                           f"header {SSE} : aws:kms", SSE)
        return None
    mode = mode.strip()
    if mode == AES256:
        if kms_id is not None or context is not None:
            raise _invalid("Server Side Encryption with AWS KMS managed key requires HTTP "
                           f"header {SSE} : aws:kms", SSE)
        return SseRequest(AES256)
    if mode == KMS:
        return SseRequest(KMS, (kms_id or "").strip() or None, _context(context), bucket_key)
    if mode == "aws:kms:dsse":
        raise S3Error("NotImplemented", "Dual-layer SSE-KMS is not implemented", 501)
    raise _invalid("The encryption method specified is not supported", SSE)


def request_from_default(doc: Any) -> SseRequest | None:
    """The bucket default encryption document (bucket_encryption.py) as a request."""
    if not isinstance(doc, dict) or doc.get("algorithm") not in (AES256, KMS):
        return None
    if doc["algorithm"] == AES256:
        return SseRequest(AES256)
    return SseRequest(KMS, doc.get("kms_key_id") or None, None, bool(doc.get("bucket_key")))


async def for_write(ctx: S3Context) -> SseRequest | None:
    """What a new object (PUT, copy, multipart upload) is encrypted with: the request's
    headers, else the bucket's default encryption, else nothing."""
    asked = parse_request(ctx)
    if asked is not None:
        return asked
    doc = await ctx.services.configs.get_async(ctx.require_store().id, "encryption")
    return request_from_default(doc)


def has_headers(ctx: S3Context) -> bool:
    return any(k.startswith(SSE) for k in ctx.headers)


def read_key(ctx: S3Context, meta: ObjectVersion) -> bytes | None:
    """The customer key a read of ``meta`` gives, checked (required for SSE-C objects,
    refused for others)."""
    ckey = customer_key(ctx)
    ctx.services.objects.check_read_key(meta, ckey)
    return ckey


def copy_source_key(ctx: S3Context, source: ObjectVersion) -> bytes | None:
    ckey = customer_key(ctx, COPY_CUSTOMER)
    ctx.services.objects.check_read_key(source, ckey)
    return ckey


def response_headers(ctx: S3Context, sse: dict[str, Any] | None, *, context: bool = False,
                     prefix: str = CUSTOMER) -> list[tuple[str, str]]:
    """The headers S3 sends about an object's encryption (``context``: the encryption
    context too, as on writes)."""
    if not sse:
        return []
    mode = sse.get("mode")
    if mode == AES256:
        return [(SSE, AES256)]
    if mode == KMS:
        out = [(SSE, KMS), (KMS_KEY, str(sse.get("arn", "")))]
        if sse.get("bk"):
            out.append((BUCKET_KEY, "true"))
        if context and sse.get("ctx") is not None:
            raw = json.dumps(sse["ctx"], separators=(",", ":")).encode()
            out.append((CONTEXT, base64.b64encode(raw).decode()))
        return out
    out = [(f"{SSE}-customer-algorithm", "AES256")]
    md5 = ctx.headers.get(prefix + "key-md5")
    if md5 is not None:
        out.append((f"{SSE}-customer-key-MD5", md5.strip()))
    return out

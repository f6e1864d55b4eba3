"""What the pipeline hands the one authorization decision: the request's condition keys,
the store's access documents, the object when the decision depends on it. (The checks of
the ACL a request sets are ``services/access``'s.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime
from urllib.parse import unquote

from starlette.types import Scope

from ..domain.errors import DomainError
from ..domain.models import Credential, ObjectStore, ObjectVersion
from ..domain.parsing import TooDeep, parse_form
from ..services.access import (
    Access,
    BucketAccess,
    RequestContext,
    authorize,
    load_bucket_access,
    needs_object,
    reads_object,
)
from ..services.registry import Services
from .context import S3Context
from .errors import S3Error

# Request headers whose value is a condition key of the same name ("s3:<header>"), as AWS
# defines them for S3 (a POST form's fields of these names count the same).
HEADER_KEYS = (
    "x-amz-acl", "x-amz-server-side-encryption", "x-amz-server-side-encryption-aws-kms-key-id",
    "x-amz-server-side-encryption-customer-algorithm", "x-amz-storage-class",
    "x-amz-metadata-directive", "x-amz-content-sha256", "x-amz-website-redirect-location",
    "x-amz-grant-read", "x-amz-grant-write", "x-amz-grant-read-acp", "x-amz-grant-write-acp",
    "x-amz-grant-full-control",
)
# Headers whose condition key has another name.
RENAMED_KEYS = {
    "referer": "aws:referer", "user-agent": "aws:useragent",
    "x-amz-object-lock-mode": "s3:object-lock-mode",
    "x-amz-object-lock-retain-until-date": "s3:object-lock-retain-until-date",
    "x-amz-object-lock-legal-hold": "s3:object-lock-legal-hold",
    "if-match": "s3:if-match", "if-none-match": "s3:if-none-match",
}


def condition_keys(ctx: S3Context, scope: Scope, *, acl: str | None = None,
                   auth_type: str | None = None,
                   fields: Mapping[str, str] | None = None) -> dict[str, str]:
    """The condition keys (lower case) the request supplies: from its headers (and a POST
    form's ``fields``), query and signature. The decision on them is ``authorize``'s."""
    h: Mapping[str, str] = {**ctx.headers, **fields} if fields else ctx.headers
    q = ctx.query
    now = datetime.now(UTC)
    keys = {"aws:currenttime": now.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "aws:epochtime": str(int(now.timestamp())),
            "aws:securetransport": "true" if scope.get("scheme") == "https" else "false"}
    client = scope.get("client")
    if client:
        keys["aws:sourceip"] = str(client[0])
    for header in HEADER_KEYS:
        if header in h:
            keys[f"s3:{header}"] = h[header].strip()
    for header, key in RENAMED_KEYS.items():
        if header in h:
            keys[key] = h[header].strip()
    if "x-amz-copy-source" in h:  # as AWS's examples name it: "bucket/key", decoded
        keys["s3:x-amz-copy-source"] = unquote(h["x-amz-copy-source"].strip()).lstrip("/")
    until = keys.get("s3:object-lock-retain-until-date")
    if until is not None:
        try:
            left = datetime.fromisoformat(until.replace("Z", "+00:00")) - now
            keys["s3:object-lock-remaining-retention-days"] = str(max(0, math.ceil(
                left.total_seconds() / 86400)))
        except ValueError:
            pass  # the handler refuses the date
    if acl is not None:
        keys["s3:x-amz-acl"] = acl
    for name in ("prefix", "delimiter", "max-keys"):
        if name in q:
            keys[f"s3:{name}"] = q[name]
    if ctx.version_id is not None:
        keys["s3:versionid"] = ctx.version_id
    try:
        request_tags = parse_form(h.get("x-amz-tagging", ""))
    except TooDeep:
        raise S3Error("BadRequest", "Object tags cannot be greater than 10", 400) from None
    for k, v in request_tags:
        keys[f"s3:requestobjecttag/{k.lower()}"] = v
    if ctx.credential is not None:
        keys["s3:signatureversion"] = "AWS4-HMAC-SHA256" if ctx.sigv4 else "AWS"
        signed_query = any(k in q for k in ("X-Amz-Signature", "Signature"))
        keys["s3:authtype"] = auth_type or ("REST-QUERY-STRING" if signed_query
                                            else "REST-HEADER")
        signed_at = _signed_at(h.get("x-amz-date") or q.get("X-Amz-Date"))
        if signed_at is not None:
            keys["s3:signatureage"] = str(max(0, int((now - signed_at).total_seconds()
                                                     * 1000)))
    return keys


def _signed_at(stamp: str | None) -> datetime | None:
    try:
        return datetime.strptime(stamp or "", "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    except ValueError:
        return None


async def decide(services: Services, principal: Credential | None, access: Access,
                 store: ObjectStore, request: RequestContext,
                 keys: Callable[[], dict[str, str]] | None = None
                 ) -> tuple[BucketAccess, ObjectVersion | None]:
    """Authorize ``request`` on ``store`` (reading the object first when the decision
    depends on it); the store's access documents and that object. ``keys`` gives the
    request's condition keys, computed only when the store has a policy to read them.
    An operation on an object that is missing answers that once the caller is allowed to
    know it (the handler never reads it again: nothing written meanwhile escapes the
    decision)."""
    bucket = await load_bucket_access(services.configs, store)
    if bucket.policy is not None and keys is not None:
        request = replace(request, keys={**keys(), **request.keys})
    obj, missing = None, None
    if request.key is not None and needs_object(principal, access, store, request, bucket):
        try:
            obj = await services.objects.head(store, request.key, request.version_id)
        except DomainError as exc:
            missing = exc  # a missing object is decided on the store's rules
    authorize(principal, access, store, obj, request, bucket)
    if missing is not None and reads_object(access, request):
        raise missing
    return bucket, obj

"""Object lock: Put/GetObjectLockConfiguration, Put/GetObjectRetention,
Put/GetObjectLegalHold, the x-amz-object-lock-* headers of writes and reads."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime

from ...domain.models import ObjectVersion
from ...domain.object_lock import MODES, LockConfig, Retention
from ...services.engine.values import Attributes
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error
from .common import announced_version, iso8601

XML = "application/xml"


def _malformed(detail: str = "") -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema" + (f" ({detail})" if detail else ""),
                   400)


def parse_time(value: str, name: str) -> datetime:
    try:
        dt = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise S3Error("InvalidArgument", f"{name} must be an ISO 8601 date and time", 400) \
            from exc
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def with_lock_headers(ctx: S3Context, attrs: Attributes) -> Attributes:
    """``attrs`` with the retention and legal hold a write's headers ask for."""
    h = ctx.headers
    mode = h.get("x-amz-object-lock-mode")
    until = h.get("x-amz-object-lock-retain-until-date")
    hold = h.get("x-amz-object-lock-legal-hold")
    if mode is None and until is None and hold is None:
        return attrs
    if (mode is None) != (until is None):
        raise S3Error("InvalidArgument", "x-amz-object-lock-retain-until-date and "
                      "x-amz-object-lock-mode must both be supplied", 400)
    if mode is not None and mode.strip().upper() not in MODES:
        raise S3Error("InvalidArgument", "Unknown wormMode directive.", 400)
    if hold is not None and hold.strip().upper() not in ("ON", "OFF"):
        raise S3Error("InvalidArgument", "Legal Hold must be either of 'ON' or 'OFF'", 400)
    return replace(attrs, lock_mode=mode.strip().upper() if mode else None,
                   lock_until=parse_time(until, "x-amz-object-lock-retain-until-date")
                   if until else None,
                   legal_hold=(hold or "").strip().upper() == "ON")


def lock_headers(v: ObjectVersion) -> list[tuple[str, str]]:
    out: list[tuple[str, str]] = []
    if v.lock_mode and v.lock_until:
        out += [("x-amz-object-lock-mode", v.lock_mode),
                ("x-amz-object-lock-retain-until-date", iso8601(v.lock_until))]
    if v.legal_hold:
        out.append(("x-amz-object-lock-legal-hold", "ON"))
    return out


def bypass_governance(ctx: S3Context) -> bool:
    """``x-amz-bypass-governance-retention: true`` from a caller allowed
    ``s3:BypassGovernanceRetention`` (decided by the pipeline's authorization)."""
    return ctx.may_bypass_governance


async def put_object_lock_configuration(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    if root.tag != "ObjectLockConfiguration":
        raise _malformed()
    if (root.findtext("ObjectLockEnabled") or "").strip() != "Enabled":
        raise _malformed("ObjectLockEnabled must be Enabled")
    mode = days = years = None
    retention = root.find("Rule/DefaultRetention")
    if root.find("Rule") is not None and retention is None:
        raise _malformed("Rule needs a DefaultRetention")
    if retention is not None:
        mode = (retention.findtext("Mode") or "").strip()
        d, y = retention.findtext("Days"), retention.findtext("Years")
        if mode not in MODES or (d is None) == (y is None):
            raise _malformed("DefaultRetention needs a Mode and either Days or Years")
        raw = (d or y or "").strip()
        digits = raw.removeprefix("-")
        if not digits.isascii() or not digits.isdigit():
            raise _malformed("Days and Years are integers")
        if int(raw) <= 0:  # AWS's code for a zero or negative period
            raise S3Error("InvalidRetentionPeriod", "Default retention period must be a "
                          "positive integer value", 400)
        if len(raw) > 6:
            raise S3Error("InvalidArgument", "Default retention period is too large", 400)
        days, years = (int(raw), None) if d is not None else (None, int(raw))
    if await ctx.services.objects.lock_config(store) is None \
            and store.versioning != "Enabled":  # (the cached store may be a second old)
        latest = await ctx.services.stores.by_name_async(store.name)
        if not any(s.id == store.id and s.versioning == "Enabled" for s in latest):
            raise S3Error("InvalidBucketState", "Versioning must be 'Enabled' on the bucket "
                          "to apply a Object Lock configuration", 409)
    await ctx.services.configs.put_async(store.id, "object-lock",
                                         LockConfig(mode, days, years).to_json())
    return S3Response()


async def get_object_lock_configuration(ctx: S3Context) -> S3Response:
    config = await ctx.services.objects.lock_config(ctx.require_store())
    if config is None:
        raise S3Error("ObjectLockConfigurationNotFoundError", "Object Lock configuration does "
                      "not exist for this bucket", 404, {"BucketName": ctx.bucket or ""})
    rule = ""
    if config.mode:
        rule = xml.node("Rule", xml.node("DefaultRetention", Mode=config.mode,
                                         Days=config.days, Years=config.years))
    return S3Response(body=xml.document("ObjectLockConfiguration", rule,
                                        ObjectLockEnabled="Enabled"), content_type=XML)


async def put_object_retention(ctx: S3Context) -> S3Response:
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    if root.tag != "Retention":
        raise _malformed()
    mode = (root.findtext("Mode") or "").strip() or None
    until_raw = (root.findtext("RetainUntilDate") or "").strip() or None
    if (mode is None) != (until_raw is None):
        raise _malformed("Mode and RetainUntilDate go together")
    if mode is not None and mode not in MODES:
        raise _malformed("Mode must be GOVERNANCE or COMPLIANCE")
    until = parse_time(until_raw, "RetainUntilDate") if until_raw else None
    v = await ctx.services.objects.set_retention(
        ctx.require_store(), ctx.require_key(), ctx.version_id, Retention(mode, until),
        bypass_governance(ctx))
    return S3Response(headers=announced_version(ctx, v.version_id))


async def get_object_retention(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    if await ctx.services.objects.lock_config(store) is None:
        raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)
    v = await ctx.services.objects.head(store, ctx.require_key(), ctx.version_id)
    if not v.lock_mode or not v.lock_until:
        raise S3Error("NoSuchObjectLockConfiguration", "The specified object does not have a "
                      "ObjectLock configuration", 404)
    return S3Response(body=xml.document("Retention", Mode=v.lock_mode,
                                        RetainUntilDate=iso8601(v.lock_until)),
                      content_type=XML)


async def put_object_legal_hold(ctx: S3Context) -> S3Response:
    root = xml.parse(await read_small_body(ctx, 64 * 1024))
    status = (root.findtext("Status") or "").strip()
    if root.tag != "LegalHold" or status not in ("ON", "OFF"):
        raise _malformed("LegalHold Status must be ON or OFF")
    v = await ctx.services.objects.set_legal_hold(ctx.require_store(), ctx.require_key(),
                                                  ctx.version_id, status == "ON")
    return S3Response(headers=announced_version(ctx, v.version_id))


async def get_object_legal_hold(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    if await ctx.services.objects.lock_config(store) is None:
        raise S3Error("InvalidRequest", "Bucket is missing Object Lock Configuration", 400)
    v = await ctx.services.objects.head(store, ctx.require_key(), ctx.version_id)
    return S3Response(body=xml.document("LegalHold", Status="ON" if v.legal_hold else "OFF"),
                      content_type=XML)

"""Put/Get/DeleteBucketLifecycleConfiguration, and the x-amz-expiration header."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any
from xml.etree.ElementTree import Element

from ...domain.lifecycle import (
    MAX_RULES,
    Filter,
    Rule,
    expiry_of,
    rules_from_json,
    rules_to_json,
)
from ...domain.models import ObjectStore, ObjectVersion
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

XML = "application/xml"
CONFIG = "lifecycle"


def _malformed(detail: str) -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   f"validate against our published schema ({detail})", 400)


def _invalid(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400)


def _int(el: Element, tag: str, *, minimum: int = 1) -> int | None:
    raw = el.findtext(tag)
    if raw is None:
        return None
    raw = raw.strip()
    if not raw.isascii() or not raw.lstrip("-").isdigit() or len(raw) > 10:
        raise _malformed(f"{tag} must be an integer")
    value = int(raw)
    if value < minimum:
        raise _invalid(f"'{tag}' for a lifecycle rule must be a positive integer"
                       if minimum > 0 else f"'{tag}' must not be negative")
    return value


def _filter(rule: Element) -> Filter:
    f = rule.find("Filter")
    legacy = rule.findtext("Prefix")
    if f is None:
        if legacy is None:
            raise _malformed("a Rule needs a Filter (or a Prefix)")
        return Filter(prefix=legacy)
    if legacy is not None:
        raise _malformed("a Rule has either a Filter or a Prefix, not both")
    node = f.find("And")
    parts = [c.tag for c in f]
    if node is None and len(parts) > 1:
        raise _malformed("a Filter holds one condition; combine several with And")
    node = node if node is not None else f
    tags = tuple((t.findtext("Key") or "", t.findtext("Value") or "")
                 for t in node.findall("Tag"))
    if any(not k for k, _ in tags):
        raise S3Error("InvalidTag", "The TagKey you have provided is invalid", 400)
    if len({k for k, _ in tags}) != len(tags):
        raise S3Error("InvalidTag", "Duplicate Tag Keys are not allowed.", 400)
    gt = _int(node, "ObjectSizeGreaterThan", minimum=0)
    lt = _int(node, "ObjectSizeLessThan", minimum=1)
    if gt is not None and lt is not None and lt <= gt:
        raise _invalid("ObjectSizeLessThan must be greater than ObjectSizeGreaterThan")
    return Filter(node.findtext("Prefix") or "", tags, gt, lt)


def _date(raw: str) -> datetime:
    try:
        dt = datetime.fromisoformat(raw.strip().replace("Z", "+00:00"))
    except ValueError as exc:
        raise _invalid("'Date' must be in ISO 8601 format") from exc
    dt = dt if dt.tzinfo else dt.replace(tzinfo=UTC)
    if (dt.hour, dt.minute, dt.second, dt.microsecond) != (0, 0, 0, 0):
        raise _invalid("'Date' must be at midnight GMT")
    return dt


# The classes a transition may name (AWS's TransitionStorageClass values).
TRANSITION_CLASSES = frozenset({"GLACIER", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
                                "DEEP_ARCHIVE", "GLACIER_IR"})


def _check_transitions(el: Element) -> bool:
    """Validate a rule's Transition / NoncurrentVersionTransition elements as AWS does
    (they are refused with 501 only once the whole configuration is valid); whether any."""
    found = False
    for t in el.findall("Transition"):
        found = True
        days = _int(t, "Days", minimum=0)
        raw_date = t.findtext("Date")
        if (days is None) == (raw_date is None):
            raise _malformed("a Transition needs exactly one of Days and Date")
        if raw_date is not None:
            _date(raw_date)
        if (t.findtext("StorageClass") or "").strip() not in TRANSITION_CLASSES:
            raise _malformed("a Transition needs a valid StorageClass")
    for t in el.findall("NoncurrentVersionTransition"):
        found = True
        if _int(t, "NoncurrentDays") is None:
            raise _malformed("NoncurrentVersionTransition needs NoncurrentDays")
        newer = _int(t, "NewerNoncurrentVersions")
        if newer is not None and newer > 100:
            raise _invalid("NewerNoncurrentVersions must be at most 100")
        if (t.findtext("StorageClass") or "").strip() not in TRANSITION_CLASSES:
            raise _malformed("a NoncurrentVersionTransition needs a valid StorageClass")
    return found


def parse_rules(body: bytes) -> list[Rule]:
    root = xml.parse(body)
    if root.tag != "LifecycleConfiguration":
        raise _malformed("the root element must be LifecycleConfiguration")
    elements = root.findall("Rule")
    if not elements:
        raise _malformed("at least one Rule is required")
    if len(elements) > MAX_RULES:
        raise _invalid(f"A lifecycle configuration holds at most {MAX_RULES} rules")
    rules: list[Rule] = []
    ids: set[str] = set()
    transitions = False
    for n, el in enumerate(elements, 1):
        rid = (el.findtext("ID") or "").strip() or f"rule-{n}"
        if len(rid) > 255:
            raise _invalid("ID length should not exceed allowed limit of 255")
        if rid in ids:
            raise _invalid("Rule ID must be unique. Found same ID for more than one rule")
        ids.add(rid)
        status = (el.findtext("Status") or "").strip()
        if status not in ("Enabled", "Disabled"):
            raise _malformed("Status must be Enabled or Disabled")
        flt = _filter(el)
        moves = _check_transitions(el)
        transitions = transitions or moves
        days = date = None
        marker = False
        exp = el.find("Expiration")
        if exp is not None:
            days = _int(exp, "Days")
            raw_date = exp.findtext("Date")
            date = _date(raw_date) if raw_date is not None else None
            raw_marker = (exp.findtext("ExpiredObjectDeleteMarker") or "").strip().lower()
            marker = raw_marker == "true"
            given = sum(x is not None for x in (days, date)) + (raw_marker != "")
            if given != 1:
                raise _malformed("Expiration needs exactly one of Days, Date and "
                                 "ExpiredObjectDeleteMarker")
            if marker and flt.tags:
                raise _invalid("ExpiredObjectDeleteMarker cannot be specified with a Tag "
                               "filter")
        nc_days = nc_newer = None
        nce = el.find("NoncurrentVersionExpiration")
        if nce is not None:
            nc_days = _int(nce, "NoncurrentDays")
            nc_newer = _int(nce, "NewerNoncurrentVersions")
            if nc_days is None:
                raise _malformed("NoncurrentVersionExpiration needs NoncurrentDays")
            if nc_newer is not None and nc_newer > 100:
                raise _invalid("NewerNoncurrentVersions must be at most 100")
        abort = None
        aimu = el.find("AbortIncompleteMultipartUpload")
        if aimu is not None:
            abort = _int(aimu, "DaysAfterInitiation")
            if abort is None:
                raise _malformed("AbortIncompleteMultipartUpload needs DaysAfterInitiation")
            if flt.tags or flt.size_greater_than is not None or flt.size_less_than is not None:
                raise _invalid("AbortIncompleteMultipartUpload cannot be specified with Tags "
                               "or object size filters")
        if exp is None and nce is None and aimu is None and not moves:
            raise _invalid("At least one action needs to be specified in a rule")
        rules.append(Rule(rid, status == "Enabled", flt, days, date, marker, nc_days, nc_newer,
                          abort, legacy_prefix=el.find("Filter") is None))
    if transitions:  # a valid configuration this server cannot carry out
        raise S3Error("NotImplemented", "Transitions to other storage classes are not "
                      "supported: this server has one storage class", 501)
    return rules


def _filter_xml(f: Filter) -> str:
    conditions = int(bool(f.prefix)) + len(f.tags) + (f.size_greater_than is not None) \
        + (f.size_less_than is not None)
    tags = [xml.node("Tag", Key=k, Value=v) for k, v in f.tags]
    fields: dict[str, Any] = {"ObjectSizeGreaterThan": f.size_greater_than,
                              "ObjectSizeLessThan": f.size_less_than}
    if conditions > 1:
        return xml.node("Filter", xml.node("And", *tags, Prefix=f.prefix or None, **fields))
    return xml.node("Filter", *tags, Prefix=f.prefix if not tags and not any(
        v is not None for v in fields.values()) else None, **fields)


def _rule_xml(r: Rule) -> str:
    # the form it was put in: a rule-level <Prefix> stays one
    children = [xml.leaf("Prefix", r.filter.prefix) if r.legacy_prefix
                else _filter_xml(r.filter)]
    if r.expiration_days is not None or r.expiration_date is not None \
            or r.expired_object_delete_marker:
        children.append(xml.node(
            "Expiration", Days=r.expiration_days,
            Date=r.expiration_date.strftime("%Y-%m-%dT%H:%M:%S.000Z")
            if r.expiration_date else None,
            ExpiredObjectDeleteMarker="true" if r.expired_object_delete_marker else None))
    if r.noncurrent_days is not None:
        children.append(xml.node("NoncurrentVersionExpiration", NoncurrentDays=r.noncurrent_days,
                                 NewerNoncurrentVersions=r.newer_noncurrent_versions))
    if r.abort_days is not None:
        children.append(xml.node("AbortIncompleteMultipartUpload",
                                 DaysAfterInitiation=r.abort_days))
    return xml.node("Rule", *children, ID=r.id,
                    Status="Enabled" if r.enabled else "Disabled")


async def put_bucket_lifecycle(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    rules = parse_rules(await read_small_body(ctx, 2 * 1024 * 1024))
    await ctx.services.configs.put_async(store.id, CONFIG, rules_to_json(rules))
    return S3Response()


async def get_bucket_lifecycle(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    doc = await ctx.services.configs.get_async(store.id, CONFIG)
    if doc is None:
        raise S3Error("NoSuchLifecycleConfiguration", "The lifecycle configuration does not "
                      "exist", 404, {"BucketName": ctx.bucket or ""})
    body = xml.document("LifecycleConfiguration", *[_rule_xml(r) for r in rules_from_json(doc)])
    return S3Response(body=body, content_type=XML)


async def delete_bucket_lifecycle(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, CONFIG)
    return S3Response(204)


async def expiration_header(ctx: S3Context, store: ObjectStore, v: ObjectVersion
                            ) -> list[tuple[str, str]]:
    """``x-amz-expiration`` for the latest version of a key under the store's rules."""
    doc = await ctx.services.configs.get_async(store.id, CONFIG)
    if doc is None or not v.is_latest or v.delete_marker:
        return []
    found = expiry_of(rules_from_json(doc), v.key, v.size, v.tags, v.last_modified,
                      ctx.services.settings.lifecycle_day_seconds)
    if found is None:
        return []
    when, rule_id = found
    date = format_datetime(when.astimezone(UTC).replace(microsecond=0), usegmt=True)
    return [("x-amz-expiration", f'expiry-date="{date}", rule-id="{rule_id}"')]

"""Put/GetBucketNotificationConfiguration: which of the account's event targets (by ARN,
``arn:objectstore:sqs:<region>:<id>:<type>``, made through the management API) hear of
which changes to the bucket's objects. The document lives in ``bucket_configs``
("notification"); the object engine records each announced change in the outbox in the
change's own transaction (services/events)."""

from __future__ import annotations

import secrets
from xml.etree.ElementTree import Element

from anyio.to_thread import run_sync

from ...domain.notifications import (
    Configuration,
    NotificationError,
    check_event,
    configurations_from_json,
    configurations_to_json,
    parse_arn,
)
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

XML = "application/xml"
CONFIG = "notification"
KINDS = (("QueueConfiguration", "Queue"), ("TopicConfiguration", "Topic"))
MAX_CONFIGURATIONS = 100


def _malformed(detail: str) -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   f"validate against our published schema ({detail})", 400)


def _invalid(message: str, name: str | None = None, value: str | None = None) -> S3Error:
    extra = {"ArgumentName": name, "ArgumentValue": value} if name is not None else None
    return S3Error("InvalidArgument", message, 400,
                   {k: v for k, v in (extra or {}).items() if v is not None})


def _filter(el: Element) -> tuple[str, str]:
    f = el.find("Filter")
    if f is None:
        return "", ""
    key = f.find("S3Key")
    if key is None:
        return "", ""
    found: dict[str, str] = {}
    for rule in key.findall("FilterRule"):
        name = (rule.findtext("Name") or "").strip().lower()
        value = rule.findtext("Value") or ""
        if name not in ("prefix", "suffix"):
            raise _invalid("filter rule name must be either prefix or suffix", "FilterRule",
                           name)
        if name in found:
            raise _invalid(f"Cannot specify more than one {name} rule in a filter.",
                           "FilterRule", name)
        if len(value.encode()) > 1024:
            raise _invalid("The filter rule value is too long", "FilterRule", name)
        found[name] = value
    return found.get("prefix", ""), found.get("suffix", "")


def parse_configurations(body: bytes) -> list[Configuration]:
    root = xml.parse(body)
    if root.tag != "NotificationConfiguration":
        raise _malformed("the root element must be NotificationConfiguration")
    for unsupported in ("CloudFunctionConfiguration", "EventBridgeConfiguration"):
        if root.find(unsupported) is not None:
            raise _invalid(f"{unsupported} is not supported by this server: use a "
                           "QueueConfiguration or TopicConfiguration naming an event "
                           "target's ARN", unsupported)
    out: list[Configuration] = []
    ids: set[str] = set()
    for tag, kind in KINDS:
        for el in root.findall(tag):
            arn = (el.findtext(kind) or "").strip()
            if not arn:
                raise _malformed(f"a {tag} needs a {kind} ARN")
            events = tuple(e.text.strip() for e in el.findall("Event") if e.text)
            if not events:
                raise _malformed(f"a {tag} needs at least one Event")
            for name in events:
                try:
                    check_event(name)
                except NotificationError as exc:
                    raise _invalid(str(exc), *(exc.argument or (None, None))) from None
            cid = (el.findtext("Id") or "").strip() or secrets.token_hex(16)
            if cid in ids:
                raise _invalid("Duplicate configuration Id", "Id", cid)
            ids.add(cid)
            prefix, suffix = _filter(el)
            out.append(Configuration(kind, cid, arn, events, prefix, suffix))
    if len(out) > MAX_CONFIGURATIONS:
        raise _invalid(f"At most {MAX_CONFIGURATIONS} configurations are allowed")
    return out


def _config_xml(c: Configuration) -> str:
    rules = [xml.node("FilterRule", Name=name, Value=value)
             for name, value in (("Prefix", c.prefix), ("Suffix", c.suffix)) if value]
    filt = xml.node("Filter", xml.node("S3Key", *rules)) if rules else ""
    events = "".join(xml.leaf("Event", e) for e in c.events)
    inner = xml.leaf("Id", c.id) + xml.leaf(c.kind, c.arn) + events + filt
    return f"<{c.kind}Configuration>{inner}</{c.kind}Configuration>"


async def put_bucket_notification_configuration(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    configs = parse_configurations(await read_small_body(ctx, 1024 * 1024))
    targets = ctx.services.targets
    unknown: list[tuple[str, str]] = []
    for c in configs:
        parsed = parse_arn(c.arn)
        found = None
        if targets is not None and parsed is not None and parsed.region == store.region.upper():
            found = await run_sync(targets.for_arn, store.account_id, c.arn)
        if found is None:
            unknown.append((c.arn, f"The destination {c.kind.lower()} does not exist"))
    if unknown:
        extra: dict[str, str] = {}
        for i, (arn, why) in enumerate(unknown, 1):
            extra[f"ArgumentName{i}"] = arn
            extra[f"ArgumentValue{i}"] = why
        raise S3Error("InvalidArgument", "Unable to validate the following destination "
                      "configurations", 400, extra)
    if configs:
        await ctx.services.configs.put_async(store.id, CONFIG, configurations_to_json(configs))
    else:  # an empty configuration turns notifications off
        await ctx.services.configs.delete_async(store.id, CONFIG)
    return S3Response()


async def get_bucket_notification_configuration(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    doc = await ctx.services.configs.get_async(store.id, CONFIG)
    body = xml.document("NotificationConfiguration",
                        *[_config_xml(c) for c in configurations_from_json(doc)])
    return S3Response(body=body, content_type=XML)

"""Put/Get/DeleteBucketWebsite: the store's website configuration (``domain/website.py``),
kept as the ``website`` document in ``bucket_configs``; the website plane (``website/``)
serves by it."""

from __future__ import annotations

from xml.etree.ElementTree import Element  # noqa: S405 - parsed by xml.parse (defusedxml)

from ...domain.website import (
    Condition,
    Redirect,
    RedirectAll,
    RoutingRule,
    WebsiteConfig,
    WebsiteConfigError,
)
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

XML = "application/xml"


def _malformed(detail: str = "") -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema" + (f": {detail}" if detail else ""),
                   400)


def _only(el: Element, allowed: tuple[str, ...]) -> dict[str, Element]:
    """The children of ``el`` by tag; an unknown or repeated element is malformed."""
    found: dict[str, Element] = {}
    for child in el:
        if child.tag not in allowed or child.tag in found:
            raise _malformed(f"unexpected element {child.tag} in {el.tag}")
        found[child.tag] = child
    return found


def _text(found: dict[str, Element], tag: str) -> str | None:
    el = found.get(tag)
    return None if el is None else (el.text or "").strip()


def _code(found: dict[str, Element], tag: str) -> int | None:
    raw = _text(found, tag)
    if raw is None:
        return None
    if not raw.isascii() or not raw.isdigit() or len(raw) > 3:
        raise _malformed(f"{tag} must be a number")
    return int(raw)


def config_from_xml(body: bytes) -> WebsiteConfig:
    root = xml.parse(body)
    if root.tag != "WebsiteConfiguration":
        raise _malformed()
    top = _only(root, ("IndexDocument", "ErrorDocument", "RedirectAllRequestsTo",
                       "RoutingRules"))
    index = error = None
    if "IndexDocument" in top:
        index = _text(_only(top["IndexDocument"], ("Suffix",)), "Suffix")
        if index is None:
            raise _malformed("IndexDocument needs a Suffix")
    if "ErrorDocument" in top:
        error = _text(_only(top["ErrorDocument"], ("Key",)), "Key")
        if error is None:
            raise _malformed("ErrorDocument needs a Key")
    redirect_all = None
    if "RedirectAllRequestsTo" in top:
        found = _only(top["RedirectAllRequestsTo"], ("HostName", "Protocol"))
        host = _text(found, "HostName")
        if host is None:
            raise _malformed("RedirectAllRequestsTo needs a HostName")
        redirect_all = RedirectAll(host, _text(found, "Protocol"))
    rules: list[RoutingRule] = []
    if "RoutingRules" in top:
        for el in top["RoutingRules"]:
            if el.tag != "RoutingRule":
                raise _malformed(f"unexpected element {el.tag} in RoutingRules")
            parts = _only(el, ("Condition", "Redirect"))
            if "Redirect" not in parts:
                raise _malformed("a RoutingRule needs a Redirect")
            r = _only(parts["Redirect"], ("HostName", "HttpRedirectCode", "Protocol",
                                          "ReplaceKeyPrefixWith", "ReplaceKeyWith"))
            redirect = Redirect(_text(r, "HostName"), _code(r, "HttpRedirectCode"),
                                _text(r, "Protocol"), _raw(r, "ReplaceKeyPrefixWith"),
                                _raw(r, "ReplaceKeyWith"))
            condition = None
            if "Condition" in parts:
                c = _only(parts["Condition"], ("KeyPrefixEquals",
                                               "HttpErrorCodeReturnedEquals"))
                condition = Condition(_raw(c, "KeyPrefixEquals"),
                                      _code(c, "HttpErrorCodeReturnedEquals"))
            rules.append(RoutingRule(redirect, condition))
        if not rules:
            raise _malformed("RoutingRules needs a RoutingRule")
    try:
        return WebsiteConfig(index, error, redirect_all, tuple(rules))
    except WebsiteConfigError as exc:
        extra = {"ArgumentName": exc.argument, "ArgumentValue": ""} if exc.argument else None
        raise S3Error(exc.code, exc.message, 400, extra) from None


def _raw(found: dict[str, Element], tag: str) -> str | None:
    """Key text kept as sent (a prefix may end or start with spaces)."""
    el = found.get(tag)
    return None if el is None else (el.text or "")


def config_xml(config: WebsiteConfig) -> bytes:
    parts: list[str] = []
    if config.redirect_all is not None:
        parts.append(xml.node("RedirectAllRequestsTo", HostName=config.redirect_all.host,
                              Protocol=config.redirect_all.protocol))
    if config.index is not None:
        parts.append(xml.node("IndexDocument", Suffix=config.index))
    if config.error is not None:
        parts.append(xml.node("ErrorDocument", Key=config.error))
    if config.rules:
        items = []
        for rule in config.rules:
            c, r = rule.condition, rule.redirect
            cond = "" if c is None else xml.node(
                "Condition", KeyPrefixEquals=c.key_prefix,
                HttpErrorCodeReturnedEquals=c.error_code)
            items.append(xml.node("RoutingRule", cond, xml.node(
                "Redirect", Protocol=r.protocol, HostName=r.host,
                ReplaceKeyPrefixWith=r.replace_prefix, ReplaceKeyWith=r.replace_key,
                HttpRedirectCode=r.code)))
        parts.append(xml.node("RoutingRules", *items))
    return xml.document("WebsiteConfiguration", *parts)


async def put_bucket_website(ctx: S3Context) -> S3Response:
    config = config_from_xml(await read_small_body(ctx, 128 * 1024))
    await ctx.services.configs.put_async(ctx.require_store().id, "website", config.to_json())
    return S3Response()


async def get_bucket_website(ctx: S3Context) -> S3Response:
    config = WebsiteConfig.from_json(
        await ctx.services.configs.get_async(ctx.require_store().id, "website"))
    if config is None:
        raise S3Error("NoSuchWebsiteConfiguration", "The specified bucket does not have a "
                      "website configuration", 404, {"BucketName": ctx.bucket or ""})
    return S3Response(body=config_xml(config), content_type=XML)


async def delete_bucket_website(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "website")
    return S3Response(204)

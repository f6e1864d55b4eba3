"""Put/Get/DeleteBucketCors, the OPTIONS preflight, and the ``Access-Control-*`` headers of
actual (and error) responses to browser requests."""

from __future__ import annotations

from ...domain.models import ObjectStore
from ...services.access.cors import MAX_RULES, METHODS, CorsRule, match, rules_from_json
from ...services.registry import Services
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error

VARY = "Origin, Access-Control-Request-Headers, Access-Control-Request-Method"
MAX_AGE_LIMIT = 2**31 - 1


def _malformed(detail: str = "") -> S3Error:
    return S3Error("MalformedXML", "The XML you provided was not well-formed or did not "
                   "validate against our published schema" + (f": {detail}" if detail else ""),
                   400)


def rules_from_xml(body: bytes) -> list[CorsRule]:
    root = xml.parse(body)
    if root.tag != "CORSConfiguration":
        raise _malformed()
    rules: list[CorsRule] = []
    for el in root:
        if el.tag != "CORSRule":
            raise _malformed()
        fields: dict[str, list[str]] = {}
        for child in el:
            if child.tag not in ("ID", "AllowedOrigin", "AllowedMethod", "AllowedHeader",
                                 "ExposeHeader", "MaxAgeSeconds"):
                raise _malformed(f"unknown element {child.tag}")
            fields.setdefault(child.tag, []).append((child.text or "").strip())
        origins, methods = fields.get("AllowedOrigin", []), fields.get("AllowedMethod", [])
        if not origins or not methods:
            raise _malformed("each CORSRule needs an AllowedOrigin and an AllowedMethod")
        for m in methods:
            if m not in METHODS:
                raise S3Error("InvalidRequest", "Found unsupported HTTP method in CORS config. "
                              f"Unsupported method is {m}", 400)
        for o in origins:
            if not o or o.count("*") > 1:
                raise S3Error("InvalidRequest", f'AllowedOrigin "{o}" can not have more than '
                              "one wildcard.", 400)
        for h in fields.get("AllowedHeader", []):
            if not h or h.count("*") > 1:
                raise S3Error("InvalidRequest", f'AllowedHeader "{h}" can not have more than '
                              "one wildcard.", 400)
        ages = fields.get("MaxAgeSeconds", [])
        if len(ages) > 1 or len(fields.get("ID", [])) > 1 or \
                (ages and (not ages[0].isascii() or not ages[0].isdigit()
                           or int(ages[0]) > MAX_AGE_LIMIT)):
            raise _malformed("invalid MaxAgeSeconds or ID")
        ident = fields.get("ID", [None])[0]
        if ident is not None and len(ident) > 255:
            raise _malformed("ID is too long")
        rules.append(CorsRule(tuple(origins), tuple(methods),
                              tuple(fields.get("AllowedHeader", [])),
                              tuple(fields.get("ExposeHeader", [])),
                              int(ages[0]) if ages else None, ident))
    if not rules or len(rules) > MAX_RULES:
        raise _malformed("1 to 100 CORSRule elements")
    return rules


def rules_xml(rules: list[CorsRule]) -> bytes:
    items = []
    for r in rules:
        parts = [xml.leaf("ID", r.id)]
        parts += [xml.leaf("AllowedOrigin", o) for o in r.origins]
        parts += [xml.leaf("AllowedMethod", m) for m in r.methods]
        parts += [xml.leaf("AllowedHeader", h) for h in r.headers]
        parts += [xml.leaf("ExposeHeader", h) for h in r.expose]
        parts.append(xml.leaf("MaxAgeSeconds", r.max_age))
        items.append(xml.node("CORSRule", *parts))
    return xml.document("CORSConfiguration", *items)


async def put_bucket_cors(ctx: S3Context) -> S3Response:
    rules = rules_from_xml(await read_small_body(ctx, 64 * 1024))
    await ctx.services.configs.put_async(ctx.require_store().id, "cors",
                                         [r.to_json() for r in rules])
    return S3Response()


async def get_bucket_cors(ctx: S3Context) -> S3Response:
    doc = await ctx.services.configs.get_async(ctx.require_store().id, "cors")
    if not isinstance(doc, list):
        raise S3Error("NoSuchCORSConfiguration", "The CORS configuration does not exist", 404,
                      {"BucketName": ctx.bucket or ""})
    return S3Response(body=rules_xml(rules_from_json(doc)), content_type="application/xml")


async def delete_bucket_cors(ctx: S3Context) -> S3Response:
    await ctx.services.configs.delete_async(ctx.require_store().id, "cors")
    return S3Response(204)


# -- browser requests ---------------------------------------------------------------------------

async def store_rules(services: Services, store: ObjectStore) -> list[CorsRule] | None:
    doc = await services.configs.get_async(store.id, "cors")
    return rules_from_json(doc) if isinstance(doc, list) else None


def _allow(rule: CorsRule, origin: str) -> list[tuple[str, str]]:
    headers = [("Access-Control-Allow-Origin", "*" if rule.any_origin else origin),
               ("Access-Control-Allow-Methods", ", ".join(rule.methods))]
    if not rule.any_origin:
        headers.append(("Access-Control-Allow-Credentials", "true"))
    if rule.expose:
        headers.append(("Access-Control-Expose-Headers", ", ".join(rule.expose)))
    if rule.max_age is not None:
        headers.append(("Access-Control-Max-Age", str(rule.max_age)))
    return headers


def response_headers(rules: list[CorsRule] | None, origin: str | None, method: str
                     ) -> list[tuple[str, str]]:
    """Headers for an actual response (success or error) to a request from ``origin``."""
    if rules is None:
        return []
    out = [("Vary", VARY)]
    if origin:
        rule = match(rules, origin, method)
        if rule is not None:
            out += _allow(rule, origin)
    return out


def preflight(rules: list[CorsRule] | None, headers: dict[str, str]) -> S3Response:
    origin = headers.get("origin")
    method = headers.get("access-control-request-method")
    if not origin or not method:
        raise S3Error("BadRequest", "Insufficient information. Origin request header needed."
                      if not origin else "Invalid Access-Control-Request-Method", 400)
    if rules is None:
        raise S3Error("AccessForbidden", "CORSResponse: CORS is not enabled for this bucket.",
                      403, {"Method": method, "ResourceType": "BUCKET"})
    requested = [h.strip().lower() for h in
                 headers.get("access-control-request-headers", "").split(",") if h.strip()]
    rule = match(rules, origin, method.strip(), requested)
    if rule is None:
        raise S3Error("AccessForbidden", "CORSResponse: This CORS request is not allowed. This "
                      "is usually because the evalution of Origin, request method / "
                      "Access-Control-Request-Method or Access-Control-Request-Headers are not "
                      "whitelisted by the resource's CORS spec.", 403,
                      {"Method": method, "ResourceType": "OBJECT"})
    out = [("Vary", VARY), *_allow(rule, origin)]
    if requested:
        out.append(("Access-Control-Allow-Headers", ", ".join(requested)))
    return S3Response(200, out)

"""ACLs in full: canned ACLs, ``x-amz-grant-*`` headers, AccessControlPolicy XML, and
Get/PutBucketAcl, Get/PutObjectAcl (a Get returns exactly what was set).

A canned ACL (or grants that are exactly one) is kept as its name in the ``acl`` column; any
other grant list is kept whole: the store's in ``bucket_configs`` ("acl-grants"), an
object's in its version's ``grants``.
"""

from __future__ import annotations

import re
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - type only; parsing is defusedxml

from anyio.to_thread import run_sync

from ...domain.errors import DomainError
from ...domain.models import Credential, ObjectStore
from ...services.access import AclIntent, check_acls_enabled, check_public_acl
from ...services.access import acl as acls
from ...services.access.authorize import (
    BUCKET_OWNER_ENFORCED,
    OWNERSHIP_VALUES,
    BucketAccess,
    object_owner,
)
from ...services.access.principals import canonical_id
from .. import xml
from ..body import read_small_body
from ..context import S3Context, S3Response
from ..errors import S3Error
from .common import announced_version

XML = "application/xml"
XSI = "http://www.w3.org/2001/XMLSchema-instance"
GRANT_HEADERS = {"x-amz-grant-read": acls.READ, "x-amz-grant-write": acls.WRITE,
                 "x-amz-grant-read-acp": acls.READ_ACP, "x-amz-grant-write-acp": acls.WRITE_ACP,
                 "x-amz-grant-full-control": acls.FULL_CONTROL}
_GRANTEE = re.compile(r'\s*(id|uri|emailAddress)\s*=\s*"?([^",]*)"?\s*(?:,|$)')


def malformed_acl(detail: str = "") -> S3Error:
    return S3Error("MalformedACLError", "The XML you provided was not well-formed or did not "
                   "validate against our published schema" + (f": {detail}" if detail else ""),
                   400)


def invalid_argument(message: str) -> S3Error:
    return S3Error("InvalidArgument", message, 400)


def canned_from_header(ctx: S3Context, default: str = "private") -> str:
    acl = ctx.headers.get("x-amz-acl")
    if acl is None:
        return default
    acl = acl.strip()
    if acl not in acls.CANNED:
        if acl in ("aws-exec-read", "log-delivery-write"):
            raise S3Error("NotImplemented", f"The canned ACL {acl} is not supported", 501)
        raise invalid_argument(f"Invalid canned ACL {acl}")
    return acl


def _grantee(kind: str, value: str, permission: str) -> acls.Grant:
    value = value.strip()
    if kind == "id":
        if not re.fullmatch(r"[0-9a-f]{64}", value):
            raise invalid_argument("Invalid id in grant")
        return acls.Grant(acls.CANONICAL, value, permission)
    if kind == "uri":
        if value not in acls.GROUPS:
            raise invalid_argument("Invalid group uri in grant")
        return acls.Grant(acls.GROUP, value, permission)
    if not value or len(value) > 255:
        raise invalid_argument("Invalid emailAddress in grant")
    return acls.Grant(acls.EMAIL, value, permission)


def grants_from_headers(ctx: S3Context) -> list[acls.Grant] | None:
    """The ``x-amz-grant-*`` headers as grants (None when the request has none), in the
    order the request sent them (GetBucketAcl / GetObjectAcl list them so)."""
    grants: list[acls.Grant] = []
    for header, raw in ctx.headers.items():
        permission = GRANT_HEADERS.get(header)
        if permission is None:
            continue
        pos = 0
        raw = raw.strip()
        while pos < len(raw):
            m = _GRANTEE.match(raw, pos)
            if m is None or m.end() == pos:
                raise invalid_argument(f"Invalid {header} header")
            grants.append(_grantee(m.group(1), m.group(2), permission))
            pos = m.end()
    if not grants:
        return None
    if "x-amz-acl" in ctx.headers:
        raise invalid_argument("Specifying both Canned ACLs and Header Grants is not allowed")
    if len(grants) > acls.MAX_GRANTS:
        raise malformed_acl("too many grants")
    return grants


def acl_from_headers(ctx: S3Context) -> AclIntent | None:
    """The ACL a write's headers set (``x-amz-acl`` or ``x-amz-grant-*``, emails not yet
    resolved); None when it sends neither."""
    if "x-amz-acl" not in ctx.headers and not any(h in ctx.headers for h in GRANT_HEADERS):
        return None
    grants = grants_from_headers(ctx)
    return AclIntent("private" if grants is not None else canned_from_header(ctx), grants)


def parse_acl_xml(body: bytes) -> tuple[str | None, list[acls.Grant]]:
    """(owner id, grants) of an AccessControlPolicy document."""
    root = xml.parse(body)
    if root.tag != "AccessControlPolicy":
        raise malformed_acl()
    owner = root.findtext("Owner/ID")
    acl_list = root.find("AccessControlList")
    if acl_list is None:
        raise malformed_acl("AccessControlList is missing")
    grants: list[acls.Grant] = []
    for g in acl_list:
        if g.tag != "Grant":
            raise malformed_acl()
        grants.append(_grant_from_xml(g))
    if len(grants) > acls.MAX_GRANTS:
        raise malformed_acl("too many grants")
    return (owner.strip() if owner else None), grants


def _grant_from_xml(g: Element) -> acls.Grant:
    permission = (g.findtext("Permission") or "").strip()
    if permission not in acls.PERMISSIONS:
        raise malformed_acl("invalid Permission")
    grantee = g.find("Grantee")
    if grantee is None:
        raise malformed_acl("Grantee is missing")
    kind = grantee.get(f"{{{XSI}}}type") or grantee.get("type") or ""
    for k, v in grantee.attrib.items():  # an xsi prefix bound to another URI
        if k.endswith("}type"):
            kind = kind or v
    ident, uri, email = (grantee.findtext(t) for t in ("ID", "URI", "EmailAddress"))
    display = (grantee.findtext("DisplayName") or "").strip()
    if kind == acls.CANONICAL or (not kind and ident):
        grant = _grantee("id", ident or "", permission)
        return acls.Grant(grant.kind, grant.value, permission, display=display[:128])
    if kind == acls.GROUP or (not kind and uri):
        return _grantee("uri", uri or "", permission)
    if kind == acls.EMAIL or (not kind and email):
        return _grantee("emailAddress", email or "", permission)
    raise malformed_acl("invalid Grantee type")


async def resolve_emails(ctx: S3Context, grants: list[acls.Grant]) -> list[acls.Grant]:
    """Email grantees name accounts (by name here): resolve each to its account id."""
    out = []
    for g in grants:
        if g.kind == acls.EMAIL:
            try:
                account = await run_sync(ctx.services.accounts.get_by_name, g.value)
            except DomainError:
                raise S3Error("UnresolvableGrantByEmailAddress", "The email address you "
                              "provided does not match any account on record.", 400) from None
            g = acls.Grant(g.kind, g.value, g.permission, account.id)
        out.append(g)
    return out


def stored_form(grants: list[acls.Grant], owner_credential_id: str
                ) -> tuple[str, list[acls.Grant] | None]:
    """(acl column, explicit grants or None) for a grant list."""
    canned = acls.canned_equivalent(grants, owner_credential_id)
    if canned is not None:
        return canned, None
    public = any(g.kind == acls.GROUP and g.value == acls.ALL_USERS
                 and g.permission in (acls.READ, acls.FULL_CONTROL) for g in grants)
    return ("public-read" if public else "private"), grants


async def requested_acl(ctx: S3Context, store: ObjectStore, bucket: BucketAccess,
                        owner_id: str | None = None) -> tuple[str, list[acls.Grant] | None]:
    """The ACL a Put*Acl request sets (XML body, else grant headers, else canned header),
    checked against ownership controls and the public access block; ``owner_id``: the
    credential owning the object (None: the store's owner), which the ACL cannot change."""
    owner_id = owner_id or store.credential_id
    body = await read_small_body(ctx, 64 * 1024)
    if body.strip():
        if "x-amz-acl" in ctx.headers or any(h in ctx.headers for h in GRANT_HEADERS):
            raise S3Error("UnexpectedContent", "This request does not support content when "
                          "ACL headers are present", 400)
        owner, grants = parse_acl_xml(body)
        if owner is not None and owner != canonical_id(owner_id):
            raise S3Error("AccessDenied", "Access Denied: the Owner of an ACL cannot be "
                          "changed", 403)
        grants = await resolve_emails(ctx, grants)
        acl, explicit = stored_form(grants, owner_id)
        sent: list[acls.Grant] | None = grants
    else:
        header_grants = grants_from_headers(ctx)
        if header_grants is not None:
            header_grants = await resolve_emails(ctx, header_grants)
            acl, explicit = "private", header_grants
        else:
            acl, explicit = canned_from_header(ctx), None
        sent = explicit
    check_acls_enabled(bucket, AclIntent(acl, sent), owner_id)
    check_public_acl(bucket, AclIntent(acl, explicit))
    return acl, explicit


def _grantee_xml(g: acls.Grant) -> str:
    if g.kind == acls.GROUP:
        inner = f"<URI>{xml.text(g.value)}</URI>"
    elif g.kind == acls.EMAIL:
        inner = f"<EmailAddress>{xml.text(g.value)}</EmailAddress>"
    else:
        inner = f"<ID>{xml.text(g.value)}</ID>" + (
            f"<DisplayName>{xml.text(g.display)}</DisplayName>" if g.display else "")
    return f'<Grantee xmlns:xsi="{XSI}" xsi:type="{g.kind}">{inner}</Grantee>'


def acl_xml(owner_credential_id: str, owner_name: str, grants: list[acls.Grant]) -> bytes:
    owner_cid = canonical_id(owner_credential_id)
    items = []
    for g in grants:
        if g.kind == acls.CANONICAL and g.value == owner_cid and not g.display:
            g = acls.Grant(g.kind, g.value, g.permission, display=owner_name)
        items.append(xml.node("Grant", _grantee_xml(g), Permission=g.permission))
    return xml.document("AccessControlPolicy",
                        xml.node("Owner", ID=owner_cid, DisplayName=owner_name),
                        xml.node("AccessControlList", *items))


async def owner_name(ctx: S3Context, store: ObjectStore, owner_id: str | None = None) -> str:
    """The name of the store's owner (or of the credential ``owner_id``)."""
    owner_id = owner_id or store.credential_id
    cred = ctx.credential
    if cred is not None and cred.id == owner_id:
        return cred.name
    return (await run_sync(ctx.services.credentials.names, [owner_id])).get(owner_id, "")


async def bucket_documents(ctx: S3Context, store: ObjectStore) -> BucketAccess:
    from ...services.access import load_bucket_access

    return await load_bucket_access(ctx.services.configs, store)


# -- handlers -----------------------------------------------------------------------------------

async def get_bucket_acl(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    bucket = await bucket_documents(ctx, store)
    if bucket.acls_disabled:
        grants = acls.canned_grants("private", store.credential_id)
    else:
        grants = acls.effective(store.acl, bucket.grants, store.credential_id)
    return S3Response(body=acl_xml(store.credential_id, await owner_name(ctx, store), grants),
                      content_type=XML)


async def put_bucket_acl(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    bucket = await bucket_documents(ctx, store)
    acl, grants = await requested_acl(ctx, store, bucket)
    await ctx.services.stores.set_acl_async(
        store.id, acl, [g.to_json() for g in grants] if grants is not None else None)
    return S3Response()


async def get_object_acl(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    meta = ctx.version or await ctx.services.objects.head(store, ctx.require_key(),
                                                          ctx.version_id)
    bucket = await bucket_documents(ctx, store)
    owner = object_owner(store, bucket, meta)
    if bucket.acls_disabled:
        grants = acls.canned_grants("private", owner)
    else:
        grants = acls.effective(meta.acl, meta.grants, owner, store.credential_id)
    return S3Response(headers=announced_version(ctx, meta.version_id),
                      body=acl_xml(owner, await owner_name(ctx, store, owner), grants),
                      content_type=XML)


async def put_object_acl(ctx: S3Context) -> S3Response:
    store = ctx.require_store()
    bucket = await bucket_documents(ctx, store)
    # the object as authorization read it (with ACLs enabled it always does)
    owner = object_owner(store, bucket, ctx.version) if ctx.version else None
    acl, grants = await requested_acl(ctx, store, bucket, owner)
    version = await ctx.services.objects.update(
        store, ctx.require_key(), ctx.version_id, acl=acl,
        grants=[g.to_json() for g in grants] if grants is not None else None)
    return S3Response(headers=announced_version(ctx, version.version_id))


async def header_grants(ctx: S3Context) -> list[dict[str, str]] | None:
    """The ``x-amz-grant-*`` grants of a PutObject / CopyObject, resolved (an unknown email
    refuses the request) before the write, which commits them with the new version's row."""
    grants = grants_from_headers(ctx)
    if grants is None:
        return None
    return [g.to_json() for g in await resolve_emails(ctx, grants)]


async def bucket_acl_on_create(ctx: S3Context, cred: Credential
                               ) -> tuple[str, list[acls.Grant] | None, str | None]:
    """CreateBucket's canned ACL or grant headers, and ``x-amz-object-ownership``."""
    ownership = ctx.headers.get("x-amz-object-ownership")
    if ownership is not None and ownership.strip() not in OWNERSHIP_VALUES:
        raise invalid_argument("Invalid x-amz-object-ownership header")
    grants = grants_from_headers(ctx)
    acl = "private" if grants is not None else canned_from_header(ctx)
    if grants is not None:
        grants = await resolve_emails(ctx, grants)
        grants = [acls.Grant(acls.CANONICAL, canonical_id(cred.id), acls.FULL_CONTROL),
                  *grants]
        acl, grants = stored_form(grants, cred.id)
    own = ownership.strip() if ownership else None
    if own == BUCKET_OWNER_ENFORCED and (grants is not None or acl != "private"):
        raise S3Error("InvalidBucketAclWithObjectOwnership", "Bucket cannot have ACLs set "
                      "with ObjectOwnership's BucketOwnerEnforced setting", 400)
    return acl, grants, own


async def reset_bucket_acl(ctx: S3Context, store: ObjectStore, acl: str,
                           grants: list[acls.Grant] | None) -> None:
    """The owner's CreateBucket of its own bucket in us-east-1: the bucket's ACL becomes
    the request's (AWS's legacy answer there), within its ownership controls."""
    bucket = await bucket_documents(ctx, store)
    check_acls_enabled(bucket, AclIntent(acl, grants), store.credential_id)
    await ctx.services.stores.set_acl_async(
        store.id, acl, [g.to_json() for g in grants] if grants is not None else None)


def bucket_documents_on_create(grants: list[acls.Grant] | None, ownership: str | None
                               ) -> dict[str, Any]:
    """The configuration documents CreateBucket's ACL headers give the new store (written
    with it, in one transaction)."""
    docs: dict[str, Any] = {}
    if grants is not None:
        docs["acl-grants"] = [g.to_json() for g in grants]
    if ownership is not None:
        docs["ownership"] = {"ObjectOwnership": ownership}
    return docs

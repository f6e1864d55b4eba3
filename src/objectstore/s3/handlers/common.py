"""Small pieces the S3 handlers share: owners, dates, canned ACLs, metadata headers."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from email.utils import format_datetime, parsedate_to_datetime

from ...domain.models import Credential
from .. import xml
from ..context import S3Context
from ..errors import S3Error

CANNED_ACLS = {"private", "public-read"}
ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
CONTENT_HEADERS = ("content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires")
MAX_USER_META = 2048


def owner_id(cred: Credential) -> str:
    return hashlib.sha256(f"objectstore-owner:{cred.id}".encode()).hexdigest()


def owner_xml(cred: Credential, tag: str = "Owner") -> str:
    return xml.node(tag, ID=owner_id(cred), DisplayName=cred.name)


def iso8601(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def http_date(dt: datetime) -> str:
    return format_datetime(dt.astimezone(UTC).replace(microsecond=0), usegmt=True)


def parse_http_date(value: str | None) -> datetime | None:
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def canned_acl(ctx: S3Context, default: str = "private") -> str:
    acl = ctx.headers.get("x-amz-acl")
    if acl is None:
        grant = ctx.headers.get("x-amz-grant-read", "")
        if ALL_USERS in grant:
            return "public-read"
        return default
    acl = acl.strip()
    if acl not in CANNED_ACLS:
        if acl in {"public-read-write", "authenticated-read", "bucket-owner-read",
                   "bucket-owner-full-control", "aws-exec-read", "log-delivery-write"}:
            raise S3Error("NotImplemented", f"The canned ACL {acl} is not supported; use "
                          "private or public-read", 501)
        raise S3Error("InvalidArgument", f"Invalid canned ACL {acl}", 400)
    return acl


def acl_from_xml(body: bytes) -> str:
    root = xml.parse(body)
    if root.tag != "AccessControlPolicy":
        raise S3Error("MalformedACLError", "The XML you provided was not well-formed or did "
                      "not validate against our published schema", 400)
    public = False
    for grant in root.iter("Grant"):
        uri = grant.findtext("Grantee/URI") or ""
        perm = grant.findtext("Permission") or ""
        if uri == ALL_USERS and perm == "READ":
            public = True
        elif uri == ALL_USERS:
            raise S3Error("NotImplemented", "Only READ may be granted to AllUsers", 501)
    return "public-read" if public else "private"


def acl_document(owner: Credential, acl: str) -> bytes:
    grants = [xml.node(
        "Grant",
        f'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        f'xsi:type="CanonicalUser"><ID>{owner_id(owner)}</ID>'
        f"<DisplayName>{xml._text(owner.name)}</DisplayName></Grantee>",
        Permission="FULL_CONTROL",
    )]
    if acl == "public-read":
        grants.append(xml.node(
            "Grant",
            '<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" xsi:type="Group">'
            f"<URI>{ALL_USERS}</URI></Grantee>",
            Permission="READ",
        ))
    return xml.document("AccessControlPolicy", owner_xml(owner),
                        xml.node("AccessControlList", *grants))


def user_metadata(ctx: S3Context) -> dict[str, str]:
    meta = {k[len("x-amz-meta-"):]: v for k, v in ctx.headers.items()
            if k.startswith("x-amz-meta-")}
    size = sum(len(k) + len(v) for k, v in meta.items())
    if size > MAX_USER_META:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed "
                      "metadata size.", 400)
    return meta


def content_headers(ctx: S3Context) -> dict[str, str]:
    headers = {h: ctx.headers[h] for h in CONTENT_HEADERS if h in ctx.headers}
    if "content-encoding" in headers:
        # "aws-chunked" describes this request's framing, not the object: never store it.
        codings = [c.strip() for c in headers["content-encoding"].split(",")]
        kept = ",".join(c for c in codings if c and c.lower() != "aws-chunked")
        if kept:
            headers["content-encoding"] = kept
        else:
            del headers["content-encoding"]
    return headers


def quote_etag(etag: str) -> str:
    return f'"{etag}"'


def version_header(version_id: str | None) -> list[tuple[str, str]]:
    """``x-amz-version-id`` when the store has (or had) versioning; the null version of a
    never-versioned store is not announced, as on S3."""
    return [("x-amz-version-id", version_id)] if version_id else []


def announced_version(ctx: S3Context, version_id: str) -> list[tuple[str, str]]:
    store = ctx.require_store()
    if store.versioning is None and version_id == "null":
        return []
    return version_header(version_id)

"""Small pieces the S3 handlers share: owners, dates, canned ACLs, metadata headers."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import UTC, datetime

from anyio.to_thread import run_sync

from ...domain.models import Credential, ObjectStore
from ...domain.storage_classes import STORAGE_CLASSES, stored
from ...domain.website import is_redirect_location
from ...services.access.acl import ALL_USERS, CANNED, canned_grants
from ...services.access.principals import canonical_id
from .. import xml
from ..context import S3Context
from ..errors import S3Error

# an object's website redirect (stored with its content headers; website/ honours it)
WEBSITE_REDIRECT = "x-amz-website-redirect-location"
CANNED_ACLS = frozenset(CANNED)
CONTENT_HEADERS = ("content-encoding", "content-disposition", "content-language",
                   "cache-control", "expires", WEBSITE_REDIRECT)
MAX_USER_META = 2048


def owner_id(cred: Credential) -> str:
    return canonical_id(cred.id)


def owner_xml(cred: Credential, tag: str = "Owner") -> str:
    return xml.node(tag, ID=owner_id(cred), DisplayName=cred.name)


async def owner_names(ctx: S3Context, store: ObjectStore, ids: Iterable[str | None]
                      ) -> dict[str, str]:
    """The names of the credentials owning objects or uploads (None: the store's owner),
    by credential id: read once per request (the caller's own name needs no read)."""
    wanted = {i or store.credential_id for i in ids}
    names: dict[str, str] = {}
    cred = ctx.credential
    if cred is not None and cred.id in wanted:
        names[cred.id] = cred.name
    rest = sorted(wanted - names.keys())
    if rest:
        names.update(await run_sync(ctx.services.credentials.names, rest))
    return names


def owner_node(cred_id: str, names: Mapping[str, str], tag: str = "Owner") -> str:
    """``<Owner>`` (or ``tag``) of the credential ``cred_id``: its canonical ID and name."""
    return xml.node(tag, ID=canonical_id(cred_id), DisplayName=names.get(cred_id))


def iso8601(dt: datetime) -> str:
    return dt.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + f"{dt.microsecond // 1000:03d}Z"


def canned_acl(ctx: S3Context, default: str = "private") -> str:
    """The canned ACL a write asks for (``x-amz-acl``); explicit ``x-amz-grant-*`` headers
    are resolved by ``handlers/acl.header_grants`` and written with the object."""
    from .acl import canned_from_header

    return canned_from_header(ctx, default)


def acl_from_xml(body: bytes) -> str:
    """The canned ACL closest to an AccessControlPolicy document (``public-read`` when it
    grants AllUsers READ); the full grant list is read by ``handlers/acl.parse_acl_xml``."""
    from .acl import parse_acl_xml

    _, grants = parse_acl_xml(body)
    public = any(g.value == ALL_USERS and g.permission in ("READ", "FULL_CONTROL")
                 for g in grants)
    return "public-read" if public else "private"


def acl_document(owner: Credential, acl: str) -> bytes:
    from .acl import acl_xml

    return acl_xml(owner.id, owner.name, canned_grants(acl, owner.id))


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
    redirect = headers.get(WEBSITE_REDIRECT)
    if redirect is not None and (not is_redirect_location(redirect) or len(redirect) > 2048):
        raise S3Error("InvalidArgument", "The website redirect location must have a prefix of "
                      "'http://' or 'https://' or '/'.", 400,
                      {"ArgumentName": WEBSITE_REDIRECT, "ArgumentValue": redirect[:256]})
    if "content-encoding" in headers:
        # "aws-chunked" describes this request's framing, not the object: never store it;
        # else the header is the object's, kept verbatim (AWS returns it as sent).
        codings = headers["content-encoding"].split(",")
        if any(c.strip().lower() == "aws-chunked" for c in codings):
            kept = ",".join(c for c in codings
                            if c.strip() and c.strip().lower() != "aws-chunked").strip()
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


def storage_class(value: str | None) -> str | None:
    """The class an ``x-amz-storage-class`` header (or POST field) asks for, as a version
    records it (None: STANDARD, also when absent); 400 InvalidStorageClass for a name AWS
    does not define."""
    if value is None:
        return None
    if value not in STORAGE_CLASSES:
        raise S3Error("InvalidStorageClass", "The storage class you specified is not valid",
                      400)
    return stored(value)


def storage_class_header(value: str | None) -> list[tuple[str, str]]:
    """``x-amz-storage-class`` of a version, sent only for classes other than STANDARD
    (as AWS does)."""
    return [("x-amz-storage-class", value)] if value is not None else []

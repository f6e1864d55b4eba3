"""The object browser's read side: folders by delimiter, breadcrumbs, paging, the versions
of a folder's keys, details (of the latest version or of one named).

Reads go through ``object_reads`` (the object services, read-only); everything that changes
objects is in ``objects_transfer`` (over S3).
"""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from ..domain.errors import InvalidInput
from ..domain.models import StoreWithOwner
from .endpoint import Ctx
from .object_reads import DELIMITER, ListingPage, VersionPage, head, list_page, list_versions

PAGE_SIZE = 100


@dataclass(frozen=True)
class Crumb:
    label: str
    prefix: str


def breadcrumbs(prefix: str) -> list[Crumb]:
    crumbs: list[Crumb] = []
    at = 0
    while True:
        idx = prefix.find(DELIMITER, at)
        if idx < 0:
            return crumbs
        crumbs.append(Crumb(prefix[at:idx] or "(empty)", prefix[: idx + 1]))
        at = idx + 1


def check_key(key: str) -> str:
    if not key:
        raise InvalidInput("an object key is required", "key")
    if "\x00" in key:
        raise InvalidInput("object keys cannot contain NUL characters", "key")
    if len(key.encode("utf-8", "surrogatepass")) > 1024:
        raise InvalidInput("object keys are at most 1024 bytes of UTF-8", "key")
    return key


def store_of(ctx: Ctx) -> StoreWithOwner:
    return ctx.services.stores.get(ctx.account.id, ctx.request.path_params["id"], None)


def list_objects(ctx: Ctx, store_id: str, prefix: str, after: str | None,
                 limit: int) -> ListingPage:
    return list_page(ctx.services, store_id, prefix, after, limit)


def browse(ctx: Ctx) -> Response:
    sw = store_of(ctx)
    q = ctx.request.query_params
    prefix = q.get("prefix", "")
    filt = q.get("filter", "")
    after = q.get("after") or None
    raw_limit = q.get("limit", str(PAGE_SIZE))
    limit = int(raw_limit) if raw_limit.isdigit() and 0 < int(raw_limit) <= 1000 else PAGE_SIZE
    show_versions = q.get("versions") == "1"
    versions: VersionPage | None = None
    key_marker = version_marker = ""
    if show_versions:
        key_marker, version_marker = q.get("key_marker", ""), q.get("version_marker", "")
        versions = list_versions(ctx.services, sw.store.id, prefix + filt, key_marker,
                                 version_marker, limit)
        listing = ListingPage([], [], False, None)
    else:
        listing = list_objects(ctx, sw.store.id, prefix + filt, after, limit)
    return ctx.render("objects.html", s=sw, prefix=prefix, filter=filt, after=after,
                      limit=limit, listing=listing, crumbs=breadcrumbs(prefix),
                      parent_len=len(prefix), show_versions=show_versions,
                      versions=versions, paged=bool(after or key_marker))


def details(ctx: Ctx, share_url: str | None = None, expires: int | None = None) -> Response:
    sw = store_of(ctx)
    key = check_key(ctx.request.query_params.get("key", "") or ctx.form.get("key"))
    version_id = ctx.request.query_params.get("version_id") or None
    meta = head(ctx.services, sw.store.id, key, version_id)
    folder = key[: key.rfind(DELIMITER) + 1] if DELIMITER in key else ""
    public_url = f"{ctx.services.endpoint_for(sw.store.name)}/{_quote(key)}" \
        if meta.acl == "public-read" else None
    return ctx.render("object.html", s=sw, key=key, meta=meta, folder=folder,
                      share_url=share_url, expires=expires, public_url=public_url,
                      version_id=version_id, versioned=sw.store.versioning is not None)


def _quote(key: str) -> str:
    from urllib.parse import quote

    return quote(key, safe="-_.~/")

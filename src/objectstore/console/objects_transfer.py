"""The object browser's write side and downloads, as S3 calls with the owner's keys:
upload (single PUT or multipart, streamed through), download (of the latest version or of
one named), delete (a key, or one version by id), new folder, ACL, share links."""

from __future__ import annotations

from collections.abc import AsyncIterator
from urllib.parse import quote

from starlette.concurrency import run_in_threadpool
from starlette.requests import Request
from starlette.responses import JSONResponse, Response, StreamingResponse

from ..domain.errors import InvalidInput
from ..domain.models import StoreWithOwner
from ..domain.parsing import load_json
from .endpoint import Ctx
from .objects_page import check_key, details, store_of
from .s3_calls import S3Calls
from .templating import url

SHARE_EXPIRIES = {3600: "1 hour", 86400: "1 day", 604800: "7 days"}
MAX_PART_BYTES = 64 * 1024 * 1024


async def _store(ctx: Ctx) -> StoreWithOwner:
    return await run_in_threadpool(store_of, ctx)


def _calls(ctx: Ctx, sw: StoreWithOwner) -> S3Calls:
    return S3Calls(ctx.services.settings, sw.store.name, sw.store.region, sw.owner)


def _body(request: Request) -> AsyncIterator[bytes]:
    return request.stream()


def _length(request: Request, limit: int | None = None) -> int:
    raw = request.headers.get("content-length", "")
    if not raw.isdigit():
        raise InvalidInput("the upload needs a Content-Length")
    n = int(raw)
    if limit is not None and n > limit:
        raise InvalidInput(f"a part may be at most {limit} bytes")
    return n


def _query_key(ctx: Ctx) -> str:
    return check_key(ctx.request.query_params.get("key", ""))


async def upload(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    key = _query_key(ctx)
    ctype = ctx.request.headers.get("x-object-content-type") or "application/octet-stream"
    etag = await _calls(ctx, sw).put(key, _body(ctx.request), _length(ctx.request), ctype)
    return JSONResponse({"key": key, "etag": etag})


async def multipart_start(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    key = _query_key(ctx)
    ctype = ctx.request.headers.get("x-object-content-type") or "application/octet-stream"
    return JSONResponse({"upload_id": await _calls(ctx, sw).start_multipart(key, ctype)})


async def multipart_part(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    q = ctx.request.query_params
    number = q.get("number", "")
    if not number.isdigit() or not 1 <= int(number) <= 10000:
        raise InvalidInput("part number must be 1-10000")
    etag = await _calls(ctx, sw).upload_part(
        _query_key(ctx), q.get("upload_id", ""), int(number), _body(ctx.request),
        _length(ctx.request, MAX_PART_BYTES))
    return JSONResponse({"etag": etag})


async def multipart_complete(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    body = await ctx.request.body()
    try:
        raw = load_json(body)
        parts = [(int(n), str(e)) for n, e in raw["parts"]]
    except (ValueError, KeyError, TypeError) as exc:
        raise InvalidInput("the part list is malformed") from exc
    key = _query_key(ctx)
    await _calls(ctx, sw).complete_multipart(key, ctx.request.query_params.get("upload_id", ""),
                                             parts)
    return JSONResponse({"key": key})


async def multipart_abort(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    await _calls(ctx, sw).abort_multipart(_query_key(ctx),
                                          ctx.request.query_params.get("upload_id", ""))
    return JSONResponse({"aborted": True})


async def download(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    key = _query_key(ctx)
    dl = await _calls(ctx, sw).open(key, _version_id(ctx.request.query_params.get("version_id")))
    name = key.rstrip("/").rsplit("/", 1)[-1] or "download"
    headers = {"Content-Disposition": f"attachment; filename*=UTF-8''{quote(name, safe='')}"}
    if "content-length" in dl.response.headers:
        headers["Content-Length"] = dl.response.headers["content-length"]
    # always a download, never rendered on the console's origin
    return StreamingResponse(dl.chunks(), media_type="application/octet-stream",
                             headers=headers)


async def delete_objects(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    keys = [check_key(k) for k in ctx.form.getlist("key")]
    if not keys:
        raise InvalidInput("select at least one object to delete", "key")
    calls = _calls(ctx, sw)
    for key in keys:
        await calls.delete(key)
    what = f"{keys[0]!r}" if len(keys) == 1 else f"{len(keys)} objects"
    back = ctx.form.get("back") or url(f"/stores/{sw.store.id}/objects")
    return ctx.redirect(back if back.startswith("/console/") else url("/"),
                        ok=f"Deleted {what}.")


def _version_id(raw: str | None) -> str | None:
    if not raw:
        return None
    if len(raw) > 200 or not raw.isprintable():
        raise InvalidInput("that is not a version id", "version_id")
    return raw


async def delete_version(ctx: Ctx) -> Response:
    """Delete one version (or delete marker) of a key for good, by its version id."""
    sw = await _store(ctx)
    key = check_key(ctx.form.get("key"))
    version_id = _version_id(ctx.form.get("version_id"))
    if version_id is None:
        raise InvalidInput("choose the version to delete", "version_id")
    await _calls(ctx, sw).delete(key, version_id)
    what = "the delete marker" if ctx.form.get("marker") == "1" else f"version {version_id}"
    back = ctx.form.get("back") or url(f"/stores/{sw.store.id}/objects", versions=1)
    return ctx.redirect(back if back.startswith("/console/") else url("/"),
                        ok=f"Deleted {what} of {key!r}.")


async def new_folder(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    prefix = ctx.form.get("prefix")
    name = ctx.form.text("name", "Folder name", max_len=1000).strip("/")
    if not name:
        raise InvalidInput("Folder name is required", "name")
    key = check_key(prefix + name + "/")
    await _calls(ctx, sw).put(key, b"", 0, "application/x-directory")
    return ctx.redirect(url(f"/stores/{sw.store.id}/objects", prefix=key),
                        ok=f"Folder {name!r} created.")


async def set_acl(ctx: Ctx) -> Response:
    sw = await _store(ctx)
    key = check_key(ctx.form.get("key"))
    acl = ctx.form.get("acl")
    if acl not in ("private", "public-read"):
        raise InvalidInput("access must be private or public-read", "acl")
    await _calls(ctx, sw).set_acl(key, acl)
    word = "public: anyone with its URL can read it" if acl == "public-read" else "private"
    return ctx.redirect(url(f"/stores/{sw.store.id}/object", key=key),
                        ok=f"{key!r} is now {word}.")


def share(ctx: Ctx) -> Response:
    sw = store_of(ctx)
    key = check_key(ctx.form.get("key"))
    raw = ctx.form.get("expires")
    if not raw.isdigit() or int(raw) not in SHARE_EXPIRIES:
        raise InvalidInput("choose how long the link should work", "expires")
    link = _calls(ctx, sw).share_url(key, int(raw))
    return details(ctx, share_url=link, expires=int(raw))

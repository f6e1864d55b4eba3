"""POST object: the browser form upload. The pipeline has read the form's fields, checked
its signature and authorized the write (``s3/post.py``); this stores the file."""

from __future__ import annotations

from dataclasses import dataclass, replace
from urllib.parse import urlencode, urlsplit, urlunsplit

from ...services.engine.transfer import Payload
from ...services.engine.values import Attributes
from .. import xml
from ..context import S3Context, S3Response
from ..errors import S3Error
from ..post import FormPayload, PostForm
from . import sse
from .common import (
    CONTENT_HEADERS,
    MAX_USER_META,
    quote_etag,
    storage_class,
    version_header,
)
from .object_write import owner_for
from .tagging import tags_from_xml


@dataclass
class PostContext(S3Context):
    form: PostForm | None = None


def _attributes(form: PostForm, acl: str) -> Attributes:
    f = form.fields
    meta = {k[len("x-amz-meta-"):]: v for k, v in f.items() if k.startswith("x-amz-meta-")}
    if sum(len(k) + len(v) for k, v in meta.items()) > MAX_USER_META:
        raise S3Error("MetadataTooLarge", "Your metadata headers exceed the maximum allowed "
                      "metadata size.", 400)
    headers = {h: f[h] for h in CONTENT_HEADERS if h in f}
    tags = tags_from_xml(f["tagging"].encode()) if f.get("tagging") else {}
    return Attributes(content_type=f.get("content-type") or form.file_type
                      or "binary/octet-stream", headers=headers, user_meta=meta, acl=acl,
                      tags=tags, storage_class=storage_class(f.get("x-amz-storage-class")))


def _check_redirect(url: str) -> None:
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise S3Error("InvalidArgument", "success_action_redirect must be an http(s) URL", 400)


def _redirect(url: str, bucket: str, key: str, etag: str) -> str:
    parts = urlsplit(url)
    query = urlencode({"bucket": bucket, "key": key, "etag": quote_etag(etag)})
    return urlunsplit(parts._replace(query=f"{parts.query}&{query}" if parts.query else query))


async def post_object(ctx: S3Context) -> S3Response:
    assert isinstance(ctx, PostContext) and ctx.form is not None
    form = ctx.form
    store = ctx.require_store()
    key = ctx.require_key()
    acl = (form.fields.get("acl") or "private").strip()
    attrs = _attributes(form, acl)
    status_text = form.fields.get("success_action_status", "204")
    redirect = form.fields.get("success_action_redirect") or form.fields.get("redirect")
    status = int(status_text) if status_text in ("200", "201", "204") else 204
    if redirect:
        _check_redirect(redirect)  # refused before the write: a 4xx leaves no object
    owner = ctx.credential if ctx.credential and ctx.credential.id == store.credential_id \
        else None
    await ctx.services.objects.ensure_room(store, owner, form.upper_bound, key)
    # the form's encryption fields (SSE-S3, SSE-KMS, SSE-C) are read as PUT reads the
    # headers of those names; none: the bucket's default encryption
    fields_ctx = replace(ctx, headers={k: v for k, v in form.fields.items()
                                       if k.startswith(sse.SSE)})
    encryption = await sse.for_write(fields_ctx)
    payload: Payload = FormPayload(form)
    attrs = replace(attrs, owner=await owner_for(ctx, acl), encryption=encryption)
    version = await ctx.services.objects.put(store, key, attrs, payload, form.upper_bound,
                                             event="Post", exact=False)
    headers = [("ETag", quote_etag(version.etag))]
    headers += sse.response_headers(fields_ctx, version.sse)
    if store.versioning is not None:
        headers += version_header(version.version_id)
    location = f"{ctx.services.endpoint_for(store.name)}/{key}"
    if redirect:
        headers.append(("Location", _redirect(redirect, store.name, key, version.etag)))
        return S3Response(303, headers)
    headers.append(("Location", location))
    if status == 201:
        # no xmlns on this one, as AWS sends it
        body = xml.bare_document("PostResponse", Location=location, Bucket=store.name,
                                 Key=key, ETag=quote_etag(version.etag))
        return S3Response(201, headers, body, content_type="application/xml")
    return S3Response(status, headers)

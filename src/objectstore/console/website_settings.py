"""A store's static website on its page (docs/website.md): turned on with an index and an
error document, the address to open, turned off. The configuration is the same ``website``
document PutBucketWebsite writes (routing rules set over S3 are kept when the documents
change here)."""

from __future__ import annotations

from dataclasses import dataclass

from starlette.responses import Response

from ..config import Settings
from ..domain.errors import InvalidInput
from ..domain.models import ObjectStore
from ..domain.website import WebsiteConfig, WebsiteConfigError
from .endpoint import Ctx
from .templating import url


@dataclass(frozen=True)
class WebsiteView:
    enabled: bool
    index: str
    error: str
    redirect_all: str | None   # "https://host" when every request is redirected
    rules: int
    url: str | None             # what a browser opens (None: no website listener)


def site_url(settings: Settings, store: ObjectStore) -> str | None:
    if settings.web_port is None:
        return None
    scheme = "https" if settings.tls_cert else "http"
    host = f"{store.name}.{settings.web_domain}" if settings.web_domain else store.name
    port = "" if (scheme, settings.web_port) in (("http", 80), ("https", 443)) \
        else f":{settings.web_port}"
    return f"{scheme}://{host}{port}/"


def website_of(ctx: Ctx, store: ObjectStore) -> WebsiteView:
    config = WebsiteConfig.from_json(ctx.services.configs.get(store.id, "website"))
    link = site_url(ctx.services.settings, store)
    if config is None:
        return WebsiteView(False, "index.html", "", None, 0, link)
    target = config.redirect_all
    return WebsiteView(True, config.index or "index.html", config.error or "",
                       f"{target.protocol or 'http'}://{target.host}" if target else None,
                       len(config.rules), link)


def save_website(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    sw = ctx.services.stores.get(ctx.account.id, store_id, None)
    index = ctx.form.text("index", "Index document", max_len=1024)
    error = ctx.form.text("error", "Error document", required=False, max_len=1024) or None
    old = WebsiteConfig.from_json(ctx.services.configs.get(sw.store.id, "website"))
    try:
        config = WebsiteConfig(index=index, error=error,
                               rules=old.rules if old is not None else ())
    except WebsiteConfigError as exc:
        field = "error" if exc.argument == "ErrorDocument" else "index"
        if exc.argument == "IndexDocument" and "/" in index:
            raise InvalidInput("the index document is a file name such as index.html (no "
                               "“/”): it is looked up in every folder", "index") from None
        raise InvalidInput(exc.message, field) from None
    ctx.services.configs.put(sw.store.id, "website", config.to_json())
    word = "updated" if old is not None else "turned on"
    return ctx.redirect(url(f"/stores/{store_id}"),
                        ok=f"The website of {sw.store.name} is {word}.")


def delete_website(ctx: Ctx) -> Response:
    store_id = ctx.request.path_params["id"]
    sw = ctx.services.stores.get(ctx.account.id, store_id, None)
    if not ctx.services.configs.delete(sw.store.id, "website"):
        raise InvalidInput(f"{sw.store.name} has no website")
    return ctx.redirect(url(f"/stores/{store_id}"),
                        ok=f"The website of {sw.store.name} is turned off.")

"""Credentials: list, create, details with the secret and a connect panel, suspend/resume,
replace keys, size limit, delete."""

from __future__ import annotations

from starlette.responses import Response

from ..domain.names import generate_access_key, generate_secret
from ..services.credentials import CredentialUpdate
from .connect import snippets
from .endpoint import Ctx
from .stores_page import all_credentials
from .templating import url


def list_page(ctx: Ctx) -> Response:
    return ctx.render("credentials.html", credentials=all_credentials(ctx),
                      regions=ctx.state.object_regions(),
                      default_region=ctx.services.regions.default.code)


def _optional(ctx: Ctx, name: str, label: str) -> str | None:
    return ctx.form.text(name, label, required=False, max_len=128) or None


def create(ctx: Ctx) -> Response:
    f = ctx.form
    name = f.text("name", "Name")
    region = ctx.services.regions.for_object_stores(f.get("region") or None).code
    limit = f.integer("max_size_gb", "Size limit (GB)", required=False)
    cred = ctx.services.credentials.create(
        ctx.account.id, region, name, _optional(ctx, "access_key_id", "Access key"),
        _optional(ctx, "secret_access_key", "Secret key"), limit)
    return ctx.redirect(url(f"/credentials/{cred.id}"), ok=f"Credential {cred.name} created.")


def detail(ctx: Ctx) -> Response:
    cred = ctx.services.credentials.get(ctx.account.id, ctx.request.path_params["id"])
    endpoint = ctx.services.settings.resolved_public_s3_url()
    owned = ctx.services.stores.for_credential(cred)
    return ctx.render("credential.html", c=cred, endpoint=endpoint, stores=owned,
                      snippets=snippets(endpoint, cred.region, cred.access_key_id,
                                        cred.secret_access_key))


def _update(ctx: Ctx, change: CredentialUpdate, message: str) -> Response:
    cred_id = ctx.request.path_params["id"]
    cred = ctx.services.credentials.update(ctx.account.id, cred_id, None, change)
    ctx.services.stores.changed()  # the S3 plane's caches see it at once
    return ctx.redirect(url(f"/credentials/{cred_id}"), ok=message.format(name=cred.name))


def suspend(ctx: Ctx) -> Response:
    on = ctx.form.get("suspended") == "1"
    return _update(ctx, CredentialUpdate(suspended=on),
                   "Credential {name} " + ("suspended: S3 refuses its keys." if on
                                            else "resumed."))


def replace_keys(ctx: Ctx) -> Response:
    ak = _optional(ctx, "access_key_id", "Access key") or generate_access_key()
    sk = _optional(ctx, "secret_access_key", "Secret key") or generate_secret()
    return _update(ctx, CredentialUpdate(access_key_id=ak, secret_access_key=sk),
                   "Credential {name} has new keys; the old ones no longer work.")


def set_limit(ctx: Ctx) -> Response:
    limit = ctx.form.integer("max_size_gb", "Size limit (GB)", required=False, minimum=0)
    return _update(ctx, CredentialUpdate(max_size_gb=limit or 0),
                   "Size limit of {name} " + (f"set to {limit} GB." if limit else "removed."))


def delete(ctx: Ctx) -> Response:
    cred_id = ctx.request.path_params["id"]
    cred = ctx.services.credentials.get(ctx.account.id, cred_id)
    ctx.services.credentials.delete(ctx.account.id, cred_id, None)
    ctx.services.stores.changed()
    return ctx.redirect(url("/credentials"), ok=f"Credential {cred.name} deleted.")

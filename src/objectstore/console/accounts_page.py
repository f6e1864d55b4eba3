"""Operator pages (the default account only): accounts, their quotas, creation, deletion."""

from __future__ import annotations

from starlette.responses import Response

from ..domain.errors import AccountNotFound, InvalidInput
from ..domain.models import Account
from .endpoint import Ctx
from .templating import url


def _require_operator(ctx: Ctx) -> None:
    if not ctx.operator:
        raise AccountNotFound("only the operator (the default account) manages accounts")


def _account(ctx: Ctx) -> Account:
    _require_operator(ctx)
    found = ctx.state.account(ctx.request.path_params["id"])
    if found is None:
        raise AccountNotFound("the account does not exist")
    return found


def list_page(ctx: Ctx, new_key: str | None = None, new_name: str | None = None) -> Response:
    _require_operator(ctx)
    rows = [(a, *ctx.services.stores.allocation(a.id)) for a in ctx.services.accounts.list()]
    return ctx.render("accounts.html", rows=rows, new_key=new_key, new_name=new_name,
                      default_quota=ctx.services.settings.account_quota_gb)


def create(ctx: Ctx) -> Response:
    _require_operator(ctx)
    name = ctx.form.text("name", "Name")
    quota = ctx.form.integer("quota_gb", "Quota (GB)", required=False)
    account, key = ctx.services.accounts.create(name, quota_gb=quota)
    return list_page(ctx, new_key=key, new_name=account.name)


def set_quota(ctx: Ctx) -> Response:
    account = _account(ctx)
    quota = ctx.form.integer("quota_gb", "Quota (GB)")
    assert quota is not None
    allocated, _count = ctx.services.stores.allocation(account.id)
    if quota < allocated:
        raise InvalidInput(f"{account.name} already has {allocated} GB allocated to stores: "
                           "the quota cannot be lower", "quota_gb")
    ctx.services.accounts.set_quota(account.id, quota)
    return ctx.redirect(url("/accounts"), ok=f"Quota of {account.name} set to {quota} GB.")


def delete(ctx: Ctx) -> Response:
    account = _account(ctx)
    if account.id == ctx.account.id:
        raise InvalidInput("the operator account cannot delete itself")
    if ctx.form.get("confirm").strip() != account.name:
        raise InvalidInput(f"to delete the account, type its name ({account.name}) exactly",
                           "confirm")
    for code in ctx.state.object_regions():
        for sw in ctx.services.stores.list(account.id, code, 1, 100000).items:
            ctx.services.stores.delete(account.id, sw.store.id, None)
    ctx.services.objects.wake_gc()
    ctx.services.accounts.delete_empty(account.id)
    ctx.state.sessions.end_account(account.id)
    return ctx.redirect(url("/accounts"),
                        ok=f"Account {account.name} and all its stores deleted.")

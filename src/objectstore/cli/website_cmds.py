"""`objectstore website enable|show|disable STORE`: a store's static website (admin: works
directly on the data dir / database, like `rules`; docs/website.md). STORE is a store's name
or id."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click

from ..domain.models import ObjectStore
from ..domain.website import WebsiteConfig, WebsiteConfigError

Command = Callable[..., None]


def site_url(settings: Any, store: ObjectStore) -> str | None:
    """The address a browser opens for ``store``'s website (None: no website listener)."""
    if settings.web_port is None:
        return None
    host = f"{store.name}.{settings.web_domain}" if settings.web_domain else store.name
    return f"http://{host}:{settings.web_port}/"


def register(main: click.Group, common: Callable[[Command], Command],
             services: Callable[..., Any]) -> None:
    @main.group("website")
    def website() -> None:
        """A store's static website (index and error documents)."""

    def find(svc: Any, store: str) -> ObjectStore:
        by_id = svc.stores.by_id(store)
        found = [by_id] if by_id is not None else svc.stores.by_name(store)
        if not found:
            raise click.ClickException(f"no object store named (or with id) {store}")
        if len(found) > 1:
            regions = ", ".join(s.region for s in found)
            raise click.ClickException(f"several stores are named {store} ({regions}): "
                                       "give its id")
        return found[0]  # type: ignore[no-any-return]

    @website.command("enable")
    @common
    @click.argument("store")
    @click.option("--index", "index", default="index.html", show_default=True,
                  help="Index document suffix (served for / and dir/)")
    @click.option("--error", "error", default=None,
                  help="Error document key (served with 404/403)")
    def enable(store: str, index: str, error: str | None, **flags: Any) -> None:
        """Serve a store as a static website."""
        svc = services(flags)
        s = find(svc, store)
        try:
            config = WebsiteConfig(index=index, error=error or None)
        except WebsiteConfigError as exc:
            raise click.ClickException(exc.message) from None
        svc.configs.put(s.id, "website", config.to_json())
        click.echo(f"website of {s.name} enabled: index {index}"
                   + (f", error document {error}" if error else ""))
        url = site_url(svc.settings, s)
        if url:
            click.echo(f"open {url}")
        click.echo("objects are served only if anonymous users may read them (a bucket "
                   "policy or public-read ACL)")

    @website.command("show")
    @common
    @click.argument("store")
    @click.option("--output", type=click.Choice(["text", "json"]), default="text")
    def show(store: str, output: str, **flags: Any) -> None:
        """Show a store's website configuration."""
        svc = services(flags)
        s = find(svc, store)
        config = WebsiteConfig.from_json(svc.configs.get(s.id, "website"))
        if output == "json":
            click.echo(json.dumps({"store": s.name, "id": s.id, "website":
                                   config.to_json() if config else None,
                                   "url": site_url(svc.settings, s) if config else None}))
            return
        if config is None:
            click.echo(f"{s.name}: no website")
            return
        if config.redirect_all is not None:
            target = config.redirect_all
            click.echo(f"{s.name}: redirects every request to "
                       f"{target.protocol or 'the same protocol'}://{target.host}")
            return
        click.echo(f"{s.name}: website, index {config.index}, error document "
                   f"{config.error or '(none)'}, {len(config.rules)} routing rule(s)")
        url = site_url(svc.settings, s)
        if url:
            click.echo(f"  {url}")

    @website.command("disable")
    @common
    @click.argument("store")
    def disable(store: str, **flags: Any) -> None:
        """Stop serving a store as a website (its objects stay)."""
        svc = services(flags)
        s = find(svc, store)
        gone = svc.configs.delete(s.id, "website")
        click.echo(f"website of {s.name} disabled" if gone else f"{s.name} had no website")

"""`objectstore` command line: serve, and admin commands on the same data dir/database."""

from __future__ import annotations

import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import click
from pydantic import ValidationError

from .. import malloc
from ..config import Settings, describe_errors

if TYPE_CHECKING:
    from ..services.registry import Services

F = TypeVar("F", bound=Callable[..., Any])


def _settings(**flags: Any) -> Settings:
    try:
        return Settings(**{k: v for k, v in flags.items() if v is not None})
    except ValidationError as exc:
        raise click.UsageError(describe_errors(exc)) from None


_common = [
    click.option("--data-dir", type=click.Path(path_type=Path), default=None,
                 help="Where blobs, the SQLite database and the server key live [./data]"),
    click.option("--database-url", default=None,
                 help="SQLAlchemy URL; sqlite (default, under the data dir) or postgresql://"),
    click.option("--blob-store", default=None,
                 help="file (under the data dir, default) or seaweedfs://MASTER:PORT,...?"
                      "replication=001&collection=objectstore"),
]


def common(fn: F) -> F:
    for opt in reversed(_common):
        fn = opt(fn)
    return fn


@click.group()
@click.version_option(package_name="objectstore", prog_name="objectstore")
def main() -> None:
    """Self-hosted object storage: Civo's Object Store API and S3."""


@main.command()
@common
@click.option("--host", default=None, help="Listen address [127.0.0.1]")
@click.option("--api-port", type=int, default=None, help="Management API port [8000]")
@click.option("--s3-port", type=int, default=None, help="S3 port [9000]")
@click.option("--public-s3-url", default=None, help="S3 URL given to clients [http://HOST:S3PORT]")
@click.option("--s3-domain", default=None, help="Domain for virtual-hosted style buckets")
@click.option("--web-port", type=int, default=None,
              help="Serve stores' static websites on this port [off]")
@click.option("--web-domain", default=None, help="Website host names: <store>.<DOMAIN>")
@click.option("--regions", default=None, help="CODE:Name:CC:Country[:noobjectstore],...")
@click.option("--default-region", default=None)
@click.option("--log-level", default=None)
@click.option("--workers", default=None, metavar="N|auto",
              help="Worker processes sharing the listeners [auto: one per core]")
@click.option("--tls-cert", type=click.Path(path_type=Path), default=None,
              help="PEM certificate: serve the API, the console and S3 over HTTPS")
@click.option("--tls-key", type=click.Path(path_type=Path), default=None,
              help="PEM private key for --tls-cert")
@click.option("--trusted-proxies", default=None, metavar="IP|CIDR,...",
              help="Proxies whose X-Forwarded-For/Forwarded headers count [none]")
def serve(**flags: Any) -> None:
    """Run the management API and the S3 endpoint."""
    from ..app import build_apps, build_services, ensure_default_account
    from ..server import StartupError, check_shared_settings, run_event_loop, serve_workers
    from ..server import serve as run

    settings = _settings(**flags)
    logging.basicConfig(level=settings.log_level.upper(),
                        format="%(asctime)s %(levelname)s %(name)s %(message)s")
    malloc.configure(settings.malloc_arena_max, settings.malloc_trim_seconds)  # before threads
    workers = settings.resolved_workers()
    if workers > 1:
        services = build_services(settings)  # migrations, once
        try:
            check_shared_settings(services)
        except StartupError as exc:
            raise click.ClickException(str(exc)) from None
        new_key = ensure_default_account(services)
        services.close()
        services.engine.dispose()
    else:
        apps = build_apps(settings)
        try:
            check_shared_settings(apps.services)
        except StartupError as exc:
            raise click.ClickException(str(exc)) from None
        new_key = ensure_default_account(apps.services)
    api = f"http://{settings.host}:{settings.api_port}"
    click.echo(f"objectstore: management API on {api}")
    click.echo(f"objectstore: S3 endpoint on http://{settings.host}:{settings.s3_port} "
               f"(public URL {settings.resolved_public_s3_url()})")
    if settings.web_port is not None:
        click.echo(f"objectstore: websites on http://{settings.host}:{settings.web_port} "
                   f"(Host: <store>.{settings.web_domain or '<web domain>'} or the store's name)")
    if new_key:
        click.echo(f"objectstore: created the default account; its API key (shown once): {new_key}")
    sys.stdout.flush()
    if workers > 1:
        click.echo(f"objectstore: {workers} worker processes")
        sys.stdout.flush()
        raise SystemExit(serve_workers(settings, workers))
    run_event_loop(run(apps))


@main.group()
def account() -> None:
    """Manage accounts (admin: works directly on the data dir / database)."""


def _services(flags: dict[str, Any]) -> Services:
    from ..app import build_services

    return build_services(_settings(**flags))


@account.command("create")
@common
@click.argument("name")
@click.option("--api-key", default=None, help="Use this key instead of generating one")
@click.option("--quota-gb", type=int, default=None, help="Object store quota in GB")
def account_create(name: str, api_key: str | None, quota_gb: int | None, **flags: Any) -> None:
    """Create an account and print its API key."""
    from ..domain.errors import DomainError

    svc = _services(flags)
    try:
        acc, key = svc.accounts.create(name, api_key=api_key, quota_gb=quota_gb)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    click.echo(f"created account {acc.name} ({acc.id}), quota {acc.quota_gb} GB")
    click.echo(f"API key: {key}")


@account.command("list")
@common
def account_list(**flags: Any) -> None:
    """List accounts."""
    svc = _services(flags)
    for acc in svc.accounts.list():
        gb, n = svc.stores.allocation(acc.id)
        click.echo(f"{acc.id}  {acc.name:20}  quota {acc.quota_gb} GB  "
                   f"allocated {gb} GB in {n} store(s)")


@account.command("delete")
@common
@click.argument("name")
@click.option("--yes", is_flag=True, help="Do not ask for confirmation")
def account_delete(name: str, yes: bool, **flags: Any) -> None:
    """Delete an account with all its object stores, objects and credentials."""
    from ..domain.errors import DomainError
    from ..services.maintenance import GarbageCollector

    svc = _services(flags)
    try:
        acc = svc.accounts.get_by_name(name)
    except DomainError as exc:
        raise click.ClickException(exc.message) from exc
    if not yes:
        click.confirm(f"Delete account {name} and all its object stores?", abort=True)
    stores = [sw.store for region in svc.regions.regions
              for sw in svc.stores.list(acc.id, region.code, 1, 100000).items]
    locked = [s.name for s in stores if svc.stores.has_locked_versions(s.id)]
    if locked:  # object lock: nothing is deleted, by anyone
        raise click.ClickException(
            f"account {name} was not deleted: object store(s) {', '.join(sorted(locked))} "
            "hold object versions under retention or legal hold")
    for store in stores:
        try:
            svc.stores.delete(acc.id, store.id, None)
        except DomainError as exc:
            raise click.ClickException(f"store {store.name}: {exc.message}") from exc
    svc.accounts.delete_empty(acc.id)
    GarbageCollector(svc.engine, svc.blobs, svc.objects.gc_wakeup,
                     grace_s=svc.settings.blob_grace_seconds).drain_doomed()
    click.echo(f"deleted account {name}")


from .client_cmds import register  # noqa: E402
from .keys_cmds import register as register_keys  # noqa: E402
from .maintenance_cmds import register as register_fsck  # noqa: E402
from .maintenance_cmds import register_gc  # noqa: E402

register(main)
register_fsck(main, common, _services)
register_gc(main, common, _services)
register_keys(main, common, _services)



@main.command("dev-cluster")
@click.option("--gateways", type=int, default=2, show_default=True)
@click.option("--volume-servers", type=int, default=3, show_default=True)
@click.option("--s3-port", type=int, default=9000, show_default=True, help="nginx's S3 port")
@click.option("--api-port", type=int, default=8000, show_default=True,
              help="nginx's management API port")
@click.option("--keep", is_flag=True, help="Keep the temp dir (logs, data) after stopping")
def dev_cluster(gateways: int, volume_servers: int, s3_port: int, api_port: int,
                keep: bool) -> None:
    """Try the scaled-out layout on loopback: PostgreSQL, SeaweedFS (a master, volume
    servers), gateways and nginx in front; Ctrl-C stops everything."""
    from .devcluster import run

    run(gateways, volume_servers, s3_port, api_port, keep)


from .rules_cmds import register as register_rules  # noqa: E402

register_rules(main, common, _services)

from .website_cmds import register as register_website  # noqa: E402

register_website(main, common, _services)

from .event_cmds import register as register_events  # noqa: E402

register_events(main)

from .backup_cmds import register as register_backup  # noqa: E402

register_backup(main, common, _settings)

if __name__ == "__main__":  # pragma: no cover
    main()

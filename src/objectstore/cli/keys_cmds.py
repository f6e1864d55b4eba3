"""`objectstore keys`: the SSE master key ring (list, rotate, rewrap) and the built-in KMS
key service's keys (kms-create, kms-list, kms-enable, kms-disable). Admin commands on the
server's data dir and database; keys themselves are never printed."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..services.keys import KeyService
    from ..services.registry import Services

Command = Callable[..., None]
Common = Callable[[Command], Command]
MakeServices = Callable[[dict[str, Any]], "Services"]


def register(main: click.Group, common: Common, services: MakeServices) -> None:
    @main.group()
    def keys() -> None:
        """Encryption keys: the master key ring (SSE-S3) and KMS keys (SSE-KMS)."""

    def key_service(flags: dict[str, Any]) -> tuple[Services, KeyService]:
        svc = services(flags)
        ks = svc.objects.sse.keys
        assert ks is not None
        return svc, ks

    def account_id(svc: Services, name: str) -> str:
        from ..domain.errors import DomainError

        try:
            return svc.accounts.get_by_name(name).id
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc

    @keys.command("list")
    @common
    def list_master(**flags: Any) -> None:
        """The master key ring's key ids (the active one marked)."""
        _svc, ks = key_service(flags)
        for entry in ks.ring.describe():
            mark = "*" if entry["active"] else " "
            click.echo(f"{mark} {entry['id']}  {entry['created']}")

    @keys.command()
    @common
    def rotate(**flags: Any) -> None:
        """Add a new master key: new objects use it, older ones stay readable."""
        _svc, ks = key_service(flags)
        try:
            kid = ks.ring.rotate()
        except RuntimeError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"active master key: {kid} (run `objectstore keys rewrap` to re-wrap "
                   "stored data keys with it)")

    @keys.command()
    @common
    def rewrap(**flags: Any) -> None:
        """Re-wrap every stored data key and KMS key with the active master key (object
        bytes are not touched)."""
        svc, ks = key_service(flags)
        counts = ks.rewrap(svc.objects.sse.rewrap)
        click.echo(f"rewrap: {counts['versions']} object version(s), {counts['uploads']} "
                   f"upload(s), {counts['kms_keys']} KMS key(s) re-wrapped with "
                   f"{ks.ring.active_id}")

    @keys.command("kms-create")
    @common
    @click.option("--account", default="default", show_default=True)
    @click.option("--description", default="")
    @click.argument("alias")
    def kms_create(alias: str, account: str, description: str, **flags: Any) -> None:
        """Create a KMS key named ALIAS for an account."""
        from ..domain.errors import DomainError

        svc, ks = key_service(flags)
        try:
            key = ks.create(account_id(svc, account), alias, description)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{key.id}  alias/{key.alias}")

    @keys.command("kms-list")
    @common
    @click.option("--account", default="default", show_default=True)
    def kms_list(account: str, **flags: Any) -> None:
        """An account's KMS keys."""
        svc, ks = key_service(flags)
        for key in ks.list(account_id(svc, account)):
            state = "enabled" if key.enabled else "disabled"
            click.echo(f"{key.id}  alias/{key.alias}  {state}  {key.description}")

    def set_enabled(flags: dict[str, Any], account: str, ref: str, enabled: bool) -> None:
        from ..domain.errors import DomainError

        svc, ks = key_service(flags)
        try:
            key = ks.set_enabled(account_id(svc, account), ref, enabled)
        except DomainError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"{key.id}  alias/{key.alias}  {'enabled' if enabled else 'disabled'}")

    @keys.command("kms-disable")
    @common
    @click.option("--account", default="default", show_default=True)
    @click.argument("key")
    def kms_disable(key: str, account: str, **flags: Any) -> None:
        """Disable a KMS key (id, ARN or alias/NAME): its objects are unreadable until it is
        enabled again."""
        set_enabled(flags, account, key, False)

    @keys.command("kms-enable")
    @common
    @click.option("--account", default="default", show_default=True)
    @click.argument("key")
    def kms_enable(key: str, account: str, **flags: Any) -> None:
        """Enable a KMS key again."""
        set_enabled(flags, account, key, True)

"""`objectstore backup` and `objectstore restore`: the embedded default (SQLite + blob files
in the data dir), taken while the server runs (services/backup.py says why it is consistent).
PostgreSQL + SeaweedFS deployments use their own tools: docs/deploy.md."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..config import Settings

Command = Callable[..., None]
Common = Callable[[Command], Command]
MakeSettings = Callable[..., "Settings"]


def _embedded_only(settings: Settings, what: str) -> None:
    own_db = f"sqlite:///{(settings.data_dir / 'objectstore.db').resolve()}"
    if settings.resolved_database_url() != own_db or settings.blob_store != "file":
        raise click.ClickException(
            f"`objectstore {what}` handles the embedded default (SQLite and blob files in the "
            "data dir); with PostgreSQL or SeaweedFS follow docs/deploy.md "
            "(pg_dump / weed backup)")


def register(main: click.Group, common: Common, make_settings: MakeSettings) -> None:
    @main.command()
    @common
    @click.argument("out", type=click.Path(path_type=Path))
    @click.option("--copy", "copy_blobs", is_flag=True,
                  help="Copy blob files even when OUT is on the data dir's file system "
                       "(default: hard links there, which cost no space)")
    def backup(out: Path, copy_blobs: bool, **flags: Any) -> None:
        """Back up a data dir into OUT (a new or empty directory), while the server runs."""
        from ..services.backup import BackupError
        from ..services.backup import backup as take

        settings = make_settings(**flags)
        _embedded_only(settings, "backup")
        try:
            done = take(settings.data_dir, out, link=not copy_blobs,
                        keyring_configured=settings.sse_master_key is not None,
                        server_key_configured=settings.server_key is not None)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"backup: {done.path}: the database, {done.blobs} blob(s) "
                   f"({done.blob_bytes} bytes, {done.linked} hard-linked) and the key files"
                   + (f" ({done.tries} tries)" if done.tries > 1 else ""))
        for note in done.notes:
            click.echo(f"note: {note}")

    @main.command()
    @common
    @click.argument("backup_dir", metavar="BACKUP", type=click.Path(path_type=Path))
    @click.option("--link", is_flag=True,
                  help="Hard-link blob files from BACKUP instead of copying them (same file "
                       "system; blob files are never changed in place)")
    def restore(backup_dir: Path, link: bool, **flags: Any) -> None:
        """Rebuild a data dir (new or empty: --data-dir) from a backup; then start a server
        on it."""
        from ..services.backup import BackupError
        from ..services.backup import restore as rebuild

        settings = make_settings(**flags)
        _embedded_only(settings, "restore")
        try:
            done = rebuild(backup_dir, settings.data_dir, link=link)
        except BackupError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"restore: {done.path}: the database, {done.blobs} blob(s) and the key "
                   "files; start the server with --data-dir " + str(done.path))
        for note in done.notes:
            click.echo(f"note: {note}")

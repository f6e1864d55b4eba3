"""`objectstore fsck` and `objectstore gc`: integrity checks and space reclamation."""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

import click

if TYPE_CHECKING:
    from ..services.registry import Services

Command = Callable[..., None]
Common = Callable[[Command], Command]
MakeServices = Callable[[dict[str, Any]], "Services"]


def register(main: click.Group, common: Common, services: MakeServices) -> None:
    @main.command()
    @common
    @click.option("--quiet", is_flag=True, help="Print only damaged objects and the summary")
    def fsck(quiet: bool, **flags: Any) -> None:
        """Verify stored bytes; exit 1 if any object is damaged or missing."""
        from ..services.engine.integrity import block_note, scan

        svc = services(flags)
        checked = damaged = unverifiable = 0
        for store, meta, problem in scan(svc.engine, svc.blobs, svc.objects.sse):
            checked += 1
            note = block_note(meta)
            unverifiable += note is not None
            if problem:
                damaged += 1
                click.echo(f"DAMAGED {store}/{meta.key}: {problem}")
            elif not quiet:
                click.echo(f"ok      {store}/{meta.key}" + (f" ({note})" if note else ""))
        click.echo(f"fsck: {checked} object(s) checked, {damaged} damaged"
                   + (f", {unverifiable} with unverifiable blocks (written before block "
                      "checksums: checked whole only)" if unverifiable else ""))
        if damaged:
            raise SystemExit(1)


def register_gc(main: click.Group, common: Common, services: MakeServices) -> None:
    @main.command()
    @common
    @click.option("--orphan-age", type=float, default=3600.0, show_default=True,
                  help="Remove unreferenced blobs older than this many seconds (use 0 only "
                  "while no server is running on this data dir)")
    @click.option("--grace", type=float, default=None,
                  help="Remove deleted objects' bytes queued at least this many seconds ago "
                  "(default: OBJECTSTORE_BLOB_GRACE_SECONDS; 0 only while no server is "
                  "running on this data dir)")
    def gc(orphan_age: float, grace: float | None, **flags: Any) -> None:
        """Reclaim space: deleted objects' bytes, temp files and unreferenced blobs."""
        from ..services.maintenance import GarbageCollector

        svc = services(flags)
        collector = GarbageCollector(svc.engine, svc.blobs, svc.objects.gc_wakeup,
                                     grace_s=svc.settings.blob_grace_seconds
                                     if grace is None else grace)
        doomed = collector.drain_doomed()
        tmp = svc.blobs.sweep_incomplete(older_than_s=orphan_age)
        orphans = collector.sweep_orphans(min_age_s=orphan_age)
        click.echo(f"gc: {doomed} deleted blob(s), {tmp} temp file(s), {orphans} orphan(s) "
                   "removed")

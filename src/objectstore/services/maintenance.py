"""Garbage collection: unlink doomed blobs, sweep temp files and orphaned blobs."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from sqlalchemy import Engine, delete, select

from ..domain.models import blobs_of
from ..storage.blobs import BlobStore
from ..storage.sql.engine import writing
from ..storage.sql.tables import doomed_blobs, object_versions, objects, parts
from .leader import Leader

log = logging.getLogger("objectstore.gc")


class GarbageCollector:
    def __init__(self, engine: Engine, blobs: BlobStore, wakeup: threading.Event,
                 expire_uploads: Callable[[], int] | None = None,
                 leader: Leader | None = None) -> None:
        self.engine = engine
        self.blobs = blobs
        self.wakeup = wakeup
        self.expire_uploads = expire_uploads
        # Full passes (upload expiry, orphan sweeps) run in one process per data dir or
        # database; any process drains the queue of doomed blobs its own writes filled.
        self.leader = leader
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    def drain_doomed(self, batch: int = 1000) -> int:
        """Unlink queued blobs; metadata no longer names them, so nobody can read them."""
        removed = 0
        while True:
            with self.engine.connect() as conn:
                ids = [r[0] for r in conn.execute(select(doomed_blobs.c.blob_id).limit(batch))]
            if not ids:
                return removed
            for blob_id in ids:
                self.blobs.delete(blob_id)
            with writing(self.engine) as conn:
                conn.execute(delete(doomed_blobs).where(doomed_blobs.c.blob_id.in_(ids)))
            removed += len(ids)

    def referenced_blob_ids(self) -> set[str]:
        refs: set[str] = set()
        with self.engine.connect() as conn:
            for table in (objects, object_versions):
                for blob_id, manifest in conn.execute(select(table.c.blob_id, table.c.parts)):
                    refs.update(blobs_of(blob_id, manifest))
            refs.update(r[0] for r in conn.execute(select(parts.c.blob_id)))
        return refs

    def sweep_orphans(self, min_age_s: float = 3600.0) -> int:
        """Remove blobs that no row names (a crash between rename and commit leaves them).

        Only blobs older than ``min_age_s`` are considered, so uploads in flight are safe.
        """
        cutoff = time.time() - min_age_s
        candidates = [b for b, mtime in self.blobs.iter_blob_ids() if mtime < cutoff]
        if not candidates:
            return 0
        refs = self.referenced_blob_ids()
        orphans = [b for b in candidates if b not in refs]
        for blob_id in orphans:
            self.blobs.delete(blob_id)
        return len(orphans)

    def run_once(self) -> int:
        """A full pass: expired multipart uploads, doomed blobs, stale temp files."""
        if self.expire_uploads is not None:
            self.expire_uploads()
        n = self.drain_doomed()
        self.blobs.sweep_incomplete(older_than_s=24 * 3600)
        return n

    def start(self, interval_s: float = 30.0) -> None:
        """A full pass every ``interval_s``; in between, a wake-up (an overwrite or delete
        queued some blobs) only drains the queue of doomed blobs."""
        def leading() -> bool:
            return self.leader is None or self.leader.try_acquire()

        def loop() -> None:
            swept = False
            next_full = 0.0
            while not self._stop.is_set():
                try:
                    if time.monotonic() >= next_full:
                        if leading():
                            if not swept:  # once per leadership: leftovers of a crash
                                self.blobs.sweep_incomplete(older_than_s=3600)
                                self.sweep_orphans()
                                swept = True
                            self.run_once()
                        else:
                            self.drain_doomed()
                        next_full = time.monotonic() + interval_s
                    else:
                        self.drain_doomed()
                except Exception:
                    log.exception("garbage collection pass failed")
                self.wakeup.wait(max(0.0, next_full - time.monotonic()))
                self.wakeup.clear()

        self._thread = threading.Thread(target=loop, name="objectstore-gc", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self.wakeup.set()
        if self._thread is not None:
            self._thread.join(timeout=5)
        if self.leader is not None:
            self.leader.release()

"""Background work: unlink doomed blobs (retried with backoff), expire multipart uploads,
sweep temp files and orphaned blobs.

Full passes run in one process per data dir (SQLite) or per database (PostgreSQL: every
gateway of a cluster competes for one advisory lock, ``services/leader.py``); a gateway that
does not hold the role asks for it every ``probe_s``, so when the holder dies another takes
over within seconds. With a shared blob store (SeaweedFS), the queue of doomed blobs is
drained by the leader only; with the local file store, any process drains it as soon as its
own writes fill it (a wake-up), as before.

A queued blob is deleted only ``grace_s`` after it was queued (OBJECTSTORE_BLOB_GRACE_SECONDS):
a read that resolved the version just before it was replaced or deleted still finds its bytes
(the engine resolves a version and opens its bytes as one step, ``ObjectEngine.open``; an open
file survives its deletion, a SeaweedFS needle stays readable until its volume is compacted).
The orphan sweep skips blobs whose last write or in-flight heartbeat is younger than
``orphan_age_s``: a writer keeps its blob fresh however long the upload takes.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

from sqlalchemy import Engine, and_, delete, select, update

from ..backoff import Backoff
from ..domain.models import blobs_of
from ..storage.blobs import BlobStore
from ..storage.sql.engine import writing
from ..storage.sql.tables import doomed_blobs, object_versions, objects, parts
from .leader import Leader

log = logging.getLogger("objectstore.gc")
MAX_BACKOFF_S = 300.0


def backoff_s(attempts: int) -> float:
    """Delay before the next try of a deletion that failed ``attempts`` times: 1 s, 2 s,
    4 s, ... up to 5 minutes."""
    return min(MAX_BACKOFF_S, float(2 ** max(0, attempts - 1)))


class GarbageCollector:
    def __init__(self, engine: Engine, blobs: BlobStore, wakeup: threading.Event,
                 expire_uploads: Callable[[], int] | None = None,
                 leader: Leader | None = None, *, drain_everywhere: bool = True,
                 probe_s: float = 2.0, drain_s: float = 1.0, grace_s: float = 0.0,
                 orphan_age_s: float = 3600.0) -> None:
        self.engine = engine
        self.blobs = blobs
        self.wakeup = wakeup
        self.expire_uploads = expire_uploads
        self.leader = leader
        self.drain_everywhere = drain_everywhere
        self.probe_s = probe_s
        self.drain_s = drain_s
        self.grace_s = grace_s
        self.orphan_age_s = orphan_age_s
        self.failed_deletes = 0  # deletions that raised (retried later), for tests/metrics
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self.backoff = Backoff("garbage collection pass", log)

    def drain_doomed(self, batch: int = 1000) -> int:
        """Delete queued blobs that are due: queued at least ``grace_s`` ago. Metadata no
        longer names them, so no read can start on them, and one that resolved the version
        before it was replaced had the grace period to open its bytes. A deletion that fails
        stays queued: its ``attempts`` grows and it is due again after an exponential backoff
        (``queued_at`` moves so that it is due then)."""
        removed = 0
        grace = timedelta(seconds=self.grace_s)
        while True:
            now = datetime.now(UTC)
            with self.engine.connect() as conn:
                rows = conn.execute(
                    select(doomed_blobs.c.blob_id, doomed_blobs.c.attempts)
                    .where(doomed_blobs.c.queued_at <= now - grace)
                    .order_by(doomed_blobs.c.queued_at).limit(batch)).all()
            if not rows:
                return removed
            done: list[tuple[str, int]] = []
            failed: list[tuple[str, int]] = []
            for blob_id, attempts in rows:
                try:
                    self.blobs.delete(blob_id)
                    done.append((blob_id, int(attempts or 0)))
                except Exception as exc:
                    failed.append((blob_id, int(attempts or 0)))
                    self.failed_deletes += 1
                    log.warning("deleting blob %s failed (attempt %d): %s; retrying later",
                                blob_id, int(attempts or 0) + 1, exc)
            with writing(self.engine) as conn:
                for blob_id, attempts in done:
                    conn.execute(delete(doomed_blobs).where(and_(
                        doomed_blobs.c.blob_id == blob_id,
                        doomed_blobs.c.attempts == attempts)))
                for blob_id, attempts in failed:
                    conn.execute(update(doomed_blobs)
                                 .where(doomed_blobs.c.blob_id == blob_id)
                                 .values(attempts=attempts + 1, queued_at=now - grace
                                         + timedelta(seconds=backoff_s(attempts + 1))))
            removed += len(done)
            if failed:  # the rest of the queue waits for the next pass
                return removed

    def referenced_blob_ids(self) -> set[str]:
        refs: set[str] = set()
        with self.engine.connect() as conn:
            for table in (objects, object_versions):
                for blob_id, manifest in conn.execute(select(table.c.blob_id, table.c.parts)):
                    refs.update(blobs_of(blob_id, manifest))
            refs.update(r[0] for r in conn.execute(select(parts.c.blob_id)))
            refs.update(r[0] for r in conn.execute(select(doomed_blobs.c.blob_id)))
        return refs

    def sweep_orphans(self, min_age_s: float | None = None) -> int:
        """Remove blobs that no row names (a crash between the blob's write and the commit
        that names it leaves them). Only blobs untouched for ``min_age_s`` (default
        ``orphan_age_s``) are considered: a blob being written is touched by its writer's
        heartbeat however long the upload takes (``storage/heartbeat.py``), so uploads in
        flight are safe; queued (doomed) blobs are left to the queue."""
        cutoff = time.time() - (self.orphan_age_s if min_age_s is None else min_age_s)
        candidates = [b for b, mtime in self.blobs.iter_blob_ids() if mtime < cutoff]
        if not candidates:
            return 0
        refs = self.referenced_blob_ids()
        removed = 0
        for blob_id in candidates:
            if blob_id in refs:
                continue
            try:
                self.blobs.delete(blob_id)
                removed += 1
            except Exception as exc:
                log.warning("removing orphaned blob %s failed: %s", blob_id, exc)
        return removed

    def run_once(self) -> int:
        """A full pass: expired multipart uploads, doomed blobs, stale temp files."""
        if self.expire_uploads is not None:
            self.expire_uploads()
        n = self.drain_doomed()
        self.blobs.sweep_incomplete(older_than_s=24 * 3600)
        return n

    def leading(self) -> bool:
        return self.leader is None or self.leader.try_acquire()

    def start(self, interval_s: float = 30.0) -> None:
        """A full pass every ``interval_s`` in the leader; the leader also drains the queue
        every ``drain_s`` and on a wake-up (an overwrite or delete queued some blobs)."""

        def loop() -> None:
            swept = False
            next_full = 0.0
            while not self._stop.is_set():
                lead = False
                ok = True
                try:
                    lead = self.leading()
                    if lead:
                        if time.monotonic() >= next_full:
                            if not swept:  # once per leadership: leftovers of a crash
                                self.blobs.sweep_incomplete(older_than_s=self.orphan_age_s)
                                self.sweep_orphans()
                                swept = True
                            self.run_once()
                            next_full = time.monotonic() + interval_s
                        else:
                            self.drain_doomed()
                    else:
                        swept = False
                        next_full = 0.0  # a new leadership starts with a full pass
                        if self.drain_everywhere:
                            self.drain_doomed()
                except Exception as exc:
                    ok = False
                    self.backoff.failed(exc)
                else:
                    self.backoff.succeeded()
                if lead:
                    wait = min(self.drain_s, max(0.0, next_full - time.monotonic()))
                else:
                    wait = self.probe_s
                if ok:
                    self.wakeup.wait(wait)
                else:  # backing off: wake-ups (writes queueing blobs) do not cut it short
                    self._stop.wait(self.backoff.wait(wait))
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

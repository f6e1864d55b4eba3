"""The lifecycle worker: applies each store's rules in the background.

- One runs per data dir or database (the "lifecycle" leader role), whatever the number of
  processes or gateways.
- A pass walks each store with rules in key order, a page at a time (memory stays flat
  whatever the number of objects), in three phases: latest versions (Expiration,
  ExpiredObjectDeleteMarker), noncurrent versions (NoncurrentVersionExpiration), unfinished
  uploads (AbortIncompleteMultipartUpload). After each page its cursor is saved in
  ``worker_state``, so a worker that dies resumes where it stopped.
- Its deletions are the engine's ordinary durable deletes (usage freed, blobs queued for the
  GC); they are idempotent (an expired object gets one delete marker; a version already gone
  is skipped), so resuming from a cursor saved before the last deletions repeats nothing
  visible. A locked version is never removed.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, select

from ...backoff import Backoff
from ...domain.errors import NoSuchVersion, ObjectLocked, StoreNotFound
from ...domain.lifecycle import (
    Rule,
    abort_due,
    expiry_of,
    noncurrent_expired,
    pass_interval,
    removes_expired_markers,
    rules_from_json,
)
from ...domain.models import ObjectStore
from ...domain.object_lock import is_locked
from ...storage.sql.engine import writing
from ...storage.sql.tables import object_versions, objects, objectstores, uploads, worker_state
from ..bucket_configs import BucketConfigService
from ..events.outbox import recorded_work
from ..leader import Leader
from ..objectstores import store_from_row
from . import metadata as md
from .multipart import MultipartService
from .objects import ObjectEngine
from .rows import version_from

log = logging.getLogger("objectstore.lifecycle")
PAGE = 500
STATE = "lifecycle"
PHASES = ("current", "noncurrent", "uploads")


@dataclass
class PassStats:
    examined: int = 0
    expired: int = 0        # latest versions given a delete marker (or deleted, unversioned)
    noncurrent: int = 0     # noncurrent versions removed
    markers: int = 0        # expired delete markers removed
    aborted: int = 0        # unfinished uploads aborted
    locked: int = 0         # versions a rule would have removed but a lock kept
    seconds: float = 0.0


class LifecycleWorker:
    def __init__(self, engine: Engine, objects: ObjectEngine, multipart: MultipartService,
                 configs: BucketConfigService, leader: Leader, day_seconds: int,
                 clock: Callable[[], datetime] | None = None) -> None:
        self.engine = engine
        self.objects = objects
        self.multipart = multipart
        self.configs = configs
        self.leader = leader
        self.day_seconds = day_seconds
        self.clock = clock or (lambda: datetime.now(UTC))
        self.fault: Callable[[], None] | None = None  # tests: called before each deletion
        self._stop = threading.Event()
        self.backoff = Backoff("lifecycle pass", log)
        self._thread: threading.Thread | None = None
        self.last = PassStats()

    # -- progress -------------------------------------------------------------------------------
    def _load_state(self) -> dict[str, Any]:
        with self.engine.connect() as conn:
            row = conn.execute(select(worker_state.c.state)
                               .where(worker_state.c.name == STATE)).first()
        return dict(row[0]) if row is not None else {}

    def _save_state(self, state: dict[str, Any]) -> None:
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            if not conn.execute(worker_state.update().where(worker_state.c.name == STATE)
                                .values(state=state, updated_at=now)).rowcount:
                conn.execute(worker_state.insert().values(name=STATE, state=state,
                                                          updated_at=now))

    # -- one pass -------------------------------------------------------------------------------
    def run_pass(self) -> PassStats:
        """Apply every store's rules once (resuming an interrupted pass first)."""
        t0 = time.monotonic()
        stats = PassStats()
        state = self._load_state()
        for store_id in sorted(self.configs.stores_with("lifecycle")):
            if state.get("store") and store_id < state["store"]:
                continue  # done in the pass that was interrupted
            if state.get("store") != store_id:
                state = {"store": store_id, "phase": PHASES[0], "key": "", "vseq": ""}
            rules = rules_from_json(self.configs.get(store_id, "lifecycle"))
            store = self._store(store_id)
            if store is None or not any(r.enabled for r in rules):
                continue
            for phase in PHASES[PHASES.index(state["phase"]):]:
                if state["phase"] != phase:
                    state.update(phase=phase, key="", vseq="")
                getattr(self, f"_phase_{phase}")(store, rules, state, stats)
        self._save_state({})  # the pass is complete: the next one starts from the beginning
        stats.seconds = time.monotonic() - t0
        self.last = stats
        return stats

    def _store(self, store_id: str) -> ObjectStore | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(objectstores).where(objectstores.c.id == store_id)).first()
        return store_from_row(row) if row is not None else None

    def _deleting(self) -> None:
        if self.fault is not None:
            self.fault()

    def _phase_current(self, store: ObjectStore, rules: list[Rule], state: dict[str, Any],
                       stats: PassStats) -> None:
        needs_expiry = any(r.enabled and (r.expiration_days is not None
                                          or r.expiration_date is not None) for r in rules)
        needs_markers = any(r.enabled and r.expired_object_delete_marker for r in rules)
        if not needs_expiry and not needs_markers:
            return
        while True:
            now = self.clock()
            with self.engine.connect() as conn:
                rows = conn.execute(select(objects).where(
                    objects.c.store_id == store.id, objects.c.key > state["key"])
                    .order_by(objects.c.key).limit(PAGE)).all()
            if not rows:
                return
            due: list[tuple[str, str]] = []
            for row in rows:
                v = version_from(store.id, row._mapping, is_latest=True)
                stats.examined += 1
                if v.delete_marker:
                    if removes_expired_markers(rules, v.key) \
                            and not self._has_noncurrent(store.id, v.key):
                        self._deleting()
                        if self._delete_version(store, v.key, v.version_id, stats):
                            stats.markers += 1
                    continue
                found = expiry_of(rules, v.key, v.size, v.tags, v.last_modified,
                                  self.day_seconds)
                if found is not None and found[0] <= now:
                    self._deleting()
                    due.append((v.key, v.vseq))
            stats.expired += self._expire_latest(store, due)  # one transaction per page
            state["key"] = rows[-1]._mapping["key"]
            self._save_state(state)

    def _has_noncurrent(self, store_id: str, key: str) -> bool:
        with self.engine.connect() as conn:
            return conn.execute(select(object_versions.c.vseq).where(
                object_versions.c.store_id == store_id,
                object_versions.c.key == key).limit(1)).first() is not None

    def _expire_latest(self, store: ObjectStore, due: list[tuple[str, str]]) -> int:
        """Expiration of latest versions (key, vseq): a delete marker (versioned) or the
        object goes (unversioned) — each only if that version is still the latest. One
        transaction for the lot; the number expired."""
        if not due:
            return 0
        now = datetime.now(UTC)

        def work(conn: Connection) -> tuple[int, bool]:
            expired, doomed = 0, False
            for key, vseq in due:
                # the key's lock first, then the comparison: a writer (on any gateway) that
                # holds it is about to replace the version examined
                md.lock_key(conn, store.id, key)
                current = md.current_in(conn, store.id, key)
                if current is None or current.vseq != vseq or current.delete_marker:
                    continue  # changed since it was examined
                _marker, queued = md.delete_latest(conn, store, key, now)
                expired += 1
                doomed = doomed or queued
            return expired, doomed

        rec = self.objects.events.recording_sync(store, "LifecycleExpiration")
        expired, doomed = self.objects.writer.run(work if rec is None
                                                  else recorded_work(work, rec))
        self.objects.events.recorded(rec)
        if doomed:
            self.objects.wake_gc()
        return expired

    def _delete_version(self, store: ObjectStore, key: str, version_id: str,
                        stats: PassStats) -> bool:
        def work(conn: Connection) -> tuple[bool, bool]:
            _gone, doomed = md.delete_version(conn, store, key, version_id)
            return True, doomed

        rec = self.objects.events.recording_sync(store, "LifecycleExpiration")
        try:
            _ok, doomed = self.objects.writer.run(work if rec is None
                                                  else recorded_work(work, rec))
            self.objects.events.recorded(rec)
        except NoSuchVersion:
            return False  # already gone (an earlier, interrupted pass)
        except ObjectLocked:
            stats.locked += 1
            return False
        except StoreNotFound:
            return False
        if doomed:
            self.objects.wake_gc()
        return True

    def _phase_noncurrent(self, store: ObjectStore, rules: list[Rule], state: dict[str, Any],
                          stats: PassStats) -> None:
        if not any(r.enabled and r.noncurrent_days is not None for r in rules):
            return
        while True:
            now = self.clock()
            with self.engine.connect() as conn:
                keys = [r[0] for r in conn.execute(
                    select(object_versions.c.key).where(
                        object_versions.c.store_id == store.id,
                        object_versions.c.key > state["key"])
                    .group_by(object_versions.c.key).order_by(object_versions.c.key)
                    .limit(PAGE))]
            if not keys:
                return
            for key in keys:
                self._noncurrent_of_key(store, rules, key, now, stats)
            state["key"] = keys[-1]
            self._save_state(state)

    def _noncurrent_of_key(self, store: ObjectStore, rules: list[Rule], key: str,
                           now: datetime, stats: PassStats) -> None:
        with self.engine.connect() as conn:
            current = md.current_in(conn, store.id, key)
            rows = conn.execute(select(object_versions).where(
                object_versions.c.store_id == store.id, object_versions.c.key == key)
                .order_by(object_versions.c.vseq)).all()
        newer = current
        for i, row in enumerate(rows):
            v = version_from(store.id, row._mapping, is_latest=False)
            stats.examined += 1
            since = newer.last_modified if newer is not None else v.last_modified
            newer = v
            if noncurrent_expired(rules, key, v.size, v.tags, i, since, now,
                                  self.day_seconds) is None:
                continue
            if is_locked(v, now):
                stats.locked += 1
                continue
            self._deleting()
            if self._delete_version(store, key, v.version_id, stats):
                stats.noncurrent += 1

    def _phase_uploads(self, store: ObjectStore, rules: list[Rule], state: dict[str, Any],
                       stats: PassStats) -> None:
        if not any(r.enabled and r.abort_days is not None for r in rules):
            return
        now = self.clock()
        with self.engine.connect() as conn:
            found = conn.execute(select(uploads.c.id, uploads.c.key, uploads.c.initiated)
                                 .where(uploads.c.store_id == store.id)
                                 .order_by(uploads.c.key, uploads.c.id)).all()
        for upload_id, key, initiated in found:
            initiated = initiated if initiated.tzinfo else initiated.replace(tzinfo=UTC)
            if abort_due(rules, key, initiated, now, self.day_seconds):
                try:
                    self.multipart.abort_sync(store, key, upload_id)
                    stats.aborted += 1
                except Exception:  # noqa: BLE001 - completed or aborted meanwhile
                    log.debug("upload %s was gone before lifecycle aborted it", upload_id)

    # -- the thread -----------------------------------------------------------------------------
    def start(self) -> None:
        interval = pass_interval(self.day_seconds)

        def loop() -> None:
            while not self._stop.is_set():
                self.backoff.run(lambda: self.configs.stores_with("lifecycle")
                                 and self.leader.try_acquire() and self.run_pass())
                self._stop.wait(self.backoff.wait(interval))

        self._thread = threading.Thread(target=loop, name="objectstore-lifecycle", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.leader.release()

"""Delivery: one deliverer per target, in the one process (of all workers and gateways) that
holds the "events" role (services/leader.py: when it dies, another process takes the role and
carries on from the outbox).

Each target's loop takes the oldest undelivered rows (up to ``BATCH``), sends each key's
events in ``sequencer`` order (different keys concurrently, at most ``PARALLEL`` at a time;
a key whose event failed sends nothing more of it in that round), then deletes the rows its
target acknowledged, in one commit with the target's counters. After a failure the loop
pauses with backoff (0.5 s doubling up to ``OBJECTSTORE_EVENT_RETRY_MAX_SECONDS``) and tries
again: at least once, never given up — except past the backlog limit, where the oldest
events are dropped (counted as failed and logged) so that a target gone for good cannot grow
the database without bound.

A target changed in place (``TargetService.update``: endpoint, secrets, options) is seen by
its loop before its next send: the update bumps the shared change counter (services/cache.py:
every process on the data dir, and every gateway on PostgreSQL), and a loop that finds it
moved reads its target's row again; when the row's ``sealed`` (new on every update) differs,
the loop drops its sender and carries on with the new target — the backlog is the target id's,
so it stays — and a pause after failures ends at once."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import threading
import time
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any, NamedTuple

from sqlalchemy import Connection, Engine, bindparam, delete, func, select, text

from ...backoff import Backoff
from ...storage.sql.prepared import Prepared
from ...storage.sql.tables import event_outbox, event_targets
from ..leader import Leader
from .notifications import Notifications
from .outbox import Outgoing, messages
from .rounds import BATCH, Row, next_round, settle
from .senders import DeliveryError, Sender, open_sender, send_run
from .targets import EventTarget, TargetService

log = logging.getLogger("objectstore.events")
ROWS = 64              # outbox rows fetched for a round (each holds one or more events)
PARALLEL = 16
POLL_S = 0.25          # how often the outbox is looked at for events other processes wrote
IDLE_S = 5.0           # an idle target looks anyway this often
GATHER_S = 0.2         # after a partial round, wait this long for more: fewer, fuller rounds
# (a round's read, lanes and acknowledgement cost the deliverer's thread, the executor and the
# committer a fixed share: 0.05 s made rounds of ~100 events at 2,000 PUT/s, and 0.2 s cut
# the deliverer's CPU per event by about a sixth; an event after a quiet spell leaves at once)
RELOAD_S = 2.0         # how often the target list is read again
TRIM_S = 5.0           # how often backlogs are measured against the limit


class _Wake:
    """A target loop's alarm: ``generation`` moves whenever there may be new events for it;
    ``waiting`` while the loop sleeps on ``event`` (only then is a kick worth sending)."""

    __slots__ = ("event", "generation", "waiting")

    def __init__(self) -> None:
        self.event = asyncio.Event()
        self.generation = 0
        self.waiting = False

    def ring(self) -> None:
        self.generation += 1
        self.event.set()


class Failures(NamedTuple):
    retried: int  # failed attempts (every one is tried again later)
    failed: int   # of which permanent: configuration a retry cannot fix (still retried)


_NEWEST = Prepared(select(func.max(event_outbox.c.id)))
_OLDEST = Prepared(
    select(event_outbox.c.id, event_outbox.c.key, event_outbox.c.record,
           event_outbox.c.events)
    .where(event_outbox.c.target_id == bindparam("target_id"))
    .order_by(event_outbox.c.id).limit(bindparam("limit")))
_DELETE = Prepared(delete(event_outbox).where(event_outbox.c.id == bindparam("id")))
# the delivered rows in one statement: on SQLite each statement step releases and retakes the
# GIL, and in the committer (whose batch the PUTs wait for) a handover per row costs more
# than the deletes
_DELETE_JSON_IDS = Prepared(text(
    "DELETE FROM event_outbox WHERE id IN (SELECT value FROM json_each(:ids))"))
_DELETE_ANY_ID = text("DELETE FROM event_outbox WHERE id = ANY(CAST(:ids AS BIGINT[]))")
# a round's counts (prepared, as the deletes: they run in the committer, whose batch the PUTs
# wait for, and Connection.execute of a Core UPDATE costs ~100 µs of Python there)
_t = event_targets.c
_COUNT_VALUES = {"delivered": _t.delivered + bindparam("delivered"),
                 "retried": _t.retried + bindparam("retried"),
                 "failed": _t.failed + bindparam("failed")}
_COUNT = Prepared(event_targets.update().where(_t.id == bindparam("target_id"))
                  .values(**_COUNT_VALUES))
_COUNT_ERROR = Prepared(event_targets.update().where(_t.id == bindparam("target_id"))
                        .values(**_COUNT_VALUES, last_error=bindparam("last_error"),
                                last_error_at=bindparam("last_error_at")))


def _delete_delivered(conn: Connection, ids: list[int]) -> None:
    if not ids:
        return
    dialect = conn.dialect.name
    if dialect == "sqlite":
        _DELETE_JSON_IDS.execute(conn, ids=json.dumps(ids))
    elif dialect == "postgresql":
        conn.execute(_DELETE_ANY_ID, {"ids": ids})
    else:
        _DELETE.execute_many(conn, [{"id": i} for i in ids])


def _newest(engine: Engine) -> int | None:
    """The outbox's highest id: one index lookup, whatever the number of targets."""
    row = _NEWEST.first_on(engine)
    return None if row is None or row[0] is None else int(row[0])


def _fetch(engine: Engine, target_id: str, limit: int) -> list[Row]:
    """A target's oldest ``limit`` outbox rows (one prepared SELECT on a read connection)."""
    return [(int(i), k, r, int(n)) for i, k, r, n in _OLDEST.all_on(
        engine, target_id=target_id, limit=limit)]


def _trim_edge(engine: Engine, target_id: str, excess: int) -> int | None:
    """The id of the newest row to drop so that at least ``excess`` of a target's oldest
    events go (whole rows: a row's events are dropped together)."""
    total = 0
    with engine.connect() as conn:
        for rid, n in conn.execute(
                select(event_outbox.c.id, event_outbox.c.events)
                .where(event_outbox.c.target_id == target_id)
                .order_by(event_outbox.c.id).limit(excess)):
            total += int(n)
            if total >= excess:
                return int(rid)
    return None


class EventDeliverer:
    def __init__(self, engine: Engine, targets: TargetService, notifications: Notifications,
                 leader: Leader, run: Callable[[Callable[[Connection], Any]], Any], *,
                 backlog_limit: int = 100_000, retry_max_s: float = 60.0) -> None:
        self.engine = engine
        self.targets = targets
        self.notifications = notifications
        self.leader = leader
        self.run_write = run  # the committer's run: acks share its commits
        self.backlog_limit = backlog_limit
        self.retry_max_s = retry_max_s
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._wakes: dict[str, _Wake] = {}  # each target loop's (made on the loop)
        self.backoff = Backoff("event delivery", log)

    # -- the thread -------------------------------------------------------------------------
    def start(self) -> None:
        self._thread = threading.Thread(target=self._thread_main, name="objectstore-events",
                                        daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        loop = self._loop
        if loop is not None:
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(self._bump, None)
        if self._thread is not None:
            self._thread.join(timeout=10)
        self.leader.release()

    def _thread_main(self) -> None:
        try:
            import uvloop  # the server's own loop implementation: less CPU per message
            factory: Callable[[], asyncio.AbstractEventLoop] | None = uvloop.new_event_loop
        except ImportError:  # pragma: no cover - uvloop is a dependency
            factory = None
        with asyncio.Runner(loop_factory=factory) as runner:
            runner.run(self._main())

    def _kicked(self, targets: set[str]) -> None:
        """A write of this process recorded events for ``targets`` (the committer thread
        calls this): wake those of them that are idle — only those: a busy loop finds the
        events on its next round anyway, and another target has nothing new to look for."""
        loop = self._loop
        if loop is None:
            return
        wakes = self._wakes
        idle = [w for t in targets if (w := wakes.get(t)) is not None and w.waiting]
        if idle:
            for w in idle:  # one kick per wait: the writes until it wakes need send none
                w.waiting = False
            with contextlib.suppress(RuntimeError):  # the loop has closed
                loop.call_soon_threadsafe(self._bump, frozenset(targets))

    def _bump(self, targets: frozenset[str] | None) -> None:
        """There may be new events for ``targets`` (None: for any): wake their loops (on the
        loop)."""
        for tid, wake in list(self._wakes.items()):
            if targets is None or tid in targets:
                wake.ring()

    async def _poll(self) -> None:
        """Other processes' writes: one query for all targets every ``POLL_S``; a new
        highest id wakes them."""
        seen: int | None = None
        while not self._stop.is_set():
            with contextlib.suppress(Exception):  # (the targets' own rounds report errors)
                newest = await asyncio.to_thread(_newest, self.engine)
                if newest != seen:  # (whose events they are would cost a query more)
                    seen = newest
                    self._bump(None)
            await asyncio.sleep(POLL_S)

    async def _main(self) -> None:
        self._loop = asyncio.get_running_loop()
        self.notifications.on_recorded = self._kicked
        last_trim = 0.0
        poller: asyncio.Task[None] | None = None
        try:
            while not self._stop.is_set():
                try:
                    leading = await asyncio.to_thread(self.leader.try_acquire)
                    if leading:
                        if poller is None or poller.done():
                            poller = asyncio.create_task(self._poll(), name="events-poll")
                        await self._reconcile(await asyncio.to_thread(self.targets.all))
                        if time.monotonic() - last_trim >= TRIM_S:
                            last_trim = time.monotonic()
                            await asyncio.to_thread(self.trim)
                    else:
                        if poller is not None:
                            poller.cancel()
                            poller = None
                        await self._reconcile([])
                    self.backoff.succeeded()
                except Exception as exc:  # noqa: BLE001 - a background pass: backed off
                    self.backoff.failed(exc)
                await self._sleep(self.backoff.wait(RELOAD_S))
        finally:
            self.notifications.on_recorded = None
            if poller is not None:
                poller.cancel()
            await self._reconcile([])

    async def _sleep(self, seconds: float,
                     cut: Callable[[], Awaitable[bool]] | None = None) -> None:
        """Sleep ``seconds``, less if stopped or when ``cut`` answers True (asked every
        0.1 s; a failure to answer is a no)."""
        end = time.monotonic() + seconds
        while not self._stop.is_set() and time.monotonic() < end:
            await asyncio.sleep(min(0.1, end - time.monotonic()))
            if cut is not None:
                with contextlib.suppress(Exception):
                    if await cut():
                        return

    async def _reconcile(self, targets: list[EventTarget]) -> None:
        """One task per target: start the new ones', stop the removed ones'."""
        wanted = {t.id: t for t in targets}
        for tid in list(self._tasks):
            if tid not in wanted or self._tasks[tid].done():
                task = self._tasks.pop(tid)
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError, Exception):
                    await task
        for tid, target in wanted.items():
            if tid not in self._tasks:
                self._tasks[tid] = asyncio.create_task(self._target_loop(target),
                                                       name=f"events-{tid}")

    # -- one target -------------------------------------------------------------------------
    @staticmethod
    async def _idle(wake: _Wake, generation: int) -> None:
        """Wait for a kick newer than ``generation`` (read before the round that found
        nothing), at most ``IDLE_S``."""
        if wake.generation != generation:
            return  # kicked while that round ran: look again at once
        wake.event.clear()
        wake.waiting = True
        try:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(wake.event.wait(), IDLE_S)
        finally:
            wake.waiting = False

    def _counter(self) -> int | None:
        """The shared change counter, None while it cannot be trusted (a gateway's listening
        connection is down) or there is none: then a loop reads its target's row again."""
        changes = self.targets.changes
        return changes.value() if changes is not None and changes.usable() else None

    def _backoff(self, target: EventTarget) -> Backoff:
        return Backoff(f"event delivery to target {target.name} ({target.id})", log,
                       cap_s=self.retry_max_s)

    async def _target_loop(self, target: EventTarget) -> None:
        backoff = self._backoff(target)
        sender: Sender | None = None
        batch = int(target.options.get("batch_size") or 1)
        wake = self._wakes[target.id] = _Wake()
        seen = self._counter()
        read_at = time.monotonic()
        fresh = target

        async def changed() -> bool:
            """Whether the target was updated since ``target`` was read (its row is read
            again only when the change counter moved, or every ``RELOAD_S`` without one)."""
            nonlocal seen, read_at, fresh
            now = self._counter()
            if (now is not None and now != seen) or (
                    now is None and time.monotonic() - read_at >= RELOAD_S):
                fresh = await asyncio.to_thread(self.targets.get, None, target.id)
                seen, read_at = now, time.monotonic()
            return fresh.sealed != target.sealed

        sent: dict[int, set[int]] = {}  # rows partly delivered: the indexes sent
        try:
            while not self._stop.is_set():
                try:
                    if fresh.sealed != target.sealed:  # updated: carry on with the new one
                        target = fresh
                        batch = int(target.options.get("batch_size") or 1)
                        backoff = self._backoff(target)
                        if sender is not None:
                            with contextlib.suppress(Exception):
                                await sender.close()
                            sender = None
                        log.info("event target %s (%s) was changed: delivering with its new "
                                 "settings", target.name, target.id)
                    if sender is None:
                        spec = self.targets.spec(target)
                        await asyncio.to_thread(self.targets.check_reachable, spec)
                        sender = open_sender(spec)
                    generation = wake.generation
                    rows = await asyncio.to_thread(_fetch, self.engine, target.id, ROWS)
                    rnd = next_round(rows, sent)
                    if not rnd.events:
                        await self._idle(wake, generation)
                        continue
                    if await changed():  # (asked after the read: an event written after
                        continue          # the update's answer goes out with the update)
                    done, failures, error = await self._deliver(sender, rnd.events, batch)
                    complete = settle(rnd, done, sent)
                    await asyncio.to_thread(self._ack, target.id, complete, len(done),
                                            failures, error)
                    if error is None:
                        backoff.succeeded()
                        if len(rows) < ROWS and len(rnd.events) < BATCH:
                            await self._sleep(GATHER_S)  # caught up: let the next fill up
                        continue
                    delay = backoff.failed(DeliveryError(error))
                except asyncio.CancelledError:
                    raise
                except Exception as exc:  # noqa: BLE001 - the target or the database: retried
                    delay = backoff.failed(exc)
                    with contextlib.suppress(Exception):
                        await asyncio.to_thread(self._ack, target.id, [], 0, Failures(1, 0),
                                                f"{type(exc).__name__}: {exc}")
                    if sender is not None:
                        with contextlib.suppress(Exception):
                            await sender.close()
                        sender = None
                await self._sleep(delay, changed)
        finally:
            if self._wakes.get(target.id) is wake:
                del self._wakes[target.id]
            if sender is not None:
                with contextlib.suppress(Exception):
                    await sender.close()

    async def _deliver(self, sender: Sender, events: list[Outgoing], batch: int = 1
                       ) -> tuple[list[Outgoing], Failures, str | None]:
        """Send ``events`` in ``PARALLEL`` lanes: a key always goes to the same lane (by its
        hash) and each lane sends its events in sequencer order, one message at a time
        (``batch`` records per message, a webhook's option), stopping at its first failure —
        so a key's events leave in sequencer order and none overtakes one that failed.
        Returns the events delivered, the number of failed attempts and the last error.
        With ``batch`` > 1, no more lanes than it takes to fill the messages: 16 lanes would
        send a round of 100 events in 16 messages of 6 where 1 holds them all (a message
        costs the deliverer far more than a record). A lane's messages go by ``send_run`` (in
        one call to a sender that can send a run: the webhook's ``send_many``), stopping at
        the first that fails."""
        parallel = PARALLEL if batch <= 1 else max(1, min(PARALLEL, -(-len(events) // batch)))
        lanes: dict[int, list[Outgoing]] = {}
        for ev in events:
            lane_events = lanes.get(slot := hash(ev.key) % parallel)
            if lane_events is None:
                lanes[slot] = [ev]
            else:
                lane_events.append(ev)
        done: list[Outgoing] = []
        errors: list[str] = []
        permanent: list[str] = []

        async def lane(events: list[Outgoing]) -> None:
            chunks = [events[i:i + batch] for i in range(0, len(events), batch)]
            sent, error = await send_run(sender, [messages(c) for c in chunks],
                                         [c[0].key for c in chunks])
            for chunk in chunks[:sent]:
                done.extend(chunk)
            if error is not None:  # this lane's later events (its keys') wait
                (permanent if error.permanent else errors).append(str(error))

        await asyncio.gather(*(lane(ev) for ev in lanes.values()))
        last = (permanent or errors)[-1] if permanent or errors else None
        return done, Failures(len(errors) + len(permanent), len(permanent)), last

    def _ack(self, target_id: str, complete: list[int], delivered: int, failures: Failures,
             error: str | None) -> None:
        """Delete the rows whose events are all delivered and count, in one commit (the
        committer's): ``delivered`` events, failed attempts as retried, those a retry cannot
        fix (permanent) as failed."""
        if not delivered and not failures.retried and not failures.failed and error is None:
            return

        def work(conn: Connection) -> tuple[None, bool]:
            _delete_delivered(conn, complete)
            counts = {"target_id": target_id, "delivered": delivered,
                      "retried": failures.retried, "failed": failures.failed}
            if error is None:
                _COUNT.execute(conn, **counts)
            else:
                _COUNT_ERROR.execute(conn, **counts, last_error=error[:1000],
                                     last_error_at=datetime.now(UTC))
            return None, False

        self.run_write(work)

    # -- the backlog limit ------------------------------------------------------------------
    def trim(self) -> int:
        """Drop the oldest events of each target past its backlog limit (its own
        ``backlog_limit``, else the server's; never above the server's) — counted as failed,
        logged; the number dropped."""
        dropped = 0
        backlogs = self.targets.backlogs()
        own = {t.id: int(t.options["backlog_limit"]) for t in self.targets.all()
               if t.id in backlogs and t.options.get("backlog_limit")} if backlogs else {}
        for target_id, n in backlogs.items():
            limit = min(own.get(target_id, self.backlog_limit), self.backlog_limit)
            excess = n - limit
            if excess <= 0:
                continue
            edge = _trim_edge(self.engine, target_id, excess)
            if edge is None:
                continue

            def work(conn: Connection, target_id: str = target_id, edge: int = edge,
                     limit: int = limit) -> tuple[int, bool]:
                oldest = (event_outbox.c.target_id == bindparam("tid"),
                          event_outbox.c.id <= bindparam("edge"))
                params = {"tid": target_id, "edge": edge}
                gone = int(conn.execute(select(func.coalesce(func.sum(event_outbox.c.events), 0))
                                        .where(*oldest), params).scalar_one())
                conn.execute(delete(event_outbox).where(*oldest), params)
                t = event_targets.c
                conn.execute(event_targets.update().where(t.id == target_id).values(
                    failed=t.failed + gone,
                    last_error=f"backlog limit ({limit}) reached: the oldest "
                               f"{gone} events were dropped",
                    last_error_at=datetime.now(UTC)))
                return int(gone), False

            gone, _ = self.run_write(work)
            dropped += gone
            log.warning("event target %s: backlog over the limit (%d): dropped the oldest "
                        "%d undelivered events", target_id, limit, gone)
        return dropped

"""A linearizability checker for histories of S3 operations on a few keys (issue 21).

Each key is checked as a register whose value is the id of the write that produced it (every
write, PUT, multipart complete or copy, writes a unique id; a DELETE writes ``None``; a key
starts absent, ``None``). An operation has an invocation time and, when the client got an
answer, a completion time:

- a **write** acknowledged by the server happened once, between its invocation and its
  completion; a write that got no answer or a 5xx (a timeout, a reset connection, a gateway
  killed mid-request) *may* have happened, at any time after its invocation: its completion
  is unknown (``complete=None``); a write refused with a 4xx did not happen and is left out;
- a **read** (GET, HEAD, a listing's line for the key, the source side of a copy) observed a
  set of possible values: a GET sees one write id (``x-amz-meta-w``) or ``None`` (NoSuchKey);
  a listing line's ETag may fit several writes (a copy keeps its source's ETag). Reads that
  got no answer tell nothing and are left out.

The history is linearizable when every key's operations can be put in one order that respects
real time (an operation that completed before another was invoked comes first) in which every
read sees the latest write before it. The search is Wing & Gong's, done "just in time" as in
Lowe's and Knossos' linear checker: the events are swept in time order, keeping every
configuration (register value, operations already linearized but not yet completed) that
explains the history so far; an operation's completion keeps only the configurations in which
it has taken effect. A maybe-write may be applied at most once, or never; it stops mattering
once the last read that could see its value has completed (it is then dropped), and a
configuration that used fewer maybe-writes than another one with the same value and the same
pending operations makes the other redundant. A maybe-write is only tried together with a read
of its value right after it (any other placement can be left out). Optionally
(``maybe_window``) a maybe-write takes effect within a bound after its invocation or never.

When no configuration survives a read's completion, the read is an anomaly; the check goes on
without it, so one history reports all of them (each wrong read once). Kinds:

``never-written``   the read saw a value no write of this key ever wrote;
``future-read``     it saw a value whose only write was invoked after the read completed;
``stale-read``      it saw a value (or absence) already overwritten by a write that completed
                    before the read was invoked (a lost acknowledged write shows up so);
``listing-missing-key`` the same, for a listing that did not show an acknowledged PUT;
``non-monotonic-read``  it saw an older value than one an earlier operation already saw.
"""

from __future__ import annotations

import bisect
import dataclasses
import itertools
import math
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Literal

Value = str | None
INFINITY = math.inf

Kind = Literal["never-written", "future-read", "stale-read", "listing-missing-key",
               "non-monotonic-read", "inconclusive"]


@dataclass(frozen=True)
class Op:
    """One operation on one key. ``value`` is what a write wrote (``None``: a delete);
    ``observed`` the values a read may have seen. ``complete`` is None when unknown (a write
    that may or may not have happened)."""

    id: int
    key: str
    kind: Literal["write", "read"]
    invoke: float
    complete: float | None
    value: Value = None
    observed: frozenset[Value] = frozenset()
    label: str = ""  # PUT, DELETE, COPY, MPU, GET, LIST, COPY-SOURCE, ...
    client: int = 0
    note: str = ""  # where it went (gateway) and how it ended, for the report

    @property
    def end(self) -> float:
        return INFINITY if self.complete is None else self.complete

    def describe(self) -> str:
        what = (f"{self.label} {self.key}={self.value!r}" if self.kind == "write"
                else f"{self.label} {self.key} saw {sorted(self.observed, key=str)!r}")
        when = (f"[{self.invoke:.6f}, {'?' if self.complete is None else f'{self.complete:.6f}'}]")
        return f"op {self.id} client {self.client} {what} {when} {self.note}".rstrip()


@dataclass(frozen=True)
class Anomaly:
    kind: Kind
    key: str
    op: Op
    detail: str

    def __str__(self) -> str:
        return f"{self.kind} on {self.key}: {self.op.describe()} — {self.detail}"


@dataclass
class Result:
    ops: int = 0  # operations checked (reads and writes that count)
    keys: int = 0
    anomalies: list[Anomaly] = field(default_factory=list)
    max_configs: int = 0

    @property
    def ok(self) -> bool:
        return not self.anomalies

    def by_kind(self) -> dict[str, int]:
        return dict(Counter(a.kind for a in self.anomalies))

    def summary(self) -> str:
        return (f"{self.ops} operations on {self.keys} keys checked, "
                f"{len(self.anomalies)} anomalies {self.by_kind() or ''}").rstrip()


class History:
    """Operations as a test records them (thread-safe enough under the GIL: list appends)."""

    def __init__(self) -> None:
        self.ops: list[Op] = []
        self._ids = itertools.count(1)

    def next_id(self) -> int:
        return next(self._ids)

    def write(self, key: str, value: Value, invoke: float, complete: float | None, *,
              label: str, client: int = 0, note: str = "") -> Op:
        op = Op(self.next_id(), key, "write", invoke, complete, value=value, label=label,
                client=client, note=note)
        self.ops.append(op)
        return op

    def read(self, key: str, observed: Iterable[Value], invoke: float, complete: float, *,
             label: str, client: int = 0, note: str = "") -> Op:
        op = Op(self.next_id(), key, "read", invoke, complete, observed=frozenset(observed),
                label=label, client=client, note=note)
        self.ops.append(op)
        return op


# A configuration: (register value, ids of operations linearized but not yet completed —
# maybe-writes included until dropped).
Config = tuple[Value, frozenset[int]]
MAX_CONFIGS = 50_000


def check(ops: Iterable[Op], maybe_window: float = INFINITY) -> Result:
    """Check every key of a history; all anomalies, in time order per key. With
    ``maybe_window``, a write that got no answer takes effect within that many seconds of its
    invocation or never (the run's requests end by then: its timeouts say so); without, at
    any time."""
    per_key: dict[str, list[Op]] = {}
    for op in ops:
        per_key.setdefault(op.key, []).append(op)
    result = Result(keys=len(per_key))
    for key in sorted(per_key):
        n, anomalies, most = check_key(per_key[key], maybe_window)
        result.ops += n
        result.anomalies += anomalies
        result.max_configs = max(result.max_configs, most)
    return result


def check_key(ops: list[Op], maybe_window: float = INFINITY
              ) -> tuple[int, list[Anomaly], int]:
    """(operations checked, anomalies, most configurations held at once) for one key."""
    for op in ops:
        if op.kind == "read" and op.complete is None:
            raise ValueError(f"a read without a completion tells nothing: {op.describe()}")
    writes = [op for op in ops if op.kind == "write"]
    written: set[Value] = {None} | {w.value for w in writes}
    anomalies: list[Anomaly] = []
    reads: list[Op] = []
    for op in ops:
        if op.kind != "read":
            continue
        if not op.observed & written:
            anomalies.append(Anomaly("never-written", op.key, op,
                                     "no write of this key wrote it"))
        else:
            reads.append(op)
    # maybe-writes: dropped when nothing can see them, or once the last read that could has
    # completed
    last_seen: dict[Value, float] = {}
    for r in reads:
        for v in r.observed:
            last_seen[v] = max(last_seen.get(v, -INFINITY), r.end)
    maybe = {w.id for w in writes if w.complete is None}
    # maybe-writes seen by exactly the same reads are interchangeable: one value for them all
    # (a multiset of writes of it, each usable once), as for maybe-deletes (all ``None``)
    seen_by: dict[Value, set[int]] = {}
    for r in reads:
        for v in r.observed:
            seen_by.setdefault(v, set()).add(r.id)
    rep: dict[frozenset[int], Value] = {}
    rename = {w.value: rep.setdefault(frozenset(seen_by.get(w.value, ())), w.value)
              for w in sorted(writes, key=lambda w: w.id)
              if w.complete is None and w.value is not None}
    if any(k != v for k, v in rename.items()):
        writes = [dataclasses.replace(w, value=rename.get(w.value, w.value)) for w in writes]
        reads = [dataclasses.replace(r, observed=frozenset(rename.get(v, v) for v in r.observed))
                 for r in reads]
        original = {op.id: op for op in ops}
        ops = writes + reads
    else:
        original = {}
    # the moment a maybe-write stops mattering
    until = {w.id: min(last_seen.get(w.value, -INFINITY), w.invoke + maybe_window)
             for w in writes if w.complete is None}
    kept = [w for w in writes if w.complete is not None or until[w.id] > w.invoke]
    live = kept + reads
    by_id = {op.id: op for op in live}
    # events: (time, order, op id); at equal times invocations first (operations that
    # touch in time count as concurrent), then completions, then drops
    events: list[tuple[float, int, int]] = []
    for op in live:
        events.append((op.invoke, 0, op.id))
        if op.complete is not None:
            events.append((op.complete, 1, op.id))
        elif op.id in maybe:
            events.append((until[op.id], 2, op.id))
    events.sort()
    configs: set[Config] = {(None, frozenset())}
    pending: set[int] = set()  # definite operations invoked, not completed
    classes: dict[Value, list[int]] = {}  # pending maybe-writes by value, by id
    most = 1
    for _, what, oid in events:
        op = by_id[oid]
        if what == 0:
            if oid in maybe:
                bisect.insort(classes.setdefault(op.value, []), oid)
            else:
                pending.add(oid)
            continue
        if what == 2:
            classes[op.value].remove(oid)
            configs = _prune({(v, lin - {oid}) for v, lin in configs}, maybe)
            continue
        reached = _closure(configs, pending, classes, by_id, oid)
        survivors = {(v, lin - {oid}) for v, lin in reached if oid in lin}
        pending.discard(oid)
        if not survivors:
            found = _classify(op, ops, writes)
            anomalies.append(dataclasses.replace(found, op=original.get(oid, op)))
            # go on without it (as if it had never been made): one wrong read is reported
            # once, not again through every later read that contradicts it
            survivors = {(v, lin) for v, lin in reached if oid not in lin}
        configs = _prune(survivors, maybe)
        most = max(most, len(configs))
        if len(configs) > MAX_CONFIGS:
            anomalies.append(Anomaly("inconclusive", op.key, op,
                                     f"more than {MAX_CONFIGS} configurations: not checked "
                                     "further"))
            break
    anomalies.sort(key=lambda a: a.op.end)
    return len(kept) + len(reads), anomalies, most


def _closure(configs: set[Config], pending: set[int], classes: dict[Value, list[int]],
             by_id: dict[int, Op], target: int) -> set[Config]:
    """Every configuration reachable by linearizing pending operations in any order; a
    configuration that has linearized ``target`` is not extended further (what follows it
    is explored at later events).

    A maybe-write is linearized only together with a read of its value right after it: in
    any order that explains the history, a maybe-write followed by a write (or by nothing)
    can be left out, and the read that follows it otherwise sees its value."""
    seen: set[Config] = set(configs)
    stack = list(configs)
    pending_reads = [by_id[r] for r in pending if by_id[r].kind == "read"]
    wanted = {v for r in pending_reads for v in r.observed}
    usable = [(v, members) for v, members in classes.items() if members and v in wanted]
    while stack:
        value, lin = stack.pop()
        if target in lin:
            continue
        free = pending - lin
        reads = [r for r in pending_reads if r.id in free]
        steps: list[Config] = []
        for oid in free:
            op = by_id[oid]
            if op.kind == "read":
                if value in op.observed:
                    steps.append((value, lin | {oid}))
            else:
                steps.append((op.value, lin | {oid}))
        for v, members in usable:  # the first unused write of each class will do
            first = next((m for m in members if m not in lin), None)
            if first is not None:
                steps += [(v, lin | {first, r.id}) for r in reads if v in r.observed]
        for nxt in steps:
            if nxt not in seen:
                seen.add(nxt)
                stack.append(nxt)
    return seen


def _prune(configs: set[Config], maybe: set[int]) -> set[Config]:
    """Drop a configuration when another one has the same value and pending operations and
    used a strict subset of its maybe-writes."""
    groups: dict[tuple[Value, frozenset[int]], list[frozenset[int]]] = {}
    for value, lin in configs:
        used = lin & maybe
        groups.setdefault((value, lin - used), []).append(used)
    out: set[Config] = set()
    for (value, definite), useds in groups.items():
        useds.sort(key=len)
        minimal: list[frozenset[int]] = []
        for u in useds:
            if not any(m < u for m in minimal):
                minimal.append(u)
        out |= {(value, definite | u) for u in minimal}
    return out


def _classify(op: Op, ops: list[Op], writes: list[Op]) -> Anomaly:
    """Name the anomaly of a read no configuration explains."""
    seen_writes = [w for w in writes if w.value in op.observed]
    sees_initial = None in op.observed
    if seen_writes and not sees_initial and all(w.invoke > op.end for w in seen_writes):
        return Anomaly("future-read", op.key, op, "its write was invoked after the read "
                       f"completed: {seen_writes[0].describe()}")
    # the latest moment the observed value was surely written (a key starts absent; a
    # maybe-write counts only when nothing else can explain the value)
    definite = [w.end for w in seen_writes if w.complete is not None]
    if definite or sees_initial:
        newest = max(definite, default=-INFINITY)
    else:
        newest = max(w.invoke for w in seen_writes)
    superseding = [w for w in writes if w.complete is not None and w.complete < op.invoke
                   and w.invoke > newest and w.value not in op.observed]
    if superseding:
        newer = max(superseding, key=lambda w: w.complete or 0.0)
        if op.label == "LIST" and op.observed == frozenset({None}) and newer.value is not None:
            return Anomaly("listing-missing-key", op.key, op,
                           f"the key was written and acknowledged before the listing "
                           f"started: {newer.describe()}")
        return Anomaly("stale-read", op.key, op, "overwritten before the read began by "
                       f"{newer.describe()}")
    earlier = [o for o in ops if o.complete is not None and o.complete < op.invoke
               and o.id != op.id and (o.kind == "write" or o.observed - op.observed)]
    last = max(earlier, key=lambda o: o.end, default=None)
    return Anomaly("non-monotonic-read", op.key, op,
                   "older than what an earlier operation saw or wrote"
                   + (f", e.g. {last.describe()}" if last is not None else ""))

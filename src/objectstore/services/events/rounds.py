"""A target's rounds: which outbox events go next, and which rows are done once some were
confirmed. An outbox row holds one or more events; a row may be sent over several rounds,
and what was sent of a row still in the outbox is remembered so nothing is sent twice."""

from __future__ import annotations

from typing import NamedTuple

from .outbox import Outgoing, expand

BATCH = 1024  # events sent in one round, at most

Row = tuple[int, str, str, int]  # (id, key, record, events)


class Round(NamedTuple):
    events: list[Outgoing]     # to send, in row and index order
    sizes: dict[int, int]      # row id -> how many events it holds


def next_round(rows: list[Row], sent: dict[int, set[int]], limit: int = BATCH) -> Round:
    """The next events of ``rows`` to send: those not sent already (``sent``: row id -> the
    indexes delivered from rows still in the outbox), at most ``limit`` (a row may be
    sent over several rounds). Forgets what ``sent`` held of rows no longer there."""
    present = {r[0] for r in rows}
    for gone in [rid for rid in sent if rid not in present and rows and rid < rows[-1][0]]:
        del sent[gone]  # deleted (delivered, trimmed): not coming back
    events: list[Outgoing] = []
    sizes: dict[int, int] = {}
    for rid, key, record, n in rows:
        if len(events) >= limit:
            break
        sizes[rid] = n
        events.extend(expand(rid, key, record, sent.get(rid))[:limit - len(events)])
    return Round(events, sizes)


def settle(rnd: Round, done: list[Outgoing], sent: dict[int, set[int]]) -> list[int]:
    """Note ``done`` as sent; the ids of the rows all of whose events now are (only the
    rows still partly sent keep their indexes in ``sent``)."""
    by_row: dict[int, list[int]] = {}
    for ev in done:
        places = by_row.get(ev.row)
        if places is None:
            by_row[ev.row] = [ev.place]
        else:
            places.append(ev.place)
    complete: list[int] = []
    for rid, n in rnd.sizes.items():
        had = sent.get(rid)
        new = by_row.get(rid, ())
        if (len(had) if had else 0) + len(new) >= n:  # (``done`` holds none sent before)
            complete.append(rid)
            if had is not None:
                del sent[rid]
        elif new:
            if had is None:
                sent[rid] = set(new)
            else:
                had.update(new)
    return complete

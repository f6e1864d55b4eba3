"""How the deliverer walks outbox rows that hold several events (services/events/
deliverer.py: next_round, settle): a round takes at most its limit of events, in sequencer
order, so a big row is sent over several rounds; a row is deleted only once all its events
are sent; what a partly sent row already delivered is not sent again; rows gone from the
outbox are forgotten; the messages a round's events go in (full ones with a
``batch_size``, each key's events in order)."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from objectstore.domain.models import ObjectStore, ObjectVersion
from objectstore.services.events.deliverer import EventDeliverer
from objectstore.services.events.outbox import Outgoing, compact, row_values
from objectstore.services.events.rounds import Row, next_round, settle
from objectstore.services.events.senders import DeliveryError
from tests.support.aio import in_own_loop

STORE = ObjectStore("s1", "acct", "LON1", "bkt", 1, "cred", True, 0, 0, "private",
                    datetime.now(UTC))


def _row(rid: int, keys: list[str]) -> Row:
    events = [compact("ObjectCreated:Put", ObjectVersion(
        store_id="s1", key=k, blob_id="", size=1, etag='"e"',
        last_modified=datetime.now(UTC), content_type="x"), "c", "p", 0) for k in keys]
    v = row_values("t", STORE, events, 0.0)
    return (rid, v["key"], v["record"], v["events"])


def test_a_round_is_limited_and_a_row_completes_over_several() -> None:
    rows = [_row(1, ["a", "b", "c"]), _row(2, ["d", "e"])]
    sent: dict[int, set[int]] = {}
    first = next_round(rows, sent, limit=2)
    assert [(e.row, e.place, e.key) for e in first.events] == [(1, 0, "a"), (1, 1, "b")]
    assert settle(first, first.events, sent) == []  # row 1 not complete yet
    second = next_round(rows, sent, limit=2)
    assert [(e.row, e.place) for e in second.events] == [(1, 2), (2, 0)]
    assert settle(second, second.events, sent) == [1]
    assert sent == {2: {0}}
    third = next_round(rows[1:], sent, limit=2)
    assert [(e.row, e.place) for e in third.events] == [(2, 1)]
    assert settle(third, third.events, sent) == [2] and sent == {}


def test_what_a_failed_round_delivered_is_not_sent_again() -> None:
    rows = [_row(1, ["a", "b", "a", "b"])]
    sent: dict[int, set[int]] = {}
    rnd = next_round(rows, sent)
    # the lane of "b" failed at its first event: only a's went
    assert settle(rnd, [e for e in rnd.events if e.key == "a"], sent) == []
    again = next_round(rows, sent)
    assert [(e.place, e.key) for e in again.events] == [(1, "b"), (3, "b")]
    assert settle(again, again.events, sent) == [1]


def test_rows_no_longer_in_the_outbox_are_forgotten() -> None:
    sent = {1: {0}, 5: {1}, 9: {0}}
    next_round([_row(6, ["x"]), _row(7, ["y"])], sent)
    assert sent == {9: {0}}  # 1 and 5 were deleted (trimmed); 9 was not fetched this time


class _Hook:
    """A sender that keeps each message's records (and fails those of ``failing`` keys)."""

    def __init__(self, failing: frozenset[str] = frozenset()) -> None:
        self.messages: list[list[str]] = []
        self.sequencers: list[tuple[str, str]] = []
        self.failing = failing

    async def send(self, body: bytes, *, key: str) -> None:
        records = json.loads(body)["Records"]
        if any(r["s3"]["object"]["key"] in self.failing for r in records):
            raise DeliveryError("down")
        self.messages.append([r["s3"]["object"]["key"] for r in records])
        self.sequencers += [(r["s3"]["object"]["key"], r["s3"]["object"]["sequencer"])
                            for r in records]

    async def close(self) -> None:
        pass


def _deliver(hook: _Hook, n: int, batch: int) -> list[Outgoing]:
    rnd = next_round([_row(1, [f"k{i % 40}" for i in range(n)])], {})
    deliverer = object.__new__(EventDeliverer)  # (_deliver uses none of its state)
    done, _failures, _error = in_own_loop(deliverer._deliver(hook, rnd.events, batch))
    return list(done)


@pytest.mark.parametrize(("n", "batch", "most"), [(100, 100, 1), (250, 100, 5),
                                                  (100, 10, 19), (100, 1, 100)])
def test_batched_messages_are_full_and_keep_each_keys_order(n: int, batch: int,
                                                            most: int) -> None:
    """With ``batch_size`` > 1 a round's events go in about as few messages as it allows
    (as many lanes as full messages, not 16 lanes of a few records each; keys spread over
    the lanes by their hash), each key's events still in sequencer order."""
    hook = _Hook()
    assert len(_deliver(hook, n, batch)) == n
    assert -(-n // batch) <= len(hook.messages) <= most
    assert all(len(m) <= batch for m in hook.messages)
    assert len(set(hook.sequencers)) == n
    for key in {f"k{i % 40}" for i in range(n)}:
        seqs = [seq for k, seq in hook.sequencers if k == key]
        assert seqs == sorted(seqs) and len(seqs) == sum(1 for i in range(n)
                                                         if f"k{i % 40}" == key)


def test_a_failed_key_sends_nothing_more_of_its_lane() -> None:
    hook = _Hook(failing=frozenset({"k3"}))
    done = _deliver(hook, 80, 1)
    assert "k3" not in {e.key for e in done}
    assert len(done) < 80 and all(m != ["k3"] for m in hook.messages)

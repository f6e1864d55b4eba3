"""How the deliverer walks outbox rows that hold several events (services/events/
deliverer.py: next_round, settle): a round takes at most its limit of events, in sequencer
order, so a big row is sent over several rounds; a row is deleted only once all its events
are sent; what a partly sent row already delivered is not sent again; rows gone from the
outbox are forgotten."""

from __future__ import annotations

from datetime import UTC, datetime

from objectstore.domain.models import ObjectStore, ObjectVersion
from objectstore.services.events.deliverer import Row, next_round, settle
from objectstore.services.events.outbox import compact, row_values

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

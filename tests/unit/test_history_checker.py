"""The linearizability checker (tests/support/history.py): it accepts what a register can do
and flags each kind of anomaly in crafted histories."""

from __future__ import annotations

import random
import time

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.support.history import History, Op, check


def kinds(h: History) -> list[str]:
    return [a.kind for a in check(h.ops).anomalies]


def test_a_sequential_history_of_puts_gets_and_deletes_is_linearizable() -> None:
    h = History()
    h.read("k", [None], 0, 1, label="GET")
    h.write("k", "a", 2, 3, label="PUT")
    h.read("k", ["a"], 4, 5, label="GET")
    h.write("k", "b", 6, 7, label="MPU")
    h.read("k", ["b"], 8, 9, label="LIST")
    h.write("k", None, 10, 11, label="DELETE")
    h.read("k", [None], 12, 13, label="LIST")
    result = check(h.ops)
    assert result.ok, result.anomalies
    assert result.ops == 7 and result.keys == 1


def test_a_read_concurrent_with_a_write_may_see_either_value() -> None:
    for seen in ("a", "b"):
        h = History()
        h.write("k", "a", 0, 1, label="PUT")
        h.write("k", "b", 2, 6, label="PUT")
        h.read("k", [seen], 3, 4, label="GET")
        assert kinds(h) == []


def test_concurrent_reads_may_see_the_new_value_then_the_old_one_only_if_overlapping() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "b", 2, 10, label="PUT")
    h.read("k", ["b"], 3, 6, label="GET")
    h.read("k", ["a"], 4, 7, label="GET")  # overlaps the first read: either order
    assert kinds(h) == []


def test_stale_read_is_flagged() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "b", 2, 3, label="PUT")
    h.read("k", ["a"], 4, 5, label="GET")
    result = check(h.ops)
    assert [a.kind for a in result.anomalies] == ["stale-read"]
    assert "op 2" in result.anomalies[0].detail


def test_read_of_a_value_never_written_is_flagged() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("other", "zz", 0, 1, label="PUT")
    h.read("k", ["zz"], 2, 3, label="GET")  # written, but to another key
    assert kinds(h) == ["never-written"]


def test_read_from_the_future_is_flagged() -> None:
    h = History()
    h.read("k", ["a"], 0, 1, label="GET")
    h.write("k", "a", 2, 3, label="PUT")
    assert kinds(h) == ["future-read"]


def test_non_monotonic_reads_are_flagged() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "b", 2, 20, label="PUT")  # still in flight during both reads
    h.read("k", ["b"], 3, 4, label="GET")
    h.read("k", ["a"], 5, 6, label="GET")  # after a read saw b: a is gone for good
    assert kinds(h) == ["non-monotonic-read"]


def test_a_lost_acknowledged_write_is_flagged() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "b", 2, 3, label="PUT")  # acknowledged, then lost (e.g. over a restart)
    h.write("k", "c", 4, None, label="PUT")  # a failed write is no excuse
    h.read("k", ["a"], 10, 11, label="GET")
    assert kinds(h) == ["stale-read"]
    h2 = History()
    h2.write("k", "a", 0, 1, label="PUT")
    h2.read("k", [None], 2, 3, label="GET")  # the key itself vanished
    assert kinds(h2) == ["stale-read"]


def test_a_listing_missing_an_acknowledged_key_is_flagged() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.read("k", [None], 2, 3, label="LIST")
    assert kinds(h) == ["listing-missing-key"]


def test_a_listing_concurrent_with_the_put_may_miss_the_key() -> None:
    h = History()
    h.write("k", "a", 0, 3, label="PUT")
    h.read("k", [None], 1, 2, label="LIST")
    assert kinds(h) == []


def test_a_listing_line_may_fit_several_writes() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "c", 2, 3, label="COPY")  # same bytes, so same ETag, as a
    h.read("k", ["a", "c"], 4, 5, label="LIST")
    assert kinds(h) == []


def test_a_write_that_got_no_answer_may_have_happened_or_not() -> None:
    for seen in ("a", "b"):
        h = History()
        h.write("k", "a", 0, 1, label="PUT")
        h.write("k", "b", 2, None, label="PUT")  # a timeout: maybe
        h.read("k", [seen], 10, 11, label="GET")
        h.read("k", [seen], 12, 13, label="GET")
        assert kinds(h) == []


def test_a_write_that_got_no_answer_takes_effect_at_most_once() -> None:
    h = History()
    h.write("k", "m", 0, None, label="PUT")  # maybe
    h.read("k", ["m"], 1, 2, label="GET")
    h.write("k", "b", 3, 4, label="PUT")
    h.read("k", ["b"], 5, 6, label="GET")
    h.read("k", ["m"], 7, 8, label="GET")  # m came back after b
    assert kinds(h) == ["stale-read"]


def test_a_write_that_got_no_answer_takes_effect_within_the_window_or_never() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "m", 2, None, label="PUT")  # maybe
    h.read("k", ["a"], 3, 4, label="GET")
    h.read("k", ["m"], 50, 51, label="GET")
    assert check(h.ops).ok
    assert [a.op.label for a in check(h.ops, maybe_window=30).anomalies] == ["GET"]
    assert check(h.ops, maybe_window=60).ok


def test_a_maybe_delete_takes_effect_at_most_once() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", None, 2, None, label="DELETE")  # maybe
    h.read("k", [None], 3, 4, label="GET")
    h.write("k", "b", 5, 6, label="PUT")
    h.read("k", ["b"], 7, 8, label="GET")
    assert kinds(h) == []
    h.read("k", [None], 9, 10, label="GET")  # b lost: the delete was used up
    assert kinds(h) == ["stale-read"]
    # two maybe-deletes may account for two absences
    h.write("k", None, 2.5, None, label="DELETE")
    assert kinds(h) == []


def test_a_write_refused_with_a_4xx_is_left_out_and_reads_cannot_see_it() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.read("k", ["x"], 2, 3, label="GET")  # x was refused: never recorded as a write
    assert kinds(h) == ["never-written"]


def test_every_anomaly_of_a_history_is_reported_not_just_the_first() -> None:
    h = History()
    h.write("k", "a", 0, 1, label="PUT")
    h.write("k", "b", 2, 3, label="PUT")
    h.read("k", ["a"], 4, 5, label="GET")  # stale
    h.read("k", ["b"], 6, 7, label="GET")  # right: the stale read is not held against it
    h.write("k", "c", 8, 9, label="PUT")
    h.read("k", ["b"], 10, 11, label="GET")  # stale again
    h.read("j", ["q"], 0, 1, label="GET")  # another key: never written
    found = check(h.ops).anomalies
    assert sorted(a.kind for a in found) == ["never-written", "stale-read", "stale-read"]


def test_operations_on_other_keys_do_not_interfere() -> None:
    h = History()
    h.write("k1", "a", 0, 1, label="PUT")
    h.write("k2", "b", 2, 3, label="PUT")
    h.read("k1", ["a"], 4, 5, label="GET")
    h.read("k2", ["b"], 4, 5, label="GET")
    assert kinds(h) == []


def _linearizable_history(seed: int, n: int, keys: int, clients: int,
                          maybe_rate: float) -> list[Op]:
    """A history of a real register: each client runs its operations one after another, each
    taking effect at one instant inside its interval; some writes lose their answer."""
    rng = random.Random(seed)
    h = History()
    state: dict[str, str | None] = {f"k{i}": None for i in range(keys)}
    # each client's operations one after another: (linearization point, invoke, complete)
    timeline: list[tuple[float, float, float, int]] = []
    for c in range(clients):
        t = rng.random()
        for _ in range(max(1, n // clients)):
            invoke = t + rng.random() * 0.5
            point = invoke + rng.random() * 2
            t = point + rng.random() * 2
            timeline.append((point, invoke, t, c))
    timeline.sort()
    for i, (_, invoke, complete, c) in enumerate(timeline):
        key = f"k{rng.randrange(keys)}"
        r = rng.random()
        if r < 0.45:
            h.read(key, [state[key]], invoke, complete, label="GET", client=c)
        else:
            value = None if r < 0.55 else f"v{i}"
            state[key] = value
            h.write(key, value, invoke, None if rng.random() < maybe_rate else complete,
                    label="PUT" if value else "DELETE", client=c)
    return h.ops


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(1, 120), keys=st.integers(1, 3),
       clients=st.integers(1, 6), maybe_rate=st.sampled_from([0.0, 0.1, 0.3]))
def test_histories_of_a_real_register_are_accepted(seed: int, n: int, keys: int, clients: int,
                                                   maybe_rate: float) -> None:
    result = check(_linearizable_history(seed, n, keys, clients, maybe_rate))
    assert result.ok, [str(a) for a in result.anomalies]


def test_a_long_history_checks_in_seconds() -> None:
    ops = _linearizable_history(7, 6_000, 4, 8, 0.05)
    started = time.monotonic()
    result = check(ops)
    took = time.monotonic() - started
    assert result.ok, [str(a) for a in result.anomalies][:3]
    assert result.ops > 5_000
    assert took < 10, took


@settings(max_examples=150, deadline=None)
@given(seed=st.integers(0, 2**32), n=st.integers(10, 150), clients=st.integers(1, 6),
       pick=st.integers(0, 10**6))
def test_a_read_made_stale_in_a_real_history_is_flagged(seed: int, n: int, clients: int,
                                                        pick: int) -> None:
    """A real register's history, with one read changed to a value that two later writes had
    surely replaced before the read began: the checker must object."""
    ops = _linearizable_history(seed, n, 1, clients, 0.1)
    writes = [o for o in ops if o.kind == "write" and o.complete is not None]
    candidates = []
    for r in (o for o in ops if o.kind == "read"):
        for old in writes:
            if old.value in r.observed or old.value is None:
                continue
            if any(new.invoke > old.end and new.end < r.invoke and new.value != old.value
                   for new in writes):
                candidates.append((r, old))
    if not candidates:
        return
    r, old = candidates[pick % len(candidates)]
    changed = [Op(o.id, o.key, o.kind, o.invoke, o.complete, o.value,
                  frozenset({old.value}) if o is r else o.observed, o.label, o.client)
               for o in ops]
    assert [a.op.id for a in check(changed).anomalies] == [r.id]

"""The pure lifecycle decisions (domain/lifecycle.py)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from objectstore.domain.lifecycle import (
    Filter,
    Rule,
    after_days,
    expiry_of,
    noncurrent_expired,
    rules_from_json,
    rules_to_json,
)

T0 = datetime(2026, 3, 1, 15, 30, tzinfo=UTC)


def test_real_days_end_at_the_next_midnight_utc() -> None:
    assert after_days(T0, 1, 86400) == datetime(2026, 3, 3, tzinfo=UTC)
    midnight = datetime(2026, 3, 1, tzinfo=UTC)
    assert after_days(midnight, 2, 86400) == datetime(2026, 3, 3, tzinfo=UTC)
    assert after_days(T0, 3, 2) == T0 + timedelta(seconds=6)  # short test days: exact


def test_filters() -> None:
    f = Filter(prefix="logs/", tags=(("env", "dev"),), size_greater_than=10, size_less_than=100)
    assert f.matches("logs/a", 50, {"env": "dev", "x": "y"})
    assert not f.matches("data/a", 50, {"env": "dev"})
    assert not f.matches("logs/a", 50, {"env": "prod"})
    assert not f.matches("logs/a", 10, {"env": "dev"})  # strictly greater
    assert not f.matches("logs/a", 100, {"env": "dev"})  # strictly less


def test_earliest_enabled_rule_wins() -> None:
    rules = [Rule("late", True, Filter(), expiration_days=10),
             Rule("early", True, Filter(prefix="a"), expiration_days=2),
             Rule("off", False, Filter(), expiration_days=1),
             Rule("date", True, Filter(prefix="b"),
                  expiration_date=datetime(2026, 3, 2, tzinfo=UTC))]
    assert expiry_of(rules, "a/x", 1, {}, T0, 86400) == (datetime(2026, 3, 4, tzinfo=UTC),
                                                       "early")
    assert expiry_of(rules, "b/x", 1, {}, T0, 86400)[1] == "date"  # type: ignore[index]
    assert expiry_of([rules[2]], "a", 1, {}, T0, 86400) is None


def test_noncurrent_keeps_the_newer_versions() -> None:
    rule = [Rule("nc", True, Filter(), noncurrent_days=1, newer_noncurrent_versions=2)]
    later = T0 + timedelta(days=5)
    assert noncurrent_expired(rule, "k", 1, {}, 1, T0, later, 86400) is None  # 2nd newest
    assert noncurrent_expired(rule, "k", 1, {}, 2, T0, later, 86400) == "nc"
    assert noncurrent_expired(rule, "k", 1, {}, 2, T0, T0 + timedelta(hours=2), 86400) is None


def test_rules_survive_their_json_form() -> None:
    rules = [Rule("r", True, Filter("p/", (("a", "b"),), 1, 9), expiration_days=3,
                  noncurrent_days=4, newer_noncurrent_versions=1, abort_days=2),
             Rule("d", False, expiration_date=datetime(2030, 1, 1, tzinfo=UTC),
                  expired_object_delete_marker=False)]
    assert rules_from_json(rules_to_json(rules)) == rules

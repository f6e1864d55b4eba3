"""Lifecycle rules as values, and the pure decisions on them: which rule expires a version
and when (no I/O: the S3 plane parses the XML into these, the worker applies them).

A "day" lasts ``day_seconds`` (86,400 unless ``OBJECTSTORE_LIFECYCLE_DAY_SECONDS`` says
otherwise, so tests run days in seconds); with real days an expiry falls, as on S3, at the
midnight UTC after the day count is reached.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

DAY = 86400
MAX_RULES = 1000


@dataclass(frozen=True)
class Filter:
    prefix: str = ""
    tags: tuple[tuple[str, str], ...] = ()
    size_greater_than: int | None = None
    size_less_than: int | None = None

    def matches(self, key: str, size: int, tags: dict[str, str]) -> bool:
        if not key.startswith(self.prefix):
            return False
        if any(tags.get(k) != v for k, v in self.tags):
            return False
        if self.size_greater_than is not None and not size > self.size_greater_than:
            return False
        return self.size_less_than is None or size < self.size_less_than


@dataclass(frozen=True)
class Rule:
    id: str
    enabled: bool
    filter: Filter = field(default_factory=Filter)
    expiration_days: int | None = None
    expiration_date: datetime | None = None
    expired_object_delete_marker: bool = False
    noncurrent_days: int | None = None
    newer_noncurrent_versions: int | None = None
    abort_days: int | None = None
    legacy_prefix: bool = False  # put as a rule-level <Prefix> (returned in that form)

    def to_json(self) -> dict[str, Any]:
        return {
            "legacy": self.legacy_prefix,
            "id": self.id, "enabled": self.enabled,
            "filter": {"prefix": self.filter.prefix, "tags": [list(t) for t in self.filter.tags],
                       "gt": self.filter.size_greater_than,
                       "lt": self.filter.size_less_than},
            "days": self.expiration_days,
            "date": self.expiration_date.isoformat() if self.expiration_date else None,
            "eodm": self.expired_object_delete_marker, "nc_days": self.noncurrent_days,
            "nc_newer": self.newer_noncurrent_versions, "abort_days": self.abort_days,
        }

    @classmethod
    def from_json(cls, d: dict[str, Any]) -> Rule:
        f = d["filter"]
        return cls(
            id=d["id"], enabled=d["enabled"],
            filter=Filter(f["prefix"], tuple((k, v) for k, v in f["tags"]), f["gt"], f["lt"]),
            expiration_days=d["days"],
            expiration_date=datetime.fromisoformat(d["date"]) if d["date"] else None,
            expired_object_delete_marker=d["eodm"], noncurrent_days=d["nc_days"],
            newer_noncurrent_versions=d["nc_newer"], abort_days=d["abort_days"],
            legacy_prefix=bool(d.get("legacy", False)),
        )


def rules_from_json(doc: Any) -> list[Rule]:
    return [Rule.from_json(r) for r in (doc or {}).get("rules", [])]


def rules_to_json(rules: list[Rule]) -> dict[str, Any]:
    return {"rules": [r.to_json() for r in rules]}


def after_days(start: datetime, days: int, day_seconds: int) -> datetime:
    """When ``days`` lifecycle days after ``start`` are over: with real days, the following
    midnight UTC (as S3 rounds); with short test days, exactly then."""
    end = start + timedelta(seconds=days * day_seconds)
    if day_seconds != DAY:
        return end
    midnight = end.astimezone(UTC).replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight if midnight == end else midnight + timedelta(days=1)


def expiry_of(rules: list[Rule], key: str, size: int, tags: dict[str, str],
              last_modified: datetime, day_seconds: int) -> tuple[datetime, str] | None:
    """The earliest (expiry time, rule id) of a latest version under the enabled rules."""
    best: tuple[datetime, str] | None = None
    for rule in rules:
        if not rule.enabled or not rule.filter.matches(key, size, tags):
            continue
        when: datetime | None = None
        if rule.expiration_days is not None:
            when = after_days(last_modified, rule.expiration_days, day_seconds)
        elif rule.expiration_date is not None:
            when = rule.expiration_date
        if when is not None and (best is None or when < best[0]):
            best = (when, rule.id)
    return best


def noncurrent_expired(rules: list[Rule], key: str, size: int, tags: dict[str, str],
                       newer_count: int, noncurrent_since: datetime, now: datetime,
                       day_seconds: int) -> str | None:
    """The id of a rule that expires a noncurrent version now: it has been noncurrent (since
    its successor was written) for the rule's days, and at least ``NewerNoncurrentVersions``
    newer noncurrent versions are kept. ``newer_count``: noncurrent versions newer than it."""
    for rule in rules:
        if not rule.enabled or rule.noncurrent_days is None:
            continue
        if not rule.filter.matches(key, size, tags):
            continue
        if rule.newer_noncurrent_versions is not None \
                and newer_count < rule.newer_noncurrent_versions:
            continue
        if after_days(noncurrent_since, rule.noncurrent_days, day_seconds) <= now:
            return rule.id
    return None


def removes_expired_markers(rules: list[Rule], key: str) -> bool:
    return any(r.enabled and r.expired_object_delete_marker and key.startswith(r.filter.prefix)
               and not r.filter.tags for r in rules)


def abort_due(rules: list[Rule], key: str, initiated: datetime, now: datetime,
              day_seconds: int) -> bool:
    return any(r.enabled and r.abort_days is not None and key.startswith(r.filter.prefix)
               and after_days(initiated, r.abort_days, day_seconds) <= now for r in rules)


def pass_interval(day_seconds: int) -> float:
    """How often the worker looks: a few times per lifecycle day, at most hourly."""
    return max(0.2, min(day_seconds / 8, 3600.0))

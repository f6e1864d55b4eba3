"""Object lock as values and rules: retention modes, a store's default retention, and what
may change a locked version. Times come from the server's clock, never the client's."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from .errors import AccessDenied, InvalidInput, LockNotEnabled, ObjectLocked
from .models import ObjectVersion

GOVERNANCE, COMPLIANCE = "GOVERNANCE", "COMPLIANCE"
MODES = (GOVERNANCE, COMPLIANCE)


@dataclass(frozen=True)
class LockConfig:
    """A store's object lock configuration (lock enabled; optional default retention)."""

    mode: str | None = None
    days: int | None = None
    years: int | None = None

    def default_until(self, now: datetime) -> datetime | None:
        if self.days is not None:
            return now + timedelta(days=self.days)
        if self.years is not None:
            return now + timedelta(days=365 * self.years)
        return None

    def to_json(self) -> dict[str, object]:
        return {"enabled": True, "mode": self.mode, "days": self.days, "years": self.years}

    @classmethod
    def from_json(cls, doc: object) -> LockConfig | None:
        if not isinstance(doc, dict) or not doc.get("enabled"):
            return None
        return cls(doc.get("mode"), doc.get("days"), doc.get("years"))


@dataclass(frozen=True)
class Retention:
    mode: str | None
    until: datetime | None


def retention_for(config: LockConfig | None, mode: str | None, until: datetime | None,
                  legal_hold: bool, now: datetime) -> tuple[str | None, datetime | None]:
    """The (mode, retain-until) a new version gets: what the request asked for (refused
    unless the store has object lock, and only both or neither, in the future), else the
    store's default retention from ``now`` (the server's clock)."""
    if config is None:
        if mode is not None or until is not None or legal_hold:
            raise LockNotEnabled("Bucket is missing Object Lock Configuration")
        return mode, until
    if mode is not None or until is not None:
        if mode not in MODES or until is None:
            raise InvalidInput("x-amz-object-lock-mode and x-amz-object-lock-retain-until-"
                               "date must both be given", "x-amz-object-lock-mode")
        if until <= now:
            raise InvalidInput("The retain until date must be in the future",
                               "x-amz-object-lock-retain-until-date")
        return mode, until
    default = config.default_until(now)
    if default is None or config.mode is None:
        return None, None
    return config.mode, default


def is_locked(v: ObjectVersion, now: datetime) -> bool:
    """A version under legal hold, or retained until a time still to come."""
    return v.legal_hold or (v.lock_until is not None and v.lock_until > now)


def check_deletable(v: ObjectVersion, now: datetime, bypass_governance: bool) -> None:
    """Refuse the removal of a locked version (GOVERNANCE may be bypassed by who may)."""
    if v.legal_hold:
        raise ObjectLocked("The object version is under a legal hold and cannot be deleted.")
    if v.lock_until is not None and v.lock_until > now:
        if v.lock_mode == GOVERNANCE and bypass_governance:
            return
        raise ObjectLocked(f"The object version is locked in {v.lock_mode} mode until "
                           f"{v.lock_until.isoformat()} and cannot be deleted.")


def check_retention_change(v: ObjectVersion, new: Retention, now: datetime,
                           bypass_governance: bool) -> None:
    """Extending retention is always allowed; shortening, removing it or weakening the mode
    only in GOVERNANCE mode with the bypass (COMPLIANCE: never, by anyone)."""
    if new.mode is not None and new.mode not in MODES:
        raise InvalidInput("Unknown object lock mode", "Mode")
    if new.until is not None and new.until <= now:
        raise InvalidInput("The retain until date must be in the future", "RetainUntilDate")
    if v.lock_until is None or v.lock_until <= now:
        return  # not retained now: anything goes
    weaker = (new.until is None or new.until < v.lock_until
              or (v.lock_mode == COMPLIANCE and new.mode != COMPLIANCE))
    if not weaker:
        return
    if v.lock_mode == GOVERNANCE and bypass_governance:
        return
    raise AccessDenied("Access Denied: the object version's retention cannot be shortened, "
                       "removed or weakened" + (" (COMPLIANCE mode)" if v.lock_mode == COMPLIANCE
                                                else " without x-amz-bypass-governance-retention"))

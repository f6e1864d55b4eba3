"""HTTP dates (RFC 7231 IMF-fixdate), written and read the same way by every plane that
serves objects (S3 and the websites)."""

from __future__ import annotations

from datetime import UTC, datetime
from email.utils import parsedate_to_datetime

_DAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def http_date(dt: datetime) -> str:
    """IMF-fixdate, as ``email.utils.format_datetime(..., usegmt=True)`` writes it
    (formatted here: that one costs several µs, and every GET and HEAD pays it)."""
    u = dt if dt.tzinfo is UTC else dt.astimezone(UTC)
    return (f"{_DAYS[u.weekday()]}, {u.day:02d} {_MONTHS[u.month - 1]} {u.year:04d} "
            f"{u.hour:02d}:{u.minute:02d}:{u.second:02d} GMT")


def parse_http_date(value: str | None) -> datetime | None:
    """A date header's value (None when absent or not a date; UTC when it names no zone)."""
    if not value:
        return None
    try:
        dt = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)

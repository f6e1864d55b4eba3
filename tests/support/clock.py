"""Clock control for client-side signing: sign a request (or presign a URL) as if at another
time, instead of sleeping until the server's clock gets there."""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Iterator
from unittest import mock


@contextlib.contextmanager
def signing_clock(when: dt.datetime) -> Iterator[None]:
    """botocore's Python and CRT-based signers sign at ``when`` (an aware datetime)."""
    aware = when.astimezone(dt.UTC)
    with (mock.patch("botocore.auth.get_current_datetime",
                     return_value=aware.replace(tzinfo=None)),
          mock.patch("botocore.crt.auth.get_current_datetime", return_value=aware)):
        yield


def ago(**delta: float) -> dt.datetime:
    """Now minus ``delta`` (``ago(minutes=10)``), timezone-aware UTC."""
    return dt.datetime.now(dt.UTC) - dt.timedelta(**delta)

"""Which failures mean "a backend cannot be reached right now", not "a bug": the metadata
database down, restarting or unreachable (a connection refused, lost or timed out, the pool
exhausted) or the blob store unreachable. The planes answer those with a retryable error
(S3: 503 ServiceUnavailable / SlowDown) instead of 500 InternalError; the request changed
nothing that was acknowledged, and the next one succeeds once the backend is back.

A blob that is missing (``FileNotFoundError``, SeaweedFS's ``NotFound``) is not an outage:
it stays a 500.
"""

from __future__ import annotations

import sqlite3
import sys
from typing import Literal

from sqlalchemy import exc as sa

from ..storage.seaweedfs.client import NotFound, SeaweedError
from ..storage.sql.async_reads import DatabaseUnavailable

Unavailable = Literal["ServiceUnavailable", "SlowDown"]
_SQLITE_TRANSIENT = ("locked", "busy", "unable to open", "disk i/o", "readonly database")


def unavailable(exc: BaseException) -> Unavailable | None:
    """``SlowDown`` when the database's connection pool had no connection for the request,
    ``ServiceUnavailable`` when a backend could not be reached, None for anything else."""
    if isinstance(exc, sa.TimeoutError):  # the pool's checkout timeout: too many requests
        return "SlowDown"
    if isinstance(exc, sa.DBAPIError):
        if isinstance(exc.orig, sqlite3.Error):
            # SQLite's OperationalError also means a bug ("no such table"): only a busy or
            # unreadable database file is an outage.
            text = str(exc.orig).lower()
            return ("ServiceUnavailable" if any(w in text for w in _SQLITE_TRANSIENT)
                    else None)
        if exc.connection_invalidated or isinstance(exc, sa.OperationalError | sa.InterfaceError):
            return "ServiceUnavailable"
        return None
    if isinstance(exc, sa.DisconnectionError):
        return "ServiceUnavailable"
    if isinstance(exc, DatabaseUnavailable):  # the event loop's point reads, either driver
        return "ServiceUnavailable"
    pg = sys.modules.get("psycopg")  # psycopg used directly elsewhere (LISTEN), if loaded
    if pg is not None and isinstance(exc, pg.OperationalError | pg.InterfaceError):
        return "ServiceUnavailable"
    if isinstance(exc, NotFound | FileNotFoundError):
        return None
    if isinstance(exc, SeaweedError | ConnectionError):
        return "ServiceUnavailable"
    return None

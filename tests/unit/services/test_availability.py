"""Which failures answer 503 (a backend out of reach) and which stay 500 (a bug)."""

from __future__ import annotations

import sqlite3

from sqlalchemy import exc as sa

from objectstore.services.availability import unavailable
from objectstore.storage.seaweedfs.client import NotFound


def _sqlite(message: str) -> sa.OperationalError:
    return sa.OperationalError("SELECT 1", {}, sqlite3.OperationalError(message))


def test_sqlite_busy_or_unreadable_is_an_outage() -> None:
    assert unavailable(_sqlite("database is locked")) == "ServiceUnavailable"
    assert unavailable(_sqlite("disk I/O error")) == "ServiceUnavailable"


def test_sqlite_schema_errors_are_bugs() -> None:
    assert unavailable(_sqlite("no such table: main.injected_fault")) is None
    assert unavailable(sa.IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE"))) is None


def test_server_database_connection_errors_and_pool_timeouts() -> None:
    class PgOperational(Exception):
        pass

    assert unavailable(sa.OperationalError("SELECT 1", {}, PgOperational("refused"))) \
        == "ServiceUnavailable"
    assert unavailable(sa.TimeoutError("QueuePool limit")) == "SlowDown"


def test_missing_blobs_and_plain_bugs_stay_internal_errors() -> None:
    assert unavailable(FileNotFoundError("blob")) is None
    assert unavailable(NotFound("needle")) is None
    assert unavailable(KeyError("x")) is None
    assert unavailable(ConnectionRefusedError()) == "ServiceUnavailable"

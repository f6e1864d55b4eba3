"""Which failures answer 503 (a backend unreachable right now) and which stay 500 (a bug)."""

from __future__ import annotations

import sqlite3

import psycopg
import pytest
from sqlalchemy import exc as sa

from objectstore.s3.errors import from_unexpected
from objectstore.storage.seaweedfs.client import NotFound, SeaweedError


@pytest.mark.parametrize("exc,code", [
    (sa.OperationalError("SELECT 1", {}, psycopg.OperationalError("connection refused")),
     "ServiceUnavailable"),
    (psycopg.OperationalError("the connection is lost"), "ServiceUnavailable"),
    (sa.DisconnectionError("connection lost"), "ServiceUnavailable"),
    (sa.TimeoutError("QueuePool limit reached"), "SlowDown"),
    (SeaweedError("no SeaweedFS master answered"), "ServiceUnavailable"),
    (ConnectionError("PUT http://volume/3,01: refused"), "ServiceUnavailable"),
    # SQLite: a busy or unreadable file is an outage, a schema error a bug
    (sa.OperationalError("SELECT 1", {}, sqlite3.OperationalError("database is locked")),
     "ServiceUnavailable"),
    (sa.OperationalError("SELECT 1", {}, sqlite3.OperationalError("disk I/O error")),
     "ServiceUnavailable"),
    (sa.OperationalError("INSERT", {}, sqlite3.OperationalError("no such table: main.t")),
     "InternalError"),
    # bugs and missing data stay 500
    (FileNotFoundError("blob sw1 does not exist"), "InternalError"),
    (NotFound("needle 3,01 not found"), "InternalError"),
    (sa.IntegrityError("INSERT", {}, Exception("duplicate key")), "InternalError"),
    (ValueError("bad"), "InternalError"),
])
def test_unreachable_backends_answer_503_and_bugs_500(exc: Exception, code: str) -> None:
    err = from_unexpected(exc)
    assert err.code == code
    assert err.status == (500 if code == "InternalError" else 503)

"""Upgrading a previous release's database adds the console's shared state (sessions and
the sign-in throttle, migration d4e6f8a0b2c4): the server starts on it, the new tables are
there, and signing in, a session and the throttle work on them."""

from __future__ import annotations

import hashlib

import httpx
import pytest

from tests.security.test_shared_console_state import COOKIE, sign_in
from tests.upgrade.test_upgrade import (  # noqa: F401 - fixtures
    Upgrade,
    alembic_heads,
    db_revision,
    db_rows,
    postgres_upgrade,
    running,
    sqlite_upgrade,
)


def _rows(up: Upgrade, statement: str) -> list[tuple[object, ...]]:
    return db_rows(up, statement)


def check_console_state(up: Upgrade) -> None:
    assert db_revision(up) != "d4e6f8a0b2c4"  # made by the previous release
    key = up.manifest["api_keys"]["default"]
    with running(up) as srv:
        assert db_revision(up) in alembic_heads()
        assert sign_in(srv.api_url, "wrong-key", local_address="127.0.0.31").status_code == 401
        assert [r[0] for r in _rows(up, "SELECT client FROM signin_failures")] == ["127.0.0.31"]
        r = sign_in(srv.api_url, key, local_address="127.0.0.31")
        assert r.status_code == 303, r.text
        assert _rows(up, "SELECT client FROM signin_failures") == []  # forgotten on success
        token = r.cookies[COOKIE]
        hashes = [row[0] for row in _rows(up, "SELECT token_hash FROM console_sessions")]
        assert hashes == [hashlib.sha256(token.encode()).hexdigest()]
    with running(up) as srv:  # the session survives a restart: it is in the database
        home = httpx.get(f"{srv.api_url}/console/", cookies={COOKIE: token}, timeout=30)
        assert home.status_code == 200


def test_sqlite_upgrade_adds_console_state(sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_console_state(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_adds_console_state(postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_console_state(postgres_upgrade)

"""Server-side sessions in the database: creation, lookup, idle and absolute expiry,
sign-out, flash."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine, select

from objectstore.console.sessions import SessionStore
from objectstore.services.sessions import token_digest
from objectstore.storage.sql.engine import make_engine, migrate
from objectstore.storage.sql.tables import console_sessions


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'objectstore.db'}", sqlite_synchronous="NORMAL")
    migrate(e)
    return e


def store(engine: Engine, clock: Clock) -> SessionStore:
    return SessionStore(engine, idle_s=60, absolute_s=300, clock=clock)


def test_a_session_is_found_by_its_token_only(engine: Engine) -> None:
    clock = Clock()
    s = store(engine, clock)
    token, session = s.create("acct-1")
    found = s.get(token)
    assert found is not None and found.account_id == "acct-1" and found.csrf == session.csrf
    assert s.get(token + "x") is None
    assert s.get("") is None and s.get(None) is None
    # only the token's hash is stored
    with engine.connect() as conn:
        rows = [tuple(r) for r in conn.execute(select(console_sessions))]
    assert len(rows) == 1 and rows[0][0] == token_digest(token)
    assert not any(token in str(v) for v in rows[0])


def test_idle_sessions_expire_and_use_keeps_them_alive(engine: Engine) -> None:
    clock = Clock()
    s = store(engine, clock)
    token, _ = s.create("a")
    for _ in range(4):  # used every 50 s: stays alive past the 60 s idle limit
        clock.now += 50
        assert s.get(token) is not None
    clock.now += 61
    assert s.get(token) is None
    assert s.get(token) is None  # and it was removed


def test_sessions_end_after_the_absolute_limit_even_when_used(engine: Engine) -> None:
    clock = Clock()
    s = store(engine, clock)
    token, _ = s.create("a")
    for _ in range(5):
        clock.now += 59
        assert s.get(token) is not None
    clock.now += 10  # 305 s after creation
    assert s.get(token) is None


def test_sign_out_ends_one_session_and_account_deletion_all(engine: Engine) -> None:
    clock = Clock()
    s = store(engine, clock)
    t1, _ = s.create("a")
    t2, _ = s.create("a")
    t3, _ = s.create("b")
    s.end(t1)
    assert s.get(t1) is None and s.get(t2) is not None
    s.end_account("a")
    assert s.get(t2) is None and s.get(t3) is not None


def test_each_session_has_its_own_csrf_token(engine: Engine) -> None:
    s = store(engine, Clock())
    _, a = s.create("a")
    _, b = s.create("a")
    assert a.csrf != b.csrf and len(a.csrf) >= 32


def test_flash_is_shown_once(engine: Engine) -> None:
    s = store(engine, Clock())
    token, _ = s.create("a")
    assert s.pop_flash(token) is None
    s.set_flash(token, "error", "name: is required")
    assert s.pop_flash(token) == ("error", "name: is required")
    assert s.pop_flash(token) is None


def test_sessions_are_shared_by_every_process_on_the_database(tmp_path: Path,
                                                              engine: Engine) -> None:
    clock = Clock()
    token, _ = store(engine, clock).create("a")
    other = make_engine(f"sqlite:///{tmp_path / 'objectstore.db'}")  # another process's
    assert store(other, clock).get(token) is not None

"""Server-side sessions: creation, lookup, idle and absolute expiry, sign-out, flash."""

from __future__ import annotations

from pathlib import Path

from objectstore.console.sessions import SessionStore


class Clock:
    def __init__(self) -> None:
        self.now = 1_000_000.0

    def __call__(self) -> float:
        return self.now


def store(tmp_path: Path, clock: Clock) -> SessionStore:
    return SessionStore(tmp_path / "console.db", idle_s=60, absolute_s=300, clock=clock)


def test_a_session_is_found_by_its_token_only(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    token, session = s.create("acct-1")
    found = s.get(token)
    assert found is not None and found.account_id == "acct-1" and found.csrf == session.csrf
    assert s.get(token + "x") is None
    assert s.get("") is None and s.get(None) is None
    # only the token's hash is stored
    assert token.encode() not in (tmp_path / "console.db").read_bytes()


def test_idle_sessions_expire_and_use_keeps_them_alive(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    token, _ = s.create("a")
    for _ in range(4):  # used every 50 s: stays alive past the 60 s idle limit
        clock.now += 50
        assert s.get(token) is not None
    clock.now += 61
    assert s.get(token) is None
    assert s.get(token) is None  # and it was removed


def test_sessions_end_after_the_absolute_limit_even_when_used(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    token, _ = s.create("a")
    for _ in range(5):
        clock.now += 59
        assert s.get(token) is not None
    clock.now += 10  # 305 s after creation
    assert s.get(token) is None


def test_sign_out_ends_one_session_and_account_deletion_all(tmp_path: Path) -> None:
    clock = Clock()
    s = store(tmp_path, clock)
    t1, _ = s.create("a")
    t2, _ = s.create("a")
    t3, _ = s.create("b")
    s.end(t1)
    assert s.get(t1) is None and s.get(t2) is not None
    s.end_account("a")
    assert s.get(t2) is None and s.get(t3) is not None


def test_each_session_has_its_own_csrf_token(tmp_path: Path) -> None:
    s = store(tmp_path, Clock())
    _, a = s.create("a")
    _, b = s.create("a")
    assert a.csrf != b.csrf and len(a.csrf) >= 32


def test_flash_is_shown_once(tmp_path: Path) -> None:
    s = store(tmp_path, Clock())
    token, _ = s.create("a")
    assert s.pop_flash(token) is None
    s.set_flash(token, "error", "name: is required")
    assert s.pop_flash(token) == ("error", "name: is required")
    assert s.pop_flash(token) is None


def test_sessions_are_shared_by_processes_on_the_data_dir(tmp_path: Path) -> None:
    clock = Clock()
    token, _ = store(tmp_path, clock).create("a")
    assert store(tmp_path, clock).get(token) is not None  # a second store on the same file

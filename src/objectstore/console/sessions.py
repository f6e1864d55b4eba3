"""Server-side console sessions: an opaque cookie token, stored only as its SHA-256."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from .localdb import LocalDb

COOKIE = "objectstore_session"
IDLE_S = 2 * 3600.0       # a session unused this long is over
ABSOLUTE_S = 12 * 3600.0  # and none lasts longer than this

_SCHEMA = """
CREATE TABLE IF NOT EXISTS sessions (
    token_hash TEXT PRIMARY KEY,
    account_id TEXT NOT NULL,
    csrf TEXT NOT NULL,
    created REAL NOT NULL,
    last_seen REAL NOT NULL,
    flash TEXT
);
"""


@dataclass(frozen=True)
class Session:
    account_id: str
    csrf: str
    created: float
    last_seen: float


def _digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, path: Path, *, idle_s: float = IDLE_S, absolute_s: float = ABSOLUTE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.db = LocalDb(path, _SCHEMA)
        self.idle_s, self.absolute_s, self.clock = idle_s, absolute_s, clock

    def create(self, account_id: str) -> tuple[str, Session]:
        """A new session: (the cookie token, the session). Expired sessions are swept."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(account_id, secrets.token_urlsafe(32), now, now)
        with self.db.connect() as conn:
            conn.execute("DELETE FROM sessions WHERE last_seen < ? OR created < ?",
                         (now - self.idle_s, now - self.absolute_s))
            conn.execute("INSERT INTO sessions VALUES (?, ?, ?, ?, ?, NULL)",
                         (_digest(token), account_id, session.csrf, now, now))
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie token (its idle timer restarts), or None."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        key = _digest(token)
        with self.db.connect() as conn:
            row = conn.execute("SELECT account_id, csrf, created, last_seen FROM sessions "
                               "WHERE token_hash = ?", (key,)).fetchone()
            if row is None:
                return None
            account_id, csrf, created, last_seen = row
            if now - last_seen > self.idle_s or now - created > self.absolute_s:
                conn.execute("DELETE FROM sessions WHERE token_hash = ?", (key,))
                return None
            conn.execute("UPDATE sessions SET last_seen = ? WHERE token_hash = ?", (now, key))
        return Session(account_id, csrf, created, now)

    def set_flash(self, token: str, kind: str, message: str) -> None:
        """A message for the next page this session sees ("ok" or "error")."""
        with self.db.connect() as conn:
            conn.execute("UPDATE sessions SET flash = ? WHERE token_hash = ?",
                         (f"{kind}:{message}", _digest(token)))

    def pop_flash(self, token: str) -> tuple[str, str] | None:
        key = _digest(token)
        with self.db.connect() as conn:
            row = conn.execute("SELECT flash FROM sessions WHERE token_hash = ?",
                               (key,)).fetchone()
            if row is None or not row[0]:
                return None
            conn.execute("UPDATE sessions SET flash = NULL WHERE token_hash = ?", (key,))
        kind, _, message = str(row[0]).partition(":")
        return kind, message

    def end(self, token: str | None) -> None:
        if token:
            with self.db.connect() as conn:
                conn.execute("DELETE FROM sessions WHERE token_hash = ?", (_digest(token),))

    def end_account(self, account_id: str) -> None:
        """Sign out every session of an account (it was deleted)."""
        with self.db.connect() as conn:
            conn.execute("DELETE FROM sessions WHERE account_id = ?", (account_id,))

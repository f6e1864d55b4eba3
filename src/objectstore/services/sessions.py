"""Console sessions in the database, shared by every worker and gateway: an opaque cookie
token, stored only as its SHA-256, with the session's CSRF token and a one-time flash
message."""

from __future__ import annotations

import hashlib
import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass

from sqlalchemy import Engine, delete, or_, select, update

from ..storage.sql.engine import writing
from ..storage.sql.tables import console_sessions as t

IDLE_S = 2 * 3600.0       # a session unused this long is over
ABSOLUTE_S = 12 * 3600.0  # and none lasts longer than this


@dataclass(frozen=True)
class Session:
    account_id: str
    csrf: str
    created: float
    last_seen: float


def token_digest(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class SessionStore:
    def __init__(self, engine: Engine, *, idle_s: float = IDLE_S,
                 absolute_s: float = ABSOLUTE_S,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.idle_s, self.absolute_s, self.clock = idle_s, absolute_s, clock
        # ``last_seen`` is written at most this often: a page view is a read, not a write
        # (a session may so end up to this much before its exact idle limit)
        self.touch_s = min(60.0, idle_s / 10)

    def create(self, account_id: str) -> tuple[str, Session]:
        """A new session: (the cookie token, the session). Expired sessions are swept."""
        token = secrets.token_urlsafe(32)
        now = self.clock()
        session = Session(account_id, secrets.token_urlsafe(32), now, now)
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(or_(t.c.last_seen < now - self.idle_s,
                                             t.c.created_at < now - self.absolute_s)))
            conn.execute(t.insert().values(token_hash=token_digest(token), account_id=account_id,
                                           csrf=session.csrf, created_at=now, last_seen=now,
                                           flash=None))
        return token, session

    def get(self, token: str | None) -> Session | None:
        """The live session for a cookie token (its idle timer restarts), or None."""
        if not token or len(token) > 200:
            return None
        now = self.clock()
        key = token_digest(token)
        with self.engine.connect() as conn:
            row = conn.execute(select(t.c.account_id, t.c.csrf, t.c.created_at, t.c.last_seen)
                               .where(t.c.token_hash == key)).first()
        if row is None:
            return None
        account_id, csrf, created, last_seen = row
        if now - last_seen > self.idle_s or now - created > self.absolute_s:
            self._end_hash(key)
            return None
        if now - last_seen >= self.touch_s:
            with writing(self.engine) as conn:
                conn.execute(update(t).where(t.c.token_hash == key).values(last_seen=now))
            last_seen = now
        return Session(account_id, csrf, created, last_seen)

    def set_flash(self, token: str, kind: str, message: str) -> None:
        """A message for the next page this session sees ("ok" or "error")."""
        with writing(self.engine) as conn:
            conn.execute(update(t).where(t.c.token_hash == token_digest(token))
                         .values(flash=f"{kind}:{message}"))

    def pop_flash(self, token: str) -> tuple[str, str] | None:
        key = token_digest(token)
        with self.engine.connect() as conn:  # most pages have none: a read only
            waiting = conn.execute(select(t.c.flash).where(t.c.token_hash == key)).scalar()
        if not waiting:
            return None
        with writing(self.engine) as conn:  # taken once, even by two pages at a time
            flash = conn.execute(select(t.c.flash).where(t.c.token_hash == key)
                                 .with_for_update()).scalar()
            if not flash:
                return None
            conn.execute(update(t).where(t.c.token_hash == key).values(flash=None))
        kind, _, message = str(flash).partition(":")
        return kind, message

    def _end_hash(self, key: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(t.c.token_hash == key))

    def end(self, token: str | None) -> None:
        if token:
            self._end_hash(token_digest(token))

    def end_account(self, account_id: str) -> None:
        """Sign out every session of an account (it was deleted)."""
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(t.c.account_id == account_id))

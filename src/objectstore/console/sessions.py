"""The console's session cookie; the sessions themselves live in the database
(``services/sessions.py``), shared by every worker and gateway."""

from __future__ import annotations

from ..services.sessions import ABSOLUTE_S, IDLE_S, Session, SessionStore

COOKIE = "objectstore_session"

__all__ = ["ABSOLUTE_S", "COOKIE", "IDLE_S", "Session", "SessionStore"]

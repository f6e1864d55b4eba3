"""CSRF protection: a per-session token on every state-changing request, plus an Origin check.

The session cookie is SameSite=Strict already; the token also covers same-site attackers
(another port on the same host is the same site) and browsers that ignore SameSite.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping
from typing import Protocol

HEADER = "x-csrf-token"
FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def token_matches(expected: str, given: str | None) -> bool:
    return bool(given) and hmac.compare_digest(expected.encode(), (given or "").encode())


def same_origin(headers: Mapping[str, str], own_origin: str) -> bool:
    """False when the browser says the request came from another origin.

    Browsers send Origin on every cross-origin POST (and on same-origin ones too); a request
    without Origin and Referer (a non-browser client) is left to the token check.
    """
    origin = headers.get("origin")
    if origin is not None:
        return origin == own_origin
    referer = headers.get("referer")
    if referer:
        return referer == own_origin or referer.startswith(own_origin + "/")
    return True


class HasFields(Protocol):
    def get(self, name: str, default: str = "") -> str: ...


def submitted_token(headers: Mapping[str, str], form: HasFields) -> str | None:
    return headers.get(HEADER) or form.get(FIELD) or None

"""Bearer API keys (``bearer`` or ``Bearer``; case-insensitive)."""

from __future__ import annotations

from starlette.requests import Request


def bearer_token(request: Request) -> str | None:
    return bearer_of(request.headers.get("authorization", ""))


def bearer_of(header: str) -> str | None:
    """The key of an ``Authorization`` header's value, or None."""
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        return None
    return token.strip()

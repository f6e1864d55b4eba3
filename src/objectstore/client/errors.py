"""Errors raised by the SDK: Civo's ``{code, reason}`` bodies, and transport failures."""

from __future__ import annotations

from typing import Any

import httpx


class ObjectStoreError(Exception):
    """Base class: every SDK error has a machine ``code`` and a human ``reason``."""

    def __init__(self, code: str, reason: str) -> None:
        super().__init__(f"{code}: {reason}")
        self.code = code
        self.reason = reason


class ApiError(ObjectStoreError):
    """The API answered with an HTTP status >= 400 (or an unreadable success body)."""

    def __init__(self, status: int, code: str, reason: str, details: str | None = None) -> None:
        super().__init__(code, reason)
        self.status = status
        self.details = details

    def __repr__(self) -> str:
        return f"ApiError(status={self.status}, code={self.code!r}, reason={self.reason!r})"

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiError:
        status = response.status_code
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        if isinstance(body, dict) and isinstance(body.get("code"), str):
            reason = body.get("reason")
            details = body.get("details")
            return cls(status, body["code"],
                       reason if isinstance(reason, str) else response.reason_phrase,
                       details if isinstance(details, str) else None)
        text = response.text.strip()[:200] or response.reason_phrase
        return cls(status, f"http_{status}", text)


class TransportError(ObjectStoreError):
    """The API could not be reached (connection refused, timeout, TLS failure...)."""

    def __init__(self, reason: str) -> None:
        super().__init__("connection_error", reason)

"""Placeholder replaced by the S3 plane."""
from __future__ import annotations

from starlette.types import ASGIApp

from ..services.registry import Services


def create_s3_app(services: Services) -> ASGIApp:
    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        body = b"<Error><Code>NotImplemented</Code></Error>"
        await send({"type": "http.response.start", "status": 501,
                    "headers": [(b"content-type", b"application/xml")]})
        await send({"type": "http.response.body", "body": body})
    return app

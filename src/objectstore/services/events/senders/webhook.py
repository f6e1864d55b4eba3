"""A webhook target: each event is POSTed as JSON to the endpoint; a 2xx answer
acknowledges it. ``Authorization: Bearer <auth_token>`` when the target has a token."""

from __future__ import annotations

import httpx

from .base import DeliveryError, TargetSpec

TIMEOUT_S = 10.0


class WebhookSender:
    def __init__(self, spec: TargetSpec) -> None:
        self.spec = spec
        headers = {"Content-Type": "application/json", "User-Agent": "objectstore-events"}
        if spec.secret:
            headers["Authorization"] = f"Bearer {spec.secret}"
        # no redirects (a 3xx is not an acknowledgement, nor a way elsewhere), no proxies
        # from the environment
        self._client = httpx.AsyncClient(headers=headers, timeout=TIMEOUT_S,
                                         follow_redirects=False, trust_env=False,
                                         limits=httpx.Limits(max_connections=32))

    async def send(self, body: bytes, *, key: str) -> None:
        try:
            resp = await self._client.post(self.spec.endpoint, content=body)
        except httpx.HTTPError as exc:
            raise DeliveryError(f"{type(exc).__name__}: {exc}") from exc
        if 200 <= resp.status_code < 300:
            return
        permanent = 400 <= resp.status_code < 500 and resp.status_code not in (408, 429)
        raise DeliveryError(f"the webhook answered {resp.status_code}", permanent=permanent)

    async def close(self) -> None:
        await self._client.aclose()

"""Object stores created through the management API, as a user would, with their owner
credential: the one store-creation helper the client suites share."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx

from .clients import REGION, boto_client
from .server import RunningServer


def uniq(prefix: str = "t") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


@dataclass
class Store:
    """A store and the S3 keys of its owner credential."""

    srv: RunningServer
    id: str
    name: str
    endpoint: str          # objectstore_endpoint as the API returned it
    access_key: str
    secret_key: str
    credential_id: str
    api_key: str           # the API key of the account that owns it
    s3_url: str            # the S3 endpoint (without the bucket)

    @property
    def host_port(self) -> str:
        return urlsplit(self.s3_url).netloc

    def boto(self, **kwargs: Any) -> Any:
        return boto_client(self.s3_url, self.access_key, self.secret_key, **kwargs)

    def api(self) -> httpx.Client:
        """A management API client with the owning account's key."""
        return self.srv.api(self.api_key)

    def stats(self) -> dict[str, int]:
        with self.api() as api:
            r = api.get(f"/v2/objectstores/{self.id}/stats", params={"region": REGION})
        assert r.status_code == 200, r.text
        return r.json()


S = TypeVar("S", bound=Store)


def create_store(srv: RunningServer, name: str | None = None, *, api_key: str | None = None,
                 s3_url: str | None = None, cls: type[S] = Store,  # type: ignore[assignment]
                 prefix: str = "t", **body: Any) -> S:
    """Create a store in LON1 (``body``: more fields, e.g. ``max_size_gb=1`` or
    ``access_key_id=`` to give it an existing credential) and fetch its owner credential.

    Clients talk to the endpoint the API returned, as a user would (Civo's export does),
    unless ``s3_url`` says otherwise."""
    name = name or uniq(prefix)
    key = api_key or srv.api_key
    with srv.api(key) as api:
        r = api.post("/v2/objectstores", json={"name": name, "region": REGION, **body})
        assert r.status_code == 200, r.text
        data = r.json()
        cred_id = data["owner_info"]["credential_id"]
        c = api.get(f"/v2/objectstore/credentials/{cred_id}", params={"region": REGION})
        assert c.status_code == 200, c.text
        cred = c.json()
    assert data["owner_info"]["access_key_id"] == cred["access_key_id"]
    endpoint = data["objectstore_endpoint"]
    assert endpoint.endswith(f"/{name}"), endpoint
    return cls(srv=srv, id=data["id"], name=name, endpoint=endpoint,
               access_key=cred["access_key_id"], secret_key=cred["secret_access_key_id"],
               credential_id=cred_id, api_key=key,
               s3_url=s3_url or endpoint[: -len(name) - 1])

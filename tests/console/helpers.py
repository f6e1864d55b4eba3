"""An httpx session on the console (sign-in, CSRF token) for tests that need no browser."""

from __future__ import annotations

import re
import uuid
from typing import Any

import boto3
import httpx
from botocore.config import Config

from objectstore.domain.models import Account, StoreWithOwner
from tests.support.server import RunningServer

CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
FORM_CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')


class ConsoleClient:
    def __init__(self, srv: RunningServer, *, local_address: str | None = None,
                 **headers: str) -> None:
        """``local_address``: connect from this loopback address (127.0.0.0/8): a client
        of its own as the server's sign-in throttle sees it."""
        self.srv = srv
        transport = httpx.HTTPTransport(local_address=local_address) if local_address \
            else None
        self.http = httpx.Client(base_url=srv.api_url, follow_redirects=False, timeout=30,
                                 headers=headers, transport=transport)
        self.csrf = ""

    def sign_in(self, key: str) -> httpx.Response:
        page = self.http.get("/console/signin")
        token = FORM_CSRF_RE.search(page.text)
        assert token, page.text
        r = self.http.post("/console/signin", data={"csrf": token.group(1), "api_key": key})
        if r.status_code == 303:
            home = self.http.get("/console/")
            found = CSRF_RE.search(home.text)
            assert found, home.text
            self.csrf = found.group(1)
        return r

    def get(self, path: str, **params: str) -> httpx.Response:
        return self.http.get("/console" + path, params=params)

    def post(self, path: str, data: dict[str, str | list[str]] | None = None,
             **headers: str) -> httpx.Response:
        body = {"csrf": self.csrf, **(data or {})}
        return self.http.post("/console" + path, data=body, headers=headers)

    def follow(self, r: httpx.Response) -> httpx.Response:
        assert r.status_code == 303, (r.status_code, r.text[:500])
        return self.http.get(r.headers["location"])

    def close(self) -> None:
        self.http.close()


def owner_s3(srv: RunningServer, sw: StoreWithOwner) -> Any:
    """boto3 on the S3 plane as the store's owner credential (one attempt per request)."""
    return boto3.client("s3", endpoint_url=srv.s3_url, region_name="LON1",
                        aws_access_key_id=sw.owner.access_key_id,
                        aws_secret_access_key=sw.owner.secret_access_key,
                        config=Config(retries={"total_max_attempts": 1}))


def new_store(srv: RunningServer, account: Account, stem: str) -> StoreWithOwner:
    """A 1 GB store in LON1 named ``stem-<random>``, made through the services."""
    return srv.services.stores.create(account.id, "LON1", f"{stem}-{uuid.uuid4().hex[:8]}", 1,
                                      None)

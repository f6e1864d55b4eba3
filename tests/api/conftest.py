"""Fixtures for the management API tests.

One real server per test session and database (SQLite and PostgreSQL, like the shared
``server`` fixture), and a fresh account per test: tests are isolated by account (and by
unique store names, which are global within a region) instead of by server, which keeps the
suite fast.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import httpx
import pytest
from sqlalchemy import update

from objectstore.domain.models import Account
from objectstore.storage.sql.tables import objectstores
from tests.support.server import RunningServer, running_server

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCESS_KEY_RE = re.compile(r"^[A-Z0-9]{20}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9]{40}$")
REGIONS = ("LON1", "NYC1", "FRA1")


@pytest.fixture(scope="session",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def srv(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
        ) -> Iterator[RunningServer]:
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_cluster").new_database()
    # durability is not under test here: skip the fsyncs to keep the suite fast
    with running_server(tmp_path_factory.mktemp("data"), url, sqlite_synchronous="NORMAL",
                        fsync=False) as running:
        yield running


CLEAN_CLI_ENV: dict[str, str | None] = {
    "OBJECTSTORE_API_URL": None, "OBJECTSTORE_API_KEY": None, "OBJECTSTORE_REGION": None,
    "OBJECTSTORE_EVENT_AUTH_TOKEN": None}


@dataclass
class Tenant:
    """An account of its own on the shared server, with an API client using its key."""

    srv: RunningServer
    account: Account
    key: str
    api: httpx.Client
    _clients: list[httpx.Client] = field(default_factory=list)

    def client(self, **headers: str) -> httpx.Client:
        """A client without the default Authorization header (headers given explicitly)."""
        c = httpx.Client(base_url=self.srv.api_url, timeout=30, headers=headers,
                         verify=False)  # plain http: skip building a CA store (slow)
        self._clients.append(c)
        return c

    def auth(self, scheme: str = "bearer") -> dict[str, str]:
        return {"Authorization": f"{scheme} {self.key}"}

    def cli(self, *args: str, code: int = 0) -> str:
        """``objectstore <args>`` against this server with this account's key (none of the
        client's environment variables leaking in); its output, after checking its exit
        code."""
        from click.testing import CliRunner

        from objectstore.cli.main import main

        runner = CliRunner(env=CLEAN_CLI_ENV)
        argv = [*args, "--api-url", self.srv.api_url, "--api-key", self.key]
        result = runner.invoke(main, argv, catch_exceptions=False)
        assert result.exit_code == code, (argv, result.output)
        return result.output

    # -- shortcuts --------------------------------------------------------------------------
    def store(self, name: str | None = None, **body: Any) -> dict[str, Any]:
        r = self.api.post("/v2/objectstores", json={"name": name or uniq(), **body})
        assert r.status_code == 200, r.text
        return r.json()

    def cred(self, name: str | None = None, **body: Any) -> dict[str, Any]:
        r = self.api.post("/v2/objectstore/credentials", json={"name": name or uniq("cred"),
                                                               **body})
        assert r.status_code == 200, r.text
        return r.json()

    def stores(self, region: str = "LON1") -> list[dict[str, Any]]:
        r = self.api.get("/v2/objectstores", params={"region": region, "per_page": 10000})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def creds(self, region: str = "LON1") -> list[dict[str, Any]]:
        r = self.api.get("/v2/objectstore/credentials",
                         params={"region": region, "per_page": 10000})
        assert r.status_code == 200, r.text
        return r.json()["items"]

    def snapshot(self) -> dict[str, Any]:
        """Everything this account owns, straight from the services (for "nothing changed")."""
        s = self.srv.services
        out: dict[str, Any] = {}
        for region in REGIONS:
            stores = s.stores.list(self.account.id, region, 1, 10000).items
            creds = s.credentials.list(self.account.id, region, 1, 10000).items
            out[region] = (
                sorted((w.store.id, w.store.name, w.store.max_size_gb, w.store.credential_id)
                       for w in stores),
                sorted((c.id, c.name, c.access_key_id, c.secret_access_key, c.max_size_gb,
                        c.suspended) for c in creds),
            )
        out["allocation"] = s.stores.allocation(self.account.id)
        return out

    def set_store_usage(self, store_id: str, used_bytes: int, object_count: int = 0) -> None:
        """Simulate stored data: the S3 plane keeps these counters on the store row."""
        with self.srv.services.engine.begin() as conn:
            conn.execute(update(objectstores).where(objectstores.c.id == store_id)
                         .values(used_bytes=used_bytes, object_count=object_count))


def uniq(prefix: str = "bkt") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _tenant(srv: RunningServer, quota_gb: int | None = None) -> Iterator[Tenant]:
    account, key = srv.services.accounts.create(uniq("acct"), quota_gb=quota_gb)
    api = httpx.Client(base_url=srv.api_url, timeout=30, verify=False,
                       headers={"Authorization": f"bearer {key}"})
    t = Tenant(srv, account, key, api)
    try:
        yield t
    finally:
        api.close()
        for c in t._clients:
            c.close()


@pytest.fixture
def tenant(srv: RunningServer) -> Iterator[Tenant]:
    yield from _tenant(srv)


@pytest.fixture
def other(srv: RunningServer) -> Iterator[Tenant]:
    """A second account on the same server."""
    yield from _tenant(srv)


@pytest.fixture
def small(srv: RunningServer) -> Iterator[Tenant]:
    """An account with a 1000 GB object-store quota."""
    yield from _tenant(srv, quota_gb=1000)


def assert_error(r: httpx.Response, status: int, code: str | None = None) -> dict[str, Any]:
    """A Civo-style error: the status, a JSON object with string code/reason/details."""
    assert r.status_code == status, (r.status_code, r.text)
    assert r.headers["content-type"].startswith("application/json"), r.headers
    body = r.json()
    assert isinstance(body, dict), body
    assert set(body) <= {"code", "reason", "details"}, body
    assert isinstance(body["code"], str) and body["code"], body
    assert isinstance(body["reason"], str) and body["reason"], body
    if "details" in body:
        assert isinstance(body["details"], str), body
    if code is not None:
        assert body["code"] == code, body
    return body


def assert_store_shape(store: dict[str, Any], srv: RunningServer, *, name: str, size: int
                       ) -> None:
    assert UUID_RE.match(store["id"]), store
    assert store["name"] == name
    for key in ("max_size", "max_size_gb"):
        assert type(store[key]) is int and store[key] == size, store
    owner = store["owner_info"]
    assert set(owner) >= {"name", "access_key_id", "credential_id"}, owner
    for key in ("name", "access_key_id", "credential_id"):
        assert isinstance(owner[key], str) and owner[key], owner
    assert UUID_RE.match(owner["credential_id"]), owner
    assert store["objectstore_endpoint"] == f"{srv.s3_url}/{name}"
    assert store["status"] == "ready"
    assert store["state"] == "ready"


def assert_cred_shape(cred: dict[str, Any]) -> None:
    assert UUID_RE.match(cred["id"]), cred
    assert isinstance(cred["name"], str) and cred["name"], cred
    assert isinstance(cred["access_key_id"], str) and cred["access_key_id"], cred
    assert isinstance(cred["secret_access_key_id"], str) and cred["secret_access_key_id"], cred
    assert type(cred["max_size_gb"]) is int, cred
    assert type(cred["suspended"]) is bool, cred
    assert cred["status"] == "ready", cred
    assert cred["state"] == "ready", cred

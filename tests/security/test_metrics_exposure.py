"""``/metrics`` shows no tenant's store names, sizes or object counts without a metrics token
or the operator's key (issue 20.5): aggregate series only."""

from __future__ import annotations

import uuid
from collections.abc import Iterator

import httpx
import pytest

from tests.support.server import RunningServer, running_server
from tests.support.stores import create_store

TOKEN = "metrics-token-0123456789abcdef"


@pytest.fixture(scope="module")
def srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("metrics"), None, sqlite_synchronous="NORMAL",
                        fsync=False, metrics_token=TOKEN) as running:
        yield running


def _scrape(srv: RunningServer, token: str | None = None) -> httpx.Response:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return httpx.get(f"{srv.api_url}/metrics", headers=headers, timeout=10)


def _tenant_store(srv: RunningServer) -> tuple[str, str]:
    """A store of another account than the operator's, with 3 objects of 1000 bytes: its
    name and that account's API key."""
    _account, key = srv.services.accounts.create(f"tenant-{uuid.uuid4().hex[:10]}")
    store = create_store(srv, prefix="secretname", api_key=key)
    s3 = store.boto()
    for i in range(3):
        s3.put_object(Bucket=store.name, Key=f"k{i}", Body=b"x" * 1000)
    return store.name, key


def test_without_a_token_only_aggregates(srv: RunningServer) -> None:
    name, _key = _tenant_store(srv)
    r = _scrape(srv)
    assert r.status_code == 200
    assert name not in r.text
    assert "objectstore_store_used_bytes" not in r.text
    assert "objectstore_store_objects" not in r.text
    # the aggregates are there: stores, bytes and objects summed per region
    lines = {ln.rsplit(" ", 1)[0]: float(ln.rsplit(" ", 1)[1]) for ln in r.text.splitlines()
             if ln and not ln.startswith("#")}
    assert lines['objectstore_used_bytes{region="LON1"}'] >= 3000
    assert lines['objectstore_objects{region="LON1"}'] >= 3
    assert lines['objectstore_stores{region="LON1"}'] >= 1
    assert any(k.startswith("objectstore_requests_total{") for k in lines)


def test_the_metrics_token_or_the_operator_key_show_each_store(srv: RunningServer) -> None:
    name, _key = _tenant_store(srv)
    for token in (TOKEN, srv.api_key):
        r = _scrape(srv, token)
        assert r.status_code == 200, r.text
        assert f'objectstore_store_used_bytes{{region="LON1",store="{name}"}} 3000.0' in r.text
        assert f'objectstore_store_objects{{region="LON1",store="{name}"}} 3.0' in r.text


def test_any_other_token_is_refused(srv: RunningServer) -> None:
    name, tenant_key = _tenant_store(srv)
    for token in (tenant_key, "wrong-token", TOKEN + "x"):
        r = _scrape(srv, token)
        assert r.status_code == 401, (token, r.status_code)
        assert r.json()["code"] == "metrics_token_invalid"
        assert name not in r.text
    basic = httpx.get(f"{srv.api_url}/metrics", headers={"Authorization": "Basic dTpw"})
    assert basic.status_code == 401 and name not in basic.text

"""The listings' response cache and the API key cache (mgmt/handler.py, services/accounts.py)
are coherent: a change is listed on the very next request — made through this server, through
another process on the same data dir (an admin CLI run, another worker), or, on PostgreSQL,
through another gateway (within the 100 ms the S3 plane's caches are held to). Each test
first lists a few times, so that what it then changes is cached."""

from __future__ import annotations

import asyncio
import json
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest

from objectstore.mgmt.handler import ListingCache
from objectstore.services.cache import SharedGeneration, SingleFlight
from tests.support.pg import PgCluster
from tests.support.server import RunningServer, running_server

from .conftest import Tenant, _tenant, assert_error, uniq

STORES, CREDS = "/v2/objectstores", "/v2/objectstore/credentials"


def _warm(api: httpx.Client, *paths: str, **params: str) -> None:
    for path in paths or (STORES, CREDS):
        for _ in range(3):
            assert api.get(path, params=params).status_code == 200


def _names(api: httpx.Client, path: str, **params: str) -> list[str]:
    r = api.get(path, params=params)
    assert r.status_code == 200, r.text
    return [item["name"] for item in r.json()["items"]]


def _owner_names(api: httpx.Client) -> list[str]:
    r = api.get(STORES)
    assert r.status_code == 200, r.text
    return [item["owner_info"]["name"] for item in r.json()["items"]]


def test_changes_through_this_server_are_listed_on_the_next_request(tenant: Tenant) -> None:
    api = tenant.api
    _warm(api)
    assert _names(api, STORES) == [] and _names(api, CREDS) == []

    store = tenant.store(name := uniq())
    assert _names(api, STORES) == [name]
    cred_id = store["owner_info"]["credential_id"]
    assert _names(api, CREDS) == [store["owner_info"]["name"]]

    _warm(api)
    r = api.patch(f"{CREDS}/{cred_id}", json={"name": "renamed"})
    assert r.status_code == 200, r.text
    assert _names(api, CREDS) == ["renamed"]
    assert _owner_names(api) == ["renamed"]  # the store listing shows its owner's new name

    _warm(api)
    r = api.put(f"{STORES}/{store['id']}", json={"max_size_gb": 1000})
    assert r.status_code == 200, r.text
    assert [s["max_size_gb"] for s in api.get(STORES).json()["items"]] == [1000]

    _warm(api)
    assert api.delete(f"{STORES}/{store['id']}").status_code == 200
    assert _names(api, STORES) == []
    assert _names(api, CREDS) == []  # the store's own credential went with it


def test_a_cached_listing_is_the_rendered_one_byte_for_byte(tenant: Tenant) -> None:
    tenant.store()
    tenant.cred()
    for path in (STORES, CREDS):
        first = tenant.api.get(path, params={"per_page": "5"})
        for _ in range(3):
            again = tenant.api.get(path, params={"per_page": "5"})
            assert again.content == first.content
            assert again.headers["content-type"] == first.headers["content-type"]
            assert again.headers["content-length"] == first.headers["content-length"]
    assert json.loads(first.content)["per_page"] == 5


def test_listings_are_cached_per_account_and_parameters(tenant: Tenant, other: Tenant) -> None:
    mine, theirs = uniq(), uniq()
    tenant.store(name=mine)
    other.store(name=theirs)
    for _ in range(3):
        assert _names(tenant.api, STORES) == [mine]
        assert _names(other.api, STORES) == [theirs]
        assert _names(tenant.api, STORES, region="NYC1") == []
        assert _names(tenant.api, STORES, page="2") == []
        # a parameter in the body counts like one in the query string
        r = tenant.api.request("GET", STORES, json={"region": "NYC1"})
        assert r.status_code == 200 and r.json()["items"] == [], r.text


def test_a_wrong_key_is_refused_even_after_the_right_one_was_cached(tenant: Tenant) -> None:
    _warm(tenant.api)
    for key in (tenant.key[:-1], tenant.key + "x", tenant.key.upper(), "x" * len(tenant.key)):
        c = tenant.client(Authorization=f"bearer {key}")
        for path in (STORES, CREDS):
            assert_error(c.get(path), 401)
    assert_error(tenant.client().get(STORES), 401)


def test_errors_are_not_cached(tenant: Tenant) -> None:
    _warm(tenant.api)
    for _ in range(3):
        assert_error(tenant.api.get(STORES, params={"per_page": "0"}), 400)
        assert_error(tenant.api.get(STORES, params={"region": "NOPE1"}), 404)
    tenant.store(name := uniq())
    assert _names(tenant.api, STORES) == [name]


# -- another process on the same data dir (an admin CLI run, another --workers process) -----

_OTHER_PROCESS = """
import sys
from objectstore.app import build_services
from objectstore.config import Settings

data_dir, url, account_id, account_name, action = sys.argv[1:6]
s = build_services(Settings(data_dir=data_dir, database_url=url or None),
                   run_migrations=False)
if action == "create-credential":
    s.credentials.create(account_id, "LON1", "from-elsewhere", None, None, None)
elif action == "create-store":
    s.stores.create(account_id, "LON1", sys.argv[6], None, None)
elif action == "replace-key":
    s.accounts.set_api_key(account_name, sys.argv[6])
s.close()
"""


def _in_another_process(srv: RunningServer, tenant: Tenant, action: str, *args: str) -> None:
    settings = srv.services.settings
    subprocess.run([sys.executable, "-c", _OTHER_PROCESS, str(settings.data_dir),  # noqa: S603
                    settings.database_url or "", tenant.account.id, tenant.account.name,
                    action, *args], check=True, timeout=120)


def test_changes_through_another_process_are_listed_at_once(srv: RunningServer,
                                                            tenant: Tenant) -> None:
    api = tenant.api
    _warm(api)
    _in_another_process(srv, tenant, "create-credential")
    assert _names(api, CREDS) == ["from-elsewhere"]

    _warm(api)
    _in_another_process(srv, tenant, "create-store", name := uniq())
    assert _names(api, STORES) == [name]


def test_a_key_replaced_by_another_process_is_refused_at_once(srv: RunningServer,
                                                              tenant: Tenant) -> None:
    _warm(tenant.api)
    new_key = "replaced-" + uniq("key")
    _in_another_process(srv, tenant, "replace-key", new_key)
    for path in (STORES, CREDS):
        assert_error(tenant.api.get(path), 401)
    fresh = tenant.client(Authorization=f"bearer {new_key}")
    assert fresh.get(STORES).status_code == 200


def test_a_key_replaced_in_this_process_is_refused_at_once(srv: RunningServer,
                                                           tenant: Tenant) -> None:
    _warm(tenant.api)
    new_key = "replaced-" + uniq("key")
    srv.services.accounts.set_api_key(tenant.account.name, new_key)
    assert_error(tenant.api.get(STORES), 401)
    assert tenant.client(Authorization=f"bearer {new_key}").get(CREDS).status_code == 200


# -- another gateway: same PostgreSQL database, nothing else shared ------------------------


@pytest.fixture
def gateways(pg_cluster: PgCluster, tmp_path: Path
             ) -> Iterator[tuple[Tenant, RunningServer]]:
    """Two gateways on one PostgreSQL database (the scaled-out layout: nothing else shared),
    and a tenant on the first."""
    url = pg_cluster.new_database()
    with running_server(tmp_path / "gw1", url, sqlite_synchronous="NORMAL",
                        fsync=False) as gw1:
        key = (gw1.services.settings.data_dir / "server.key").read_text().strip()
        with running_server(tmp_path / "gw2", url, server_key=key,
                            sqlite_synchronous="NORMAL", fsync=False) as gw2:
            for tenant in _tenant(gw1):
                yield tenant, gw2


def _within(seconds: float, check: Callable[[], bool]) -> float:
    start = time.monotonic()
    while not check():
        assert time.monotonic() - start < seconds, f"not seen within {seconds * 1000:.0f} ms"
    return time.monotonic() - start


@pytest.mark.postgres
def test_changes_through_another_gateway_are_listed_within_100_ms(
        gateways: tuple[Tenant, RunningServer]) -> None:
    tenant, second_gateway = gateways
    there = httpx.Client(base_url=second_gateway.api_url, timeout=30,
                         headers={"Authorization": f"bearer {tenant.key}"})
    with there:
        _warm(tenant.api)
        _warm(there)
        r = there.post(STORES, json={"name": (name := uniq())})
        assert r.status_code == 200, r.text
        _within(0.1, lambda: _names(tenant.api, STORES) == [name])
        cred_id = r.json()["owner_info"]["credential_id"]

        _warm(tenant.api)
        r = tenant.api.patch(f"{CREDS}/{cred_id}", json={"name": "renamed-here"})
        assert r.status_code == 200, r.text
        _within(0.1, lambda: _names(there, CREDS) == ["renamed-here"])

        _warm(tenant.api)
        _warm(there)
        second_gateway.services.accounts.set_api_key(tenant.account.name, "gw2-" + uniq())
        _within(0.1, lambda: tenant.api.get(STORES).status_code == 401)


# -- the pieces: a load that raced with a change is neither kept nor shared ----------------


def test_a_listing_read_before_a_change_is_not_kept(tmp_path: Path) -> None:
    shared = SharedGeneration(tmp_path / "cache.generation")
    elsewhere = SharedGeneration(tmp_path / "cache.generation")  # another process's mapping
    cache = ListingCache(shared)
    key = ("list_stores", "account", (), b"", "")
    generation = cache.generation()  # a load starts...
    elsewhere.bump()  # ...and another process changes something before it is stored
    cache.put(key, b"stale", generation)
    assert cache.get(key) is None
    cache.put(key, b"fresh", cache.generation())
    assert cache.get(key) == b"fresh"
    elsewhere.bump()
    assert cache.get(key) is None


class _Untrusted(SharedGeneration):
    def usable(self) -> bool:  # a gateway whose notification connection is down
        return False


def test_nothing_is_kept_while_changes_may_go_unheard(tmp_path: Path) -> None:
    cache = ListingCache(_Untrusted(tmp_path / "cache.generation"))
    key = ("list_stores", "account", (), b"", "")
    cache.put(key, b"body", cache.generation())
    assert cache.get(key) is None
    assert not cache.trusted()  # and the handler shares no load (join=False, below)


def test_a_request_after_a_change_does_not_join_a_load_that_began_before() -> None:
    async def main() -> None:
        flights: SingleFlight[str, str] = SingleFlight()
        release = asyncio.Event()
        loads = 0

        async def load() -> str:
            nonlocal loads
            loads += 1
            mine = loads
            await release.wait()
            return f"load {mine}"

        first = asyncio.ensure_future(flights.run("k", 1, load))
        await asyncio.sleep(0)
        joined = asyncio.ensure_future(flights.run("k", 1, load))  # same generation: joins
        after_change = asyncio.ensure_future(flights.run("k", 2, load))  # runs its own
        await asyncio.sleep(0)
        release.set()
        assert await first == ("load 1", True)
        assert await joined == ("load 1", False)
        assert await after_change == ("load 2", True)
        assert loads == 2

        fail = asyncio.Event()

        async def failing() -> str:
            await fail.wait()
            raise RuntimeError("down")

        leader = asyncio.ensure_future(flights.run("e", 1, failing))
        await asyncio.sleep(0)
        follower = asyncio.ensure_future(flights.run("e", 1, load))
        await asyncio.sleep(0)
        fail.set()
        with pytest.raises(RuntimeError):
            await leader
        assert await follower == (None, False)  # told to run its own, not given the error

        release.clear()
        first = asyncio.ensure_future(flights.run("u", 3, load))
        await asyncio.sleep(0)
        untrusted = asyncio.ensure_future(flights.run("u", 3, load, join=False))
        await asyncio.sleep(0)
        release.set()
        assert (await first)[1] and (await untrusted)[1]  # each ran its own

    asyncio.run(main())


def test_a_listing_page_names_each_stores_own_owner(tenant: Tenant) -> None:
    shared = tenant.cred()
    made = [tenant.store(access_key_id=shared["access_key_id"]) for _ in range(3)]
    made += [tenant.store() for _ in range(3)]  # each with a credential of its own
    expected = {s["id"]: s["owner_info"] for s in made}
    seen: dict[str, dict[str, str]] = {}
    for page in ("1", "2", "3"):
        r = tenant.api.get(STORES, params={"per_page": "2", "page": page})
        assert r.status_code == 200, r.text
        seen.update({s["id"]: s["owner_info"] for s in r.json()["items"]})
    assert seen == expected
    assert {o["credential_id"] for o in seen.values()} >= {shared["id"]}

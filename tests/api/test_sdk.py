"""The Python SDK (objectstore.client) against a real server, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
import re
from collections.abc import Iterator

import httpx
import pytest
from sqlalchemy import update

from objectstore.client import (
    ApiError,
    Credential,
    ObjectStore,
    ObjectStoreClient,
    ObjectStoreError,
    Page,
    Quota,
    Region,
    StoreStats,
    TransportError,
)
from objectstore.storage.sql.tables import objectstores
from tests.support.pg import free_port

UUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
ACCESS_KEY_RE = re.compile(r"^[A-Z0-9]{20}$")
SECRET_RE = re.compile(r"^[A-Za-z0-9]{40}$")
GB = 10**9  # decimal gigabytes, as on Civo


@pytest.fixture
def client(server) -> Iterator[ObjectStoreClient]:
    with ObjectStoreClient(server.api_url, server.api_key) as c:
        yield c


def set_usage(server, store_id: str, used_bytes: int, count: int) -> None:
    """Simulate stored data: the S3 plane keeps these counters on the store row."""
    with server.services.engine.begin() as conn:
        conn.execute(update(objectstores).where(objectstores.c.id == store_id)
                     .values(used_bytes=used_bytes, object_count=count))


def api_error(excinfo: pytest.ExceptionInfo[ApiError]) -> tuple[int, str]:
    err = excinfo.value
    assert isinstance(err, ObjectStoreError)
    assert isinstance(err.reason, str) and err.reason
    return err.status, err.code


# -- lifecycle ------------------------------------------------------------------------------------
def test_context_manager_closes_the_http_client(server):
    with ObjectStoreClient(server.api_url + "/", server.api_key, timeout=5) as c:
        assert c.api_url == server.api_url
        assert c.quota().objectstore_gb_limit == 10000
        assert not c.is_closed
    assert c.is_closed


# -- object stores --------------------------------------------------------------------------------
def test_create_store_defaults_and_own_credential(server, client):
    store = client.create_store("sdk-default")
    assert isinstance(store, ObjectStore)
    assert UUID_RE.match(store.id)
    assert store.name == "sdk-default"
    assert store.max_size_gb == 500
    assert store.status == "ready"
    assert store.region == "LON1"
    assert store.objectstore_endpoint == f"{server.s3_url}/sdk-default"
    owner = store.owner_info
    assert owner.name == "sdk-default"
    assert ACCESS_KEY_RE.match(owner.access_key_id)
    assert UUID_RE.match(owner.credential_id)
    # the store's own credential exists and is the owner
    cred = client.get_credential(owner.credential_id)
    assert (cred.name, cred.access_key_id) == ("sdk-default", owner.access_key_id)
    assert SECRET_RE.match(cred.secret_access_key)
    assert store.to_dict()["owner_info"] == {"name": "sdk-default",
                                             "access_key_id": owner.access_key_id,
                                             "credential_id": owner.credential_id}


def test_create_get_update_delete_store(client):
    cred = client.create_credential("shared-owner")
    store = client.create_store("sdk-owned", max_size_gb=20, access_key_id=cred.access_key_id)
    assert store.max_size_gb == 20
    assert store.owner_info.credential_id == cred.id
    assert store.owner_info.name == "shared-owner"

    got = client.get_store(store.id)
    assert got == store

    bigger = client.update_store(store.id, max_size_gb=30)
    assert bigger.max_size_gb == 30
    assert bigger.owner_info.credential_id == cred.id
    assert client.get_store(store.id).max_size_gb == 30

    # moving a store off its private credential deletes that credential
    auto = client.create_store("sdk-auto")
    moved = client.update_store(auto.id, access_key_id=cred.access_key_id)
    assert moved.owner_info.credential_id == cred.id
    assert moved.max_size_gb == 500
    with pytest.raises(ApiError) as excinfo:
        client.get_credential(auto.owner_info.credential_id)
    assert api_error(excinfo) == (404, "database_objectstore_credential_not_found")

    unchanged = client.update_store(store.id)
    assert unchanged.max_size_gb == 30

    assert client.delete_store(store.id) is None
    with pytest.raises(ApiError) as excinfo:
        client.get_store(store.id)
    assert api_error(excinfo) == (404, "database_objectstore_not_found")
    assert [s.name for s in client.iter_stores()] == ["sdk-auto"]
    # a shared credential survives the deletion of a store it owns
    assert client.get_credential(cred.id).name == "shared-owner"


def test_delete_store_deletes_its_own_credential(client):
    store = client.create_store("sdk-private")
    client.delete_store(store.id)
    with pytest.raises(ApiError) as excinfo:
        client.get_credential(store.owner_info.credential_id)
    assert api_error(excinfo) == (404, "database_objectstore_credential_not_found")
    assert list(client.iter_credentials()) == []


def test_store_stats(server, client):
    store = client.create_store("sdk-stats", max_size_gb=2)
    stats = client.store_stats(store.id)
    assert stats == StoreStats(size_kb_utilised=0, max_size_kb=2 * GB // 1000, num_objects=0)
    set_usage(server, store.id, 1_234_567, 3)
    stats = client.store_stats(store.id)
    assert stats.size_kb_utilised == 1234
    assert stats.max_size_kb == 2000000
    assert stats.num_objects == 3
    assert stats.to_dict() == {"size_kb_utilised": 1234, "max_size_kb": 2000000,
                               "num_objects": 3}


def test_list_and_iter_stores_paging(client):
    names = [f"sdk-page-{i}" for i in range(5)]
    ids = [client.create_store(n, max_size_gb=1).id for n in names]

    first = client.list_stores(page=1, per_page=2)
    assert isinstance(first, Page)
    assert (first.page, first.per_page, first.pages) == (1, 2, 3)
    assert [s.id for s in first.items] == ids[:2]
    last = client.list_stores(page=3, per_page=2)
    assert [s.name for s in last.items] == names[4:]
    beyond = client.list_stores(page=4, per_page=2)
    assert beyond.items == ()

    default = client.list_stores()
    assert (default.page, default.per_page, default.pages) == (1, 20, 1)
    assert [s.id for s in default.items] == ids

    assert [s.id for s in client.iter_stores(per_page=2)] == ids
    assert [s.id for s in client.iter_stores()] == ids


def test_empty_lists(client):
    page = client.list_stores()
    assert (page.page, page.pages, page.items) == (1, 1, ())
    assert list(client.iter_stores()) == []
    assert client.list_credentials().items == ()


# -- credentials ----------------------------------------------------------------------------------
def test_credential_crud(client):
    generated = client.create_credential("gen")
    assert isinstance(generated, Credential)
    assert UUID_RE.match(generated.id)
    assert ACCESS_KEY_RE.match(generated.access_key_id)
    assert SECRET_RE.match(generated.secret_access_key_id)
    assert (generated.max_size_gb, generated.suspended, generated.status) == (0, False, "ready")
    assert generated.region == "LON1"

    cred = client.create_credential("explicit", access_key_id="SDKKEY0001",
                                    secret_access_key="sdk-secret-0001", max_size_gb=50)
    assert (cred.name, cred.access_key_id, cred.secret_access_key_id, cred.max_size_gb) == (
        "explicit", "SDKKEY0001", "sdk-secret-0001", 50)
    assert client.get_credential(cred.id) == cred

    renamed = client.update_credential(cred.id, name="renamed")
    assert renamed.name == "renamed"
    assert renamed.access_key_id == "SDKKEY0001"

    rekeyed = client.update_credential(cred.id, access_key_id="SDKKEY0002",
                                       secret_access_key="sdk-secret-0002", max_size_gb=75)
    assert (rekeyed.access_key_id, rekeyed.secret_access_key, rekeyed.max_size_gb) == (
        "SDKKEY0002", "sdk-secret-0002", 75)
    assert rekeyed.name == "renamed"

    suspended = client.update_credential(cred.id, suspended=True)
    assert suspended.suspended is True
    assert client.get_credential(cred.id).suspended is True
    active = client.update_credential(cred.id, suspended=False)
    assert active.suspended is False
    assert active.max_size_gb == 75

    uncapped = client.update_credential(cred.id, max_size_gb=0)
    assert uncapped.max_size_gb == 0

    assert client.delete_credential(cred.id) is None
    with pytest.raises(ApiError) as excinfo:
        client.get_credential(cred.id)
    assert api_error(excinfo) == (404, "database_objectstore_credential_not_found")
    assert [c.id for c in client.iter_credentials()] == [generated.id]


def test_list_and_iter_credentials_paging(client):
    ids = [client.create_credential(f"c{i}").id for i in range(5)]
    page = client.list_credentials(page=2, per_page=2)
    assert (page.page, page.per_page, page.pages) == (2, 2, 3)
    assert [c.id for c in page.items] == ids[2:4]
    assert [c.id for c in client.list_credentials(per_page=10000).items] == ids
    assert [c.id for c in client.iter_credentials(per_page=3)] == ids


# -- account --------------------------------------------------------------------------------------
def test_regions(client):
    regions = client.regions()
    assert all(isinstance(r, Region) for r in regions)
    assert [r.code for r in regions] == ["LON1", "NYC1", "FRA1", "PHX1"]
    assert [r.code for r in regions if r.default] == ["LON1"]
    lon = regions[0]
    assert (lon.name, lon.country, lon.country_name, lon.type) == (
        "London", "GB", "United Kingdom", "civo")
    assert lon.out_of_capacity is False
    assert lon.features["object_store"] is True
    assert lon.object_store is True
    assert regions[3].object_store is False
    assert regions[3].features["kubernetes"] is False


def test_quota(client):
    empty = client.quota()
    assert isinstance(empty, Quota)
    assert (empty.objectstore_gb_limit, empty.objectstore_gb_usage,
            empty.objectstore_count_usage) == (10000, 0, 0)
    client.create_store("sdk-q1", max_size_gb=100)
    client.create_store("sdk-q2", max_size_gb=250)
    q = client.quota()
    assert (q.objectstore_gb_limit, q.objectstore_gb_usage, q.objectstore_count_usage) == (
        10000, 350, 2)
    assert UUID_RE.match(q.id or "")


# -- regions --------------------------------------------------------------------------------------
def test_region_parameter(server, client):
    with ObjectStoreClient(server.api_url, server.api_key, region="nyc1") as nyc:
        store = nyc.create_store("sdk-nyc", max_size_gb=5)
        cred = nyc.create_credential("nyc-cred")
        assert store.region == "NYC1"
        assert cred.region == "NYC1"
        assert [s.id for s in nyc.iter_stores()] == [store.id]
        assert nyc.get_store(store.id).name == "sdk-nyc"
        assert nyc.store_stats(store.id).max_size_kb == 5 * GB // 1000
        assert [c.id for c in nyc.iter_credentials()] == [store.owner_info.credential_id,
                                                          cred.id]
    # the default region (LON1) does not see NYC1's stores and credentials
    assert list(client.iter_stores()) == []
    assert list(client.iter_credentials()) == []
    with pytest.raises(ApiError) as excinfo:
        client.get_store(store.id)
    assert api_error(excinfo) == (404, "database_objectstore_not_found")
    with ObjectStoreClient(server.api_url, server.api_key, region="LON1") as lon:
        assert lon.region == "LON1"
        assert lon.list_stores().items == ()


def test_region_errors(server):
    with ObjectStoreClient(server.api_url, server.api_key, region="XXX9") as c:
        with pytest.raises(ApiError) as excinfo:
            c.list_stores()
        assert api_error(excinfo) == (404, "database_region_not_found")
    with ObjectStoreClient(server.api_url, server.api_key, region="PHX1") as c:
        with pytest.raises(ApiError) as excinfo:
            c.create_store("sdk-phx")
        assert api_error(excinfo) == (400, "database_region_feature_not_supported")
        with pytest.raises(ApiError) as excinfo:
            c.list_credentials()
        assert api_error(excinfo) == (400, "database_region_feature_not_supported")


# -- error mapping --------------------------------------------------------------------------------
def test_unknown_ids_are_404(client):
    missing = "00000000-0000-4000-8000-000000000000"
    store_calls = [
        lambda: client.get_store(missing),
        lambda: client.update_store(missing, max_size_gb=10),
        lambda: client.delete_store(missing),
        lambda: client.store_stats(missing),
    ]
    for call in store_calls:
        with pytest.raises(ApiError) as excinfo:
            call()
        assert api_error(excinfo) == (404, "database_objectstore_not_found")
        assert missing in excinfo.value.reason
    cred_calls = [
        lambda: client.get_credential(missing),
        lambda: client.update_credential(missing, name="x"),
        lambda: client.delete_credential(missing),
    ]
    for call in cred_calls:
        with pytest.raises(ApiError) as excinfo:
            call()
        assert api_error(excinfo) == (404, "database_objectstore_credential_not_found")
    with pytest.raises(ValueError):
        client.get_store("")


def test_conflicts_and_invalid_input(client):
    store = client.create_store("sdk-dup")
    with pytest.raises(ApiError) as excinfo:
        client.create_store("sdk-dup")
    assert api_error(excinfo) == (409, "database_objectstore_exists")

    with pytest.raises(ApiError) as excinfo:
        client.delete_credential(store.owner_info.credential_id)
    assert api_error(excinfo) == (409, "database_objectstore_credential_in_use")

    client.create_credential("k1", access_key_id="SDKDUPKEY")
    with pytest.raises(ApiError) as excinfo:
        client.create_credential("k2", access_key_id="SDKDUPKEY")
    assert api_error(excinfo) == (409, "database_objectstore_credential_exists")

    with pytest.raises(ApiError) as excinfo:
        client.create_store("sdk-big", max_size_gb=20000)
    assert api_error(excinfo) == (403, "objectstore_quota_exceeded")

    with pytest.raises(ApiError) as excinfo:
        client.create_store("x")
    assert api_error(excinfo) == (400, "parameter_name_invalid")

    with pytest.raises(ApiError) as excinfo:
        client.create_store("sdk-nokey", access_key_id="NOSUCHKEY")
    assert api_error(excinfo) == (404, "database_objectstore_credential_not_found")

    with pytest.raises(ApiError) as excinfo:
        client.list_stores(per_page=10001)
    assert api_error(excinfo) == (400, "parameter_per_page_invalid")
    # nothing was created by the failed calls
    assert [s.name for s in client.iter_stores()] == ["sdk-dup"]


def test_bad_api_key(server):
    with ObjectStoreClient(server.api_url, "not-a-valid-key") as c:
        with pytest.raises(ApiError) as excinfo:
            c.quota()
        assert api_error(excinfo) == (401, "database_account_not_found")
        assert excinfo.value.status == 401
        assert "database_account_not_found" in str(excinfo.value)


def test_unreachable_server_is_a_transport_error():
    with (ObjectStoreClient(f"http://127.0.0.1:{free_port()}", "key", timeout=2) as c,
          pytest.raises(TransportError) as excinfo):
        c.regions()
    assert excinfo.value.code == "connection_error"
    assert isinstance(excinfo.value, ObjectStoreError)


# -- wire format (a recording transport: what exactly goes over the wire) -------------------------
CRED_ID = "0b6d6f44-7b1e-4bd4-9d67-6ad1f2b52f21"


def test_requests_send_json_bodies_and_region():
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if request.method == "DELETE":
            return httpx.Response(200, json={"result": "success"})
        return httpx.Response(200, json={"id": CRED_ID, "name": "n", "access_key_id": "A",
                                         "secret_access_key_id": "S", "max_size_gb": 0,
                                         "suspended": True, "state": "ready",
                                         "region": "FRA1",
                                         "created_at": "2026-12-06T10:00:00+00:00"})

    with ObjectStoreClient("http://api.test/", "k-123", region="FRA1",
                           transport=httpx.MockTransport(handler)) as c:
        cred = c.update_credential(CRED_ID, secret_access_key="s3cret", suspended=True)
        c.delete_credential("a/b")
    assert cred.status == "ready"  # "state" is accepted when "status" is missing
    put, delete = seen
    assert put.method == "PATCH"
    assert put.url.path == f"/v2/objectstore/credentials/{CRED_ID}"
    assert put.url.params["region"] == "FRA1"
    assert put.headers["authorization"] == "bearer k-123"
    assert put.headers["content-type"] == "application/json"
    assert json.loads(put.content) == {"secret_access_key_id": "s3cret", "suspended": True}
    assert delete.url.raw_path == b"/v2/objectstore/credentials/a%2Fb?region=FRA1"


def test_an_answer_that_does_not_fit_its_model_is_invalid_response():
    """Every answer is parsed into the server's own wire model (objectstore.api_models)."""
    bodies = iter([{"id": "not-a-uuid", "name": "n"}, [{"code": "LON1"}], {"page": 1}])
    transport = httpx.MockTransport(lambda r: httpx.Response(200, json=next(bodies)))
    with ObjectStoreClient("http://api.test", "k", transport=transport) as c:
        for call, model, where in ((lambda: c.get_credential(CRED_ID), "Credential", "id"),
                                   (c.regions, "RegionList", "0.name"),
                                   (c.list_stores, "ObjectStorePage", "per_page")):
            with pytest.raises(ApiError) as excinfo:
                call()
            err = excinfo.value
            assert (err.status, err.code) == (200, "invalid_response")
            assert err.reason.startswith("GET /v2/") and f"no valid {model} ({where}: " \
                in err.reason, err.reason


def test_non_json_error_body_is_mapped():
    transport = httpx.MockTransport(lambda r: httpx.Response(502, text="Bad Gateway"))
    with (ObjectStoreClient("http://api.test", "k", transport=transport) as c,
          pytest.raises(ApiError) as excinfo):
        c.quota()
    assert (excinfo.value.status, excinfo.value.code, excinfo.value.reason) == (
        502, "http_502", "Bad Gateway")

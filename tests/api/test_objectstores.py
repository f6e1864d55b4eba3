"""/v2/objectstores: list, create, get, update (PUT and PATCH), delete, stats."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from objectstore.domain.models import GB

from .conftest import UUID_RE, assert_error, assert_store_shape, uniq

STORES = "/v2/objectstores"


# -- create: body formats ----------------------------------------------------------------------
def test_create_json_max_size_gb(tenant, srv):
    name = uniq()
    r = tenant.api.post(STORES, json={"name": name, "max_size_gb": 250, "region": "LON1"})
    assert r.status_code == 200, r.text
    store = r.json()
    assert_store_shape(store, srv, name=name, size=250)
    # without access_key_id the store gets a credential of its own
    cred = srv.services.credentials.get(tenant.account.id, store["owner_info"]["credential_id"])
    assert store["owner_info"]["access_key_id"] == cred.access_key_id
    assert store["owner_info"]["name"] == cred.name
    assert [c["id"] for c in tenant.creds()] == [cred.id]
    # it is in the list at once, and GET answers the same document
    assert [s["id"] for s in tenant.stores()] == [store["id"]]
    got = tenant.api.get(f"{STORES}/{store['id']}", params={"region": "LON1"})
    assert got.status_code == 200
    assert got.json() == store


def test_create_form_with_size(tenant, srv):
    name = uniq()
    r = tenant.api.post(STORES, data={"name": name, "size": "300", "region": "LON1"})
    assert r.status_code == 200, r.text
    assert_store_shape(r.json(), srv, name=name, size=300)


def test_create_query_string_only(tenant, srv):
    name = uniq()
    r = tenant.api.post(STORES, params={"name": name, "size": "42", "region": "NYC1"})
    assert r.status_code == 200, r.text
    assert_store_shape(r.json(), srv, name=name, size=42)
    assert [s["name"] for s in tenant.stores("NYC1")] == [name]
    assert tenant.stores("LON1") == []


def test_create_default_size_is_500(tenant, srv):
    name = uniq()
    store = tenant.store(name)
    assert_store_shape(store, srv, name=name, size=500)


def test_create_max_size_gb_wins_over_size(tenant):
    store = tenant.store(max_size_gb=7, size=9)
    assert store["max_size_gb"] == 7


def test_create_gzip_header_on_plain_body(tenant, srv):
    name = uniq()
    r = tenant.api.post(STORES, content=json.dumps({"name": name, "max_size_gb": 5}),
                        headers={"Content-Type": "application/json",
                                 "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert_store_shape(r.json(), srv, name=name, size=5)


def test_create_real_gzip_body(tenant, srv):
    name = uniq()
    body = gzip.compress(json.dumps({"name": name, "max_size_gb": 6}).encode())
    r = tenant.api.post(STORES, content=body, headers={"Content-Type": "application/json",
                                                       "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert_store_shape(r.json(), srv, name=name, size=6)


def test_create_real_gzip_form_body(tenant, srv):
    name = uniq()
    body = gzip.compress(f"name={name}&size=8".encode())
    r = tenant.api.post(STORES, content=body, headers={
        "Content-Type": "application/x-www-form-urlencoded", "Content-Encoding": "gzip"})
    assert r.status_code == 200, r.text
    assert_store_shape(r.json(), srv, name=name, size=8)


@pytest.mark.parametrize("scheme", ["bearer", "Bearer", "BEARER"])
def test_auth_scheme_case_insensitive(tenant, scheme):
    c = tenant.client(**tenant.auth(scheme))
    r = c.post(STORES, json={"name": uniq()})
    assert r.status_code == 200, r.text
    r = c.get(STORES)
    assert r.status_code == 200
    assert len(r.json()["items"]) == 1


def test_default_account_key_works(srv):
    with srv.api() as api:
        r = api.get("/v2/quota")
        assert r.status_code == 200
        assert r.json()["objectstore_gb_limit"] == srv.services.settings.account_quota_gb


# -- names --------------------------------------------------------------------------------------
VALID_NAMES = ["abc", "a" * 63, "a.b-c", "bucketA", "1ab", "AB9", "x-1.y"]
INVALID_NAMES = ["ab", "a" * 64, "-abc", "abc-", ".abc", "abc.", "a_b", "a b", "a/b",
                 "ab\u00e9", "192.168.1.1", "a..b"]


def test_valid_names(tenant):
    # exact names: no other test makes these in FRA1 on the shared server
    for name in VALID_NAMES:
        r = tenant.api.post(STORES, json={"name": name, "region": "FRA1"})
        assert r.status_code == 200, (name, r.text)
        assert r.json()["name"] == name
    assert sorted(s["name"] for s in tenant.stores("FRA1")) == sorted(VALID_NAMES)


def test_invalid_names(tenant):
    before = tenant.snapshot()
    for name in INVALID_NAMES:
        assert_error(tenant.api.post(STORES, json={"name": name}), 400, "parameter_name_invalid")
        assert_error(tenant.api.post(STORES, data={"name": name}), 400, "parameter_name_invalid")
    for body in ({}, {"name": ""}, {"name": None}, {"name": "  "}):
        assert_error(tenant.api.post(STORES, json=body), 400, "parameter_name_invalid")
    assert_error(tenant.api.post(STORES, data={"name": ""}), 400, "parameter_name_invalid")
    assert tenant.snapshot() == before


def test_name_unique_within_region_across_accounts(tenant, other):
    name = uniq()
    tenant.store(name)
    before = other.snapshot()
    r = other.api.post(STORES, json={"name": name, "region": "LON1"})
    assert_error(r, 409, "database_objectstore_exists")
    assert other.snapshot() == before
    # the same account cannot reuse it either
    before = tenant.snapshot()
    assert_error(tenant.api.post(STORES, json={"name": name}), 409, "database_objectstore_exists")
    assert tenant.snapshot() == before
    # another region is a different namespace
    r = other.api.post(STORES, json={"name": name, "region": "NYC1"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == name


def test_name_reusable_after_delete(tenant, other):
    name = uniq()
    store = tenant.store(name)
    assert tenant.api.delete(f"{STORES}/{store['id']}").json() == {"result": "success"}
    r = other.api.post(STORES, json={"name": name})
    assert r.status_code == 200, r.text


# -- ownership ----------------------------------------------------------------------------------
def test_create_with_existing_credential(tenant, srv):
    cred = tenant.cred()
    name = uniq()
    r = tenant.api.post(STORES, data={"name": name, "access_key_id": cred["access_key_id"]})
    assert r.status_code == 200, r.text
    store = r.json()
    assert_store_shape(store, srv, name=name, size=500)
    assert store["owner_info"] == {"name": cred["name"], "access_key_id": cred["access_key_id"],
                                   "credential_id": cred["id"]}
    # no extra credential was made
    assert [c["id"] for c in tenant.creds()] == [cred["id"]]
    # the owner cannot be deleted while it owns the store ...
    r = tenant.api.delete(f"/v2/objectstore/credentials/{cred['id']}")
    assert_error(r, 409, "database_objectstore_credential_in_use")
    # ... and survives the store's deletion
    assert tenant.api.delete(f"{STORES}/{store['id']}").json() == {"result": "success"}
    assert [c["id"] for c in tenant.creds()] == [cred["id"]]


def test_create_with_unknown_access_key(tenant):
    tenant.cred()
    before = tenant.snapshot()
    r = tenant.api.post(STORES, json={"name": uniq(), "access_key_id": "NOSUCHKEY1234567890X"})
    assert_error(r, 404, "database_objectstore_credential_not_found")
    assert tenant.snapshot() == before


def test_create_with_other_accounts_credential(tenant, other):
    theirs = other.cred()
    before = tenant.snapshot()
    r = tenant.api.post(STORES, json={"name": uniq(), "access_key_id": theirs["access_key_id"]})
    assert_error(r, 404, "database_objectstore_credential_not_found")
    assert tenant.snapshot() == before


def test_create_with_credential_of_another_region(tenant):
    nyc = tenant.cred(region="NYC1")
    before = tenant.snapshot()
    r = tenant.api.post(STORES, json={"name": uniq(), "access_key_id": nyc["access_key_id"],
                                      "region": "LON1"})
    assert_error(r, 404, "database_objectstore_credential_not_found")
    assert tenant.snapshot() == before


def test_own_credential_deleted_with_store(tenant, srv):
    store = tenant.store()
    cred_id = store["owner_info"]["credential_id"]
    key = store["owner_info"]["access_key_id"]
    assert srv.services.credentials.by_access_key(key) is not None
    r = tenant.api.delete(f"{STORES}/{store['id']}")
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    assert tenant.stores() == []
    assert tenant.creds() == []
    assert_error(tenant.api.get(f"/v2/objectstore/credentials/{cred_id}"), 404,
                 "database_objectstore_credential_not_found")
    assert srv.services.credentials.by_access_key(key) is None


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_changes_owner(tenant, srv, method):
    store = tenant.store()
    private = store["owner_info"]
    cred = tenant.cred()
    r = tenant.api.request(method, f"{STORES}/{store['id']}",
                           json={"access_key_id": cred["access_key_id"], "region": "LON1"})
    assert r.status_code == 200, r.text
    updated = r.json()
    assert updated["owner_info"] == {"name": cred["name"], "access_key_id": cred["access_key_id"],
                                     "credential_id": cred["id"]}
    assert updated["max_size_gb"] == store["max_size_gb"]
    # the store's private credential went with the move; the new owner is now in use
    assert [c["id"] for c in tenant.creds()] == [cred["id"]]
    assert srv.services.credentials.by_access_key(private["access_key_id"]) is None
    assert_error(tenant.api.delete(f"/v2/objectstore/credentials/{cred['id']}"), 409,
                 "database_objectstore_credential_in_use")
    # deleting the store now keeps the shared credential
    tenant.api.delete(f"{STORES}/{store['id']}")
    assert [c["id"] for c in tenant.creds()] == [cred["id"]]


def test_update_owner_between_shared_credentials(tenant):
    a, b = tenant.cred(), tenant.cred()
    store = tenant.store(access_key_id=a["access_key_id"])
    r = tenant.api.patch(f"{STORES}/{store['id']}", json={"access_key_id": b["access_key_id"]})
    assert r.status_code == 200, r.text
    assert r.json()["owner_info"]["credential_id"] == b["id"]
    # both survive; a is free again
    assert tenant.api.delete(f"/v2/objectstore/credentials/{a['id']}").json() == \
        {"result": "success"}
    assert [c["id"] for c in tenant.creds()] == [b["id"]]


def test_update_owner_unknown_or_foreign_key(tenant, other):
    store = tenant.store()
    theirs = other.cred()
    before = tenant.snapshot()
    for key in ("NOSUCHKEY1234567890X", theirs["access_key_id"]):
        r = tenant.api.put(f"{STORES}/{store['id']}", json={"access_key_id": key})
        assert_error(r, 404, "database_objectstore_credential_not_found")
    assert tenant.snapshot() == before


# -- size updates -------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_size(tenant, method):
    store = tenant.store(max_size_gb=100)
    r = tenant.api.request(method, f"{STORES}/{store['id']}",
                           json={"max_size_gb": 200, "region": "LON1"})
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["max_size_gb"] == 200 and body["max_size"] == 200
    assert body["owner_info"] == store["owner_info"]
    assert body["id"] == store["id"] and body["name"] == store["name"]
    assert tenant.api.get(f"{STORES}/{store['id']}").json()["max_size_gb"] == 200
    # shrinking (above what is stored) is fine too
    r = tenant.api.request(method, f"{STORES}/{store['id']}", data={"max_size_gb": "50"})
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 50


def test_update_size_via_size_param_and_query(tenant):
    store = tenant.store(max_size_gb=100)
    r = tenant.api.patch(f"{STORES}/{store['id']}", data={"size": "120"})
    assert r.json()["max_size_gb"] == 120
    r = tenant.api.patch(f"{STORES}/{store['id']}", params={"max_size_gb": "130"})
    assert r.json()["max_size_gb"] == 130


def test_update_zero_or_missing_size_is_unchanged(tenant):
    store = tenant.store(max_size_gb=77)
    for body in ({"max_size_gb": 0}, {}, {"max_size_gb": None}, {"max_size_gb": ""},
                 {"max_size_gb": 0, "region": "LON1"}, {"region": "LON1"},
                 {"access_key_id": None}, {"access_key_id": ""},
                 {"access_key_id": store["owner_info"]["access_key_id"], "max_size_gb": 0}):
        for method in ("PUT", "PATCH"):
            r = tenant.api.request(method, f"{STORES}/{store['id']}", json=body)
            assert r.status_code == 200, (body, r.text)
            assert r.json() == store


def test_update_form_zero_size_unchanged(tenant):
    store = tenant.store(max_size_gb=77)
    r = tenant.api.patch(f"{STORES}/{store['id']}", data={"max_size_gb": "0"})
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 77


def test_shrink_below_stored_bytes_refused(tenant):
    store = tenant.store(max_size_gb=10)
    tenant.set_store_usage(store["id"], 5 * GB + 1, 3)
    before = tenant.snapshot()
    r = tenant.api.patch(f"{STORES}/{store['id']}", json={"max_size_gb": 5})
    assert_error(r, 400, "objectstore_size_below_usage")
    assert tenant.snapshot() == before
    # exactly the stored size rounded up is fine
    r = tenant.api.patch(f"{STORES}/{store['id']}", json={"max_size_gb": 6})
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 6


def test_update_unknown_store(tenant):
    r = tenant.api.put(f"{STORES}/5cc0696d-6663-48a9-8123-87adb997138c",
                       json={"max_size_gb": 10})
    assert_error(r, 404, "database_objectstore_not_found")


# -- quota --------------------------------------------------------------------------------------
def test_account_quota_on_create(small):
    a = small.store(max_size_gb=600)
    small.store(max_size_gb=300)
    before = small.snapshot()
    r = small.api.post(STORES, json={"name": uniq(), "max_size_gb": 101})
    assert_error(r, 403, "objectstore_quota_exceeded")
    # default size (500) does not fit either
    r = small.api.post(STORES, data={"name": uniq()})
    assert_error(r, 403, "objectstore_quota_exceeded")
    assert small.snapshot() == before
    assert len(small.stores()) == 2 and len(small.creds()) == 2
    # exactly up to the quota is fine, in any region
    r = small.api.post(STORES, json={"name": uniq(), "max_size_gb": 100, "region": "NYC1"})
    assert r.status_code == 200, r.text
    quota = small.api.get("/v2/quota").json()
    assert quota["objectstore_gb_limit"] == 1000
    assert quota["objectstore_gb_usage"] == 1000
    # freeing space lets a new store in
    small.api.delete(f"{STORES}/{a['id']}")
    assert small.api.post(STORES, json={"name": uniq(), "max_size_gb": 600}).status_code == 200


def test_account_quota_on_grow(small):
    a = small.store(max_size_gb=500)
    small.store(max_size_gb=400)
    before = small.snapshot()
    r = small.api.put(f"{STORES}/{a['id']}", json={"max_size_gb": 601})
    assert_error(r, 403, "objectstore_quota_exceeded")
    assert small.snapshot() == before
    r = small.api.put(f"{STORES}/{a['id']}", json={"max_size_gb": 600})
    assert r.status_code == 200, r.text
    assert small.api.get("/v2/quota").json()["objectstore_gb_usage"] == 1000


def test_store_larger_than_quota_refused(small):
    before = small.snapshot()
    assert_error(small.api.post(STORES, json={"name": uniq(), "max_size_gb": 1001}), 403,
                 "objectstore_quota_exceeded")
    assert small.snapshot() == before


# -- list and pagination ------------------------------------------------------------------------
def test_list_empty(tenant):
    r = tenant.api.get(STORES)
    assert r.status_code == 200
    assert r.json() == {"page": 1, "per_page": 20, "pages": 1, "items": []}


def test_list_pagination(tenant):
    ids = [tenant.store(max_size_gb=1)["id"] for _ in range(5)]
    r = tenant.api.get(STORES, params={"per_page": 2})
    body = r.json()
    assert (body["page"], body["per_page"], body["pages"]) == (1, 2, 3)
    seen = [s["id"] for s in body["items"]]
    for page in (2, 3):
        body = tenant.api.get(STORES, params={"per_page": 2, "page": page}).json()
        assert (body["page"], body["per_page"], body["pages"]) == (page, 2, 3)
        seen += [s["id"] for s in body["items"]]
    assert sorted(seen) == sorted(ids) and len(seen) == 5
    # past the end: an empty page, same page count
    body = tenant.api.get(STORES, params={"per_page": 2, "page": 4}).json()
    assert body == {"page": 4, "per_page": 2, "pages": 3, "items": []}
    # exact multiple
    body = tenant.api.get(STORES, params={"per_page": 5}).json()
    assert body["pages"] == 1 and len(body["items"]) == 5
    # per_page 10000 is allowed; form body paging on GET is read too
    body = tenant.api.get(STORES, params={"per_page": 10000}).json()
    assert (body["per_page"], body["pages"], len(body["items"])) == (10000, 1, 5)
    body = tenant.api.get(STORES, params={"per_page": 10000, "page": 10**9}).json()
    assert (body["page"], body["pages"], body["items"]) == (10**9, 1, [])
    body = tenant.api.request("GET", STORES, data={"per_page": "4", "page": "2"}).json()
    assert (body["page"], body["per_page"], body["pages"], len(body["items"])) == (2, 4, 2, 1)


def test_list_bad_paging(tenant):
    for params, field in (({"page": 0}, "page"), ({"per_page": 0}, "per_page"),
                          ({"per_page": 10001}, "per_page"), ({"page": -1}, "page"),
                          ({"page": "x"}, "page"), ({"per_page": "1.5"}, "per_page")):
        r = tenant.api.get(STORES, params=params)
        assert_error(r, 400, f"parameter_{field}_invalid")


def test_list_is_per_region_and_account(tenant, other):
    lon = tenant.store()
    nyc = tenant.store(region="NYC1")
    other.store()
    assert [s["id"] for s in tenant.stores("LON1")] == [lon["id"]]
    assert [s["id"] for s in tenant.stores("nyc1")] == [nyc["id"]]
    assert tenant.stores("FRA1") == []


# -- get / region handling ----------------------------------------------------------------------
def test_region_query_then_body_then_default(tenant):
    # query wins over body
    r = tenant.api.post(STORES, params={"region": "NYC1"},
                        json={"name": uniq(), "region": "FRA1"})
    assert r.status_code == 200, r.text
    nyc = r.json()
    assert nyc["region"] == "NYC1"
    # "" in the query means missing: the body's region is used
    r = tenant.api.post(STORES, params={"region": ""}, json={"name": uniq(), "region": "fra1"})
    fra = r.json()
    assert fra["region"] == "FRA1"
    # nothing at all: the default region
    r = tenant.api.post(STORES, json={"name": uniq(), "region": ""})
    lon = r.json()
    assert lon["region"] == "LON1"
    assert [s["id"] for s in tenant.stores("NYC1")] == [nyc["id"]]
    assert [s["id"] for s in tenant.stores("FRA1")] == [fra["id"]]
    assert [s["id"] for s in tenant.stores("LON1")] == [lon["id"]]
    # lookups are scoped to the region asked for
    assert tenant.api.get(f"{STORES}/{nyc['id']}", params={"region": "nyc1"}).json() == nyc
    assert_error(tenant.api.get(f"{STORES}/{nyc['id']}"), 404, "database_objectstore_not_found")
    assert_error(tenant.api.get(f"{STORES}/{nyc['id']}", params={"region": "LON1"}), 404,
                 "database_objectstore_not_found")


def test_region_case_insensitive(tenant):
    r = tenant.api.post(STORES, json={"name": uniq(), "region": "lon1"})
    assert r.status_code == 200, r.text
    assert r.json()["region"] == "LON1"
    assert len(tenant.stores("Lon1")) == 1


def test_unknown_and_unsupported_regions(tenant):
    store = tenant.store()
    before = tenant.snapshot()
    body = {"name": uniq(), "max_size_gb": 3}
    for method, path in (("GET", ""), ("POST", ""), ("GET", "/{id}"), ("PUT", "/{id}"),
                         ("PATCH", "/{id}"), ("DELETE", "/{id}"), ("GET", "/{id}/stats")):
        url = STORES + path.format(id=store["id"])
        r = tenant.api.request(method, url, params={"region": "MARS1"}, json=body)
        assert_error(r, 404, "database_region_not_found")
        r = tenant.api.request(method, url, json={**body, "region": "mars1"})
        assert_error(r, 404, "database_region_not_found")
        r = tenant.api.request(method, url, params={"region": "PHX1"}, json=body)
        assert_error(r, 400, "database_region_feature_not_supported")
        r = tenant.api.request(method, url, json={**body, "region": "phx1"})
        assert_error(r, 400, "database_region_feature_not_supported")
    assert tenant.snapshot() == before


def test_get_unknown_and_malformed_ids(tenant):
    for sid in ("5cc0696d-6663-48a9-8123-87adb997138c", "12345", "not-a-uuid"):
        for method, suffix in (("GET", ""), ("PUT", ""), ("PATCH", ""), ("DELETE", ""),
                               ("GET", "/stats")):
            r = tenant.api.request(method, f"{STORES}/{sid}{suffix}")
            assert_error(r, 404, "database_objectstore_not_found")


# -- isolation ----------------------------------------------------------------------------------
def test_other_accounts_store_is_404_like_unknown(tenant, other):
    theirs = other.store(max_size_gb=10)
    sid = theirs["id"]
    calls = [("GET", f"{STORES}/{sid}", None), ("GET", f"{STORES}/{sid}/stats", None),
             ("PUT", f"{STORES}/{sid}", {"max_size_gb": 20}),
             ("PATCH", f"{STORES}/{sid}", {"max_size_gb": 20}),
             ("DELETE", f"{STORES}/{sid}", None)]
    before = other.snapshot()
    foreign = []
    for method, url, body in calls:
        r = tenant.api.request(method, url, json=body)
        assert_error(r, 404, "database_objectstore_not_found")
        foreign.append(r.json())
    assert other.snapshot() == before
    assert sid not in [s["id"] for s in tenant.stores()]
    # now make the id truly unknown and ask again: the answers are identical
    assert other.api.delete(f"{STORES}/{sid}").json() == {"result": "success"}
    unknown = [tenant.api.request(m, u, json=b).json() for m, u, b in calls]
    assert foreign == unknown


# -- delete -------------------------------------------------------------------------------------
def test_delete(tenant):
    keep = tenant.store()
    gone = tenant.store()
    r = tenant.api.delete(f"{STORES}/{gone['id']}", params={"region": "LON1"})
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    assert [s["id"] for s in tenant.stores()] == [keep["id"]]
    assert_error(tenant.api.get(f"{STORES}/{gone['id']}"), 404, "database_objectstore_not_found")
    assert_error(tenant.api.delete(f"{STORES}/{gone['id']}"), 404,
                 "database_objectstore_not_found")
    assert [c["id"] for c in tenant.creds()] == [keep["owner_info"]["credential_id"]]
    assert tenant.api.get("/v2/quota").json()["objectstore_gb_usage"] == 500


def test_delete_store_with_data(tenant):
    store = tenant.store(max_size_gb=10)
    tenant.set_store_usage(store["id"], 3 * GB, 12)
    r = tenant.api.delete(f"{STORES}/{store['id']}")
    assert r.json() == {"result": "success"}
    assert tenant.stores() == []


def test_delete_in_other_region_is_404(tenant):
    store = tenant.store(region="NYC1")
    assert_error(tenant.api.delete(f"{STORES}/{store['id']}", params={"region": "LON1"}), 404,
                 "database_objectstore_not_found")
    assert len(tenant.stores("NYC1")) == 1
    r = tenant.api.delete(f"{STORES}/{store['id']}", params={"region": "NYC1"})
    assert r.json() == {"result": "success"}
    assert tenant.stores("NYC1") == []


# -- stats --------------------------------------------------------------------------------------
def test_stats(tenant):
    store = tenant.store(max_size_gb=2)
    r = tenant.api.get(f"{STORES}/{store['id']}/stats")
    assert r.status_code == 200
    stats = r.json()
    assert stats == {"size_kb_utilised": 0, "max_size_kb": 2 * GB // 1000, "num_objects": 0}
    assert all(type(v) is int for v in stats.values())
    tenant.set_store_usage(store["id"], 1_234_567, 9)
    stats = tenant.api.get(f"{STORES}/{store['id']}/stats", params={"region": "lon1"}).json()
    assert stats == {"size_kb_utilised": 1234, "max_size_kb": 2 * GB // 1000,
                     "num_objects": 9}


def test_ids_are_uuids_and_distinct(tenant):
    a, b = tenant.store(), tenant.store()
    assert UUID_RE.match(a["id"]) and UUID_RE.match(b["id"]) and a["id"] != b["id"]
    assert a["owner_info"]["credential_id"] != b["owner_info"]["credential_id"]
    assert a["owner_info"]["access_key_id"] != b["owner_info"]["access_key_id"]


# -- concurrency --------------------------------------------------------------------------------
def _parallel(calls):
    with ThreadPoolExecutor(len(calls)) as pool:
        return list(pool.map(lambda f: f(), calls))


def test_concurrent_same_name_across_accounts(tenant, other):
    name = uniq()
    calls = [lambda t=t: t.api.post(STORES, json={"name": name, "max_size_gb": 1})
             for t in (tenant, other) * 4]
    results = _parallel(calls)
    assert sorted(r.status_code for r in results) == [200] + [409] * 7
    for r in results:
        if r.status_code == 409:
            assert_error(r, 409, "database_objectstore_exists")
    made = [r.json() for r in results if r.status_code == 200][0]
    owners = [t for t in (tenant, other) if t.stores()]
    assert len(owners) == 1 and [s["id"] for s in owners[0].stores()] == [made["id"]]
    # the losers left no credential behind
    assert len(tenant.creds()) + len(other.creds()) == 1


def test_concurrent_creates_respect_quota(small):
    results = _parallel([lambda: small.api.post(STORES, json={"name": uniq(), "max_size_gb": 300})
                         for _ in range(6)])
    assert sorted(r.status_code for r in results) == [200] * 3 + [403] * 3
    assert len(small.stores()) == 3 and len(small.creds()) == 3
    assert small.api.get("/v2/quota").json()["objectstore_gb_usage"] == 900


def test_owner_change_racing_credential_delete(tenant):
    """Either the move wins (the delete is refused: in use) or the delete wins (the move
    finds no credential): never a 500 from the foreign key, never a store without owner."""
    store = tenant.store(max_size_gb=1)
    seen = set()
    with ThreadPoolExecutor(2) as pool:
        for i in range(16):
            cred = tenant.cred()
            if i % 2:
                move = pool.submit(tenant.api.patch, f"{STORES}/{store['id']}",
                                   json={"access_key_id": cred["access_key_id"]})
            else:
                move = pool.submit(tenant.api.post, STORES,
                                   json={"name": uniq(), "max_size_gb": 1,
                                         "access_key_id": cred["access_key_id"]})
            drop = pool.submit(tenant.api.delete, f"/v2/objectstore/credentials/{cred['id']}")
            outcome = (move.result().status_code, drop.result().status_code)
            assert outcome in {(200, 409), (404, 200)}, outcome
            seen.add(outcome)
    for s in tenant.stores():
        got = tenant.api.get(f"{STORES}/{s['id']}")
        assert got.status_code == 200 and got.json()["owner_info"]["credential_id"]

"""/v2/objectstore/credentials: list, create, get, update (PUT and PATCH), delete."""

from __future__ import annotations

import gzip
import json
from concurrent.futures import ThreadPoolExecutor

import pytest

from .conftest import ACCESS_KEY_RE, SECRET_RE, assert_cred_shape, assert_error, uniq

CREDS = "/v2/objectstore/credentials"


def _key(prefix: str = "K") -> str:
    return (prefix + uniq("")[1:]).upper()[:20].ljust(20, "0")


# -- create -------------------------------------------------------------------------------------
def test_create_json_generates_keys(tenant, srv):
    r = tenant.api.post(CREDS, json={"name": "My-credentials", "region": "LON1"})
    assert r.status_code == 200, r.text
    cred = r.json()
    assert_cred_shape(cred)
    assert cred["name"] == "My-credentials"
    assert ACCESS_KEY_RE.match(cred["access_key_id"]), cred
    assert SECRET_RE.match(cred["secret_access_key_id"]), cred
    assert cred["max_size_gb"] == 0
    assert cred["suspended"] is False
    stored = srv.services.credentials.by_access_key(cred["access_key_id"])
    assert stored is not None and stored.id == cred["id"]
    assert stored.secret_access_key == cred["secret_access_key_id"]
    assert stored.account_id == tenant.account.id and stored.region == "LON1"
    # GET and the list answer the same document
    assert tenant.api.get(f"{CREDS}/{cred['id']}").json() == cred
    assert tenant.creds() == [cred]


def test_create_form(tenant):
    r = tenant.api.post(CREDS, data={"name": "form-cred", "region": "NYC1"})
    assert r.status_code == 200, r.text
    cred = r.json()
    assert_cred_shape(cred)
    assert cred["name"] == "form-cred"
    assert [c["id"] for c in tenant.creds("NYC1")] == [cred["id"]]
    assert tenant.creds("LON1") == []


def test_create_query_params_and_trailing_slash(tenant):
    r = tenant.api.post(CREDS + "/", params={"name": "q-cred", "region": "lon1"})
    assert r.status_code == 200, r.text
    assert r.json()["name"] == "q-cred"
    assert [c["name"] for c in tenant.creds()] == ["q-cred"]


def test_create_null_keys_generate(tenant):
    r = tenant.api.post(CREDS, json={"name": "n", "access_key_id": None,
                                     "secret_access_key_id": None, "max_size_gb": None,
                                     "region": "LON1"})
    assert r.status_code == 200, r.text
    cred = r.json()
    assert ACCESS_KEY_RE.match(cred["access_key_id"])
    assert SECRET_RE.match(cred["secret_access_key_id"])
    # and empty strings from a form mean the same
    r = tenant.api.post(CREDS, data={"name": "e", "access_key_id": "",
                                     "secret_access_key_id": ""})
    assert r.status_code == 200, r.text
    assert ACCESS_KEY_RE.match(r.json()["access_key_id"])


def test_create_with_supplied_keys_and_cap(tenant, srv):
    ak = "ABCDE-1234-foo-" + uniq("")[1:9]
    sk = "GaNKNUTMr5AuLWOY6VOVAFaW53RGBypPlMPqGe2l"
    r = tenant.api.post(CREDS, json={"name": "mine", "access_key_id": ak,
                                     "secret_access_key_id": sk, "max_size_gb": 250})
    assert r.status_code == 200, r.text
    cred = r.json()
    assert (cred["access_key_id"], cred["secret_access_key_id"], cred["max_size_gb"]) == \
        (ak, sk, 250)
    assert srv.services.credentials.by_access_key(ak).secret_access_key == sk


def test_generated_keys_are_distinct(tenant):
    a, b = tenant.cred(), tenant.cred()
    assert a["id"] != b["id"]
    assert a["access_key_id"] != b["access_key_id"]
    assert a["secret_access_key_id"] != b["secret_access_key_id"]


BAD_KEYS = [("access_key_id", "a b"), ("access_key_id", "ab"), ("access_key_id", "k" * 129),
            ("access_key_id", "key/with/slash"), ("secret_access_key_id", "short"),
            ("secret_access_key_id", "has a space in it ok"), ("access_key_id", {"x": 1}),
            ("secret_access_key_id", ["x"])]


def test_create_invalid_keys(tenant):
    before = tenant.snapshot()
    for field, value in BAD_KEYS:
        r = tenant.api.post(CREDS, json={"name": "bad", field: value})
        assert_error(r, 400, f"parameter_{field}_invalid")
    assert tenant.snapshot() == before


def test_create_bad_name(tenant):
    before = tenant.snapshot()
    for body in ({}, {"name": ""}, {"name": None}, {"name": "x" * 256}, {"name": {"a": 1}}):
        r = tenant.api.post(CREDS, json=body)
        assert_error(r, 400, "parameter_name_invalid")
    assert tenant.snapshot() == before


def test_create_bad_max_size(tenant):
    before = tenant.snapshot()
    for value in (-1, "-1", "abc", "1.5", 1.5, True, "true"):
        r = tenant.api.post(CREDS, json={"name": "x", "max_size_gb": value})
        assert_error(r, 400, "parameter_max_size_gb_invalid")
    assert tenant.snapshot() == before


def test_create_access_key_clash(tenant, other):
    mine = tenant.cred()
    theirs = other.cred()
    for who, key in ((tenant, mine["access_key_id"]), (tenant, theirs["access_key_id"]),
                     (other, mine["access_key_id"])):
        before = who.snapshot()
        r = who.api.post(CREDS, json={"name": "dup", "access_key_id": key})
        assert_error(r, 409, "database_objectstore_credential_exists")
        assert who.snapshot() == before
    # a clash with a key in another region clashes too (keys are unique in the service)
    r = tenant.api.post(CREDS, json={"name": "dup", "access_key_id": mine["access_key_id"],
                                     "region": "NYC1"})
    assert_error(r, 409, "database_objectstore_credential_exists")


def test_create_in_phx1_and_unknown_region(tenant):
    before = tenant.snapshot()
    assert_error(tenant.api.post(CREDS, json={"name": "x", "region": "PHX1"}), 400,
                 "database_region_feature_not_supported")
    assert_error(tenant.api.post(CREDS, data={"name": "x", "region": "XXX9"}), 404,
                 "database_region_not_found")
    assert tenant.snapshot() == before


# -- list ---------------------------------------------------------------------------------------
def test_list_paging(tenant):
    made = [tenant.cred()["id"] for _ in range(3)]
    body = tenant.api.get(CREDS, params={"page": 1, "per_page": 10000}).json()
    assert (body["page"], body["per_page"], body["pages"]) == (1, 10000, 1)
    assert [c["id"] for c in body["items"]] == made
    for c in body["items"]:
        assert_cred_shape(c)
    body = tenant.api.get(CREDS, params={"per_page": 2, "page": 2}).json()
    assert (body["page"], body["per_page"], body["pages"]) == (2, 2, 2)
    assert [c["id"] for c in body["items"]] == made[2:]
    body = tenant.api.get(CREDS).json()
    assert (body["page"], body["per_page"], body["pages"]) == (1, 20, 1)


def test_list_empty(tenant):
    assert tenant.api.get(CREDS).json() == {"page": 1, "per_page": 20, "pages": 1, "items": []}


def test_list_bad_paging(tenant):
    for params in ({"page": 0}, {"per_page": 0}, {"per_page": 10001}):
        (field,) = params
        assert_error(tenant.api.get(CREDS, params=params), 400, f"parameter_{field}_invalid")


# -- update -------------------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_suspend_and_unsuspend(tenant, srv, method):
    cred = tenant.cred()
    url = f"{CREDS}/{cred['id']}"
    r = tenant.api.request(method, url, json={"region": "LON1", "suspended": True})
    assert r.status_code == 200, r.text
    assert r.json() == {**cred, "suspended": True}
    assert srv.services.credentials.by_access_key(cred["access_key_id"]).suspended is True
    r = tenant.api.request(method, url, data={"suspended": "false"})
    assert r.json() == cred
    assert srv.services.credentials.by_access_key(cred["access_key_id"]).suspended is False
    r = tenant.api.request(method, url, params={"suspended": "true"})
    assert r.json()["suspended"] is True
    assert tenant.api.get(url).json()["suspended"] is True


def test_update_gzip_bodies(tenant):
    cred = tenant.cred()
    url = f"{CREDS}/{cred['id']}"
    headers = {"Content-Type": "application/json", "Content-Encoding": "gzip"}
    r = tenant.api.put(url, content=json.dumps({"max_size_gb": 12}), headers=headers)
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 12
    r = tenant.api.put(url, content=gzip.compress(json.dumps({"max_size_gb": 13}).encode()),
                       headers=headers)
    assert r.status_code == 200, r.text
    assert r.json() == {**cred, "max_size_gb": 13}


def test_update_bad_suspended(tenant):
    cred = tenant.cred()
    before = tenant.snapshot()
    for value in ("maybe", 2, [True]):
        r = tenant.api.patch(f"{CREDS}/{cred['id']}", json={"suspended": value})
        assert_error(r, 400, "parameter_suspended_invalid")
    assert tenant.snapshot() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_max_size_and_name(tenant, method):
    cred = tenant.cred(max_size_gb=100)
    url = f"{CREDS}/{cred['id']}"
    r = tenant.api.request(method, url, json={"max_size_gb": 1000, "name": "renamed"})
    assert r.status_code == 200, r.text
    assert r.json() == {**cred, "max_size_gb": 1000, "name": "renamed"}
    # missing fields are unchanged
    assert tenant.api.request(method, url, json={}).json() == r.json()
    # 0 lifts the cap
    assert tenant.api.request(method, url, data={"max_size_gb": "0"}).json()["max_size_gb"] == 0


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_replace_keys(tenant, srv, method):
    cred = tenant.cred()
    old_key = cred["access_key_id"]
    assert srv.services.credentials.by_access_key(old_key) is not None  # now cached
    new_key, new_secret = _key("NEW"), "n3w-secret-" + uniq("")[1:]
    r = tenant.api.request(method, f"{CREDS}/{cred['id']}",
                           json={"access_key_id": new_key, "secret_access_key_id": new_secret})
    assert r.status_code == 200, r.text
    assert r.json() == {**cred, "access_key_id": new_key, "secret_access_key_id": new_secret}
    # the old key stops working at once, the new one works with the new secret
    assert srv.services.credentials.by_access_key(old_key) is None
    got = srv.services.credentials.by_access_key(new_key)
    assert got is not None and got.secret_access_key == new_secret and got.id == cred["id"]
    # the old key is free for reuse
    assert tenant.api.post(CREDS, json={"name": "reuse", "access_key_id": old_key}
                           ).status_code == 200


def test_replace_secret_only(tenant, srv):
    cred = tenant.cred()
    srv.services.credentials.by_access_key(cred["access_key_id"])
    r = tenant.api.patch(f"{CREDS}/{cred['id']}", data={"secret_access_key_id": "x" * 40})
    assert r.json() == {**cred, "secret_access_key_id": "x" * 40}
    assert srv.services.credentials.by_access_key(cred["access_key_id"]).secret_access_key == \
        "x" * 40


def test_resending_own_keys_is_not_a_clash(tenant):
    cred = tenant.cred()
    r = tenant.api.put(f"{CREDS}/{cred['id']}", json={
        "name": cred["name"], "access_key_id": cred["access_key_id"],
        "secret_access_key_id": cred["secret_access_key_id"], "max_size_gb": 0,
        "suspended": False, "region": "LON1"})
    assert r.status_code == 200, r.text
    assert r.json() == cred


def test_null_keys_on_update_mean_unchanged(tenant):
    cred = tenant.cred()
    r = tenant.api.put(f"{CREDS}/{cred['id']}", json={"access_key_id": None,
                                                       "secret_access_key_id": None,
                                                       "max_size_gb": None, "suspended": None,
                                                       "name": None})
    assert r.status_code == 200, r.text
    assert r.json() == cred


def test_update_key_clash(tenant, other):
    a, b = tenant.cred(), tenant.cred()
    theirs = other.cred()
    for key in (b["access_key_id"], theirs["access_key_id"]):
        before = tenant.snapshot()
        r = tenant.api.patch(f"{CREDS}/{a['id']}", json={"access_key_id": key,
                                                         "secret_access_key_id": "y" * 40})
        assert_error(r, 409, "database_objectstore_credential_exists")
        assert tenant.snapshot() == before


def test_update_invalid_key(tenant):
    cred = tenant.cred()
    before = tenant.snapshot()
    assert_error(tenant.api.patch(f"{CREDS}/{cred['id']}", json={"access_key_id": "a b c"}), 400,
                 "parameter_access_key_id_invalid")
    assert_error(tenant.api.patch(f"{CREDS}/{cred['id']}",
                                  json={"secret_access_key_id": "tiny"}), 400,
                 "parameter_secret_access_key_id_invalid")
    assert_error(tenant.api.patch(f"{CREDS}/{cred['id']}", json={"max_size_gb": -5}), 400,
                 "parameter_max_size_gb_invalid")
    assert tenant.snapshot() == before


def test_renamed_key_follows_into_owned_store(tenant):
    cred = tenant.cred()
    store = tenant.store(access_key_id=cred["access_key_id"])
    new_key = _key("MOVED")
    tenant.api.patch(f"{CREDS}/{cred['id']}", json={"access_key_id": new_key})
    got = tenant.api.get(f"/v2/objectstores/{store['id']}").json()
    assert got["owner_info"] == {"name": cred["name"], "access_key_id": new_key,
                                 "credential_id": cred["id"]}


# -- delete -------------------------------------------------------------------------------------
def test_delete(tenant, srv):
    keep, gone = tenant.cred(), tenant.cred()
    r = tenant.api.delete(f"{CREDS}/{gone['id']}", params={"region": "LON1"})
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    assert tenant.creds() == [keep]
    assert srv.services.credentials.by_access_key(gone["access_key_id"]) is None
    assert_error(tenant.api.get(f"{CREDS}/{gone['id']}"), 404,
                 "database_objectstore_credential_not_found")
    assert_error(tenant.api.delete(f"{CREDS}/{gone['id']}"), 404,
                 "database_objectstore_credential_not_found")


def test_delete_credential_with_stores(tenant):
    store = tenant.store()
    own = store["owner_info"]["credential_id"]
    before = tenant.snapshot()
    for _ in range(2):
        r = tenant.api.delete(f"{CREDS}/{own}")
        assert_error(r, 409, "database_objectstore_credential_in_use")
    assert tenant.snapshot() == before
    tenant.api.delete(f"/v2/objectstores/{store['id']}")
    assert tenant.creds() == []


def test_region_scoping(tenant):
    cred = tenant.cred(region="NYC1")
    url = f"{CREDS}/{cred['id']}"
    for method in ("GET", "PUT", "PATCH", "DELETE"):
        r = tenant.api.request(method, url, params={"region": "LON1"}, json={"suspended": True})
        assert_error(r, 404, "database_objectstore_credential_not_found")
    assert tenant.api.get(url, params={"region": "nyc1"}).json() == cred
    # the region in the body is read when the query has none
    r = tenant.api.request("GET", url, content=json.dumps({"region": "NYC1"}),
                           headers={"Content-Type": "application/json"})
    assert r.json() == cred


# -- isolation ----------------------------------------------------------------------------------
def test_other_accounts_credential_is_404_like_unknown(tenant, other):
    theirs = other.cred()
    cid = theirs["id"]
    calls = [("GET", None), ("PUT", {"suspended": True}), ("PATCH", {"max_size_gb": 5}),
             ("DELETE", None)]
    before = other.snapshot()
    foreign = []
    for method, body in calls:
        r = tenant.api.request(method, f"{CREDS}/{cid}", json=body)
        assert_error(r, 404, "database_objectstore_credential_not_found")
        foreign.append(r.json())
    assert other.snapshot() == before
    assert tenant.creds() == []
    other.api.delete(f"{CREDS}/{cid}")
    unknown = [tenant.api.request(m, f"{CREDS}/{cid}", json=b).json() for m, b in calls]
    assert foreign == unknown


def test_concurrent_same_access_key(tenant, other):
    key = _key("RACE")
    calls = [lambda t=t: t.api.post(CREDS, json={"name": "race", "access_key_id": key})
             for t in (tenant, other) * 3]
    with ThreadPoolExecutor(len(calls)) as pool:
        results = [f.result() for f in [pool.submit(c) for c in calls]]
    assert sorted(r.status_code for r in results) == [200] + [409] * 5
    for r in results:
        if r.status_code != 200:
            assert_error(r, 409, "database_objectstore_credential_exists")
    assert len(tenant.creds()) + len(other.creds()) == 1

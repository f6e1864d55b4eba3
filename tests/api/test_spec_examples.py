"""Every example of Civo's API page (curl, and where they differ, the Node and Ruby ones),
as httpx requests against the local server: host and API key swapped, ids swapped for real
ones. Requests are built by hand to match what curl / request / Net::HTTP put on the wire.
"""

from __future__ import annotations

import json

from .conftest import UUID_RE, assert_cred_shape, assert_error, assert_store_shape

FORM = {"Content-Type": "application/x-www-form-urlencoded"}  # what curl -d sends
JSON = {"Content-Type": "application/json"}


def test_create_object_store(tenant, srv):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    # curl -H "Authorization: bearer 12345" https://api.civo.com/v2/objectstores \
    #   -d "name=bucketA&size=500&region=LON1"
    r = api.post("/v2/objectstores", content=b"name=bucketA&size=500&region=LON1", headers=FORM)
    assert r.status_code == 200, r.text
    store = r.json()
    assert_store_shape(store, srv, name="bucketA", size=500)
    assert store["region"] == "LON1"
    # the Node and Ruby examples send the same form body: a second time is a duplicate
    r = api.post("/v2/objectstores", content=b"name=bucketA&size=500&region=LON1", headers=FORM)
    assert_error(r, 409, "database_objectstore_exists")


def test_list_object_stores(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.store(region="LON1")
    # curl ... https://api.civo.com/v2/objectstores?region=LON1
    r = api.get("/v2/objectstores?region=LON1")
    assert r.status_code == 200
    listing = r.json()
    assert listing["page"] == 1 and listing["pages"] == 1 and listing["per_page"] == 20
    assert listing["items"] == [made]
    # Node request.get(url, {form: {region: "LON1"}}) / Ruby http.get(path, 'region=LON1'):
    # a GET with a form body
    r = api.request("GET", "/v2/objectstores", content=b"region=LON1", headers=FORM)
    assert r.status_code == 200
    assert r.json() == listing
    # and the region really is read from that body
    r = api.request("GET", "/v2/objectstores", content=b"region=NYC1", headers=FORM)
    assert r.json()["items"] == []


def test_get_object_store(tenant, srv):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.store("bucketA", region="NYC1")
    # curl ... https://api.civo.com/v2/objectstores/12345?region=NYC1
    r = api.get(f"/v2/objectstores/{made['id']}?region=NYC1")
    assert r.status_code == 200
    assert r.json() == made
    assert_store_shape(r.json(), srv, name="bucketA", size=500)
    # Ruby sends a form Content-Type without a body
    r = api.get(f"/v2/objectstores/{made['id']}?region=NYC1", headers=FORM)
    assert r.json() == made
    # the example's own id does not exist
    assert_error(api.get("/v2/objectstores/12345?region=NYC1"), 404,
                 "database_objectstore_not_found")


def test_update_object_store(tenant, srv):
    made = tenant.store(region="NYC1")
    # curl -H "Authorization: bearer 12345" -H 'Content-Type: application/json' \
    #   -X PATCH https://api.civo.com/v2/objectstores/1234 \
    #   -d '{ "region": "NYC1", "max_size_gb": 1000 }'
    body = b'{\n    "region": "NYC1",\n    "max_size_gb": 1000\n}'
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    r = api.patch(f"/v2/objectstores/{made['id']}", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    updated = r.json()
    assert_store_shape(updated, srv, name=made["name"], size=1000)
    assert updated["owner_info"] == made["owner_info"]
    # Ruby: "Bearer", JSON.dump body
    ruby = tenant.client(Authorization=f"Bearer {tenant.key}")
    r = ruby.patch(f"/v2/objectstores/{made['id']}",
                   content=json.dumps({"region": "NYC1", "max_size_gb": 1500}), headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 1500
    # the example's own id does not exist
    assert_error(api.patch("/v2/objectstores/1234", content=body, headers=JSON), 404,
                 "database_objectstore_not_found")


def test_delete_object_store(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.store(region="NYC1")
    # curl ... -X DELETE https://api.civo.com/v2/objectstores/<id>?region=NYC1
    r = api.delete(f"/v2/objectstores/{made['id']}?region=NYC1")
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    assert tenant.stores("NYC1") == []
    # the example's own id
    assert_error(api.delete("/v2/objectstores/b177be0e-61fa-11b5-ae02-5cf1329be414?region=NYC1"),
                 404, "database_objectstore_not_found")


def test_create_credential(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    # curl ... https://api.civo.com/v2/objectstore/credentials \
    #   -d "name=Test-ObjectStore-Credential&region=LON1"
    r = api.post("/v2/objectstore/credentials",
                 content=b"name=Test-ObjectStore-Credential&region=LON1", headers=FORM)
    assert r.status_code == 200, r.text
    cred = r.json()
    assert_cred_shape(cred)
    assert cred["name"] == "Test-ObjectStore-Credential"
    # Node and Ruby post to the path with a trailing slash
    r = api.post("/v2/objectstore/credentials/",
                 content=b"name=Test-ObjectStore-Credential&region=LON1", headers=FORM)
    assert r.status_code == 200, r.text
    second = r.json()
    assert_cred_shape(second)
    assert second["id"] != cred["id"]
    assert [c["id"] for c in tenant.creds("LON1")] == [cred["id"], second["id"]]


def test_list_credentials(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.cred(region="LON1")
    # curl ... https://api.civo.com/v2/objectstore/credentials?region=LON1
    r = api.get("/v2/objectstore/credentials?region=LON1")
    assert r.status_code == 200
    listing = r.json()
    assert (listing["page"], listing["per_page"], listing["pages"]) == (1, 20, 1)
    assert listing["items"] == [made]
    item = listing["items"][0]
    assert set(item) >= {"id", "name", "access_key_id", "secret_access_key_id", "max_size_gb",
                         "suspended", "state"}
    # Node / Ruby: GET with a form body
    r = api.request("GET", "/v2/objectstore/credentials", content=b"region=LON1", headers=FORM)
    assert r.json() == listing


def test_get_credential(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.cred(region="NYC1")
    # curl ... https://api.civo.com/v2/objectstore/credentials/12345?region=NYC1
    r = api.get(f"/v2/objectstore/credentials/{made['id']}?region=NYC1")
    assert r.status_code == 200
    assert r.json() == made
    assert UUID_RE.match(made["id"])
    assert_error(api.get("/v2/objectstore/credentials/12345?region=NYC1"), 404,
                 "database_objectstore_credential_not_found")


def test_update_credential(tenant):
    made = tenant.cred(region="NYC1")
    # curl ... -H 'Content-Type: application/json' \
    #   -X PATCH https://api.civo.com/v2/objectstore/credentials/1234 \
    #   -d '{ "region": "NYC1", "suspended": true }'
    body = b'{\n    "region": "NYC1",\n    "suspended": true\n}'
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    r = api.patch(f"/v2/objectstore/credentials/{made['id']}", content=body, headers=JSON)
    assert r.status_code == 200, r.text
    assert r.json() == {**made, "suspended": True}
    # Ruby: "Bearer", same JSON
    ruby = tenant.client(Authorization=f"Bearer {tenant.key}")
    r = ruby.patch(f"/v2/objectstore/credentials/{made['id']}",
                   content=json.dumps({"region": "NYC1", "suspended": False}), headers=JSON)
    assert r.json() == made
    assert_error(api.patch("/v2/objectstore/credentials/1234", content=body, headers=JSON), 404,
                 "database_objectstore_credential_not_found")


def test_delete_credential(tenant):
    api = tenant.client(Authorization=f"bearer {tenant.key}")
    made = tenant.cred(region="NYC1")
    # curl ... -X DELETE https://api.civo.com/v2/objectstore/credentials/<id>?region=NYC1
    r = api.delete(f"/v2/objectstore/credentials/{made['id']}?region=NYC1")
    assert r.status_code == 200
    assert r.json() == {"result": "success"}
    assert tenant.creds("NYC1") == []
    r = api.delete("/v2/objectstore/credentials/a244ddfd-41af-44b5-ea41-5cf1329be414?region=NYC1")
    assert_error(r, 404, "database_objectstore_credential_not_found")

from __future__ import annotations


def test_create_and_list_store(server):
    with server.api() as api:
        r = api.post("/v2/objectstores", data={"name": "bucket-a", "region": "LON1"})
        assert r.status_code == 200, r.text
        store = r.json()
        r = api.get("/v2/objectstores", params={"region": "LON1"})
        assert [s["id"] for s in r.json()["items"]] == [store["id"]]

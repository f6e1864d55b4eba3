"""Replay of civogo's (and so the civo CLI's and Terraform's) wire behaviour.

What civogo does on every call, per the compat notes: JSON bodies, ``Authorization: bearer``
in lower case, ``Content-Encoding: gzip`` *without* compressing the body, ``?region=`` in the
query of every call and ``"region"`` inside create/update bodies, PUT for updates, credential
look-ups with ``page=1&per_page=10000``, ``null`` for unset credential keys. Each answer is
checked for every field the clients decode.
"""

from __future__ import annotations

import json
from typing import Any

import httpx

from .conftest import ACCESS_KEY_RE, SECRET_RE, UUID_RE, uniq

REGION = "LON1"


class Civogo:
    """Sends requests the way civogo's ``SendGetRequest``/``SendPostRequest``/... do."""

    def __init__(self, base_url: str, key: str, region: str = REGION) -> None:
        self.region = region
        self.http = httpx.Client(base_url=base_url, timeout=30, verify=False, headers={
            "Authorization": f"bearer {key}",
            "Accept": "application/json",
            "Content-Type": "application/json",
            "Content-Encoding": "gzip",  # sic: the body is plain JSON
            "User-Agent": "civogo/0.3.x",
        })
        self.log: list[tuple[str, str, int]] = []

    def send(self, method: str, path: str, body: dict[str, Any] | None = None
             ) -> httpx.Response:
        sep = "&" if "?" in path else "?"
        url = f"{path}{sep}region={self.region}"
        content = json.dumps(body).encode() if body is not None else b""
        r = self.http.request(method, url, content=content)
        self.log.append((method, url, r.status_code))
        return r

    def ok(self, method: str, path: str, body: dict[str, Any] | None = None) -> Any:
        r = self.send(method, path, body)
        assert r.status_code == 200, (method, path, r.status_code, r.text)
        return r.json()

    def close(self) -> None:
        self.http.close()


def check_store(store: dict[str, Any], srv: Any, *, name: str, size: int) -> None:
    """ObjectStore as civogo decodes it (plus what the CLI and Terraform read)."""
    assert UUID_RE.match(store["id"]) and store["id"][:6]  # the CLI prints the first 6
    assert store["name"] == name
    assert type(store["max_size"]) is int and store["max_size"] == size
    assert type(store["max_size_gb"]) is int and store["max_size_gb"] == size
    owner = store["owner_info"]
    for key in ("access_key_id", "name", "credential_id"):
        assert isinstance(owner[key], str) and owner[key], owner
    assert store["objectstore_endpoint"] == f"{srv.s3_url}/{name}"
    assert store["status"] == "ready"
    assert store["state"] == "ready"


def check_cred(cred: dict[str, Any]) -> None:
    assert UUID_RE.match(cred["id"])
    assert isinstance(cred["name"], str) and cred["name"]
    assert isinstance(cred["access_key_id"], str) and cred["access_key_id"]
    assert isinstance(cred["secret_access_key_id"], str) and cred["secret_access_key_id"]
    assert type(cred["max_size_gb"]) is int
    assert type(cred["suspended"]) is bool
    assert cred["status"] == "ready"
    assert cred["state"] == "ready"


def check_page(page: dict[str, Any], per_page: int) -> list[dict[str, Any]]:
    assert set(page) >= {"page", "per_page", "pages", "items"}
    assert page["page"] == 1 and page["per_page"] == per_page
    assert type(page["pages"]) is int and page["pages"] >= 1
    assert isinstance(page["items"], list)
    return page["items"]


def check_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert body["code"] == code
    assert isinstance(body["reason"], str) and body["reason"]
    assert all(isinstance(v, str) for v in body.values()), body


def find_cred(civo: Civogo, search: str) -> dict[str, Any]:
    """civogo's FindObjectStoreCredential: one big page, match id/name/access key."""
    page = civo.ok("GET", "/v2/objectstore/credentials?page=1&per_page=10000")
    items = check_page(page, 10000)
    for c in items:
        check_cred(c)
    hits = [c for c in items if search in (c["id"], c["name"], c["access_key_id"])]
    assert len(hits) == 1, (search, items)
    return hits[0]


def find_store(civo: Civogo, search: str) -> dict[str, Any]:
    """civogo's FindObjectStore: the first page of the list, match id or name."""
    items = check_page(civo.ok("GET", "/v2/objectstores"), 20)
    hits = [s for s in items if search in (s["id"], s["name"])]
    assert len(hits) == 1, (search, items)
    return hits[0]


def test_civogo_session(tenant, srv):
    civo = Civogo(srv.api_url, tenant.key)
    try:
        _session(civo, tenant, srv)
    finally:
        civo.close()
    # every call carried the region in its query string
    assert all("region=LON1" in url for _m, url, _s in civo.log)


def _session(civo: Civogo, tenant: Any, srv: Any) -> None:
    # -- the CLI checks the region list first: a bare array, one default, features ----------
    regions = civo.ok("GET", "/v2/regions")
    assert isinstance(regions, list)
    assert [r["code"] for r in regions if r["default"]] == [REGION]
    for r in regions:
        for key in ("code", "name", "type", "country", "country_name"):
            assert isinstance(r[key], str)
        assert type(r["out_of_capacity"]) is bool
        assert all(type(v) is bool for v in r["features"].values())
        assert {"object_store", "iaas", "kubernetes"} <= set(r["features"])

    quota = civo.ok("GET", "/v2/quota")
    assert type(quota["objectstore_gb_limit"]) is int
    assert quota["objectstore_gb_usage"] == 0

    # -- civo objectstore credential create NAME: keys unset -> null ------------------------
    cred_name = uniq("civo-cred")
    cred = civo.ok("POST", "/v2/objectstore/credentials", {
        "name": cred_name, "max_size_gb": None, "access_key_id": None,
        "secret_access_key_id": None, "region": REGION})
    check_cred(cred)
    assert cred["name"] == cred_name
    assert ACCESS_KEY_RE.match(cred["access_key_id"])
    assert SECRET_RE.match(cred["secret_access_key_id"])
    assert cred["suspended"] is False
    # Terraform polls the credential until "ready"
    assert civo.ok("GET", f"/v2/objectstore/credentials/{cred['id']}") == cred
    assert find_cred(civo, cred_name) == cred
    assert find_cred(civo, cred["access_key_id"]) == cred

    # -- civo objectstore create NAME --owner-access-key KEY --size 500 -----------------------
    name = uniq("civo-bucket")
    store = civo.ok("POST", "/v2/objectstores", {
        "name": name, "max_size_gb": 500, "access_key_id": cred["access_key_id"],
        "region": REGION})
    check_store(store, srv, name=name, size=500)
    assert store["owner_info"] == {"name": cred_name, "access_key_id": cred["access_key_id"],
                                   "credential_id": cred["id"]}
    # Terraform waits for "ready"; the list has it at once
    assert civo.ok("GET", f"/v2/objectstores/{store['id']}") == store
    assert find_store(civo, name) == store
    assert find_store(civo, store["id"]) == store

    # -- civo objectstore show: store, stats, and the owner looked up by owner_info.name ------
    stats = civo.ok("GET", f"/v2/objectstores/{store['id']}/stats")
    assert set(stats) == {"size_kb_utilised", "max_size_kb", "num_objects"}
    assert all(type(v) is int for v in stats.values())
    assert stats["size_kb_utilised"] == 0 and stats["num_objects"] == 0
    assert stats["max_size_kb"] == 500_000_000
    assert find_cred(civo, store["owner_info"]["name"])["id"] == cred["id"]

    # -- a store made without a key gets a credential of its own -----------------------------
    auto_name = uniq("civo-auto")
    auto = civo.ok("POST", "/v2/objectstores", {"name": auto_name, "max_size_gb": 100,
                                                "region": REGION})
    check_store(auto, srv, name=auto_name, size=100)
    own = find_cred(civo, auto["owner_info"]["name"])
    assert own["id"] == auto["owner_info"]["credential_id"]
    assert own["access_key_id"] == auto["owner_info"]["access_key_id"]
    assert ACCESS_KEY_RE.match(own["access_key_id"]) and SECRET_RE.match(
        own["secret_access_key_id"])

    # -- civo objectstore update --size 1000: PUT {max_size_gb, region} -----------------------
    updated = civo.ok("PUT", f"/v2/objectstores/{store['id']}",
                      {"max_size_gb": 1000, "region": REGION})
    check_store(updated, srv, name=name, size=1000)
    assert updated["owner_info"] == store["owner_info"]
    # Terraform with no size change sends 0: unchanged
    same = civo.ok("PUT", f"/v2/objectstores/{store['id']}", {"max_size_gb": 0, "region": REGION})
    assert same == updated
    assert civo.ok("GET", f"/v2/objectstores/{store['id']}/stats")["max_size_kb"] == \
        1000 * 10**9 // 1000
    q = civo.ok("GET", "/v2/quota")
    assert q["objectstore_gb_usage"] == 1100

    # -- civo objectstore credential update: re-sends both current keys ------------------------
    again = civo.ok("PUT", f"/v2/objectstore/credentials/{cred['id']}", {
        "access_key_id": cred["access_key_id"], "secret_access_key_id":
        cred["secret_access_key_id"], "max_size_gb": 0, "region": REGION})
    assert again == cred
    # ... with a new secret (the key re-sent unchanged)
    new_secret = "S" * 40
    rotated = civo.ok("PUT", f"/v2/objectstore/credentials/{cred['id']}", {
        "access_key_id": cred["access_key_id"], "secret_access_key_id": new_secret,
        "region": REGION})
    check_cred(rotated)
    assert rotated == {**cred, "secret_access_key_id": new_secret}
    got = srv.services.credentials.by_access_key(cred["access_key_id"])
    assert got is not None and got.secret_access_key == new_secret
    # ... suspend with nulls for the keys: keys unchanged
    suspended = civo.ok("PUT", f"/v2/objectstore/credentials/{cred['id']}", {
        "access_key_id": None, "secret_access_key_id": None, "suspended": True,
        "region": REGION})
    assert suspended == {**rotated, "suspended": True}
    unsuspended = civo.ok("PUT", f"/v2/objectstore/credentials/{cred['id']}", {
        "suspended": False, "region": REGION})
    assert unsuspended == rotated

    # -- errors civogo decodes: {code, reason} strings -----------------------------------------
    check_error(civo.send("POST", "/v2/objectstores", {"name": name, "max_size_gb": 500,
                                                       "region": REGION}),
                409, "database_objectstore_exists")
    check_error(civo.send("GET", "/v2/objectstores/00000000-0000-4000-8000-000000000000"), 404,
                "database_objectstore_not_found")
    check_error(civo.send("DELETE", f"/v2/objectstore/credentials/{cred['id']}"), 409,
                "database_objectstore_credential_in_use")
    bad = Civogo(srv.api_url, "not-a-valid-key")
    try:
        check_error(bad.send("GET", "/v2/objectstores"), 401, "database_account_not_found")
    finally:
        bad.close()
    other_region = Civogo(srv.api_url, tenant.key, region="PHX1")
    try:
        check_error(other_region.send("GET", "/v2/objectstores"), 400,
                    "database_region_feature_not_supported")
    finally:
        other_region.close()

    # -- civo objectstore delete: {"result": "success"}, gone from the list at once -----------
    for s in (store, auto):
        r = civo.send("DELETE", f"/v2/objectstores/{s['id']}")
        assert r.status_code == 200
        assert r.json() == {"result": "success"}
    assert check_page(civo.ok("GET", "/v2/objectstores"), 20) == []
    # the auto credential went with its store; the shared one stays until deleted
    items = check_page(civo.ok("GET", "/v2/objectstore/credentials?page=1&per_page=10000"),
                       10000)
    assert [c["id"] for c in items] == [cred["id"]]
    assert civo.ok("DELETE", f"/v2/objectstore/credentials/{cred['id']}") == \
        {"result": "success"}
    assert check_page(civo.ok("GET", "/v2/objectstore/credentials?page=1&per_page=10000"),
                      10000) == []
    assert civo.ok("GET", "/v2/quota")["objectstore_gb_usage"] == 0
    assert srv.services.credentials.by_access_key(cred["access_key_id"]) is None


def test_civojs_style_no_region_bearer(tenant, srv):
    """civojs: ``Bearer``, never a region (default region), JSON bodies."""
    c = tenant.client(Authorization=f"Bearer {tenant.key}")
    name = uniq("js")
    r = c.post("/v2/objectstores", json={"name": name, "max_size_gb": 10})
    assert r.status_code == 200, r.text
    store = r.json()
    check_store(store, srv, name=name, size=10)
    assert store["region"] == REGION
    assert c.get(f"/v2/objectstores/{store['id']}").json() == store
    r = c.post("/v2/objectstore/credentials", json={"name": "js-cred"})
    check_cred(r.json())
    assert c.delete(f"/v2/objectstores/{store['id']}").json() == {"result": "success"}

"""Bad input: Civo-style errors with the right status, and nothing changed."""

from __future__ import annotations

import gzip
import json

import httpx
import pytest

from .conftest import assert_error, uniq

STORES = "/v2/objectstores"
CREDS = "/v2/objectstore/credentials"
SOME_ID = "5cc0696d-6663-48a9-8123-87adb997138c"

ENDPOINTS = [
    ("GET", STORES), ("POST", STORES), ("GET", f"{STORES}/{SOME_ID}"),
    ("PUT", f"{STORES}/{SOME_ID}"), ("PATCH", f"{STORES}/{SOME_ID}"),
    ("DELETE", f"{STORES}/{SOME_ID}"), ("GET", f"{STORES}/{SOME_ID}/stats"),
    ("GET", CREDS), ("POST", CREDS), ("GET", f"{CREDS}/{SOME_ID}"),
    ("PUT", f"{CREDS}/{SOME_ID}"), ("PATCH", f"{CREDS}/{SOME_ID}"),
    ("DELETE", f"{CREDS}/{SOME_ID}"), ("GET", "/v2/regions"), ("GET", "/v2/quota"),
]


# -- authentication -----------------------------------------------------------------------------
BAD_AUTH = [None, "", "bearer", "Bearer{key}", "Basic dXNlcjpwYXNz", "bearer not-a-key",
            "Token {key}", "{key}", "bearer {key}x", "bearer {upper}"]


def test_bad_api_key(tenant):
    tenant.store()
    tenant.cred()
    before = tenant.snapshot()
    for auth in BAD_AUTH:
        headers = {} if auth is None else {
            "Authorization": auth.format(key=tenant.key, upper=tenant.key.upper())}
        c = tenant.client(**headers)
        for method, path in ENDPOINTS:
            r = c.request(method, path, json={"name": uniq(), "region": "LON1"})
            assert_error(r, 401, "database_account_not_found")
    assert tenant.snapshot() == before


def test_bad_key_wins_over_bad_body(tenant):
    """An unauthenticated request learns nothing else: 401 even when its body is broken."""
    c = tenant.client(Authorization="bearer not-a-key")
    for content, ctype in ((b"{oops", "application/json"), (b"[1, 2]", "application/json"),
                           (b"a=1&b", "application/x-www-form-urlencoded")):
        for method, path in ENDPOINTS:
            r = c.request(method, path, content=content, headers={"Content-Type": ctype})
            assert_error(r, 401, "database_account_not_found")


def test_deleted_account_key_rejected(srv):
    account, key = srv.services.accounts.create(uniq("gone"))
    with httpx.Client(base_url=srv.api_url, verify=False,
                      headers={"Authorization": f"bearer {key}"}) as c:
        assert c.get("/v2/quota").status_code == 200
        srv.services.accounts.delete_empty(account.id)
        assert_error(c.get("/v2/quota"), 401, "database_account_not_found")


# -- sizes --------------------------------------------------------------------------------------
BAD_SIZES = [-1, "-1", "abc", "1.5", 1.5, True, False, "true", [], {}, "", " 5x",
             "\u00b2", "\u0661", "1e3", 10**12]


@pytest.mark.parametrize("field", ["max_size_gb", "size"])
def test_create_bad_size(tenant, field):
    before = tenant.snapshot()
    for value in BAD_SIZES:
        r = tenant.api.post(STORES, json={"name": uniq(), field: value})
        if value == "":  # an empty value means missing: the default size
            assert r.status_code == 200 and r.json()["max_size_gb"] == 500, r.text
            tenant.api.delete(f"{STORES}/{r.json()['id']}")
            continue
        assert_error(r, 400, f"parameter_{field}_invalid")
    for value in ("-1", "abc", "1.5", "true", "\u00b2", "0x10", "5 GB"):
        r = tenant.api.post(STORES, data={"name": uniq(), field: value})
        assert_error(r, 400, f"parameter_{field}_invalid")
    assert tenant.snapshot() == before


def test_create_zero_size_refused(tenant):
    before = tenant.snapshot()
    for body, field in (({"max_size_gb": 0}, "max_size_gb"), ({"size": 0}, "size"),
                        ({"size": "0"}, "size"), ({"max_size_gb": "0", "size": 5}, "max_size_gb")):
        r = tenant.api.post(STORES, json={"name": uniq(), **body})
        assert_error(r, 400, f"parameter_{field}_invalid")
    r = tenant.api.post(STORES, data={"name": uniq(), "size": "0"})
    assert_error(r, 400, "parameter_size_invalid")
    assert tenant.snapshot() == before


@pytest.mark.parametrize("method", ["PUT", "PATCH"])
def test_update_bad_size(tenant, method):
    store = tenant.store(max_size_gb=10)
    before = tenant.snapshot()
    for value in BAD_SIZES:
        if value in ("", False):
            continue
        r = tenant.api.request(method, f"{STORES}/{store['id']}", json={"max_size_gb": value})
        assert_error(r, 400, "parameter_max_size_gb_invalid")
    for value in ("-1", "abc", "2.5", "\u0663"):
        r = tenant.api.request(method, f"{STORES}/{store['id']}", data={"size": value})
        assert_error(r, 400, "parameter_size_invalid")
    assert tenant.snapshot() == before


def test_integer_json_float_accepted(tenant):
    # 250.0 is an integer value: civogo never sends it, but it is harmless
    r = tenant.api.post(STORES, json={"name": uniq(), "max_size_gb": 250.0})
    assert r.status_code == 200, r.text
    assert r.json()["max_size_gb"] == 250


# -- bodies -------------------------------------------------------------------------------------
JSON_CT = {"Content-Type": "application/json"}
FORM_CT = {"Content-Type": "application/x-www-form-urlencoded"}


MALFORMED = [
    (b'{"name": "x"', JSON_CT, "invalid_json"),
    (b'{"name": }', JSON_CT, "invalid_json"),
    (b"name=abc", JSON_CT, "invalid_json"),
    (b'["name", "abc"]', JSON_CT, "invalid_json"),
    (b'["name", "abc"]', {}, "invalid_json"),
    (b'"just a string"', JSON_CT, "invalid_json"),
    (b"42", JSON_CT, "invalid_json"),
    (b"null", JSON_CT, "invalid_json"),
    (b'{"name": "\xff\xfe"}', JSON_CT, "invalid_json"),
    (b"name=abc&size", FORM_CT, "invalid_request_body"),
    (b"name=abc&&", FORM_CT, "invalid_request_body"),
    (b"name=\xff\xfe", FORM_CT, "invalid_request_body"),
    (b"\x1f\x8bnot really gzip", {**JSON_CT, "Content-Encoding": "gzip"},
     "invalid_request_body"),
]


@pytest.mark.parametrize("method,path", [("POST", STORES), ("POST", CREDS),
                                         ("PUT", f"{STORES}/{{sid}}"),
                                         ("PATCH", f"{CREDS}/{{cid}}")])
def test_malformed_body(tenant, method, path):
    store = tenant.store()
    cred = tenant.cred()
    before = tenant.snapshot()
    url = path.format(sid=store["id"], cid=cred["id"])
    for content, headers, code in MALFORMED:
        r = tenant.api.request(method, url, content=content, headers=headers)
        assert_error(r, 400, code)
    assert tenant.snapshot() == before


def test_malformed_body_on_get_rejected(tenant):
    r = tenant.api.request("GET", STORES, content=b"{oops", headers=JSON_CT)
    assert_error(r, 400, "invalid_json")


@pytest.mark.parametrize("method,path", [("POST", STORES), ("POST", CREDS),
                                         ("PATCH", f"{STORES}/{{sid}}")])
def test_oversize_body(tenant, method, path):
    store = tenant.store(max_size_gb=10)
    before = tenant.snapshot()
    url = path.format(sid=store["id"])
    pad = "x" * (1024 * 1024 + 1)
    body = json.dumps({"name": uniq(), "max_size_gb": 20, "pad": pad}).encode()
    r = tenant.api.request(method, url, content=body, headers=JSON_CT)
    assert_error(r, 413, "request_body_too_large")
    form = f"name={uniq()}&max_size_gb=20&pad={pad}".encode()
    r = tenant.api.request(method, url, content=form, headers=FORM_CT)
    assert_error(r, 413, "request_body_too_large")

    # streamed without a Content-Length (chunked)
    def chunks():
        yield b'{"pad": "'
        for _ in range(17):
            yield b"y" * 65536
        yield b'"}'

    r = tenant.api.request(method, url, content=chunks(), headers=JSON_CT)
    assert_error(r, 413, "request_body_too_large")
    # a small gzip body that inflates past the limit
    bomb = gzip.compress(body)
    assert len(bomb) < 64 * 1024
    r = tenant.api.request(method, url, content=bomb,
                           headers={**JSON_CT, "Content-Encoding": "gzip"})
    assert_error(r, 413, "request_body_too_large")
    assert tenant.snapshot() == before
    # just under the limit is fine
    ok = json.dumps({"name": uniq(), "pad": "z" * (1024 * 1000)}).encode()
    assert len(ok) <= 1024 * 1024
    if method == "POST" and path == STORES:
        assert tenant.api.post(STORES, content=ok, headers=JSON_CT).status_code == 200


def test_wrong_types_for_strings(tenant):
    before = tenant.snapshot()
    for body in ({"name": ["a", "b"]}, {"name": {"x": "y"}}, {"name": True}):
        assert_error(tenant.api.post(STORES, json=body), 400, "parameter_name_invalid")
    r = tenant.api.post(STORES, json={"name": uniq(), "access_key_id": ["K"]})
    assert_error(r, 400, "parameter_access_key_id_invalid")
    assert tenant.snapshot() == before


def test_unstorable_characters(tenant):
    """NUL and lone surrogates (valid JSON escapes) are refused, not a database error."""
    store = tenant.store()
    cred = tenant.cred()
    before = tenant.snapshot()
    calls = [
        ("POST", STORES, {"name": "abc\\u0000def"}, "parameter_name_invalid"),
        ("POST", STORES, {"name": "\\ud800bc"}, "parameter_name_invalid"),
        ("POST", STORES, {"name": "abcdef", "access_key_id": "AB\\u0000CD"},
         "parameter_access_key_id_invalid"),
        ("PATCH", f"{STORES}/{store['id']}", {"access_key_id": "\\u0000"},
         "parameter_access_key_id_invalid"),
        ("POST", CREDS, {"name": "x\\u0000y"}, "parameter_name_invalid"),
        ("POST", CREDS, {"name": "\\udfff"}, "parameter_name_invalid"),
        ("POST", CREDS, {"name": "ok", "secret_access_key_id": "s\\u0000" * 8},
         "parameter_secret_access_key_id_invalid"),
        ("PUT", f"{CREDS}/{cred['id']}", {"name": "x\\u0000y"}, "parameter_name_invalid"),
    ]
    for method, path, body, code in calls:
        raw = json.dumps(body).replace("\\\\u", "\\u").encode()
        r = tenant.api.request(method, path, content=raw, headers=JSON_CT)
        assert_error(r, 400, code)
    r = tenant.api.post(CREDS, data={"name": "a\x00b"})  # %00 in a form body
    assert_error(r, 400, "parameter_name_invalid")
    for path, code in ((f"{STORES}/%00", "database_objectstore_not_found"),
                       (f"{STORES}/{store['id']}%00", "database_objectstore_not_found"),
                       (f"{STORES}/%00/stats", "database_objectstore_not_found"),
                       (f"{CREDS}/%00", "database_objectstore_credential_not_found")):
        for method in ("GET", "PUT", "DELETE"):
            if method != "GET" and path.endswith("stats"):
                continue
            assert_error(tenant.api.request(method, path), 404, code)
    assert_error(tenant.api.get(STORES, params={"region": "LON1\x00"}), 404,
                 "database_region_not_found")
    assert tenant.snapshot() == before
    assert tenant.srv.services.credentials.by_access_key("A\x00") is None
    assert tenant.srv.services.stores.by_name("a\x00b") == []


# -- unknown ids --------------------------------------------------------------------------------
UNKNOWN_IDS = [
    ("GET", f"{STORES}/{SOME_ID}", "database_objectstore_not_found"),
    ("PUT", f"{STORES}/{SOME_ID}", "database_objectstore_not_found"),
    ("PATCH", f"{STORES}/{SOME_ID}", "database_objectstore_not_found"),
    ("DELETE", f"{STORES}/{SOME_ID}", "database_objectstore_not_found"),
    ("GET", f"{STORES}/{SOME_ID}/stats", "database_objectstore_not_found"),
    ("GET", f"{CREDS}/{SOME_ID}", "database_objectstore_credential_not_found"),
    ("PUT", f"{CREDS}/{SOME_ID}", "database_objectstore_credential_not_found"),
    ("PATCH", f"{CREDS}/{SOME_ID}", "database_objectstore_credential_not_found"),
    ("DELETE", f"{CREDS}/{SOME_ID}", "database_objectstore_credential_not_found"),
    ("GET", f"{STORES}/%20", "database_objectstore_not_found"),
    ("GET", f"{CREDS}/x'%20OR%20'1'='1", "database_objectstore_credential_not_found"),
]


def test_unknown_ids(tenant):
    tenant.store()
    before = tenant.snapshot()
    for method, path, code in UNKNOWN_IDS:
        r = tenant.api.request(method, path, json={"max_size_gb": 5, "suspended": True})
        assert_error(r, 404, code)
    assert tenant.snapshot() == before


# -- routing ------------------------------------------------------------------------------------
# ("/" leads to the web console: tests/console)
UNKNOWN_ROUTES = ["/v2", "/v2/objectstore", "/v2/objectstores/x/y",
                  "/v2/objectstores/x/stats/extra", "/v1/objectstores",
                  "/v2/objectstore/credentials/x/y", "/v2/instances", "/healthz/x"]


def test_unknown_route(tenant, srv):
    anonymous = tenant.client()
    for path in UNKNOWN_ROUTES:
        for method in ("GET", "POST", "PUT", "DELETE"):
            assert_error(tenant.api.request(method, path), 404, "not_found")
            assert_error(anonymous.request(method, path), 404, "not_found")


WRONG_METHODS = [
    ("DELETE", STORES), ("PUT", STORES), ("PATCH", STORES),
    ("POST", f"{STORES}/{SOME_ID}"), ("POST", f"{STORES}/{SOME_ID}/stats"),
    ("DELETE", f"{STORES}/{SOME_ID}/stats"), ("DELETE", CREDS), ("PUT", CREDS),
    ("POST", f"{CREDS}/{SOME_ID}"), ("POST", "/v2/regions"), ("DELETE", "/v2/quota"),
    ("POST", "/healthz"), ("DELETE", f"{STORES}/"),
]


def test_wrong_method(tenant):
    tenant.store()
    before = tenant.snapshot()
    for method, path in WRONG_METHODS:
        r = tenant.api.request(method, path, json={"name": uniq()})
        assert_error(r, 405, "method_not_allowed")
    assert tenant.snapshot() == before


def test_a_key_for_an_unknown_region_is_refused_before_it_is_made(tenant):
    # (issue 23: the region was looked up after the key was made, which then answered 404)
    r = tenant.api.post("/v2/objectstore/keys", params={"region": "nowhere"},
                        json={"alias": uniq("key")})
    assert_error(r, 404, "database_region_not_found")
    assert tenant.api.get("/v2/objectstore/keys").json() == []

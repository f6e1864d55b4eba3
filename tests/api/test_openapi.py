"""The generated OpenAPI document against the code it is generated from.

Every operation of the route table is called on a real server and its response checked
against the schema the document declares for it (the pydantic model field for field, and the
document's own JSON schema as schemathesis reads it); error responses are checked against the
Error schema and the operation's documented statuses; and every parameter a handler reads is
one its operation declares. So the document cannot drift from the handlers and renderers."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema_rs
import pytest
from pydantic import BaseModel

from objectstore.mgmt import app as mgmt_app
from objectstore.mgmt import models, params
from objectstore.mgmt.openapi import OPENAPI
from objectstore.mgmt.params import Paging, Param
from objectstore.mgmt.spec import Operation, operation_of
from tests.api.conftest import Tenant, uniq

OPS: dict[tuple[str, str], Operation] = {
    (path, m.upper()): op for path, methods, op in mgmt_app.documented_routes() for m in methods}


def _schema_validator(ref: str) -> Any:
    """A validator for a component schema of the document (its $refs resolved in place)."""
    root = {"components": json.loads(json.dumps(OPENAPI["components"])), "$ref": ref}
    return jsonschema_rs.Draft4Validator(root)


def _documented(path: str, method: str) -> dict[str, Any]:
    return OPENAPI["paths"][path][method.lower()]


def check_ok(path: str, method: str, r: httpx.Response) -> None:
    op = OPS[(path, method)]
    assert r.status_code == 200, (path, method, r.status_code, r.text)
    content = _documented(path, method)["responses"]["200"]["content"]
    assert list(content) == [op.media_type]
    assert r.headers["content-type"].startswith(op.media_type)
    if op.media_type != "application/json":
        return
    body = r.json()
    _exact(op.response, body)
    _schema_validator(content[op.media_type]["schema"]["$ref"]).validate(body)


def _exact(model: type[BaseModel], body: Any) -> None:
    """Valid for ``model`` without coercion, and with no field the model does not declare."""
    parsed = model.model_validate(body, strict=True)
    assert parsed.model_dump(mode="json", exclude_unset=True) == body, (model, body)


def check_error(path: str, method: str, r: httpx.Response, status: int) -> None:
    assert r.status_code == status, (path, method, r.status_code, r.text)
    responses = _documented(path, method)["responses"]
    assert str(status) in responses, (path, method, status, "undocumented")
    assert r.headers["content-type"].startswith("application/json")
    _exact(models.Error, r.json())
    _schema_validator("#/components/schemas/Error").validate(r.json())


@pytest.fixture
def reads(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[str]]:
    """The names of the request parameters handlers read (the server runs in this process)."""
    seen: list[str] = []
    original = params.Params.get

    def get(self: params.Params, name: str) -> Any:
        seen.append(name)
        return original(self, name)
    monkeypatch.setattr(params.Params, "get", get)
    yield seen


def declared_names(op: Operation) -> set[str]:
    names = {"region"}
    for q in op.query:
        names |= {q.page.name, q.per_page.name} if isinstance(q, Paging) else {q.name}
    if op.body:
        names |= set(op.body.fields)
    return names


def test_every_route_is_declared_and_documented() -> None:
    table = {(path, m.upper()) for path, methods, _ in mgmt_app.ROUTE_TABLE for m in methods}
    for path, methods, fn in mgmt_app.ROUTE_TABLE:
        operation_of(fn)  # raises without an @operation
        for m in methods:
            assert m.lower() in OPENAPI["paths"][path], (path, m)
    documented = {(p, m.upper()) for p, item in OPENAPI["paths"].items() for m in item}
    assert table <= documented
    assert documented - table == {("/healthz", "GET"), ("/openapi.json", "GET"),
                                  ("/metrics", "GET")}
    ids = [op["operationId"] for item in OPENAPI["paths"].values() for op in item.values()]
    assert len(ids) == len(set(ids))


def test_document_shape() -> None:
    assert OPENAPI["openapi"] == "3.0.3"
    assert OPENAPI["security"] == [{"bearerAuth": []}]
    assert OPENAPI["components"]["securitySchemes"]["bearerAuth"] == {
        "type": "http", "scheme": "bearer",
        "description": "The account's API key (sent as bearer or Bearer)"}
    for path, item in OPENAPI["paths"].items():
        for method, op in item.items():
            public = path in ("/healthz", "/openapi.json", "/metrics")
            assert (op.get("security") == []) is public, (path, method)
            if not public:  # the errors every authenticated endpoint may answer
                assert {"400", "401", "408", "413", "431"} <= set(op["responses"])
            if "requestBody" in op:
                content = op["requestBody"]["content"]
                assert set(content) == {"application/json",
                                        "application/x-www-form-urlencoded"}
    # every error code of the error tables is listed on the Error schema
    from objectstore.mgmt.errors import CIVO_ERRORS, OTHER_ERRORS
    listed = OPENAPI["components"]["schemas"]["Error"]["properties"]["code"]["description"]
    for code in [c for _, c in CIVO_ERRORS.values()] + list(OTHER_ERRORS):
        assert code in listed


def test_body_field_schemas_match_their_parsing() -> None:
    """Each body field's JSON type is the one its descriptor parses; form twins are strings."""
    kinds = {params.Text: "string", params.Integer: "integer", params.Flag: "boolean"}
    schemas = OPENAPI["components"]["schemas"]
    for op in OPS.values():
        if not op.body:
            continue
        body = schemas[op.body.name]
        form = schemas[op.body.name + "Form"]
        assert body.get("required", []) == list(op.body.required_fields)
        assert form.get("required", []) == list(op.body.required_fields)
        for name, field in op.body.fields.items():
            assert isinstance(field, Param)
            kind = next(k for cls, k in kinds.items() if isinstance(field, cls))
            assert body["properties"][name]["type"] == kind, (op.body.name, name)
            assert form["properties"][name]["type"] == "string"


def _all_operations(t: Tenant, reads: list[str]) -> None:
    api = t.api
    seen: set[tuple[str, str]] = set()

    def call(path: str, method: str, url: str, **kw: Any) -> httpx.Response:
        reads.clear()
        r = api.request(method, url, **kw)
        check_ok(path, method, r)
        undeclared = set(reads) - declared_names(OPS[(path, method)])
        assert not undeclared, (path, method, undeclared)
        seen.add((path, method))
        return r

    stores, store_id = "/v2/objectstores", "/v2/objectstores/{id}"
    creds, cred_id = "/v2/objectstore/credentials", "/v2/objectstore/credentials/{id}"
    keys, key_id = "/v2/objectstore/keys", "/v2/objectstore/keys/{id}"

    cred = call(creds, "POST", creds, json={"name": uniq("cred"), "region": "LON1",
                                            "max_size_gb": 5}).json()
    call(creds, "POST", creds, data={"name": uniq("cred"), "max_size_gb": "0"})
    call(creds, "GET", creds, params={"region": "LON1", "page": 1, "per_page": 1})
    call(cred_id, "GET", f"{creds}/{cred['id']}")
    call(cred_id, "PUT", f"{creds}/{cred['id']}", json={"name": uniq("renamed"),
                                                        "suspended": True})
    call(cred_id, "PATCH", f"{creds}/{cred['id']}", data={"suspended": "false",
                                                          "max_size_gb": "0"})
    store = call(stores, "POST", stores, json={"name": uniq(), "region": "LON1",
                                               "max_size_gb": 1}).json()
    owned = call(stores, "POST", stores, data={"name": uniq(), "size": "2",
                                               "access_key_id": cred["access_key_id"]}).json()
    call(stores, "GET", stores, params={"per_page": 10000})
    call(store_id, "GET", f"{stores}/{store['id']}")
    call(store_id, "PUT", f"{stores}/{store['id']}", json={"max_size_gb": 3})
    call(store_id, "PATCH", f"{stores}/{store['id']}", data={"size": "4"})
    call("/v2/objectstores/{id}/stats", "GET", f"{stores}/{store['id']}/stats")
    key = call(keys, "POST", keys, json={"alias": uniq("key"), "description": "d"}).json()
    call(keys, "POST", keys, data={"name": uniq("key")})
    call(keys, "GET", keys)
    call(key_id, "GET", f"{keys}/{key['id']}")
    call(key_id, "PUT", f"{keys}/{key['id']}", json={"enabled": False})
    call(key_id, "PATCH", f"{keys}/{key['id']}", data={"enabled": "true"})
    targets, target_id = "/v2/objectstore/event-targets", "/v2/objectstore/event-targets/{id}"
    hook = call(targets, "POST", targets, json={
        "name": uniq("hook"), "type": "webhook", "endpoint": "http://127.0.0.1:9/events",
        "auth_token": "t0k3n", "region": "LON1"}).json()
    redis = call(targets, "POST", targets, data={
        "name": uniq("redis"), "type": "redis", "endpoint": "redis://:pw@127.0.0.1:6379/0",
        "key": "events", "format": "stream", "backlog_limit": "50"}).json()
    assert redis["endpoint"] == "redis://:***@127.0.0.1:6379/0" and redis["backlog_limit"] == 50
    call(targets, "GET", targets)
    call(target_id, "GET", f"{targets}/{hook['id']}")
    call(target_id, "PUT", f"{targets}/{hook['id']}", json={
        "name": uniq("moved"), "endpoint": "http://127.0.0.1:9/moved", "auth_token": "",
        "batch_size": 5, "backlog_limit": 0})
    moved = call(target_id, "PATCH", f"{targets}/{redis['id']}", data={
        "endpoint": "redis://:***@127.0.0.1:6379/1", "format": "", "type": "redis"}).json()
    assert moved["endpoint"] == "redis://:***@127.0.0.1:6379/1" and moved["format"] == "list"
    call(target_id, "DELETE", f"{targets}/{hook['id']}")
    call(target_id, "DELETE", f"{targets}/{redis['id']}")
    call("/v2/regions", "GET", "/v2/regions")
    call("/v2/quota", "GET", "/v2/quota")
    call(store_id, "DELETE", f"{stores}/{owned['id']}")
    call(store_id, "DELETE", f"{stores}/{store['id']}")
    call(cred_id, "DELETE", f"{creds}/{cred['id']}")
    call("/healthz", "GET", "/healthz")
    call("/openapi.json", "GET", "/openapi.json")
    if api.get("/metrics").status_code == 200:  # served by the wrapper, when metrics are on
        call("/metrics", "GET", "/metrics")
    assert {k for k in OPS if k != ("/metrics", "GET")} <= seen


def test_every_response_validates_against_its_declared_schema(tenant: Tenant,
                                                              reads: list[str]) -> None:
    _all_operations(tenant, reads)


def test_error_responses_are_documented(tenant: Tenant) -> None:
    anonymous = tenant.client()
    store = tenant.store()
    cred = tenant.cred()
    ids = {"/v2/objectstores/{id}": "00000000-0000-4000-8000-000000000000",
           "/v2/objectstores/{id}/stats": "00000000-0000-4000-8000-000000000000",
           "/v2/objectstore/credentials/{id}": "00000000-0000-4000-8000-000000000000",
           "/v2/objectstore/keys/{id}": "00000000-0000-4000-8000-000000000000",
           "/v2/objectstore/event-targets/{id}": "00000000-0000-4000-8000-000000000000"}
    for (path, method), op in OPS.items():
        if not op.authenticated:
            continue
        url = path.replace("{id}", ids.get(path, ""))
        check_error(path, method, anonymous.request(method, url), 401)
        check_error(path, method, tenant.api.request(method, url, content=b"{",
                                                     headers={"content-type": JSON}), 400)
        if params.REGION in op.query and method != "POST":  # (a POST checks its body first)
            check_error(path, method, tenant.api.request(method, url,
                                                         params={"region": "nowhere"}), 404)
        check_error(path, method, tenant.api.request(method, url, content=b"x" * (2 << 20)),
                    413)
        if "{id}" in path:
            check_error(path, method, tenant.api.request(method, url), 404)
    check_error("/v2/objectstores", "POST",
                tenant.api.post("/v2/objectstores", json={"name": store["name"]}), 409)
    check_error("/v2/objectstores", "POST",
                tenant.api.post("/v2/objectstores", json={"name": uniq(), "max_size_gb": 0}),
                400)
    check_error("/v2/objectstore/credentials", "POST",
                tenant.api.post("/v2/objectstore/credentials",
                                json={"name": uniq(), "access_key_id": cred["access_key_id"]}),
                409)


JSON = "application/json"

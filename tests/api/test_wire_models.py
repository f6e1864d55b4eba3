"""One typed set of management models (issue 23): the server's parsing, its answers, the
OpenAPI document and the SDK all use objectstore.api_models. Pure (no server): the HTTP
behaviour is test_openapi.py's, test_bad_input.py's and test_sdk.py's."""

from __future__ import annotations

from typing import Any

import pytest
from pydantic import BaseModel

from objectstore import api_models as wire
from objectstore import client
from objectstore.domain.errors import InvalidInput
from objectstore.mgmt import app as mgmt_app
from objectstore.mgmt import models
from objectstore.mgmt.params import Params
from objectstore.mgmt.spec import operation_of


def test_the_server_the_document_and_the_sdk_share_the_models() -> None:
    for name in ("ObjectStore", "Credential", "Region", "Quota", "OwnerInfo", "Page",
                 "EventTarget"):
        assert getattr(client, name) is getattr(wire, name), name
        assert getattr(client.models, name) is getattr(wire, name), name
    assert client.StoreStats is wire.Stats is models.Stats
    for _path, _methods, fn in mgmt_app.ROUTE_TABLE:
        op = operation_of(fn)
        assert issubclass(op.response, BaseModel)
        assert op.response.__module__ == f"{wire.__name__}.responses", op.operation_id
        if op.body is not None:
            assert op.body.model.__module__ == f"{wire.__name__}.requests", op.operation_id
            assert set(op.body.fields) == set(op.body.model.model_fields)


def _read(model: type[wire.RequestBody], body: dict[str, Any],
          query: dict[str, str] | None = None) -> Any:
    return model.read(Params(query or {}, body))


@pytest.mark.parametrize(("model", "body", "field", "message"), [
    (wire.CreateObjectStore, {}, "name", "name is required"),
    (wire.CreateObjectStore, {"name": ["x"]}, "name", "name must be a string"),
    (wire.CreateObjectStore, {"name": "a\x00b"}, "name",
     "name contains characters that are not allowed"),
    (wire.CreateObjectStore, {"name": "abc", "max_size_gb": 0}, "max_size_gb",
     "max_size_gb must be a positive integer"),
    (wire.CreateObjectStore, {"name": "abc", "size": "１２"}, "size", "size must be an integer"),
    (wire.CreateObjectStore, {"name": "abc", "max_size_gb": 10**9 + 1}, "max_size_gb",
     "max_size_gb is too large"),
    (wire.CreateObjectStore, {"name": "abc", "max_size_gb": True}, "max_size_gb",
     "max_size_gb must be an integer"),
    (wire.UpdateCredential, {"suspended": "maybe"}, "suspended",
     "suspended must be true or false"),
    # a missing required field is reported before a malformed one
    (wire.CreateCredential, {"max_size_gb": "x"}, "name", "name is required"),
    (wire.CreateEventTarget, {"name": "n", "endpoint": {}}, "type", "type is required"),
])
def test_bodies_are_refused_with_civo_style_messages(model: type[wire.RequestBody],
                                                     body: dict[str, Any], field: str,
                                                     message: str) -> None:
    with pytest.raises(InvalidInput) as info:
        _read(model, body)
    assert (info.value.field, info.value.message) == (field, message)


def test_bodies_parse_as_civo_clients_send_them() -> None:
    store = _read(wire.CreateObjectStore, {"name": 123, "size": "7", "region": ""},
                  {"region": "lon1", "access_key_id": "AK"})
    assert (store.name, store.size_gb, store.region, store.access_key_id) == (
        "123", 7, "lon1", "AK")
    # an alias is read only when the field it stands for is missing (then never refused)
    both = _read(wire.CreateObjectStore, {"name": "abc", "max_size_gb": "5", "size": "bad"})
    assert both.size_gb == 5 and both.size is None
    cred = _read(wire.UpdateCredential, {"suspended": "on", "access_key_id": None,
                                         "max_size_gb": 0.0})
    assert (cred.suspended, cred.access_key_id, cred.max_size_gb) == (True, None, 0)
    assert cred.model_fields_set == {"suspended", "max_size_gb"}
    key = _read(wire.CreateKey, {"name": "k1"})
    assert (key.alias, key.name) == (None, "k1")


def test_answers_parse_back_into_the_models_the_server_built_them_with() -> None:
    cred = wire.Credential(id="0b6d6f44-7b1e-4bd4-9d67-6ad1f2b52f21", name="c",
                           access_key_id="AK", secret_access_key_id="SK", max_size_gb=0,
                           suspended=False, status="ready", state="ready", region="LON1",
                           created_at="2026-12-06T10:00:00+00:00")
    page = wire.CredentialPage(page=1, per_page=20, pages=1, items=(cred,))
    raw = wire.to_json(page)
    assert raw.startswith(b'{"page":1,"per_page":20,"pages":1,"items":[{"id":"0b6d6f44-')
    back = wire.CredentialPage.model_validate_json(raw)
    assert back == page and back.items == (cred,)
    assert back.to_dict()["items"][0]["secret_access_key_id"] == "SK"


# JSON Schema keywords OpenAPI 3.0 knows (a pydantic constraint it cannot place on a type,
# such as ge= on an optional field, lands in the document as an unknown "ge")
OPENAPI_30_KEYWORDS = {
    "type", "format", "description", "properties", "required", "items", "enum", "nullable",
    "example", "pattern", "minimum", "maximum", "minLength", "maxLength", "minItems",
    "maxItems", "additionalProperties", "anyOf", "allOf", "oneOf", "$ref", "readOnly",
    "exclusiveMinimum", "exclusiveMaximum"}


def test_the_documents_schemas_use_only_openapi_30_keywords() -> None:
    from objectstore.mgmt.openapi import OPENAPI

    def walk(schema: Any, where: str) -> None:
        if isinstance(schema, bool):
            return
        unknown = set(schema) - OPENAPI_30_KEYWORDS
        assert not unknown, (where, unknown)
        for name, sub in schema.get("properties", {}).items():
            walk(sub, f"{where}/properties/{name}")
        for key in ("items", "additionalProperties"):
            if key in schema:
                walk(schema[key], f"{where}/{key}")
        for key in ("anyOf", "allOf", "oneOf"):
            for i, sub in enumerate(schema.get(key, ())):
                walk(sub, f"{where}/{key}/{i}")

    for name, schema in OPENAPI["components"]["schemas"].items():
        walk(schema, f"#/components/schemas/{name}")

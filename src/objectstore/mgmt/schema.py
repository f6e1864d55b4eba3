"""The OpenAPI 3.0 document, generated from the route table and each handler's
``@operation`` declaration (``mgmt/spec.py``): paths and operations from the table, parameters
and request bodies from the ``Param``s the handlers parse with (the request body models'
fields, ``objectstore.api_models``), response schemas from the pydantic response models of
``objectstore.api_models``, error responses from the error tables of ``mgmt/errors.py``.

Lenient inputs the code accepts are described in prose rather than in the schemas (so that a
schema-driven client generates the canonical form): every body parameter may also be sent in
the query string; integers may be sent as strings of ASCII digits; every path is also served
with a trailing slash; PATCH is an alias of PUT."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

from pydantic import BaseModel
from pydantic.json_schema import models_json_schema

from . import models
from .errors import CIVO_ERRORS, OTHER_ERRORS
from .params import Body, Paging, Param, PathId
from .spec import Operation

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
SCHEMAS = "#/components/schemas/"

# The statuses any authenticated endpoint may answer, and the ones an operation declares.
COMMON_ERRORS = (400, 401, 408, 413, 431)
ERROR_RESPONSES: dict[int, tuple[str, str]] = {
    400: ("BadRequest", "Invalid parameter, body that is neither JSON nor form-encoded, region "
                        "without object stores, size below usage"),
    401: ("Unauthorized", "Missing or unknown API key"),
    403: ("Forbidden", "Account allocation quota exceeded"),
    404: ("NotFound", "No such object store, credential, key, event target or region in "
                      "this account"),
    408: ("RequestTimeout", "The request body stalled"),
    409: ("Conflict", "Name or access key already in use, the credential still owns a store, "
                      "or the store is not empty or holds locked versions, or a bucket still "
                      "names the event target"),
    413: ("TooLarge", "Request body larger than the configured limit (1 MiB by default), "
                      "before or after gunzip"),
    422: ("Unprocessable", "An event target's endpoint resolves to an address (or port) "
                           "targets may not reach (link-local, metadata, this server's own "
                           "ports, outside the operator's allowed ranges), or its broker "
                           "settings are unusable"),
    431: ("HeadersTooLarge", "Request headers larger than the configured limit"),
}
BODY_DESCRIPTION = ("JSON or form-encoded; any field may instead be sent in the query string "
                    "(the body wins, except region). A Content-Encoding: gzip header is "
                    "honoured only when the body really is gzip.")
INFO = {
    "title": "objectstore management API (Civo v2 Object Store API)",
    "version": "2",
    "description": (
        "Manage object stores (S3 buckets) and their S3 credentials, as Civo's v2 API does. "
        "The S3 data plane is served on its own port and is not described here.\n\n"
        "Authentication: `Authorization: bearer <API key>` (scheme case-insensitive). "
        "Request bodies may be JSON or form-encoded, and any body field may be sent in the "
        "query string instead; integers may be sent as strings of ASCII digits; every path "
        "is also served with a trailing slash; PATCH is an alias of PUT. Every error is "
        "a JSON object {code, reason[, details]} of strings."),
}

Documented = tuple[str, Sequence[str], Operation]


def error_codes(status: int | None = None) -> list[str]:
    """Every Civo error code (answering ``status``, if given), from the error tables."""
    codes = [code for s, code in CIVO_ERRORS.values() if status in (None, s)]
    codes += [code for code, (s, _) in OTHER_ERRORS.items() if status in (None, s)]
    return list(dict.fromkeys(codes))


def build_openapi(routes: Iterable[Documented]) -> dict[str, Any]:
    """The document for ``routes``: (path, methods, operation) in route-table order."""
    ops = list(routes)
    schemas: dict[str, Any] = _model_schemas(
        [models.Error, *dict.fromkeys(op.response for _, _, op in ops)])
    schemas["Error"]["properties"]["code"]["description"] = (
        "Machine-readable code: " + ", ".join(error_codes()))
    parameters: dict[str, Any] = {}
    paths: dict[str, Any] = {}
    used_errors: set[int] = set()
    for path, methods, op in ops:
        item = paths.setdefault(path, {})
        refs = _parameters(op, parameters)
        body = _body(op.body, schemas) if op.body else None
        for method in methods:
            doc: dict[str, Any] = {"operationId": _operation_id(op, method, methods),
                                   "summary": op.summary}
            description = op.description or _alias_note(method, methods)
            if description:
                doc["description"] = description
            if refs:
                doc["parameters"] = list(refs)
            if body:
                doc["requestBody"] = body
            if not op.authenticated:
                doc["security"] = []
            doc["responses"] = _responses(op, used_errors)
            item[method.lower()] = doc
    responses = {name: {"description": f"{text} ({', '.join(error_codes(status))})",
                        "content": {JSON: {"schema": {"$ref": SCHEMAS + "Error"}}}}
                 for status, (name, text) in ERROR_RESPONSES.items() if status in used_errors}
    return {
        "openapi": "3.0.3",
        "info": dict(INFO),
        "servers": [{"url": "/"}],
        "security": [{"bearerAuth": []}],
        "paths": paths,
        "components": {
            "securitySchemes": {
                "bearerAuth": {"type": "http", "scheme": "bearer",
                               "description": "The account's API key (sent as bearer or "
                                              "Bearer)"},
            },
            "schemas": schemas,
            "parameters": parameters,
            "responses": responses,
        },
    }


# -- operations ---------------------------------------------------------------------------------

def _operation_id(op: Operation, method: str, methods: Sequence[str]) -> str:
    if method.upper() == "PATCH" and "PUT" in {m.upper() for m in methods}:
        return "patch" + op.operation_id.removeprefix("update")
    return op.operation_id


def _alias_note(method: str, methods: Sequence[str]) -> str:
    if {m.upper() for m in methods} != {"PUT", "PATCH"}:
        return ""
    return ("Civo's clients send PUT." if method.upper() == "PUT"
            else "Civo's API page says PATCH: same as PUT.")


def _parameters(op: Operation, components: dict[str, Any]) -> list[dict[str, str]]:
    """$refs to the operation's path and query parameters, registering each component."""
    declared: list[tuple[str, dict[str, Any]]] = []
    if op.path is not None:
        declared.append(_path_parameter(op.path))
    for query in op.query:
        params = [query.page, query.per_page] if isinstance(query, Paging) else [query]
        declared += [(p.name, _query_parameter(p)) for p in params]
    refs = []
    for name, parameter in declared:
        if components.setdefault(name, parameter) != parameter:
            raise ValueError(f"two different parameters named {name}")
        refs.append({"$ref": f"#/components/parameters/{name}"})
    return refs


def _path_parameter(p: PathId) -> tuple[str, dict[str, Any]]:
    return p.component, p.parameter()


def _query_parameter(p: Param) -> dict[str, Any]:
    schema = p.schema()
    description = schema.pop("description", "")
    out: dict[str, Any] = {"name": p.name, "in": "query", "required": False}
    if description:
        out["description"] = description
    out["schema"] = schema
    return out


def _body(body: Body, schemas: dict[str, Any]) -> dict[str, Any]:
    for name, form in ((body.name, False), (body.name + "Form", True)):
        schema: dict[str, Any] = {"type": "object"}
        if body.required_fields:
            schema["required"] = list(body.required_fields)
        schema["properties"] = {f.name: f.form_schema() if form else f.schema()
                                for f in body.fields.values()}
        if schemas.setdefault(name, schema) != schema:
            raise ValueError(f"two different schemas named {name}")
    return {"required": body.required, "description": BODY_DESCRIPTION,
            "content": {JSON: {"schema": {"$ref": SCHEMAS + body.name}},
                        FORM: {"schema": {"$ref": SCHEMAS + body.name + "Form"}}}}


def _responses(op: Operation, used_errors: set[int]) -> dict[str, Any]:
    ok: dict[str, Any] = {"description": op.response_description,
                          "content": {op.media_type: {
                              "schema": {"$ref": SCHEMAS + op.response.__name__}}}}
    if op.links:
        ok["links"] = {name: dict(link) for name, link in op.links.items()}
    out: dict[str, Any] = {"200": ok}
    if op.authenticated:
        for status in sorted({*COMMON_ERRORS, *op.errors}):
            if status not in ERROR_RESPONSES:
                raise ValueError(f"{op.operation_id}: no error response for {status}")
            used_errors.add(status)
            out[str(status)] = {
                "$ref": f"#/components/responses/{ERROR_RESPONSES[status][0]}"}
    return out


# -- pydantic (JSON Schema 2020-12) -> OpenAPI 3.0 schema objects -------------------------------

def _model_schemas(response_models: Sequence[type[BaseModel]]) -> dict[str, Any]:
    _, top = models_json_schema([(m, "serialization") for m in response_models],
                                ref_template=SCHEMAS + "{model}")
    defs: dict[str, Any] = top.get("$defs", {})
    for m in response_models:
        if m.__name__ not in defs:
            raise ValueError(f"response model {m.__name__} has a clashing name")
    return {name: _openapi30(schema) for name, schema in defs.items()}


def _openapi30(node: Any) -> Any:
    if isinstance(node, list):
        return [_openapi30(v) for v in node]
    if not isinstance(node, dict):
        return node
    node = dict(node)
    for key in ("title", "default"):
        node.pop(key, None)
    if "const" in node:
        node["enum"] = [node.pop("const")]
    if "examples" in node:
        node["example"] = node.pop("examples")[0]
    any_of = node.get("anyOf")
    if isinstance(any_of, list) and {"type": "null"} in any_of:
        rest = [s for s in any_of if s != {"type": "null"}]
        node.pop("anyOf")
        if len(rest) == 1 and "$ref" not in rest[0]:
            node.update(rest[0])
        else:
            node["anyOf"] = rest
        node["nullable"] = True
    out: dict[str, Any] = {}
    for key, value in node.items():
        if key == "properties":
            out[key] = {name: _openapi30(v) for name, v in value.items()}
        else:
            out[key] = _openapi30(value)
    return out

"""``/docs``: the management API reference, rendered on the server from the OpenAPI document
the management plane hands the console (no script, no CDN)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from starlette.responses import Response

from .headers import secure
from .state import ConsoleState

METHODS = ("get", "post", "put", "patch", "delete")


@dataclass(frozen=True)
class Operation:
    method: str
    path: str
    summary: str
    description: str
    parameters: list[dict[str, Any]] = field(default_factory=list)
    body: list[tuple[str, str, str]] = field(default_factory=list)  # name, type, description
    responses: list[tuple[str, str]] = field(default_factory=list)  # successes only
    errors: list[str] = field(default_factory=list)                    # status codes
    request: str = ""        # an example request (curl)
    response: str = ""       # an example successful response body (JSON)
    response_code: str = ""

    @property
    def anchor(self) -> str:
        return (self.method + self.path).replace("/", "-").replace("{", "").replace("}", "")


def _resolve(doc: dict[str, Any], node: Any) -> Any:
    while isinstance(node, dict) and "$ref" in node:
        target: Any = doc
        for part in str(node["$ref"]).lstrip("#/").split("/"):
            target = target.get(part, {}) if isinstance(target, dict) else {}
        node = target
    return node


def _body_fields(doc: dict[str, Any], op: dict[str, Any]) -> list[tuple[str, str, str]]:
    content = _resolve(doc, op.get("requestBody", {})).get("content", {})
    for media in content.values():
        schema = _resolve(doc, media.get("schema", {}))
        return [(name, str(_resolve(doc, prop).get("type", "")),
                 str(_resolve(doc, prop).get("description", "")))
                for name, prop in schema.get("properties", {}).items()]
    return []


def example(doc: dict[str, Any], schema: Any, depth: int = 0) -> Any:
    """A plausible value for ``schema``: its own example, else one made from its type."""
    schema = _resolve(doc, schema)
    if not isinstance(schema, dict) or depth > 6:
        return None
    if "example" in schema:
        return schema["example"]
    if "enum" in schema:
        return schema["enum"][0]
    for key in ("oneOf", "anyOf", "allOf"):
        if schema.get(key):
            return example(doc, schema[key][0], depth + 1)
    kind = schema.get("type")
    if kind == "object" or "properties" in schema:
        return {name: _hint(name, example(doc, prop, depth + 1))
                for name, prop in schema.get("properties", {}).items()}
    if kind == "array":
        return [example(doc, schema.get("items", {}), depth + 1)]
    if kind == "integer":
        return max(int(schema.get("minimum", 0)), 1 if schema.get("minimum") else 0)
    if kind == "number":
        return 0.0
    if kind == "boolean":
        return False
    fmt = schema.get("format")
    return {"uuid": "5d4b7c3e-1f2a-4b6c-9d8e-0a1b2c3d4e5f",
            "date-time": "2026-01-01T12:00:00Z"}.get(str(fmt), "string")


HINTS = {"name": "photos", "access_key_id": "AKIAEXAMPLE0123456789",
         "secret_access_key": "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY",
         "objectstore_endpoint": "https://s3.example.com/photos",
         "reason": "The object store was not found",
         "details": "no object store with that id in this account",
         "default_user_email_address": "admin@example.com", "region": "LON1"}


def _hint(name: str, value: Any) -> Any:
    """A realistic value for a well-known field whose schema gives only a type."""
    return HINTS.get(name, value) if value == "string" else value


def _json(value: Any) -> str:
    return json.dumps(value, indent=2, ensure_ascii=False)


def _media(doc: dict[str, Any], node: Any) -> tuple[str, Any] | None:
    content = _resolve(doc, node).get("content", {}) if isinstance(node, dict) else {}
    for media, body in content.items():
        return media, body.get("schema", {})
    return None


def _request(doc: dict[str, Any], method: str, path: str, params: list[dict[str, Any]],
             op: dict[str, Any], secured: bool) -> str:
    url = path
    query = []
    for p in params:
        value = p.get("example", _resolve(doc, p.get("schema", {})).get("example"))
        if p.get("in") == "path":
            url = url.replace("{" + str(p["name"]) + "}", str(value or example(
                doc, p.get("schema", {})) or p["name"]))
        elif p.get("in") == "query" and (p.get("required") or p.get("name") == "region"):
            query.append(f"{p['name']}={value if value is not None else '...'}")
    lines = [f"curl -X {method} \\"] if method != "GET" else ["curl \\"]
    if secured:
        lines.append('  -H "Authorization: bearer $API_KEY" \\')
    body = _media(doc, op.get("requestBody", {}))
    if body and body[0] == "application/json":
        lines.append('  -H "Content-Type: application/json" \\')
        data = _json(example(doc, body[1])).replace("'", "'\\''")
        lines.append(f"  -d '{data}' \\")
    lines.append(f'  "$API{url}{"?" + "&".join(query) if query else ""}"')
    return "\n".join(lines)


def operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    default_security = bool(doc.get("security"))
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = [_resolve(doc, p) for p in [*shared, *op.get("parameters", [])]]
            ok, errors, response, response_code = [], [], "", ""
            for code, r in op.get("responses", {}).items():
                if str(code).startswith(("4", "5")):
                    errors.append(str(code))
                    continue
                ok.append((code, str(_resolve(doc, r).get("description", ""))))
                media = _media(doc, r)
                if media and not response:
                    response_code = str(code)
                    response = _json(example(doc, media[1])) \
                        if "json" in media[0] else f"({media[0]})"
            secured = bool(op.get("security", [{}] if default_security else []))
            out.append(Operation(method.upper(), path, str(op.get("summary", "")),
                                 str(op.get("description", "")), params,
                                 _body_fields(doc, op), ok, errors,
                                 _request(doc, method.upper(), path, params, op, secured),
                                 response, response_code))
    return out


@dataclass(frozen=True)
class ErrorDoc:
    code: str
    description: str


def error_docs(doc: dict[str, Any], ops: list[Operation]) -> list[ErrorDoc]:
    """Every error status any operation can answer, each described once."""
    seen: dict[str, str] = {}
    for item in doc.get("paths", {}).values():
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            for code, r in op.get("responses", {}).items():
                if str(code).startswith(("4", "5")) and str(code) not in seen:
                    seen[str(code)] = str(_resolve(doc, r).get("description", ""))
    return [ErrorDoc(c, seen[c]) for c in sorted(seen)]


def api_reference(state: ConsoleState, openapi: dict[str, Any]) -> Response:
    info = openapi.get("info", {})
    ops = operations(openapi)
    error_body = _json(example(openapi, {"$ref": "#/components/schemas/Error"}))
    html = state.env.get_template("docs.html").render(
        info=info, operations=ops, errors=error_docs(openapi, ops), error_body=error_body,
        account=None, flash=None)
    return secure(Response(html, media_type="text/html"), cache=True)

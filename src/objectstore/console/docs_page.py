"""``/docs``: the management API reference, rendered on the server from the OpenAPI document
the management plane hands the console (no script, no CDN)."""

from __future__ import annotations

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
    responses: list[tuple[str, str]] = field(default_factory=list)

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


def operations(doc: dict[str, Any]) -> list[Operation]:
    out = []
    for path, item in doc.get("paths", {}).items():
        shared = item.get("parameters", [])
        for method in METHODS:
            op = item.get(method)
            if not isinstance(op, dict):
                continue
            params = [_resolve(doc, p) for p in [*shared, *op.get("parameters", [])]]
            responses = [(code, str(_resolve(doc, r).get("description", "")))
                         for code, r in op.get("responses", {}).items()]
            out.append(Operation(method.upper(), path, str(op.get("summary", "")),
                                 str(op.get("description", "")), params,
                                 _body_fields(doc, op), responses))
    return out


def api_reference(state: ConsoleState, openapi: dict[str, Any]) -> Response:
    info = openapi.get("info", {})
    html = state.env.get_template("docs.html").render(
        info=info, operations=operations(openapi), account=None, flash=None)
    return secure(Response(html, media_type="text/html"), cache=True)

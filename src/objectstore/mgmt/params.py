"""Request parameters from JSON, form-encoded bodies and the query string, as Civo accepts."""

from __future__ import annotations

import asyncio
import gzip
import json
import re
import zlib
from typing import Any

from starlette.requests import Request

from ..domain.errors import InvalidInput
from ..domain.parsing import TooDeep, load_json, parse_form

_INTEGER_RE = re.compile(r"[+-]?[0-9]{1,18}")  # ASCII only: str.isdigit() admits "²" and "١"
# NUL and lone surrogates (JSON "\u0000", "\ud800") cannot be stored by PostgreSQL / encoded
_UNSTORABLE_RE = re.compile("[\x00\ud800-\udfff]")


class BadBody(Exception):
    def __init__(self, status: int, code: str, reason: str) -> None:
        super().__init__(reason)
        self.status, self.code, self.reason = status, code, reason


async def read_body(request: Request, limit: int, timeout: float = 60.0) -> bytes:
    declared = request.headers.get("content-length", "")
    if declared and (not _INTEGER_RE.fullmatch(declared) or int(declared) > limit):
        raise BadBody(413, "request_body_too_large", f"request body is larger than {limit} bytes")
    if declared in ("", "0") and "transfer-encoding" not in request.headers:
        return b""  # neither length nor chunked: HTTP/1.1 says there is no body (RFC 9112 6.3)
    chunks: list[bytes] = []
    size = 0
    stream = request.stream().__aiter__()
    while True:
        try:
            chunk = await asyncio.wait_for(stream.__anext__(), timeout)
        except StopAsyncIteration:
            break
        except TimeoutError:
            raise BadBody(408, "request_timeout", "the request body stalled") from None
        size += len(chunk)
        if size > limit:
            raise BadBody(413, "request_body_too_large",
                          f"request body is larger than {limit} bytes")
        chunks.append(chunk)
    body = b"".join(chunks)
    # civogo sends "Content-Encoding: gzip" on plain bodies: only gunzip what really is gzip.
    if "gzip" in request.headers.get("content-encoding", "").lower() and body[:2] == b"\x1f\x8b":
        try:
            d = zlib.decompressobj(16 + zlib.MAX_WBITS)
            body = d.decompress(body, limit + 1)
            if len(body) > limit:
                raise BadBody(413, "request_body_too_large", "decompressed body is too large")
        except (zlib.error, gzip.BadGzipFile) as exc:
            raise BadBody(400, "invalid_request_body", "body is not valid gzip") from exc
    return body


def parse_body(body: bytes, content_type: str) -> dict[str, Any]:
    text = body.strip()
    if not text:
        return {}
    ctype = content_type.split(";")[0].strip().lower()
    looks_json = text[:1] in (b"{", b"[")
    if ctype == "application/json" or (ctype != "application/x-www-form-urlencoded"
                                       and looks_json):
        try:
            data = load_json(text)
        except TooDeep as exc:
            raise BadBody(400, "invalid_json",
                          f"request body nests deeper than {exc.limit} levels") from exc
        except (ValueError, UnicodeDecodeError) as exc:
            # A fixed message (and where it went wrong), never the parser's own text.
            where = (f" (line {exc.lineno}, column {exc.colno})"
                     if isinstance(exc, json.JSONDecodeError) else "")
            raise BadBody(400, "invalid_json", f"request body is not valid JSON{where}") from exc
        if not isinstance(data, dict):
            raise BadBody(400, "invalid_json", "request body must be a JSON object")
        return data
    try:
        pairs = parse_form(text.decode("utf-8"), strict=True)
    except TooDeep as exc:
        raise BadBody(400, "invalid_request_body",
                      f"request body has more than {exc.limit} fields") from exc
    except (ValueError, UnicodeDecodeError) as exc:
        raise BadBody(400, "invalid_request_body",
                      "request body is neither JSON nor form-encoded") from exc
    return dict(pairs)


class Params:
    """Body parameters win over query parameters, except ``region`` (query first)."""

    def __init__(self, query: dict[str, str], body: dict[str, Any]) -> None:
        self.query = query
        self.body = body

    def get(self, name: str) -> Any:
        if name in self.body and self.body[name] is not None and self.body[name] != "":
            return self.body[name]
        value = self.query.get(name)
        return None if value == "" else value

    @property
    def region(self) -> str | None:
        for value in (self.query.get("region"), self.body.get("region")):
            if value is not None and str(value).strip() != "":
                return str(value)
        return None

    def string(self, name: str) -> str | None:
        value = self.get(name)
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise InvalidInput(f"{name} must be a string", name)
        text = str(value)
        if _UNSTORABLE_RE.search(text):
            raise InvalidInput(f"{name} contains characters that are not allowed", name)
        return text

    def integer(self, name: str, *, allow_zero: bool = True) -> int | None:
        value = self.get(name)
        if value is None:
            return None
        if isinstance(value, bool):
            raise InvalidInput(f"{name} must be an integer", name)
        if isinstance(value, float) and value.is_integer():
            value = int(value)
        if isinstance(value, str):
            value = value.strip()
            if not _INTEGER_RE.fullmatch(value):
                raise InvalidInput(f"{name} must be an integer", name)
            value = int(value)
        if not isinstance(value, int):
            raise InvalidInput(f"{name} must be an integer", name)
        if value < 0 or (value == 0 and not allow_zero):
            raise InvalidInput(f"{name} must be a positive integer", name)
        if value > 10**9:
            raise InvalidInput(f"{name} is too large", name)
        return value

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        if value is None or isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"true", "1", "yes", "on"}:
            return True
        if text in {"false", "0", "no", "off"}:
            return False
        raise InvalidInput(f"{name} must be true or false", name)

    def paging(self) -> tuple[int, int]:
        page = self.integer("page")
        per_page = self.integer("per_page")
        page = 1 if page is None else page
        per_page = 20 if per_page is None else per_page
        if page < 1:
            raise InvalidInput("page must be at least 1", "page")
        if not 1 <= per_page <= 10000:
            raise InvalidInput("per_page must be between 1 and 10000", "per_page")
        return page, per_page


# -- declared parameters: each one parses its value (through Params) and describes itself --------

MAX_INT = 10**9  # Params.integer refuses anything larger


def _camel(name: str) -> str:
    head, *rest = name.split("_")
    return head + "".join(part.title() for part in rest)


class Param:
    """One named request parameter. ``read`` parses it from the request (JSON body, form body
    or query string, as ``Params`` does); ``schema`` is its JSON-body OpenAPI schema and
    ``form_schema`` the same field as a form-encoded string."""

    kind = "string"

    def __init__(self, name: str, description: str = "", *, nullable: bool = False,
                 example: Any = None, **constraints: Any) -> None:
        self.name, self.description, self.nullable = name, description, nullable
        # JSON Schema keywords (min_length -> minLength, ...)
        self.example, self.constraints = example, {
            _camel(k): v for k, v in constraints.items()}

    def read(self, params: Params) -> Any:
        return params.get(self.name)

    def schema(self) -> dict[str, Any]:
        out: dict[str, Any] = {"type": self.kind, **self.constraints}
        if self.nullable:
            out["nullable"] = True
        if self.example is not None:
            out["example"] = self.example
        if self.description:
            out["description"] = self.description
        return out

    def form_schema(self) -> dict[str, Any]:
        """Form fields are strings: keep the description, pattern and example."""
        return {k: v for k, v in self.schema().items()
                if k in ("description", "pattern", "example")} | {"type": "string"}


class Text(Param):
    def read(self, params: Params) -> str | None:
        return params.string(self.name)


class Integer(Param):
    """An integer (or a string of ASCII digits); ``minimum`` 0 or 1 (0 admits zero)."""

    kind = "integer"

    def __init__(self, name: str, description: str = "", *, minimum: int = 0,
                 maximum: int = MAX_INT, **kw: Any) -> None:
        super().__init__(name, description, minimum=minimum, maximum=maximum, **kw)
        self.allow_zero = minimum <= 0

    def read(self, params: Params) -> int | None:
        return params.integer(self.name, allow_zero=self.allow_zero)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"pattern": "^[0-9]{1,9}$"}


class Flag(Param):
    """A boolean (or true/false/1/0/yes/no/on/off as a string)."""

    kind = "boolean"

    def read(self, params: Params) -> bool | None:
        return params.boolean(self.name)

    def form_schema(self) -> dict[str, Any]:
        return super().form_schema() | {"enum": ["true", "false"]}


class Region(Text):
    """``region``: the query string wins over the body; missing or empty means the default."""

    def read(self, params: Params) -> str | None:
        return params.region


class Paging:
    """``page`` and ``per_page`` (query or body), with their defaults and ranges."""

    page = Integer("page", "Page number, from 1 (default 1)", minimum=1)
    per_page = Integer("per_page", "Items per page, 1-10000 (default 20)", minimum=1,
                       maximum=10000)

    def read(self, params: Params) -> tuple[int, int]:
        return params.paging()


class PathId:
    """The ``{id}`` path parameter (a path parameter is never parsed as a body field)."""

    name = "id"

    def __init__(self, component: str, description: str) -> None:
        self.component, self.description = component, description

    def read(self, path: dict[str, str]) -> str:
        return path[self.name]

    def parameter(self) -> dict[str, Any]:
        return {"name": self.name, "in": "path", "required": True,
                "description": self.description, "schema": {"type": "string"}}


REGION = Region("region", "Region code (case-insensitive). Read from the query first, then the "
                "body; missing or empty means the default region. Unknown: 404 "
                "database_region_not_found; without object stores: 400 "
                "database_region_feature_not_supported.", example="LON1")
PAGING = Paging()


BODY_REGION = Region("region", "Region code (case-insensitive); the query parameter wins; "
                     "missing or empty means the default region", example="LON1")


class Body:
    """A request body: named fields, JSON or form-encoded (any field may also be sent in the
    query string instead; the body wins, except for ``region``)."""

    def __init__(self, name: str, *fields: Param, required: bool = False,
                 required_fields: tuple[str, ...] = ()) -> None:
        self.name, self.required, self.required_fields = name, required, required_fields
        self.fields = {f.name: f for f in fields}
        assert set(required_fields) <= set(self.fields), required_fields

    def __getitem__(self, name: str) -> Param:
        return self.fields[name]

"""Request parameters from JSON, form-encoded bodies and the query string, as Civo accepts."""

from __future__ import annotations

import asyncio
import gzip
import json
import zlib
from typing import Any

from starlette.requests import Request

from ..api_models import (
    BODY_REGION,
    INTEGER_RE,
    MAX_INT,
    Flag,
    Integer,
    Param,
    RegionParam,
    RequestBody,
    Text,
    parse_boolean,
    parse_integer,
    parse_string,
)
from ..domain.errors import InvalidInput
from ..domain.parsing import TooDeep, load_json, parse_form

__all__ = ["BODY_REGION", "MAX_INT", "PAGING", "REGION", "BadBody", "Body", "Flag", "Integer",
           "Param", "Params", "Paging", "PathId", "RegionParam", "Text", "parse_body", "read_body"]

_INTEGER_RE = INTEGER_RE


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

    def given(self, name: str) -> Any:
        """The value as sent, an empty string included (None: missing or null)."""
        value = self.body.get(name)
        return self.query.get(name) if value is None else value

    @property
    def region(self) -> str | None:
        for value in (self.query.get("region"), self.body.get("region")):
            if value is not None and str(value).strip() != "":
                return str(value)
        return None

    def string(self, name: str) -> str | None:
        value = self.get(name)
        return None if value is None else parse_string(name, value)

    def integer(self, name: str, *, allow_zero: bool = True) -> int | None:
        value = self.get(name)
        return None if value is None else parse_integer(name, value, allow_zero=allow_zero)

    def boolean(self, name: str) -> bool | None:
        value = self.get(name)
        return None if value is None else parse_boolean(name, value)

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


# -- declared parameters: the wire models' field kinds (objectstore.api_models) -----------------

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


REGION = RegionParam(
    "region", "Region code (case-insensitive). Read from the query first, then the body; "
    "missing or empty means the default region. Unknown: 404 database_region_not_found; "
    "without object stores: 400 database_region_feature_not_supported.", example="LON1")
PAGING = Paging()


class Body:
    """An operation's request body: its model (``api_models.RequestBody``), which parses it and
    whose fields' ``Param``s describe it (mgmt/schema.py)."""

    def __init__(self, model: type[RequestBody], *, required: bool = False) -> None:
        self.model, self.name, self.required = model, model.__name__, required
        self.fields = model.params()
        self.required_fields = model.required_fields

    def __getitem__(self, name: str) -> Param:
        return self.fields[name]

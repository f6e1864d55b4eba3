"""Framework-independent view of an incoming HTTP request, as needed for S3 authentication."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cached_property, lru_cache
from urllib.parse import quote, unquote, unquote_plus


@dataclass(frozen=True)
class RequestView:
    method: str  # "GET", "PUT", ...
    raw_path: str  # path exactly as on the wire, percent-encoded, e.g. "/bucket/a%20b/c"
    raw_query: str  # query string exactly as on the wire, without "?"
    headers: Mapping[str, str]  # lower-case header names; repeated headers joined with ","
    host: str  # value of the Host header

    def header(self, name: str, default: str | None = None) -> str | None:
        """Header value by (case-insensitive) name."""
        return self.headers.get(name.lower(), default)

    @cached_property
    def query(self) -> list[tuple[str, str]]:
        """Decoded ``(name, value)`` query pairs in wire order (see :func:`decode_query`)."""
        return decode_query(self.raw_query)

    @cached_property
    def params(self) -> dict[str, str]:
        """The first decoded value of each query parameter, by (exact) name."""
        out: dict[str, str] = {}
        for key, value in self.query:
            if key not in out:
                out[key] = value
        return out

    def query_value(self, name: str) -> str | None:
        """First decoded value of query parameter ``name`` (exact, case-sensitive), or None."""
        return self.params.get(name)

    def has_query(self, name: str) -> bool:
        return name in self.params


def split_query(raw_query: str) -> list[tuple[str, str, bool]]:
    """Split a raw query into ``(raw_name, raw_value, had_equals)`` triples; empty items skipped."""
    out: list[tuple[str, str, bool]] = []
    if not raw_query:
        return out
    for item in raw_query.split("&"):
        if not item:
            continue
        name, eq, value = item.partition("=")
        out.append((name, value, bool(eq)))
    return out


def decode_component(raw: str) -> str:
    """Form-style decoding of one query component: ``+`` is a space, ``%XX`` is a byte (UTF-8)."""
    if "%" not in raw and "+" not in raw:
        return raw  # nothing to decode (most signature and date values)
    if len(raw) <= 256:
        return _decode_cached(raw)  # the X-Amz-Credential value repeats request after request
    return unquote_plus(raw, encoding="utf-8", errors="surrogateescape")


@lru_cache(maxsize=4096)
def _decode_cached(raw: str) -> str:
    return unquote_plus(raw, encoding="utf-8", errors="surrogateescape")


def decode_query(raw_query: str) -> list[tuple[str, str]]:
    """Decoded query pairs; a parameter without ``=`` has the empty value."""
    return [(decode_component(n), decode_component(v)) for n, v, _ in split_query(raw_query)]


_UNRESERVED = re.compile(r"[A-Za-z0-9_.~-]*")
_UNRESERVED_PATH = re.compile(r"[A-Za-z0-9_.~/-]*")


def is_unreserved_path(value: str) -> bool:
    """Only unreserved characters and ``/``: every segment is its own AWS encoding."""
    return _UNRESERVED_PATH.fullmatch(value) is not None


def is_unreserved(value: str) -> bool:
    """Only ``A-Za-z0-9-_.~``: AWS URI-encoding leaves it as it is."""
    return _UNRESERVED.fullmatch(value) is not None


def aws_quote(value: str | bytes) -> str:
    """AWS URI-encoding: everything except unreserved characters ``A-Za-z0-9-_.~`` encoded."""
    if isinstance(value, str):
        if is_unreserved(value):
            return value  # nothing to encode
        value = value.encode("utf-8", errors="surrogateescape")
    return quote(value, safe="-_.~")


def decode_path(raw_path: str) -> str:
    """Percent-decode a raw path (``+`` is literal in paths)."""
    return unquote(raw_path, encoding="utf-8", errors="surrogateescape")

"""Parsing untrusted documents: one function per format, each refusing over-deep input.

Python's ``json`` decoder recurses once per nesting level, so a 10 KB body of 5,000 ``[``
raised ``RecursionError`` (a 500) wherever a JSON body was parsed. Every request document is
parsed here instead, and nesting deeper than ``MAX_DEPTH`` raises :class:`TooDeep` (a
``ValueError``, so callers' "not valid JSON / XML" paths catch it too) before the decoder
sees it. No document any API accepts nests more than a handful of levels (a bucket policy's
``Condition`` operators are at depth 5, a lifecycle rule's ``And`` filter at depth 5).

- JSON (``load_json``): the depth is counted by a scan that skips string literals, in C-speed
  regular-expression steps, before ``json.loads``.
- XML (``parse_xml``): defusedxml (no DTDs, entities or external references), element depth
  counted on the parser's start events, so a deep document is refused while it is read.
- Forms (``parse_form``): flat by nature; the counterpart of depth is the number of fields,
  capped at ``MAX_FORM_FIELDS``.
"""

from __future__ import annotations

import io
import json
import re
from typing import Any
from urllib.parse import parse_qsl
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET

MAX_DEPTH = 32
MAX_FORM_FIELDS = 1000

# A string literal (skipped whole), or one bracket.
_JSON_TOKEN = re.compile(rb'"(?:[^"\\]|\\.)*"?|[\[\]{}]', re.DOTALL)
_OPEN = frozenset(b"[{")


class TooDeep(ValueError):
    """The document nests deeper than allowed (or has too many form fields)."""

    def __init__(self, message: str, limit: int) -> None:
        super().__init__(message)
        self.limit = limit


def json_depth_ok(raw: bytes, max_depth: int = MAX_DEPTH) -> None:
    """Raise TooDeep if the JSON text nests arrays/objects deeper than ``max_depth``."""
    if raw.count(b"[") + raw.count(b"{") <= max_depth:
        return  # cannot be deeper than the number of openers
    depth = 0
    for m in _JSON_TOKEN.finditer(raw):
        c = raw[m.start()]
        if c in _OPEN:
            depth += 1
            if depth > max_depth:
                raise TooDeep(f"the document nests deeper than {max_depth} levels", max_depth)
        elif c != 0x22:  # a closing bracket (a string token starts with '"')
            depth -= 1


def load_json(raw: bytes | str, max_depth: int = MAX_DEPTH) -> Any:
    """``json.loads`` for untrusted input: TooDeep past ``max_depth`` levels of nesting;
    ValueError (JSONDecodeError) or UnicodeDecodeError when it is not JSON."""
    data = raw.encode("utf-8", "surrogatepass") if isinstance(raw, str) else raw
    json_depth_ok(data, max_depth)
    return json.loads(raw)


def parse_xml(body: bytes, max_depth: int = MAX_DEPTH) -> Element:
    """Parse an untrusted XML document with defusedxml (DTDs forbidden): TooDeep past
    ``max_depth`` nested elements; ``SafeET.ParseError``, ``DefusedXmlException``,
    ValueError or LookupError when it is not acceptable XML."""
    depth = 0
    root: Element | None = None
    for event, el in SafeET.iterparse(io.BytesIO(body), events=("start", "end"),
                                      forbid_dtd=True):
        if event == "start":
            depth += 1
            if depth > max_depth:
                raise TooDeep(f"the document nests deeper than {max_depth} elements",
                              max_depth)
            if root is None:
                root = el
        else:
            depth -= 1
    if root is None:  # pragma: no cover - iterparse raises on an empty document
        raise ValueError("no element")
    return root


def parse_form(text: str, max_fields: int = MAX_FORM_FIELDS, *, strict: bool = False
               ) -> list[tuple[str, str]]:
    """``parse_qsl`` (blank values kept) for untrusted input: TooDeep past ``max_fields``
    fields; ValueError on a malformed pair when ``strict``."""
    if text.count("&") >= max_fields and len([p for p in text.split("&") if p]) > max_fields:
        raise TooDeep(f"the form has more than {max_fields} fields", max_fields)
    return parse_qsl(text, keep_blank_values=True, strict_parsing=strict)

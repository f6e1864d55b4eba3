"""S3 XML: building responses and parsing request bodies (defusedxml, size-capped)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from xml.etree.ElementTree import Element  # noqa: S405 - only used to build, never to parse
from xml.sax.saxutils import escape

import defusedxml.ElementTree as SafeET
from defusedxml import DefusedXmlException

from ..domain.parsing import TooDeep, parse_xml
from .errors import s3_error

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_XML_BODY = 2 * 1024 * 1024
_XML_DECL = '<?xml version="1.0" encoding="UTF-8"?>\n'


# Characters XML 1.0 cannot carry at all, even as character references.
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


def _not_xml(m: re.Match[str]) -> str:
    c = m.group()
    return f"%{ord(c):02X}" if ord(c) < 0x20 else "\ufffd"


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    # A key or path may hold control characters: percent-encode them (as encoding-type=url
    # would) rather than emit a document no XML parser accepts.
    return _NOT_XML.sub(_not_xml, escape(str(value)))


def text(value: str) -> str:
    """Character data for one element (escaped; characters XML cannot carry replaced)."""
    return _text(value)


def node(tag: str, *children: Any, **text: Any) -> str:
    """``node("A", node("B", ...), C=1)`` -> <A><B>...</B><C>1</C></A>; None values skipped."""
    inner = "".join(c for c in children if c)
    inner += "".join(f"<{k}>{_text(v)}</{k}>" for k, v in text.items() if v is not None)
    return f"<{tag}>{inner}</{tag}>"


def leaf(tag: str, value: Any) -> str:
    return "" if value is None else f"<{tag}>{_text(value)}</{tag}>"


def nodes(items: Iterable[str]) -> str:
    return "".join(items)


def document(root: str, *children: str, **text: Any) -> bytes:
    body = node(root, *children, **text)
    return (_XML_DECL + body.replace(f"<{root}>", f'<{root} xmlns="{NS}">', 1)).encode()


def bare_document(root: str, *children: str, **text: Any) -> bytes:
    """A response document without S3's namespace (AWS sends PostResponse so)."""
    return (_XML_DECL + node(root, *children, **text)).encode()


def error_document(code: str, message: str, resource: str, request_id: str,
                   extra: dict[str, str] | None = None) -> bytes:
    parts = [leaf("Code", code), leaf("Message", message)]
    parts += [leaf(k, v) for k, v in (extra or {}).items()]
    parts += [leaf("Resource", resource), leaf("RequestId", request_id)]
    return (_XML_DECL + "<Error>" + "".join(parts) + "</Error>").encode()


def parse(body: bytes) -> Element:
    if len(body) > MAX_XML_BODY:
        raise s3_error("MalformedXML", "The XML you provided was too large")
    if not body.strip():
        raise s3_error("MalformedXML", "The XML you provided was not well-formed or did not "
                       "validate against our published schema")
    try:
        root = parse_xml(body)
    except TooDeep as exc:
        raise s3_error("MalformedXML", "The XML you provided was not well-formed or did not "
                       "validate against our published schema (it nests too deep)") from exc
    except (SafeET.ParseError, DefusedXmlException, ValueError, LookupError) as exc:
        raise s3_error("MalformedXML", "The XML you provided was not well-formed or did not "
                       "validate against our published schema") from exc
    _strip_ns(root)
    return root


def _strip_ns(el: Element) -> None:
    for e in el.iter():
        if isinstance(e.tag, str) and "}" in e.tag:
            e.tag = e.tag.split("}", 1)[1]


def child_text(el: Element, tag: str) -> str | None:
    found = el.find(tag)
    return None if found is None else (found.text or "")

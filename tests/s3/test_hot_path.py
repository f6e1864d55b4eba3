"""The small-request hot path's shortcuts give exactly what the long way gives."""

from __future__ import annotations

import itertools
import random
from datetime import UTC, datetime, timedelta, timezone
from email.utils import format_datetime
from urllib.parse import unquote_plus, unquote_to_bytes

from objectstore.domain.http_dates import http_date
from objectstore.s3.request_view import RequestView, aws_quote, decode_component, is_unreserved
from objectstore.s3.routing import RULES, SUBRESOURCES, Target, resolve
from objectstore.s3.sigv4 import canonical_uri


def test_http_date_is_format_datetimes() -> None:
    rng = random.Random(15)
    zones = [UTC, timezone(timedelta(hours=5, minutes=30)), timezone(timedelta(hours=-8))]
    for _ in range(5000):
        dt = datetime.fromtimestamp(rng.uniform(0, 4e9), tz=rng.choice(zones))
        assert http_date(dt) == format_datetime(
            dt.astimezone(UTC).replace(microsecond=0), usegmt=True), dt
    assert http_date(datetime(2026, 2, 1, 3, 4, 5, 999999, tzinfo=UTC)) == \
        "Sun, 01 Feb 2026 03:04:05 GMT"


def _canonical_uri_long(raw_path: str) -> str:
    path = raw_path or "/"
    return "/".join(seg if is_unreserved(seg) else aws_quote(unquote_to_bytes(seg))
                    for seg in path.split("/"))


def test_canonical_uri_is_the_per_segment_encoding() -> None:
    for path in ["", "/", "/b", "/b/k", "/b/a/b/c.txt", "/b/a%20b", "/b/a b", "/b/a%2Fb",
                 "/b//k", "/b/k~_-.", "/b/%7Ek", "/b/\u00e9", "/b/a+b", "/b/a%2bb", "b/k"]:
        assert canonical_uri(path) == _canonical_uri_long(path), path


def test_decode_component_is_unquote_plus() -> None:
    for raw in ["a", "a%2Fb", "a+b", "%E2%82%AC", "%ff", "x" * 300 + "%2F", "AK%2F2026%2Fr"]:
        for _ in range(2):  # the second time from the cache
            assert decode_component(raw) == unquote_plus(raw, encoding="utf-8",
                                                         errors="surrogateescape")


def test_params_first_value_wins() -> None:
    view = RequestView("GET", "/b", "a=1&b=2&a=3&c&d=%2F", {}, "h")
    assert view.params == {"a": "1", "b": "2", "c": "", "d": "/"}
    assert view.query_value("a") == "1" and view.query_value("x") is None
    assert view.has_query("c") and not view.has_query("x")


def _resolve_long(method: str, target: Target, keys: set[str], headers: dict[str, str]
                  ) -> object:
    method = "GET" if method == "HEAD" and target is Target.SERVICE else method
    present = {k for k in keys if k in SUBRESOURCES or k == "versionId"}
    for rule in RULES:
        if rule.method != method or rule.target is not target:
            continue
        if not rule.needs <= present or present - rule.needs - rule.allows - {"versionId"}:
            continue
        if rule.header and rule.header not in headers:
            continue
        return rule
    return None


def test_resolve_is_the_rule_table() -> None:
    keys = ["uploadId", "partNumber", "acl", "tagging", "versionId", "uploads", "delete",
            "list-type", "prefix", "versions", "attributes", "retention"]
    for method in ("GET", "PUT", "POST", "DELETE", "HEAD", "PATCH"):
        for target in Target:
            for n in range(3):
                for combo in itertools.combinations(keys, n):
                    for headers in ({}, {"x-amz-copy-source": "/a/b"}):
                        for _ in range(2):  # computed, then cached
                            assert resolve(method, target, set(combo), headers) is \
                                _resolve_long(method, target, set(combo), headers), \
                                (method, target, combo, headers)
    # the header is part of what is cached: the same request without it is another op
    put = resolve("PUT", Target.OBJECT, {"partNumber": "1", "uploadId": "u"}, {})
    copy = resolve("PUT", Target.OBJECT, {"partNumber": "1", "uploadId": "u"},
                   {"x-amz-copy-source": "/a/b"})
    assert put is not None and copy is not None
    assert (put.op, copy.op) == ("UploadPart", "UploadPartCopy")

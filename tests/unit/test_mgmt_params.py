"""Management request bodies: a malformed one is refused with a fixed message."""

from __future__ import annotations

import pytest

from objectstore.mgmt.params import BadBody, parse_body


@pytest.mark.parametrize(("body", "reason"), [
    (b'{"name": ', "request body is not valid JSON (line 1, column 9)"),  # (stripped)
    (b'{"a": 1,}', "request body is not valid JSON (line 1, column 9)"),
    (b'{"\xff": 1}', "request body is not valid JSON"),
    (b"[1, 2]", "request body must be a JSON object"),
])
def test_invalid_json_gets_a_fixed_message(body: bytes, reason: str) -> None:
    with pytest.raises(BadBody) as info:
        parse_body(body, "application/json")
    assert (info.value.status, info.value.code, info.value.reason) == (400, "invalid_json",
                                                                       reason)
    assert "Expecting" not in info.value.reason  # not the parser's own text


def test_valid_bodies() -> None:
    assert parse_body(b'{"name": "x"}', "application/json") == {"name": "x"}
    assert parse_body(b"name=x&size=5", "application/x-www-form-urlencoded") == {
        "name": "x", "size": "5"}

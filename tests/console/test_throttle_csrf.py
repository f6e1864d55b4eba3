"""Sign-in throttling (growing delay, then 429) and the CSRF checks, as pure functions."""

from __future__ import annotations

from objectstore.console.csrf import same_origin, submitted_token, token_matches
from objectstore.console.forms import Form
from objectstore.console.throttle import SignInThrottle


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def test_each_failure_waits_longer_up_to_a_cap() -> None:
    t = SignInThrottle(max_failures=10, base_delay_s=0.25, max_delay_s=2.0, clock=Clock())
    delays = [t.failed("1.2.3.4") for _ in range(6)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_after_a_few_failures_the_address_must_wait() -> None:
    clock = Clock()
    t = SignInThrottle(max_failures=3, window_s=60, clock=clock)
    for _ in range(2):
        t.failed("a")
        assert t.retry_after("a") is None
    t.failed("a")
    wait = t.retry_after("a")
    assert wait is not None and 59 <= wait <= 60
    assert t.retry_after("b") is None  # other addresses are not affected
    clock.now += 30
    assert t.retry_after("a") is not None
    clock.now += 31
    assert t.retry_after("a") is None  # the window has passed


def test_a_success_clears_the_failures() -> None:
    clock = Clock()
    t = SignInThrottle(max_failures=3, clock=clock)
    t.failed("a")
    t.failed("a")
    t.succeeded("a")
    assert t.failed("a") == t.base_delay_s
    assert t.retry_after("a") is None


def test_old_failures_stop_counting() -> None:
    clock = Clock()
    t = SignInThrottle(max_failures=3, window_s=60, clock=clock)
    t.failed("a")
    t.failed("a")
    clock.now += 61
    assert t.failed("a") == t.base_delay_s  # counted as the first again
    assert t.retry_after("a") is None


def test_csrf_token_comparison() -> None:
    assert token_matches("abc", "abc")
    assert not token_matches("abc", "abd")
    assert not token_matches("abc", "")
    assert not token_matches("abc", None)


def test_origin_check() -> None:
    own = "http://127.0.0.1:8000"
    assert same_origin({"origin": own}, own)
    assert not same_origin({"origin": "http://127.0.0.1:8001"}, own)  # same site, other port
    assert not same_origin({"origin": "null"}, own)
    assert same_origin({"referer": own + "/console/stores"}, own)
    assert not same_origin({"referer": own + ".evil.example/x"}, own)
    assert same_origin({}, own)  # non-browser clients: left to the token


def test_the_token_comes_from_the_header_or_the_form() -> None:
    form = Form([("csrf", "from-form")])
    assert submitted_token({"x-csrf-token": "from-header"}, form) == "from-header"
    assert submitted_token({}, form) == "from-form"
    assert submitted_token({}, Form([])) is None


def test_form_fields_give_readable_errors() -> None:
    import pytest

    from objectstore.domain.errors import InvalidInput

    f = Form.parse(b"size=abc&name=&n=5", "application/x-www-form-urlencoded")
    with pytest.raises(InvalidInput, match="Size .* must be a whole number"):
        f.integer("size", "Size (GB)")
    with pytest.raises(InvalidInput, match="Name is required"):
        f.text("name", "Name")
    with pytest.raises(InvalidInput, match="between 10 and 20"):
        f.integer("n", "N", minimum=10, maximum=20)
    assert f.integer("missing", "M", required=False) is None

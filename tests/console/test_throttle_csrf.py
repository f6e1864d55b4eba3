"""Sign-in throttling (growing delay, then 429; kept in the database) and the CSRF checks."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import Engine

from objectstore.console.csrf import same_origin, submitted_token, token_matches
from objectstore.console.forms import Form
from objectstore.services.signin_throttle import SignInThrottle, throttle_key
from objectstore.storage.sql.engine import make_engine, migrate


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    e = make_engine(f"sqlite:///{tmp_path / 'objectstore.db'}", sqlite_synchronous="NORMAL")
    migrate(e)
    return e


def test_each_failure_waits_longer_up_to_a_cap(engine: Engine) -> None:
    t = SignInThrottle(engine, max_failures=10, base_delay_s=0.25, max_delay_s=2.0,
                       clock=Clock())
    delays = [t.attempt("1.2.3.4").delay for _ in range(6)]
    assert delays == [0.25, 0.5, 1.0, 2.0, 2.0, 2.0]


def test_after_a_few_failures_the_address_must_wait(engine: Engine) -> None:
    clock = Clock()
    t = SignInThrottle(engine, max_failures=3, window_s=60, clock=clock)
    for _ in range(2):
        assert t.attempt("10.0.0.1").retry_after is None
        assert t.retry_after("10.0.0.1") is None
    assert t.attempt("10.0.0.1").retry_after is None
    wait = t.retry_after("10.0.0.1")
    assert wait is not None and 59 <= wait <= 60
    refused = t.attempt("10.0.0.1")  # refused, and not counted
    assert refused.retry_after is not None and 59 <= refused.retry_after <= 60
    assert t.retry_after("10.0.0.2") is None  # other addresses are not affected
    clock.now += 30
    assert t.retry_after("10.0.0.1") is not None
    clock.now += 31
    assert t.retry_after("10.0.0.1") is None  # the window has passed
    assert t.attempt("10.0.0.1").retry_after is None


def test_a_success_clears_the_failures(engine: Engine) -> None:
    clock = Clock()
    t = SignInThrottle(engine, max_failures=3, clock=clock)
    t.attempt("a")
    t.attempt("a")
    t.succeeded("a")
    assert t.attempt("a").delay == t.base_delay_s
    assert t.retry_after("a") is None


def test_old_failures_stop_counting(engine: Engine) -> None:
    clock = Clock()
    t = SignInThrottle(engine, max_failures=3, window_s=60, clock=clock)
    t.attempt("a")
    t.attempt("a")
    clock.now += 61
    assert t.attempt("a").delay == t.base_delay_s  # counted as the first again
    assert t.retry_after("a") is None


def test_an_ipv6_client_is_its_64(engine: Engine) -> None:
    t = SignInThrottle(engine, max_failures=2, clock=Clock())
    t.attempt("2001:db8:1:2::1")
    t.attempt("2001:db8:1:2:ffff::9")  # another address of the same /64
    assert t.retry_after("2001:db8:1:2::77") is not None
    assert t.retry_after("2001:db8:1:3::1") is None
    assert throttle_key("::ffff:192.0.2.1") == "192.0.2.1"


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

"""objectstore.forwarded: which forwarded header names the client, and when (the end-to-end
tests are tests/security/test_forwarded.py)."""

from __future__ import annotations

import pytest

from objectstore.forwarded import TrustedProxies, parse_trusted_proxies

PROXIES = TrustedProxies(parse_trusted_proxies("10.0.0.1, 10.1.0.0/16, fd00::/8"))


def resolve(peer: str, **headers: str) -> tuple[str, str | None, str | None]:
    raw = {k.replace("_", "-").lower().encode(): v.encode() for k, v in headers.items()}
    return PROXIES.resolve(peer, raw)


def test_an_unlisted_peer_is_the_client_whatever_it_says() -> None:
    assert resolve("192.0.2.9", x_forwarded_for="198.51.100.1", x_forwarded_proto="https",
                   x_forwarded_host="evil.example") == ("192.0.2.9", None, None)
    assert TrustedProxies().resolve("10.0.0.1", {b"x-real-ip": b"1.2.3.4"})[0] == "10.0.0.1"


@pytest.mark.parametrize(("headers", "client"), [
    ({"x_forwarded_for": "198.51.100.1"}, "198.51.100.1"),
    ({"x_forwarded_for": "203.0.113.7, 198.51.100.1"}, "198.51.100.1"),  # spoofed left part
    ({"x_forwarded_for": "198.51.100.1, 10.1.2.3"}, "198.51.100.1"),  # through two proxies
    ({"x_forwarded_for": "10.1.2.3"}, "10.1.2.3"),  # only proxies: the left-most
    ({"x_forwarded_for": "198.51.100.1, unknown"}, "10.0.0.1"),  # unreadable: stop
    ({"forwarded": 'for="[2001:db8::1]:4711";proto=https'}, "2001:db8::1"),
    ({"forwarded": "for=203.0.113.7, for=198.51.100.1"}, "198.51.100.1"),
    ({"x_real_ip": "198.51.100.1"}, "198.51.100.1"),
    ({"x_forwarded_for": "198.51.100.1:5555"}, "198.51.100.1"),
    ({}, "10.0.0.1"),
])
def test_a_listed_proxy_names_the_client(headers: dict[str, str], client: str) -> None:
    assert resolve("10.0.0.1", **headers)[0] == client


def test_scheme_and_host_from_a_listed_proxy() -> None:
    assert resolve("::ffff:10.0.0.1", x_forwarded_proto="https",
                   x_forwarded_host="s3.example.com")[1:] == ("https", "s3.example.com")
    assert resolve("fd00::5", forwarded="for=1.2.3.4;proto=https;host=a.example")[1:] == \
        ("https", "a.example")
    assert resolve("10.0.0.1", x_forwarded_proto="gopher")[1] is None


def test_bad_settings_are_named() -> None:
    with pytest.raises(ValueError, match="'10.0.0.300'"):
        parse_trusted_proxies("10.0.0.1,10.0.0.300")
    assert parse_trusted_proxies("") == ()


def test_client_view_only_when_a_proxy_is_listed() -> None:
    from objectstore.forwarded import ClientView, TrustedProxies, client_view, parse_trusted_proxies

    async def app(scope, receive, send):  # type: ignore[no-untyped-def]
        pass

    assert client_view(app, TrustedProxies()) is app  # nothing to trust: no layer at all
    wrapped = client_view(app, TrustedProxies(parse_trusted_proxies("10.0.0.0/8")))
    assert isinstance(wrapped, ClientView) and wrapped.app is app

"""The website configuration's pure decisions (domain/website.py) and the website plane's
Host parsing: which rule applies, where it redirects, which store a Host names."""

from __future__ import annotations

import pytest

from objectstore.domain.website import (
    Condition,
    Redirect,
    RedirectAll,
    RoutingRule,
    WebsiteConfig,
    WebsiteConfigError,
    key_path,
    redirect_all_location,
    rule_location,
)
from objectstore.website.app import byte_range, store_name

DOCS = RoutingRule(Redirect(replace_prefix="documents/"), Condition(key_prefix="docs/"))
GONE = RoutingRule(Redirect(host="h.example", protocol="https", code=307),
                   Condition(error_code=404))
EVERY = RoutingRule(Redirect(host="other.example"))


def test_rules_in_order_before_and_after_the_lookup() -> None:
    config = WebsiteConfig("index.html", None, None, (DOCS, GONE))
    assert config.rule_for("docs/a.html") is DOCS
    assert config.rule_for("x.html") is None  # GONE waits for the error
    assert config.rule_for("x.html", 404) is GONE
    assert config.rule_for("x.html", 403) is None
    assert WebsiteConfig("i.html", rules=(EVERY, DOCS)).rule_for("docs/a") is EVERY
    both = RoutingRule(Redirect(host="x"), Condition("img/", 404))
    config = WebsiteConfig("i.html", rules=(both,))
    assert config.rule_for("img/a", 404) is both and config.rule_for("css/a", 404) is None


def test_redirect_locations() -> None:
    assert rule_location(DOCS, "docs/a b.html", "http", "s.example:9001") == (
        301, "http://s.example:9001/documents/a%20b.html")
    assert rule_location(GONE, "x/ü.html", "http", "s") == (
        307, "https://h.example/x/%C3%BC.html")
    to_key = RoutingRule(Redirect(replace_key="new.html", code=302), Condition("old"))
    assert rule_location(to_key, "old.html", "https", "s") == (302, "https://s/new.html")
    assert redirect_all_location(RedirectAll("w.example"), "/a%20b", "https") == \
        "https://w.example/a%20b"
    assert key_path("a/b c?#") == "/a/b%20c%3F%23"


def test_stored_form_round_trips() -> None:
    config = WebsiteConfig("index.html", "404.html", None, (DOCS, GONE, EVERY))
    assert WebsiteConfig.from_json(config.to_json()) == config
    away = WebsiteConfig(redirect_all=RedirectAll("w.example", "https"))
    assert WebsiteConfig.from_json(away.to_json()) == away
    assert WebsiteConfig.from_json(None) is None


def test_invalid_configurations() -> None:
    with pytest.raises(WebsiteConfigError) as ei:
        WebsiteConfig(None)
    assert ei.value.code == "InvalidArgument"
    with pytest.raises(WebsiteConfigError):
        WebsiteConfig("i.html", rules=(RoutingRule(Redirect(code=300)),))
    with pytest.raises(WebsiteConfigError):
        WebsiteConfig("i.html", rules=(RoutingRule(Redirect()),))


def test_store_names_from_hosts_and_ranges() -> None:
    assert store_name("my-site.web.test:9001", "web.test") == "my-site"
    assert store_name("My-Site.Web.Test.", "web.test") == "my-site"
    assert store_name("www.example.com", "web.test") == "www.example.com"
    assert store_name("www.example.com:80", None) == "www.example.com"
    assert store_name("[::1]:9001", "web.test") == "[::1]:9001"
    assert byte_range("bytes=0-9", 100) == (0, 9)
    assert byte_range("bytes=-5", 100) == (95, 99)
    assert byte_range("bytes=90-", 100) == (90, 99)
    assert byte_range("bytes=5-1", 100) is None and byte_range("items=0-1", 100) is None

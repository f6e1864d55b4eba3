"""The website listener over plain HTTP with Host headers: index documents, directory
redirects, error documents, 403/404/405, Range and conditional requests, routing rules,
redirect-all, object redirects, a deployed single-page app, and a TLS proxy in front."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from urllib.parse import quote

import httpx
import pytest

from tests.support.pg import free_port
from tests.support.server import RunningServer, running_server
from tests.support.stores import create_store

from .conftest import DOMAIN, make_site


def _html(r: httpx.Response) -> str:
    assert r.headers["content-type"].startswith("text/html"), r.headers
    assert "<Error>" not in r.text and "<?xml" not in r.text  # never S3 XML
    return r.text


def test_index_documents_directories_and_odd_keys(web_srv: RunningServer) -> None:
    site = make_site(web_srv)
    site.put("index.html", "<h1>home</h1>", CacheControl="max-age=60")
    site.put("docs/index.html", "<h1>docs</h1>")
    site.put("docs/guide.html", "<h1>guide</h1>")
    odd = "my files/über café ☕.html"
    site.put(odd, "<p>odd</p>", ContentLanguage="de")
    site.put("style.css", "body{color:red}", content_type="text/css")
    root = site.get("/")
    assert root.status_code == 200 and root.text == "<h1>home</h1>"
    assert root.headers["content-type"] == "text/html"
    assert root.headers["cache-control"] == "max-age=60"
    assert root.headers["etag"] and root.headers["last-modified"]
    assert site.get("/docs/").text == "<h1>docs</h1>"
    assert site.get("/docs/guide.html").text == "<h1>guide</h1>"
    moved = site.get("/docs")
    assert moved.status_code == 302 and moved.headers["location"] == "/docs/"
    r = site.get("/" + quote(odd))
    assert r.status_code == 200 and r.text == "<p>odd</p>"
    assert r.headers["content-language"] == "de"
    assert site.get("/style.css").headers["content-type"] == "text/css"
    head = site.get("/", method="HEAD")
    assert head.status_code == 200 and head.content == b""
    assert head.headers["content-length"] == str(len("<h1>home</h1>"))
    # the Host may carry a port, any case, a trailing dot
    assert site.get("/", host=f"{site.host.upper()}.:9001").text == "<h1>home</h1>"


def test_missing_keys_error_documents_and_refusals(web_srv: RunningServer) -> None:
    plain = make_site(web_srv)
    plain.put("index.html", "home")
    r = plain.get("/nope.html")
    # the policy lets anyone read any key: a missing one is a 404 (as an S3 GET answers)
    assert r.status_code == 404 and "NoSuchKey" in _html(r) and "nope.html" in r.text
    listable = make_site(web_srv, public=False, error="404.html")
    listable.s3.put_bucket_acl(Bucket=listable.store.name, ACL="public-read")
    listable.put("404.html", "<h1>custom not found</h1>", ACL="public-read")
    listable.put("secret.html", "secret")  # private object in a listable store
    r = listable.get("/nope.html")
    assert r.status_code == 404 and r.text == "<h1>custom not found</h1>"
    r = listable.get("/secret.html")
    assert r.status_code == 403 and r.text == "<h1>custom not found</h1>"
    listable.s3.delete_object(Bucket=listable.store.name, Key="404.html")
    r = listable.get("/nope.html")
    assert r.status_code == 404 and "NoSuchKey" in _html(r)
    assert "Custom Error Document" in r.text
    for method in ("POST", "PUT", "DELETE", "OPTIONS", "PATCH"):
        r = plain.get("/index.html", method=method)
        assert r.status_code == 405 and r.headers["allow"] == "GET, HEAD", method
        assert "MethodNotAllowed" in _html(r)
    assert plain.s3.get_object(Bucket=plain.store.name, Key="index.html")["Body"].read() \
        == b"home"
    r = plain.get("/", host=f"no-such-store.{DOMAIN}")
    assert r.status_code == 404 and "NoSuchBucket" in _html(r)
    bare = create_store(web_srv, prefix="bare")
    r = plain.get("/", host=f"{bare.name}.{DOMAIN}")
    assert r.status_code == 404 and "NoSuchWebsiteConfiguration" in _html(r)
    private = make_site(web_srv, public=False)
    private.put("index.html", "private home")
    r = private.get("/")
    assert r.status_code == 403 and "private home" not in _html(r)


def test_range_and_conditional_requests(web_srv: RunningServer) -> None:
    site = make_site(web_srv)
    body = bytes(range(256)) * 400  # 100 KiB: a blob, not an inline row
    site.put("data.bin", body, content_type="application/octet-stream")
    r = site.get("/data.bin", Range="bytes=100-199")
    assert r.status_code == 206 and r.content == body[100:200]
    assert r.headers["content-range"] == f"bytes 100-199/{len(body)}"
    assert site.get("/data.bin", Range="bytes=-10").content == body[-10:]
    r = site.get("/data.bin", Range=f"bytes={len(body)}-")
    assert r.status_code == 416 and _html(r)
    full = site.get("/data.bin")
    assert full.status_code == 200 and full.content == body
    etag, modified = full.headers["etag"], full.headers["last-modified"]
    r = site.get("/data.bin", **{"If-None-Match": etag})
    assert r.status_code == 304 and r.content == b"" and r.headers["etag"] == etag
    assert site.get("/data.bin", **{"If-Modified-Since": modified}).status_code == 304
    past = format_datetime(datetime.now(UTC) - timedelta(days=1), usegmt=True)
    assert site.get("/data.bin", **{"If-Modified-Since": past}).status_code == 200
    assert site.get("/data.bin", **{"If-Match": '"nope"'}).status_code == 412
    assert site.get("/data.bin", **{"If-None-Match": '"other"'}).status_code == 200


def test_routing_rules(web_srv: RunningServer) -> None:
    site = make_site(web_srv, RoutingRules=[
        {"Condition": {"KeyPrefixEquals": "docs/"},
         "Redirect": {"ReplaceKeyPrefixWith": "documents/"}},
        {"Condition": {"KeyPrefixEquals": "old.html"},
         "Redirect": {"ReplaceKeyWith": "new.html", "HttpRedirectCode": "302"}},
        {"Condition": {"HttpErrorCodeReturnedEquals": "404", "KeyPrefixEquals": "img/"},
         "Redirect": {"HostName": "images.example", "Protocol": "https",
                      "HttpRedirectCode": "307"}},
    ])
    site.s3.put_bucket_acl(Bucket=site.store.name, ACL="public-read")  # missing -> 404
    site.put("img/here.png", b"png", content_type="image/png")
    r = site.get("/docs/a b.html")
    assert r.status_code == 301
    assert r.headers["location"] == f"http://{site.host}/documents/a%20b.html"
    r = site.get("/old.html")
    assert r.status_code == 302 and r.headers["location"] == f"http://{site.host}/new.html"
    assert site.get("/img/here.png").content == b"png"  # no error: no redirect
    r = site.get("/img/gone.png")
    assert r.status_code == 307
    assert r.headers["location"] == "https://images.example/img/gone.png"
    assert site.get("/other.html").status_code == 404


def test_redirect_all_and_object_redirects(web_srv: RunningServer) -> None:
    away = make_site(web_srv, index=None, RedirectAllRequestsTo={
        "HostName": "www.example.com", "Protocol": "https"})
    r = away.get("/a/b%20c.html")
    assert r.status_code == 301
    assert r.headers["location"] == "https://www.example.com/a/b%20c.html"
    site = make_site(web_srv)
    site.put("moved.html", "", WebsiteRedirectLocation="/new/place.html")
    site.put("out.html", "", WebsiteRedirectLocation="https://example.org/x")
    r = site.get("/moved.html")
    assert r.status_code == 301
    assert r.headers["location"] == f"http://{site.host}/new/place.html"
    assert site.get("/out.html").headers["location"] == "https://example.org/x"


def test_single_page_app_with_the_index_as_error_document(web_srv: RunningServer) -> None:
    site = make_site(web_srv, error="index.html")
    app = "<!doctype html><div id=app></div><script src=/assets/app.js></script>"
    site.put("index.html", app)
    site.put("assets/app.js", "console.log(1)", content_type="text/javascript")
    assert site.get("/").text == app
    for route in ("/users/42", "/settings/profile", "/a%20b"):
        r = site.get(route)
        # the error document, with the error's status (as AWS answers)
        assert r.status_code == 404 and r.text == app, route
    assert site.get("/assets/app.js").headers["content-type"] == "text/javascript"


def test_store_named_like_a_domain_and_tls_proxy(
        tmp_path_factory: pytest.TempPathFactory) -> None:
    with running_server(tmp_path_factory.mktemp("web-proxy"), None, fsync=False,
                        sqlite_synchronous="NORMAL", web_port=free_port(),
                        trusted_proxies="127.0.0.1") as srv:
        name = f"www.site-{free_port()}.example"
        site = make_site(srv, name=name)
        site.put("index.html", "home")
        site.put("docs/index.html", "docs")
        assert site.get("/", host=name).text == "home"
        r = site.get("/", host=f"{name}:8080")
        assert r.text == "home"
        site.s3.put_bucket_website(Bucket=name, WebsiteConfiguration={
            "IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [
                {"Condition": {"KeyPrefixEquals": "go/"},
                 "Redirect": {"ReplaceKeyPrefixWith": "docs/"}}]})
        r = site.get("/go/", host=name, **{"X-Forwarded-Proto": "https",
                                           "X-Forwarded-Host": name})
        assert r.status_code == 301 and r.headers["location"] == f"https://{name}/docs/"
        assert site.get("/go/", host=name).headers["location"] == f"http://{name}/docs/"

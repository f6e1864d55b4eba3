"""Put/Get/DeleteBucketWebsite with boto3: round trips, AWS's validation errors,
NoSuchWebsiteConfiguration, and the x-amz-website-redirect-location object metadata."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import parse_error, signed
from tests.support.clients import error_code, status_of, uniq
from tests.support.server import RunningServer
from tests.support.stores import create_store

RULES = [
    {"Condition": {"KeyPrefixEquals": "docs/"},
     "Redirect": {"ReplaceKeyPrefixWith": "documents/"}},
    {"Condition": {"HttpErrorCodeReturnedEquals": "404"},
     "Redirect": {"HostName": "example.com", "HttpRedirectCode": "307", "Protocol": "https",
                  "ReplaceKeyWith": "missing.html"}},
    {"Redirect": {"HostName": "other.example"}},
]


def test_round_trip_and_delete(web_srv: RunningServer) -> None:
    store = create_store(web_srv)
    s3 = store.boto()
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_website(Bucket=store.name)
    assert error_code(ei.value) == "NoSuchWebsiteConfiguration" and status_of(ei.value) == 404
    s3.put_bucket_website(Bucket=store.name, WebsiteConfiguration={
        "IndexDocument": {"Suffix": "index.html"}, "ErrorDocument": {"Key": "err/404.html"},
        "RoutingRules": RULES})
    got = s3.get_bucket_website(Bucket=store.name)
    assert got["IndexDocument"] == {"Suffix": "index.html"}
    assert got["ErrorDocument"] == {"Key": "err/404.html"}
    assert got["RoutingRules"] == RULES
    # replaced whole by the next put
    s3.put_bucket_website(Bucket=store.name, WebsiteConfiguration={
        "RedirectAllRequestsTo": {"HostName": "example.org", "Protocol": "https"}})
    got = s3.get_bucket_website(Bucket=store.name)
    assert got["RedirectAllRequestsTo"] == {"HostName": "example.org", "Protocol": "https"}
    assert "IndexDocument" not in got and "RoutingRules" not in got
    s3.delete_bucket_website(Bucket=store.name)
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_website(Bucket=store.name)
    assert error_code(ei.value) == "NoSuchWebsiteConfiguration"
    s3.delete_bucket_website(Bucket=store.name)  # deleting none is fine, as on AWS


INVALID: list[tuple[dict[str, Any], str, str]] = [
    ({"ErrorDocument": {"Key": "e.html"}}, "InvalidArgument", "IndexDocument Suffix must be"),
    ({"IndexDocument": {"Suffix": "a/index.html"}}, "InvalidArgument", "not well formed"),
    ({"IndexDocument": {"Suffix": ""}}, "InvalidArgument", "not well formed"),
    ({"RedirectAllRequestsTo": {"HostName": "x.example"},
      "IndexDocument": {"Suffix": "index.html"}}, "InvalidRequest", "in conjunction"),
    ({"RedirectAllRequestsTo": {"HostName": "x.example", "Protocol": "ftp"}},
     "InvalidRequest", "Invalid protocol"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [
        {"Redirect": {"HttpRedirectCode": "300"}}]}, "InvalidRequest", "3XX except 300"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [
        {"Condition": {"HttpErrorCodeReturnedEquals": "302"},
         "Redirect": {"HostName": "x.example"}}]}, "InvalidRequest", "4XX or 5XX"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [
        {"Redirect": {"ReplaceKeyWith": "a", "ReplaceKeyPrefixWith": "b"}}]},
     "InvalidRequest", "not both"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [
        {"Condition": {}, "Redirect": {"HostName": "x.example"}}]},
     "InvalidRequest", "Condition cannot be empty"),
    ({"IndexDocument": {"Suffix": "i.html"}, "RoutingRules": [
        {"Redirect": {"HostName": "x.example"}}] * 51}, "InvalidRequest", "limited to 50"),
]


def test_invalid_configurations_are_refused(web_srv: RunningServer) -> None:
    store = create_store(web_srv)
    s3 = store.boto()
    for config, code, message in INVALID:
        with pytest.raises(ClientError) as ei:
            s3.put_bucket_website(Bucket=store.name, WebsiteConfiguration=config)
        assert status_of(ei.value) == 400, (config, ei.value.response)
        assert error_code(ei.value) == code, (config, ei.value.response)
        assert message in ei.value.response["Error"]["Message"], (config, ei.value.response)
    for body in (b"<WebsiteConfiguration><Bogus/></WebsiteConfiguration>",
                 b"<WebsiteConfiguration><IndexDocument><Suffix>i.html</Suffix>"
                 b"</IndexDocument><RoutingRules><RoutingRule><Condition><KeyPrefixEquals>a"
                 b"</KeyPrefixEquals></Condition></RoutingRule></RoutingRules>"
                 b"</WebsiteConfiguration>", b"not xml"):
        r = signed(store, "PUT", f"/{store.name}?website", body=body)
        assert r.status_code == 400 and parse_error(r)["Code"] == "MalformedXML", r.text
    with pytest.raises(ClientError) as ei:  # nothing was stored
        s3.get_bucket_website(Bucket=store.name)
    assert error_code(ei.value) == "NoSuchWebsiteConfiguration"


def test_other_accounts_may_not_configure(web_srv: RunningServer) -> None:
    store = create_store(web_srv)
    _, other_key = web_srv.services.accounts.create(uniq("acct"))
    other = create_store(web_srv, api_key=other_key)
    anonymous = httpx.put(f"{store.s3_url}/{store.name}?website", content=(
        b"<WebsiteConfiguration><IndexDocument><Suffix>i.html</Suffix></IndexDocument>"
        b"</WebsiteConfiguration>"))
    assert anonymous.status_code == 403
    for call in (lambda c: c.put_bucket_website(Bucket=store.name, WebsiteConfiguration={
                     "IndexDocument": {"Suffix": "i.html"}}),
                 lambda c: c.delete_bucket_website(Bucket=store.name)):
        with pytest.raises(ClientError) as ei:
            call(other.boto())
        assert error_code(ei.value) == "AccessDenied"


def test_website_redirect_location_is_stored(web_srv: RunningServer) -> None:
    store = create_store(web_srv)
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="old.html", Body=b"",
                  WebsiteRedirectLocation="/new.html")
    head = s3.head_object(Bucket=store.name, Key="old.html")
    assert head["WebsiteRedirectLocation"] == "/new.html"
    # a copy has its own (as on AWS: never the source's)
    s3.copy_object(Bucket=store.name, Key="copy.html",
                   CopySource={"Bucket": store.name, "Key": "old.html"})
    assert "WebsiteRedirectLocation" not in s3.head_object(Bucket=store.name, Key="copy.html")
    s3.copy_object(Bucket=store.name, Key="old.html", WebsiteRedirectLocation="/newer.html",
                   CopySource={"Bucket": store.name, "Key": "old.html"})  # onto itself
    assert s3.head_object(Bucket=store.name, Key="old.html")[
        "WebsiteRedirectLocation"] == "/newer.html"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="bad.html", Body=b"",
                      WebsiteRedirectLocation="new.html")
    assert error_code(ei.value) == "InvalidArgument" and status_of(ei.value) == 400

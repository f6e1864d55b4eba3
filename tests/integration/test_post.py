"""Presigned POST (browser form uploads) with ``boto3.generate_presigned_post`` and
``requests`` (SQLite and PostgreSQL): SigV4 and SigV2 forms, every violated condition
refused with nothing stored, success_action_status / _redirect, metadata, quotas."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, HTTPServer
from typing import Any
from xml.etree import ElementTree as ET

import pytest
import requests

from objectstore.domain.models import GB
from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import Store, boto_client
from .test_rules import set_used


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)


def keys(store: Store) -> list[str]:
    listing = store.boto().list_objects_v2(Bucket=store.name)
    return [o["Key"] for o in listing.get("Contents", [])]


def code(r: requests.Response) -> str:
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    assert r.headers.get("x-amz-request-id")
    return root.findtext("Code") or ""


def post(p: dict[str, Any], data: bytes = b"hello form", filename: str = "f.txt",
         **fields: str) -> requests.Response:
    return requests.post(p["url"], data={**p["fields"], **fields},
                         files={"file": (filename, data, "text/plain")},
                         allow_redirects=False, timeout=30)


def test_sigv4_upload_and_every_condition(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    p = s3.generate_presigned_post(
        name, "uploads/${filename}",
        Fields={"acl": "public-read", "Content-Type": "text/plain", "x-amz-meta-team": "web"},
        Conditions=[{"acl": "public-read"}, ["starts-with", "$Content-Type", "text/"],
                    {"x-amz-meta-team": "web"}, ["starts-with", "$key", "uploads/"],
                    ["content-length-range", 2, 1000]], ExpiresIn=300)
    r = post(p, filename="report.txt")
    assert r.status_code == 204, r.text
    got = s3.get_object(Bucket=name, Key="uploads/report.txt")
    assert got["Body"].read() == b"hello form"
    assert got["ContentType"] == "text/plain" and got["Metadata"] == {"team": "web"}
    assert requests.get(f"{dual_store.s3_url}/{name}/uploads/report.txt").status_code == 200
    before = keys(dual_store)
    violations = [
        ({"data": b"x" * 1001}, "EntityTooLarge"),
        ({"data": b"x"}, "EntityTooSmall"),
        ({"acl": "private"}, "AccessDenied"),
        ({"Content-Type": "image/png"}, "AccessDenied"),
        ({"x-amz-meta-team": "ops"}, "AccessDenied"),
        ({"key": "elsewhere/${filename}"}, "AccessDenied"),
        ({"x-amz-meta-extra": "not in the policy"}, "AccessDenied"),
        ({"x-amz-signature": "0" * 64}, "SignatureDoesNotMatch"),
        ({"policy": p["fields"]["policy"][:-4] + "AAAA"}, "SignatureDoesNotMatch"),
    ]
    for change, expected in violations:
        change = dict(change)
        data = change.pop("data", b"hello form")
        r = post(p, data=data, filename="bad.txt", **change)
        assert r.status_code in (400, 403), (change, r.text)
        assert code(r) == expected, (change, r.text)
    # the bucket condition: the same form posted to another store
    other = s3.generate_presigned_post(name, "k")
    other["url"] = other["url"].replace(name, name + "-x")
    s3.create_bucket(Bucket=name + "-x")
    assert code(post(other)) == "AccessDenied"
    assert keys(dual_store) == before


def test_expiry_status_redirect_and_sigv2(store: Store) -> None:
    s3, name = store.boto(), store.name
    expired = s3.generate_presigned_post(name, "late", ExpiresIn=1)
    time.sleep(1.1)
    r = post(expired)
    assert r.status_code == 403 and "expired" in r.text
    p = s3.generate_presigned_post(name, "created", Fields={"success_action_status": "201"},
                                   Conditions=[{"success_action_status": "201"}])
    r = post(p)
    assert r.status_code == 201, r.text
    doc = ET.fromstring(r.content)
    assert doc.findtext("{*}Key") == "created" and doc.findtext("{*}Bucket") == name
    assert doc.findtext("{*}ETag") == r.headers["ETag"]
    v2 = boto_client(store.s3_url, store.access_key, store.secret_key, signature_version="s3")
    p2 = v2.generate_presigned_post(name, "v2-${filename}")
    assert "AWSAccessKeyId" in p2["fields"] and "signature" in p2["fields"]
    assert post(p2, filename="a.bin", data=b"v2").status_code == 204
    assert s3.get_object(Bucket=name, Key="v2-a.bin")["Body"].read() == b"v2"
    p2["fields"]["signature"] = "AAAA" + p2["fields"]["signature"][4:]
    assert code(post(p2, filename="b.bin")) == "SignatureDoesNotMatch"
    assert "v2-b.bin" not in keys(store)


@pytest.fixture
def landing() -> Iterator[tuple[str, list[str]]]:
    """A web page that a successful upload redirects the browser to."""
    seen: list[str] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.path)
            self.send_response(200)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, *args: Any) -> None:
            pass

    httpd = HTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}/done", seen
    httpd.shutdown()


def test_success_action_redirect_followed(store: Store, landing: tuple[str, list[str]]
                                          ) -> None:
    url, seen = landing
    p = store.boto().generate_presigned_post(
        store.name, "r.txt", Fields={"success_action_redirect": url},
        Conditions=[{"success_action_redirect": url}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("r.txt", b"r")}, timeout=30)
    assert r.status_code == 200 and r.text == "ok"
    assert r.history and r.history[0].status_code == 303
    assert seen and seen[0].startswith("/done?") and f"bucket={store.name}" in seen[0]
    assert "key=r.txt" in seen[0] and "etag=" in seen[0]


def test_quota_and_malformed_forms(store: Store) -> None:
    s3, name = store.boto(), store.name
    p = s3.generate_presigned_post(name, "q")
    set_used(store.srv, store_id=store.id, used=500 * GB - 5)
    r = post(p, data=b"more than five bytes")
    assert code(r) == "QuotaExceeded"
    set_used(store.srv, store_id=store.id, used=0)
    assert keys(store) == []
    r = requests.post(p["url"], files={k: (None, v) for k, v in p["fields"].items()},
                      timeout=30)  # multipart, but no file
    assert r.status_code == 400 and code(r) in ("InvalidArgument", "MalformedPOSTRequest")
    r = requests.post(p["url"], data=b"key=x", timeout=30,
                      headers={"Content-Type": "application/x-www-form-urlencoded"})
    assert r.status_code == 412
    no_key = dict(p["fields"])
    del no_key["key"]
    r = requests.post(p["url"], data=no_key, files={"file": ("f", b"x")}, timeout=30)
    assert code(r) == "InvalidArgument"
    assert keys(store) == []


def test_anonymous_form_needs_a_writable_store(store: Store) -> None:
    url = f"{store.s3_url}/{store.name}"
    r = requests.post(url, data={"key": "anon"}, files={"file": ("f", b"x")}, timeout=30)
    assert r.status_code == 403 and code(r) == "AccessDenied"
    store.boto().put_bucket_acl(Bucket=store.name, ACL="public-read-write")
    r = requests.post(url, data={"key": "anon"}, files={"file": ("f", b"x")}, timeout=30)
    assert r.status_code == 204, r.text
    assert keys(store) == ["anon"]


def test_large_file_streams(store: Store) -> None:
    """A file larger than the inline limit and the parser's buffers, with CRLF and boundary
    look-alikes inside, arrives byte for byte."""
    p = store.boto().generate_presigned_post(store.name, "big.bin")
    chunk = b"\r\n--not-the-boundary\r\n" + bytes(range(256)) * 64
    data = chunk * 200  # ~3.3 MB
    assert post(p, data=data).status_code == 204
    got = store.boto().get_object(Bucket=store.name, Key="big.bin")["Body"].read()
    assert got == data

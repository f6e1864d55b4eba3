"""Errors: S3 XML with Code/Message/Resource/RequestId and x-amz-request-id, the right
status, and nothing stored changes."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import socket
import time
from typing import Any
from urllib.parse import quote

import botocore.auth
import botocore.crt.auth
import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import (
    REGION,
    Store,
    boto_client,
    error_code,
    parse_error,
    sign_v4,
    signed,
    status_of,
)


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)


def snapshot(store: Store) -> list[tuple[str, int, str, dict[str, str]]]:
    """Everything observable about the store's objects (key, size, etag, tags)."""
    s3 = store.boto()
    out = []
    for o in s3.list_objects_v2(Bucket=store.name).get("Contents", []):
        tags = s3.get_object_tagging(Bucket=store.name, Key=o["Key"])["TagSet"]
        out.append((o["Key"], o["Size"], o["ETag"], {t["Key"]: t["Value"] for t in tags}))
    return out + [("stats", 0, "", {k: str(v) for k, v in store.stats().items()})]


@pytest.fixture
def seeded(store: Store) -> Store:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="keep/a", Body=b"alpha", Tagging="t=1")
    s3.put_object(Bucket=store.name, Key="keep/b", Body=b"beta")
    return store


def test_error_documents_are_s3_xml(seeded: Store) -> None:
    store = seeded
    cases: list[tuple[httpx.Response, int, str]] = [
        (httpx.get(f"{store.s3_url}/{store.name}/keep/a"), 403, "AccessDenied"),
        (signed(store, "GET", f"/{store.name}/missing"), 404, "NoSuchKey"),
        (signed(store, "GET", "/no-such-bucket-xyz/k"), 404, "NoSuchBucket"),
        (signed(store, "GET", f"/{store.name}?list-type=2&max-keys=-1"), 400,
         "InvalidArgument"),
        (signed(store, "GET", f"/{store.name}/keep/a", headers={"Range": "bytes=99-"}), 416,
         "InvalidRange"),
        (httpx.get(f"{store.s3_url}/{store.name}/keep/a",
                   headers={"Authorization": "Bearer nope"}), 400, "InvalidArgument"),
    ]
    for resp, status, code in cases:
        assert resp.status_code == status, (code, resp.text)
        fields = parse_error(resp)
        assert fields["Code"] == code, resp.text
        assert fields["Message"], resp.text
    # Resource names what was addressed.
    assert parse_error(cases[1][0])["Resource"] == f"/{store.name}/missing"
    # HEAD errors carry no body, but still the request id.
    h = httpx.head(f"{store.s3_url}/{store.name}/keep/a")
    assert h.status_code == 403 and h.headers["x-amz-request-id"] and h.content == b""
    # Successful answers carry a request id too, each one different.
    ok1 = signed(store, "GET", f"/{store.name}/keep/a")
    ok2 = signed(store, "GET", f"/{store.name}/keep/a")
    assert ok1.status_code == ok2.status_code == 200
    assert ok1.headers["x-amz-request-id"] != ok2.headers["x-amz-request-id"]


def test_unimplemented_operations_answer_501(seeded: Store) -> None:
    store = seeded
    before = snapshot(store)
    s3 = store.boto()
    calls: list[Any] = [
        lambda: s3.put_bucket_logging(Bucket=store.name, BucketLoggingStatus={}),
        lambda: s3.get_bucket_replication(Bucket=store.name),
        lambda: s3.put_bucket_lifecycle_configuration(
            Bucket=store.name, LifecycleConfiguration={"Rules": [{
                "ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
                "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}]}),
        lambda: s3.get_bucket_replication(Bucket=store.name),
        lambda: s3.restore_object(Bucket=store.name, Key="keep/a", RestoreRequest={"Days": 1}),
    ]
    for call in calls:
        with pytest.raises(ClientError) as ei:
            call()
        assert status_of(ei.value) == 501 and error_code(ei.value) == "NotImplemented", \
            ei.value.response
    for method, path in (("PUT", f"/{store.name}?logging"), ("GET", f"/{store.name}?replication"),
                         ("GET", f"/{store.name}/keep/a?torrent"),
                         ("POST", f"/{store.name}/keep/a?select&select-type=2")):
        r = signed(store, method, path, body=b"<x/>" if method != "GET" else b"")
        assert r.status_code == 501, (path, r.text)
        assert parse_error(r)["Code"] == "NotImplemented"
    assert snapshot(store) == before


def test_bad_signature_and_unknown_key(seeded: Store) -> None:
    store = seeded
    before = snapshot(store)
    wrong = boto_client(store.s3_url, store.access_key, store.secret_key[:-1] + "X")
    for call in (lambda: wrong.get_object(Bucket=store.name, Key="keep/a"),
                 lambda: wrong.put_object(Bucket=store.name, Key="keep/a", Body=b"evil"),
                 lambda: wrong.delete_object(Bucket=store.name, Key="keep/b")):
        with pytest.raises(ClientError) as ei:
            call()
        assert error_code(ei.value) == "SignatureDoesNotMatch" and status_of(ei.value) == 403
    # A signed header changed after signing.
    url = f"{store.s3_url}/{store.name}/keep/x"
    h = sign_v4("PUT", url, store.access_key, store.secret_key, body=b"data",
                headers={"Content-Type": "text/plain"})
    h["Content-Type"] = "text/html"
    r = httpx.put(url, content=b"data", headers=h)
    assert r.status_code == 403 and parse_error(r)["Code"] == "SignatureDoesNotMatch"
    # Malformed Authorization header.
    r = httpx.get(f"{store.s3_url}/{store.name}/keep/a",
                  headers={"Authorization": "AWS4-HMAC-SHA256 Credential=broken"})
    assert r.status_code in (400, 403)
    assert parse_error(r)["Code"] in ("AuthorizationHeaderMalformed", "InvalidArgument",
                                      "AccessDenied")
    assert snapshot(store) == before


def test_signature_mismatch_shows_what_the_server_signed(store: Store) -> None:
    """SignatureDoesNotMatch carries AWS's debugging elements, and they are exactly what the
    client signed: its signature over our StringToSign, with its (wrong) secret, matches."""
    wrong_secret = store.secret_key[:-1] + ("X" if store.secret_key[-1] != "X" else "Y")
    wrong = boto_client(store.s3_url, store.access_key, wrong_secret)
    sent: list[Any] = []
    wrong.meta.events.register("before-send.s3", lambda request, **_: sent.append(request))
    with pytest.raises(ClientError) as ei:
        wrong.put_object(Bucket=store.name, Key="dir/ü <&>.txt", Body=b"data",
                         Metadata={"note": "<x & y>"})
    assert error_code(ei.value) == "SignatureDoesNotMatch" and status_of(ei.value) == 403
    error = ei.value.response["Error"]
    headers = {k.lower(): v.decode() if isinstance(v, bytes) else v
               for k, v in sent[-1].headers.items()}
    amz_date = headers["x-amz-date"]
    scope = f"{amz_date[:8]}/{REGION}/s3/aws4_request"
    authorization = headers["authorization"]
    signature = authorization.rsplit("Signature=", 1)[1]
    signed_headers = authorization.split("SignedHeaders=", 1)[1].split(",", 1)[0]
    sts, canonical = error["StringToSign"], error["CanonicalRequest"]

    assert error["AWSAccessKeyId"] == store.access_key
    assert error["SignatureProvided"] == signature
    assert sts.split("\n") == ["AWS4-HMAC-SHA256", amz_date, scope,
                               hashlib.sha256(canonical.encode()).hexdigest()]
    assert canonical.startswith(f"PUT\n/{store.name}/dir/%C3%BC%20%3C%26%3E.txt\n")
    lines = canonical.split("\n")
    assert lines[-2:] == [signed_headers, headers["x-amz-content-sha256"]]
    assert "x-amz-meta-note:<x & y>" in lines and f"x-amz-date:{amz_date}" in lines
    assert bytes.fromhex(error["StringToSignBytes"]) == sts.encode()
    assert bytes.fromhex(error["CanonicalRequestBytes"]) == canonical.encode()
    # The oracle: the client's own signature is the HMAC of this StringToSign.
    key = ("AWS4" + wrong_secret).encode()
    for part in (amz_date[:8], REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    assert hmac.new(key, sts.encode(), hashlib.sha256).hexdigest() == signature


def test_clock_skew(seeded: Store, monkeypatch: pytest.MonkeyPatch) -> None:
    store = seeded
    before = snapshot(store)
    s3 = store.boto()

    def shift(minutes: int) -> None:
        """Make botocore's signers (pure Python and CRT) sign with a clock off by minutes."""
        def fake_now(remove_tzinfo: bool = True) -> dt.datetime:
            now = dt.datetime.now(dt.UTC) + dt.timedelta(minutes=minutes)
            return now.replace(tzinfo=None) if remove_tzinfo else now
        monkeypatch.setattr(botocore.auth, "get_current_datetime", fake_now)
        monkeypatch.setattr(botocore.crt.auth, "get_current_datetime", fake_now)

    shift(-20)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=store.name, Key="keep/a")
    assert error_code(ei.value) == "RequestTimeTooSkewed" and status_of(ei.value) == 403
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="keep/a", Body=b"late")
    assert error_code(ei.value) == "RequestTimeTooSkewed"
    # 20 minutes ahead is refused too; 10 minutes is within the 15-minute window.
    shift(20)
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=store.name, Key="keep/a")
    assert error_code(ei.value) == "RequestTimeTooSkewed"
    shift(-10)
    assert s3.get_object(Bucket=store.name, Key="keep/a")["Body"].read() == b"alpha"
    monkeypatch.undo()
    # SigV2: a Date header 20 minutes old.
    v2 = boto_client(store.s3_url, store.access_key, store.secret_key, signature_version="s3")
    stale = (dt.datetime.now(dt.UTC) - dt.timedelta(minutes=20)).strftime(
        "%a, %d %b %Y %H:%M:%S GMT")
    monkeypatch.setattr(botocore.auth.HmacV1Auth, "_get_date", lambda self: stale)
    with pytest.raises(ClientError) as ei:
        v2.get_object(Bucket=store.name, Key="keep/a")
    assert error_code(ei.value) == "RequestTimeTooSkewed"
    monkeypatch.undo()
    assert v2.get_object(Bucket=store.name, Key="keep/a")["Body"].read() == b"alpha"
    assert snapshot(store) == before


def test_key_too_long(seeded: Store) -> None:
    store = seeded
    before = snapshot(store)
    s3 = store.boto()
    for key in ("k" * 1025, "é" * 513):
        with pytest.raises(ClientError) as ei:
            s3.put_object(Bucket=store.name, Key=key, Body=b"x")
        assert error_code(ei.value) == "KeyTooLongError" and status_of(ei.value) == 400
    r = signed(store, "GET", f"/{store.name}/{quote('k' * 1025)}")
    assert r.status_code == 400 and parse_error(r)["Code"] == "KeyTooLongError"
    assert snapshot(store) == before


def test_malformed_xml_bodies(seeded: Store) -> None:
    store = seeded
    before = snapshot(store)
    bodies = [b"<Delete><Object><Key>keep/a</Key>", b"not xml at all", b"",
              b"<Wrong><Object><Key>keep/a</Key></Object></Wrong>",
              b'<?xml version="1.0"?><!DOCTYPE d [<!ENTITY e "keep/a">]>'
              b"<Delete><Object><Key>&e;</Key></Object></Delete>"]
    for body in bodies:
        r = signed(store, "POST", f"/{store.name}?delete", body=body)
        assert r.status_code == 400, (body, r.text)
        assert parse_error(r)["Code"] == "MalformedXML", (body, r.text)
    for body in (b"<Tagging><TagSet><Tag><Key>x", b"<Nope/>"):
        r = signed(store, "PUT", f"/{store.name}/keep/a?tagging", body=body)
        assert r.status_code == 400 and parse_error(r)["Code"] == "MalformedXML", r.text
    r = signed(store, "PUT", f"/{store.name}/keep/a?acl", body=b"<AccessControlPolicy><Own")
    assert r.status_code == 400
    assert parse_error(r)["Code"] in ("MalformedXML", "MalformedACLError")
    r = signed(store, "PUT", f"/{store.name}?acl", body=b"<Other/>")
    assert r.status_code == 400
    assert parse_error(r)["Code"] in ("MalformedXML", "MalformedACLError")
    assert snapshot(store) == before
    assert store.boto().get_bucket_acl(Bucket=store.name)["Grants"][0]["Permission"] \
        == "FULL_CONTROL"
    assert httpx.get(f"{store.s3_url}/{store.name}/keep/a").status_code == 403


def test_bad_headers_change_nothing(seeded: Store) -> None:
    store = seeded
    before = snapshot(store)
    s3 = store.boto()
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="keep/a", Body=b"x", ACL="no-such-acl")
    assert error_code(ei.value) == "InvalidArgument"
    url = f"{store.s3_url}/{store.name}/keep/a"
    # An oversize header section.
    h = sign_v4("GET", url, store.access_key, store.secret_key)
    h["x-filler"] = "f" * (70 * 1024)
    r = httpx.get(url, headers=h)
    assert r.status_code in (400, 431)
    # A PUT whose body is shorter than its Content-Length, then the client hangs up.
    hp = sign_v4("PUT", url, store.access_key, store.secret_key, unsigned=True,
                 headers={"Content-Length": "100"})
    hp.update({"Content-Length": "100", "Host": store.host_port})
    port = int(store.host_port.split(":")[1])
    with socket.create_connection(("127.0.0.1", port), 10) as sock:
        sock.sendall((f"PUT /{store.name}/keep/a HTTP/1.1\r\n" + "".join(
            f"{k}: {v}\r\n" for k, v in hp.items()) + "\r\n").encode() + b"only ten b")
        sock.shutdown(socket.SHUT_WR)
        sock.recv(65536)
    deadline = time.monotonic() + 2
    while snapshot(store) != before and time.monotonic() < deadline:
        time.sleep(0.1)
    assert snapshot(store) == before

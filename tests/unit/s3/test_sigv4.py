"""SigV4 parsing/verification, with botocore (Python and CRT signers) as the oracle."""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import hmac
import io
import logging
from typing import Any
from urllib.parse import quote

import pytest
from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.crt.auth import CrtS3SigV4Auth, CrtS3SigV4QueryAuth
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from objectstore.s3.errors import S3Error
from objectstore.s3.request_view import RequestView
from objectstore.s3.sigv4 import (
    SigV4Auth,
    canonical_query,
    canonical_request,
    canonical_uri,
    detect_sigv4,
    parse_sigv4,
    signing_key,
    string_to_sign,
    verify_sigv4,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)
CREDS = Credentials(ACCESS_KEY, SECRET)
ENDPOINT = "http://s3.example.test:9000"

KEYS = [
    "plain.txt",
    "a b",
    "a+b",
    "100%",
    "100%25",
    "ünïcödé/ファイル",
    "a//b",
    "dir/",
    "../x",
    "a/./b",
    "~tilde_-.",
    "*!'()[]",
    "semi;colon,comma=eq&amp?q#h",
    "emoji 😀",
    "tab\tnew\nline",
    "%2F",
    " leading and trailing ",
]
QUERIES: list[list[tuple[str, str]]] = [
    [],
    [("list-type", "2"), ("prefix", "a/b"), ("delimiter", "/")],
    [("uploads", "")],
    [("acl", "")],
    [("prefix", "a b+c%d"), ("max-keys", "10"), ("start-after", "ü")],
    [("versionId", "3/L4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY+MTRCxf3vjVBH40Nr8X8gdRQBpUMLUo")],
    [("tagging", ""), ("versionId", "")],
    [("b", "2"), ("a", "1"), ("a", "0")],
]
SIGNERS = {
    "python-header": lambda region: S3SigV4Auth(CREDS, "s3", region),
    "python-query": lambda region: S3SigV4QueryAuth(CREDS, "s3", region, 900),
    "crt-header": lambda region: CrtS3SigV4Auth(CREDS, "s3", region),
    "crt-query": lambda region: CrtS3SigV4QueryAuth(CREDS, "s3", region, 900),
}


def object_url(key: str, bucket: str = "bucket", endpoint: str = ENDPOINT) -> str:
    """The URL botocore's REST serializer builds for a key."""
    return f"{endpoint}/{bucket}/{quote(key, safe='/~')}"


def query_string(params: list[tuple[str, str]]) -> str:
    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in params)


def signed_view(
    request_view_of: Any,
    botocore_clock: Any,
    signer: str,
    *,
    method: str = "GET",
    url: str,
    headers: dict[str, str] | None = None,
    body: bytes = b"",
    region: str = "lon1",
    when: dt.datetime = NOW,
) -> RequestView:
    request = AWSRequest(method, url, headers=dict(headers or {}), data=body)
    with botocore_clock(when):
        SIGNERS[signer](region).add_auth(request)
    return request_view_of(request)


def check(view: RequestView, secret: str = SECRET, now: dt.datetime = NOW,
          *, primary: bool = True) -> SigV4Auth:
    assert detect_sigv4(view)
    auth = parse_sigv4(view, now)
    key = verify_sigv4(view, auth, secret)
    assert key == signing_key(secret, auth.date, auth.region)
    # The AWS-normalised canonical request itself matches (not just the as-sent fallback).
    assert (_sign(auth, canonical_request(view, auth), secret) == auth.signature) == primary
    return auth


def assert_mismatch(view: RequestView, secret: str = SECRET) -> None:
    auth = parse_sigv4(view, NOW)
    with pytest.raises(S3Error) as info:
        verify_sigv4(view, auth, secret)
    assert info.value.code == "SignatureDoesNotMatch"
    assert info.value.status == 403


@pytest.mark.parametrize("signer", list(SIGNERS))
@pytest.mark.parametrize("key", KEYS)
def test_keys_verify(request_view_of: Any, botocore_clock: Any, signer: str, key: str) -> None:
    view = signed_view(request_view_of, botocore_clock, signer, url=object_url(key))
    auth = check(view)
    assert auth.presigned == signer.endswith("query")
    assert auth.access_key == ACCESS_KEY
    assert auth.scope == "20240501/lon1/s3/aws4_request"


@pytest.mark.parametrize("signer", list(SIGNERS))
@pytest.mark.parametrize("params", QUERIES, ids=lambda p: query_string(p) or "none")
def test_queries_verify(
    request_view_of: Any, botocore_clock: Any, signer: str, params: list[tuple[str, str]]
) -> None:
    qs = query_string(params).replace("uploads=", "uploads").replace("acl=", "acl")
    url = object_url("k") + ("?" + qs if qs else "")
    check(signed_view(request_view_of, botocore_clock, signer, url=url))


@pytest.mark.parametrize("signer", ["python-header", "crt-header"])
def test_awsrequest_params_encoded_with_plus(
    request_view_of: Any, botocore_clock: Any, signer: str
) -> None:
    # AWSRequest(params=...) puts "a+b" (form encoding) on the wire but signs "a%20b".
    request = AWSRequest("GET", ENDPOINT + "/bucket", params={"prefix": "a b", "x": "/"})
    with botocore_clock():
        SIGNERS[signer]("lon1").add_auth(request)
    view = request_view_of(request)
    assert "prefix=a+b" in view.raw_query
    check(view)


@pytest.mark.parametrize("region", ["LON1", "lon1", "us-east-1", "fr-par"])
@pytest.mark.parametrize("signer", list(SIGNERS))
def test_regions_and_headers(
    request_view_of: Any, botocore_clock: Any, region: str, signer: str
) -> None:
    headers = {
        "X-Amz-Meta-Spaces": "  several   internal   spaces  ",
        "Content-Type": "text/plain; charset=utf-8",
        "Range": "bytes=0-9",
        "X-Amz-Meta-Unicode": "ñ",
    }
    view = signed_view(
        request_view_of, botocore_clock, signer, url=object_url("k"), headers=headers, region=region
    )
    # botocore signs the text "ñ" as UTF-8 while the view holds it as sent in Latin-1 (one
    # byte): AWS signs the bytes as sent, so only the text fallback matches.
    assert check(view, primary=False).region == region
    del headers["X-Amz-Meta-Unicode"]
    view = signed_view(
        request_view_of, botocore_clock, signer, url=object_url("k"), headers=headers, region=region
    )
    assert check(view).region == region


@pytest.mark.parametrize("signer", ["python-header", "crt-header"])
def test_put_with_body(request_view_of: Any, botocore_clock: Any, signer: str) -> None:
    body = b"hello world" * 10
    view = signed_view(
        request_view_of, botocore_clock, signer, method="PUT", url=object_url("k"), body=body
    )
    auth = check(view)
    assert auth.payload_hash == hashlib.sha256(body).hexdigest()


@pytest.mark.parametrize("signer", list(SIGNERS))
@pytest.mark.parametrize("key", ["a b/c+d", "x"])
def test_single_byte_changes_are_rejected(
    request_view_of: Any, botocore_clock: Any, signer: str, key: str
) -> None:
    url = object_url(key) + "?list-type=2&prefix=ab"
    view = signed_view(
        request_view_of, botocore_clock, signer, url=url, headers={"X-Amz-Meta-A": "value"}
    )
    check(view)
    path = view.raw_path
    assert_mismatch(dataclasses.replace(view, raw_path=path[:-1] + chr(ord(path[-1]) ^ 1)))
    assert_mismatch(dataclasses.replace(view, raw_path=path + "/"))
    assert_mismatch(dataclasses.replace(view, raw_query=view.raw_query.replace("=ab", "=ac")))
    assert_mismatch(dataclasses.replace(view, raw_query=view.raw_query + "&acl"))
    assert_mismatch(dataclasses.replace(view, method="PUT"))
    headers = dict(view.headers)
    headers["x-amz-meta-a"] = "valuf"
    assert_mismatch(dataclasses.replace(view, headers=headers))
    headers = dict(view.headers)
    headers["host"] = "s3.example.test:9001"
    assert_mismatch(dataclasses.replace(view, headers=headers, host=headers["host"]))
    assert_mismatch(view, secret=SECRET[:-1] + "Z")


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    key=st.text(min_size=1, max_size=30),
    params=st.lists(st.tuples(st.text(max_size=8), st.text(max_size=8)), max_size=4),
    signer=st.sampled_from(list(SIGNERS)),
)
def test_property_any_key_and_query(
    request_view_of: Any, botocore_clock: Any, key: str, params: list[tuple[str, str]], signer: str
) -> None:
    params = [(k, v) for k, v in params if k]
    qs = query_string(params)
    url = object_url(key) + ("?" + qs if qs else "")
    check(signed_view(request_view_of, botocore_clock, signer, url=url))


# --- real boto3 clients (CRT signer) ------------------------------------------------------


@pytest.mark.parametrize("endpoint", ["http://s3.example.test:9000", "https://s3.example.test"])
def test_boto3_client_operations(
    s3_capture: Any, request_view_of: Any, botocore_clock: Any, endpoint: str
) -> None:
    cap = s3_capture(endpoint)
    calls: list[tuple[str, dict[str, Any]]] = [
        ("put_object", {"Bucket": "b", "Key": "dir/a b+ü%.txt", "Body": b"data"}),
        ("put_object", {"Bucket": "b", "Key": "stream", "Body": io.BytesIO(b"x" * 5000)}),
        ("get_object", {"Bucket": "b", "Key": "k//x/", "Range": "bytes=1-2"}),
        ("list_objects_v2", {"Bucket": "b", "Prefix": "a b/", "Delimiter": "/"}),
        ("create_multipart_upload", {"Bucket": "b", "Key": "mp ü"}),
        ("upload_part", {"Bucket": "b", "Key": "k", "UploadId": "u/+=", "PartNumber": 2,
                         "Body": b"p"}),
        ("put_object_acl", {"Bucket": "b", "Key": "k", "ACL": "public-read"}),
        ("delete_objects", {"Bucket": "b", "Delete": {"Objects": [{"Key": "x"}]}}),
        ("copy_object", {"Bucket": "b", "Key": "k2", "CopySource": "b/a b?versionId=1"}),
        ("head_bucket", {"Bucket": "b"}),
        ("list_buckets", {}),
    ]  # fmt: skip
    for operation, params in calls:
        view = request_view_of(cap.call(operation, **params))
        auth = check(view)
        assert not auth.presigned


def test_boto3_presigned_urls(s3_capture: Any, botocore_clock: Any) -> None:
    cap = s3_capture(ENDPOINT)
    with botocore_clock():
        get_url = cap.client.generate_presigned_url(
            "get_object",
            Params={"Bucket": "b", "Key": "a b/ü", "ResponseContentType": "text/plain"},
            ExpiresIn=600,
        )
        put_url = cap.client.generate_presigned_url(
            "put_object",
            Params={"Bucket": "b", "Key": "k", "ContentType": "text/plain", "ACL": "private"},
            ExpiresIn=600,
        )
    path, _, query = get_url.removeprefix(ENDPOINT).partition("?")
    host = "s3.example.test:9000"
    view = RequestView("GET", path, query, {"host": host}, host)
    auth = check(view)
    assert (auth.presigned, auth.expires, auth.payload_hash) == (True, 600, "UNSIGNED-PAYLOAD")
    # Expiry is relative to X-Amz-Date.
    check(view, now=NOW + dt.timedelta(seconds=600))
    with pytest.raises(S3Error) as info:
        parse_sigv4(view, NOW + dt.timedelta(seconds=601))
    assert (info.value.code, info.value.message) == ("AccessDenied", "Request has expired")

    path, _, query = put_url.removeprefix(ENDPOINT).partition("?")
    headers = {"host": host, "content-type": "text/plain", "x-amz-acl": "private"}
    check(RequestView("PUT", path, query, headers, host))
    # A header the presigner did not sign is refused (S3's HeadersNotSigned).
    with pytest.raises(S3Error) as info:
        parse_sigv4(RequestView("PUT", path, query, {**headers, "x-amz-meta-x": "1"}, host), NOW)
    assert info.value.code == "AccessDenied"
    # Changing a signed header value breaks the signature.
    assert_mismatch(RequestView("PUT", path, query, {**headers, "x-amz-acl": "public-read"}, host))


# --- AWS documentation examples ----------------------------------------------------------

AWS_SECRET = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
AWS_HOST = "examplebucket.s3.amazonaws.com"


def test_signing_key_aws_example() -> None:
    key = signing_key("wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", "20120215", "us-east-1", "iam")
    assert key.hex() == "f4780e2d9f65fa895f9c67b32ce1baf0b0d8a43505a000a1a9e090d414db404d"


def test_aws_doc_get_object_example() -> None:
    empty = hashlib.sha256(b"").hexdigest()
    headers = {
        "host": AWS_HOST,
        "range": "bytes=0-9",
        "x-amz-content-sha256": empty,
        "x-amz-date": "20130524T000000Z",
        "authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=host;range;x-amz-content-sha256;x-amz-date,"
        "Signature=f0e8bdb87c964420e857bd35b5d6ed310bd44f0170aba48dd91039c6036bdb41",
    }
    view = RequestView("GET", "/test.txt", "", headers, AWS_HOST)
    when = dt.datetime(2013, 5, 24, 0, 5, tzinfo=dt.UTC)
    auth = parse_sigv4(view, when)
    assert canonical_request(view, auth).splitlines()[:3] == ["GET", "/test.txt", ""]
    verify_sigv4(view, auth, AWS_SECRET)


def test_aws_doc_presigned_example() -> None:
    query = (
        "X-Amz-Algorithm=AWS4-HMAC-SHA256"
        "&X-Amz-Credential=AKIAIOSFODNN7EXAMPLE%2F20130524%2Fus-east-1%2Fs3%2Faws4_request"
        "&X-Amz-Date=20130524T000000Z&X-Amz-Expires=86400&X-Amz-SignedHeaders=host"
        "&X-Amz-Signature=aeeed9bbccd4d02ee5c0109b86d86835f995330da4c265957d157751f604d404"
    )
    view = RequestView("GET", "/test.txt", query, {"host": AWS_HOST}, AWS_HOST)
    auth = parse_sigv4(view, dt.datetime(2013, 5, 24, 1, tzinfo=dt.UTC))
    assert auth.expires == 86400
    sts = string_to_sign(auth, canonical_request(view, auth))
    scope = "20130524/us-east-1/s3/aws4_request"
    assert sts.startswith(f"AWS4-HMAC-SHA256\n20130524T000000Z\n{scope}\n")
    verify_sigv4(view, auth, AWS_SECRET)


# --- canonicalisation details -------------------------------------------------------------


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("/bucket/a%20b", "/bucket/a%20b"),
        ("/bucket/a b", "/bucket/a%20b"),
        ("/bucket/a+b", "/bucket/a%2Bb"),
        ("/bucket/a%2bb", "/bucket/a%2Bb"),
        ("/bucket/a%2Fb", "/bucket/a%2Fb"),
        ("/bucket/%7Etilde", "/bucket/~tilde"),
        ("/bucket/a//b/../c/./", "/bucket/a//b/../c/./"),
        ("/bucket/%C3%BC", "/bucket/%C3%BC"),
        ("/bucket/ü", "/bucket/%C3%BC"),
        ("", "/"),
    ],
)
def test_canonical_uri(raw: str, expected: str) -> None:
    assert canonical_uri(raw) == expected


def test_canonical_query() -> None:
    raw = "prefix=a%2Fb&list-type=2&uploads&b=&a=2&a=1&X-Amz-Signature=zzz&sp=a+b&t=%7e"
    expected = "a=1&a=2&b=&list-type=2&prefix=a%2Fb&sp=a%20b&t=~&uploads="
    assert canonical_query(raw) == expected


def test_raw_signed_path_fallback() -> None:
    """A client that signs its (non-AWS-encoded) path exactly as sent is accepted too."""
    auth = _header_auth(signed=("host", "x-amz-content-sha256", "x-amz-date"))
    headers = _headers_for(auth)
    view = RequestView("GET", "/bucket/a!b(c)", "q=a+b", headers, "h")
    canonical = "\n".join(
        ["GET", "/bucket/a!b(c)", "q=a+b", "host:h\nx-amz-content-sha256:UNSIGNED-PAYLOAD\n"
         "x-amz-date:20240501T120000Z\n", "host;x-amz-content-sha256;x-amz-date",
         "UNSIGNED-PAYLOAD"]
    )  # fmt: skip
    signature = _sign(auth, canonical)
    view = _with_signature(view, auth, signature)
    verify_sigv4(view, parse_sigv4(view, NOW), SECRET)


def _header_auth(signed: tuple[str, ...]) -> SigV4Auth:
    return SigV4Auth(
        access_key=ACCESS_KEY, date="20240501", region="lon1", service="s3",
        signed_headers=signed, signature="0" * 64, amz_date="20240501T120000Z",
        request_time=NOW, presigned=False, expires=None, payload_hash="UNSIGNED-PAYLOAD",
    )  # fmt: skip


def _headers_for(auth: SigV4Auth) -> dict[str, str]:
    return {"host": "h", "x-amz-content-sha256": auth.payload_hash, "x-amz-date": auth.amz_date}


def _sign(auth: SigV4Auth, canonical: str, secret: str = SECRET) -> str:
    key = signing_key(secret, auth.date, auth.region)
    return hmac.new(key, string_to_sign(auth, canonical).encode(), hashlib.sha256).hexdigest()


def _with_signature(view: RequestView, auth: SigV4Auth, signature: str) -> RequestView:
    authorization = (
        f"AWS4-HMAC-SHA256 Credential={ACCESS_KEY}/{auth.scope}, "
        f"SignedHeaders={';'.join(auth.signed_headers)}, Signature={signature}"
    )
    return dataclasses.replace(view, headers={**view.headers, "authorization": authorization})


# --- parse errors -------------------------------------------------------------------------


def _valid_header_view() -> RequestView:
    auth = _header_auth(("host", "x-amz-content-sha256", "x-amz-date"))
    return _with_signature(RequestView("GET", "/b/k", "", _headers_for(auth), "h"), auth, "a" * 64)


def _with_headers(view: RequestView, **changes: str | None) -> RequestView:
    headers = dict(view.headers)
    for name, value in changes.items():
        name = name.replace("_", "-")
        if value is None:
            headers.pop(name, None)
        else:
            headers[name] = value
    return dataclasses.replace(view, headers=headers)


def _error(view: RequestView, now: dt.datetime = NOW) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse_sigv4(view, now)
    return info.value


AUTH_PREFIX = "AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/"
TAIL = ", SignedHeaders=host;x-amz-content-sha256;x-amz-date, Signature=" + "a" * 64


@pytest.mark.parametrize(
    ("authorization", "code"),
    [
        (AUTH_PREFIX + "20240501/lon1/s3/aws4_request", "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "20240501/lon1/ec2/aws4_request" + TAIL, "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "20240502/lon1/s3/aws4_request" + TAIL, "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "2024051/lon1/s3/aws4_request" + TAIL, "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "20240501/lon1/s3/aws5_request" + TAIL, "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "20240501/s3/aws4_request" + TAIL, "AuthorizationHeaderMalformed"),
        ("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/20240501/lon1/s3/aws4_request, "
         "SignedHeaders=x-amz-date;x-amz-content-sha256, Signature=" + "a" * 64,
         "AuthorizationHeaderMalformed"),
        (AUTH_PREFIX + "20240501/lon1/s3/aws4_request" + TAIL[:-1] + "g",
         "AuthorizationHeaderMalformed"),
        ("AWS4-HMAC-SHA256X Credential=x", "AuthorizationHeaderMalformed"),
    ],
)  # fmt: skip
def test_malformed_authorization(authorization: str, code: str) -> None:
    view = _with_headers(_valid_header_view(), authorization=authorization)
    error = _error(view)
    assert (error.code, error.status) == (code, 400)


def test_valid_header_view_parses() -> None:
    auth = parse_sigv4(_valid_header_view(), NOW)
    assert auth.signed_headers == ("host", "x-amz-content-sha256", "x-amz-date")
    assert auth.request_time == NOW
    assert not auth.is_streaming


def test_header_date_and_skew() -> None:
    view = _valid_header_view()
    assert _error(_with_headers(view, x_amz_date=None)).code == "AccessDenied"
    assert _error(_with_headers(view, x_amz_date="2024-05-01T12:00:00Z")).code == "AccessDenied"
    skewed = _error(view, NOW + dt.timedelta(minutes=15, seconds=1))
    assert (skewed.code, skewed.status) == ("RequestTimeTooSkewed", 403)
    assert _error(view, NOW - dt.timedelta(minutes=16)).code == "RequestTimeTooSkewed"
    parse_sigv4(view, NOW + dt.timedelta(minutes=15))
    # naive "now" is treated as UTC
    parse_sigv4(view, NOW.replace(tzinfo=None))
    # The Date header may stand in for x-amz-date.
    dated = _with_headers(view, x_amz_date=None, date="Wed, 01 May 2024 12:00:00 GMT")
    assert parse_sigv4(dated, NOW).amz_date == "20240501T120000Z"


@pytest.mark.parametrize("signer", ["python-header", "crt-header"])
def test_date_header_form(request_view_of: Any, botocore_clock: Any, signer: str) -> None:
    # botocore replaces a Date header with the signing time and then does not add x-amz-date.
    view = signed_view(
        request_view_of, botocore_clock, signer, url=object_url("k"),
        headers={"Date": "Mon, 01 Jan 2001 00:00:00 GMT"},
    )  # fmt: skip
    if "x-amz-date" not in view.headers:
        assert "date" in check(view).signed_headers
    else:
        check(view)


def test_content_sha256_required_and_validated() -> None:
    view = _valid_header_view()
    missing = _error(_with_headers(view, x_amz_content_sha256=None))
    assert (missing.code, missing.status) == ("MissingSecurityHeader", 400)
    bogus = _error(_with_headers(view, x_amz_content_sha256="STREAMING-BOGUS"))
    assert (bogus.code, bogus.status) == ("InvalidArgument", 400)
    assert _error(_with_headers(view, x_amz_content_sha256="ab" * 31)).code == "InvalidArgument"
    for value in (
        "a" * 64,
        "UNSIGNED-PAYLOAD",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
        "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
    ):
        auth = parse_sigv4(_with_headers(view, x_amz_content_sha256=value), NOW)
        assert auth.payload_hash == value
    signed = parse_sigv4(
        _with_headers(view, x_amz_content_sha256="STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"), NOW
    )
    assert signed.is_streaming and signed.is_signed_streaming and signed.has_trailer


def test_unsigned_amz_header_rejected() -> None:
    error = _error(_with_headers(_valid_header_view(), x_amz_acl="public-read"))
    assert error.code == "AccessDenied"
    assert "x-amz-acl" in error.extra["HeadersNotSigned"]


def test_both_mechanisms_rejected() -> None:
    view = dataclasses.replace(_valid_header_view(), raw_query="X-Amz-Algorithm=AWS4-HMAC-SHA256")
    assert _error(view).code == "InvalidArgument"


def test_not_sigv4() -> None:
    view = RequestView("GET", "/", "", {"host": "h"}, "h")
    assert not detect_sigv4(view)
    assert _error(view).code == "AccessDenied"
    v2 = RequestView("GET", "/", "", {"host": "h", "authorization": "AWS AK:sig"}, "h")
    assert not detect_sigv4(v2)


def _presigned_query(**overrides: str | None) -> str:
    params: dict[str, str | None] = {
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256",
        "X-Amz-Credential": "AKIDEXAMPLE/20240501/lon1/s3/aws4_request",
        "X-Amz-Date": "20240501T120000Z",
        "X-Amz-Expires": "3600",
        "X-Amz-SignedHeaders": "host",
        "X-Amz-Signature": "b" * 64,
    }
    params.update(overrides)
    return "&".join(f"{k}={quote(v, safe='')}" for k, v in params.items() if v is not None)


def _presigned(**overrides: str | None) -> RequestView:
    return RequestView("GET", "/b/k", _presigned_query(**overrides), {"host": "h"}, "h")


@pytest.mark.parametrize(
    "overrides",
    [
        {"X-Amz-Expires": "0"},
        {"X-Amz-Expires": "604801"},
        {"X-Amz-Expires": "-5"},
        {"X-Amz-Expires": "abc"},
        {"X-Amz-Expires": None},
        {"X-Amz-Signature": None},
        {"X-Amz-Signature": "xyz"},
        {"X-Amz-Algorithm": "AWS4-HMAC-SHA1"},
        {"X-Amz-Credential": "AKIDEXAMPLE/20240501/lon1/sqs/aws4_request"},
        {"X-Amz-Credential": "AKIDEXAMPLE/20240430/lon1/s3/aws4_request"},
        {"X-Amz-Date": "20240501T1200Z"},
        {"X-Amz-SignedHeaders": "x-amz-date"},
    ],
)
def test_presigned_parameter_errors(overrides: dict[str, str | None]) -> None:
    error = _error(_presigned(**overrides))
    assert (error.code, error.status) == ("AuthorizationQueryParametersError", 400)


def test_presigned_time_window() -> None:
    assert parse_sigv4(_presigned(**{"X-Amz-Expires": "604800"}), NOW).expires == 604800
    parse_sigv4(_presigned(), NOW + dt.timedelta(seconds=3600))
    expired = _error(_presigned(), NOW + dt.timedelta(seconds=3601))
    assert (expired.code, expired.message, expired.status) == (
        "AccessDenied",
        "Request has expired",
        403,
    )
    parse_sigv4(_presigned(), NOW - dt.timedelta(minutes=15))  # slightly fast client clock
    future = _error(_presigned(), NOW - dt.timedelta(minutes=16))
    assert future.code == "RequestTimeTooSkewed"


def test_presigned_payload_hash_from_query() -> None:
    view = RequestView(
        "PUT", "/b/k", _presigned_query() + "&X-Amz-Content-Sha256=" + "c" * 64, {"host": "h"}, "h"
    )
    assert parse_sigv4(view, NOW).payload_hash == "c" * 64


def test_signature_details_on_mismatch() -> None:
    view = _valid_header_view()
    with pytest.raises(S3Error) as info:
        verify_sigv4(view, parse_sigv4(view, NOW), SECRET)
    assert (info.value.code, info.value.status) == ("SignatureDoesNotMatch", 403)
    assert info.value.extra["CanonicalRequest"].startswith("GET\n/b/k\n")
    assert info.value.extra["StringToSign"].startswith("AWS4-HMAC-SHA256\n")


def _botocore_logged(records: list[logging.LogRecord]) -> dict[str, str]:
    """What botocore's signer logs at DEBUG: "CanonicalRequest:\n...", "StringToSign:\n..."."""
    logged = {}
    for record in records:
        name, sep, value = record.getMessage().partition(":\n")
        if sep:
            logged[name] = value
    return logged


@pytest.mark.parametrize("signer", ["python-header", "python-query"])
def test_mismatch_details_are_what_botocore_signed(
    request_view_of: Any, botocore_clock: Any, caplog: pytest.LogCaptureFixture, signer: str
) -> None:
    """A request signed with the wrong secret: the reply shows the client's own canonical
    request and string to sign (so its user can diff them), in AWS's elements and order."""
    wrong = Credentials(ACCESS_KEY, "not-the-secret")
    signers = {"python-header": S3SigV4Auth(wrong, "s3", "lon1"),
               "python-query": S3SigV4QueryAuth(wrong, "s3", "lon1", 900)}
    url = object_url("dir/ünï <&> ~.txt") + "?tagging&x=a%20b"
    request = AWSRequest("PUT", url, headers={"x-amz-meta-note": "<x & y>"}, data=b"")
    with caplog.at_level(logging.DEBUG, logger="botocore.auth"), botocore_clock(NOW):
        signers[signer].add_auth(request)
    logged = _botocore_logged(caplog.records)
    view = request_view_of(request)
    auth = parse_sigv4(view, NOW)
    with pytest.raises(S3Error) as info:
        verify_sigv4(view, auth, SECRET)
    extra = info.value.extra
    assert list(extra) == ["AWSAccessKeyId", "StringToSign", "SignatureProvided",
                           "StringToSignBytes", "CanonicalRequest", "CanonicalRequestBytes"]
    assert extra["AWSAccessKeyId"] == ACCESS_KEY
    assert extra["SignatureProvided"] == auth.signature
    assert extra["CanonicalRequest"] == logged["CanonicalRequest"]
    assert extra["StringToSign"] == logged["StringToSign"]
    assert extra["StringToSign"].split("\n")[:3] == [
        "AWS4-HMAC-SHA256", "20240501T120000Z", "20240501/lon1/s3/aws4_request"]
    path = "/bucket/dir/%C3%BCn%C3%AF%20%3C%26%3E%20~.txt"
    assert extra["CanonicalRequest"].startswith(f"PUT\n{path}\n")
    for name in ("StringToSign", "CanonicalRequest"):
        assert bytes.fromhex(extra[name + "Bytes"]) == extra[name].encode()
        assert extra[name + "Bytes"][:11] == " ".join(f"{b:02x}" for b in extra[name][:4].encode())


@settings(max_examples=100, deadline=None)
@given(
    value=st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126), max_size=30),
    signer=st.sampled_from(list(SIGNERS)),
)
def test_property_header_values(
    request_view_of: Any, botocore_clock: Any, value: str, signer: str
) -> None:
    headers = {"X-Amz-Meta-V": value, "Content-Type": value or "x"}
    check(signed_view(request_view_of, botocore_clock, signer, url=object_url("k"),
                      headers=headers))  # fmt: skip


# --- RequestView / error helpers ----------------------------------------------------------


def test_request_view_helpers() -> None:
    view = RequestView(
        "GET", "/b", "prefix=a%2Fb+c&uploads&x=1&x=2&=empty", {"content-type": "t"}, "h"
    )
    assert view.query == [("prefix", "a/b c"), ("uploads", ""), ("x", "1"), ("x", "2"),
                          ("", "empty")]  # fmt: skip
    assert view.query_value("x") == "1"
    assert view.query_value("missing") is None
    assert view.has_query("uploads") and not view.has_query("acl")
    assert view.header("Content-Type") == "t"
    assert view.header("missing", "d") == "d"



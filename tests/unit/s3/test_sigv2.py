"""SigV2 (HMAC-SHA1) parsing/verification, with botocore and s3cmd as the oracles."""

from __future__ import annotations

import base64
import dataclasses
import datetime as dt
import hashlib
import hmac
import logging
import time
from collections.abc import Iterator
from email.utils import formatdate
from typing import Any
from urllib.parse import quote, urlsplit

import pytest
from botocore.auth import HmacV1Auth, HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from hypothesis import given, settings
from hypothesis import strategies as st

from objectstore.s3.errors import S3Error
from objectstore.s3.request_view import RequestView
from objectstore.s3.sigv2 import (
    SigV2Auth,
    canonical_resource,
    detect_sigv2,
    parse_sigv2,
    string_to_sign_v2,
    verify_sigv2,
)

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
CREDS = Credentials(ACCESS_KEY, SECRET)
ENDPOINT = "http://s3.example.test:9000"
KEYS = ["k", "a b", "a+b", "100%", "ünï/cödé", "a//b", "dir/", "../x", "~t", "*!'()", "%2F"]
QUERIES = [
    "",
    "acl",
    "uploads",
    "versionId=3%2FL4kq%2Bx%3D",
    "uploadId=abc&partNumber=3",
    "tagging&versionId=",
    "list-type=2&prefix=a%2Fb&max-keys=5",
    "response-content-type=text%2Fplain&response-content-disposition=attachment%3B%20f%3D1",
    "delete",
    "versioning&foo=bar",
]


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def url_for(key: str, query: str = "") -> str:
    return f"{ENDPOINT}/bucket/{quote(key, safe='/~')}" + (f"?{query}" if query else "")


def signed(
    request_view_of: Any,
    url: str,
    *,
    presigned: bool = False,
    method: str = "GET",
    headers: dict[str, str] | None = None,
    auth_path: str | None = None,
) -> RequestView:
    request = AWSRequest(method, url, headers=dict(headers or {}), auth_path=auth_path)
    (HmacV1QueryAuth(CREDS, 900) if presigned else HmacV1Auth(CREDS)).add_auth(request)
    return request_view_of(request)


def check(view: RequestView, secret: str = SECRET, **kwargs: Any) -> SigV2Auth:
    assert detect_sigv2(view)
    auth = parse_sigv2(view, now())
    verify_sigv2(view, auth, secret, **kwargs)
    return auth


def assert_mismatch(view: RequestView, secret: str = SECRET, **kwargs: Any) -> None:
    auth = parse_sigv2(view, now())
    with pytest.raises(S3Error) as info:
        verify_sigv2(view, auth, secret, **kwargs)
    assert (info.value.code, info.value.status) == ("SignatureDoesNotMatch", 403)


@pytest.mark.parametrize("presigned", [False, True])
def test_mismatch_details_are_what_botocore_signed(
    request_view_of: Any, caplog: pytest.LogCaptureFixture, presigned: bool
) -> None:
    """Signed with the wrong secret: the reply carries botocore's own string to sign."""
    wrong = Credentials(ACCESS_KEY, "not-the-secret")
    request = AWSRequest("PUT", url_for("a <&> b", "acl"), headers={"x-amz-meta-n": "<v>"})
    with caplog.at_level(logging.DEBUG, logger="botocore.auth"):
        (HmacV1QueryAuth(wrong, 900) if presigned else HmacV1Auth(wrong)).add_auth(request)
    logged = [r.getMessage().partition(":\n")[2] for r in caplog.records
              if r.getMessage().startswith("StringToSign:\n")]
    view = request_view_of(request)
    auth = parse_sigv2(view, now())
    with pytest.raises(S3Error) as info:
        verify_sigv2(view, auth, SECRET)
    extra = info.value.extra
    assert list(extra) == ["AWSAccessKeyId", "StringToSign", "SignatureProvided",
                           "StringToSignBytes"]
    assert extra["AWSAccessKeyId"] == ACCESS_KEY
    assert extra["StringToSign"] == logged[-1]
    assert extra["StringToSign"].startswith("PUT\n")
    assert extra["SignatureProvided"] == auth.signature
    assert bytes.fromhex(extra["StringToSignBytes"]) == extra["StringToSign"].encode()


@pytest.mark.parametrize("presigned", [False, True])
@pytest.mark.parametrize("key", KEYS)
def test_botocore_keys(request_view_of: Any, key: str, presigned: bool) -> None:
    auth = check(signed(request_view_of, url_for(key), presigned=presigned))
    assert auth.access_key == ACCESS_KEY
    assert auth.presigned == presigned
    assert (auth.expires is not None) == presigned


@pytest.mark.parametrize("presigned", [False, True])
@pytest.mark.parametrize("query", QUERIES)
def test_botocore_queries(request_view_of: Any, query: str, presigned: bool) -> None:
    check(signed(request_view_of, url_for("k", query), presigned=presigned))


@pytest.mark.parametrize("presigned", [False, True])
def test_botocore_headers(request_view_of: Any, presigned: bool) -> None:
    headers = {
        "Content-Type": "text/plain",
        "Content-MD5": base64.b64encode(hashlib.md5(b"x").digest()).decode(),
        "X-Amz-Meta-Spaces": "  a   b  ",
        "X-Amz-Acl": "public-read",
        "X-Amz-Meta-Other": "1",
    }
    view = signed(request_view_of, url_for("k", "acl"), method="PUT", headers=headers,
                  presigned=presigned)  # fmt: skip
    check(view)
    changed = dict(view.headers)
    changed["content-type"] = "text/html"
    assert_mismatch(dataclasses.replace(view, headers=changed))
    changed = dict(view.headers)
    changed["x-amz-acl"] = "private"
    assert_mismatch(dataclasses.replace(view, headers=changed))


def test_presigned_amz_params_count_as_headers(request_view_of: Any) -> None:
    # botocore copies x-amz-* headers into the presigned URL; the URL alone must verify.
    view = signed(request_view_of, url_for("k"), presigned=True, headers={"X-Amz-Acl": "private"})
    bare = {k: v for k, v in view.headers.items() if not k.startswith("x-amz-")}
    check(dataclasses.replace(view, headers=bare))


@pytest.mark.parametrize("presigned", [False, True])
def test_single_byte_changes_rejected(request_view_of: Any, presigned: bool) -> None:
    view = signed(request_view_of, url_for("a b/c", "versionId=v1&uploads"), presigned=presigned)
    check(view)
    path = view.raw_path
    assert_mismatch(dataclasses.replace(view, raw_path=path[:-1] + "d"))
    assert_mismatch(dataclasses.replace(view, raw_query=view.raw_query.replace("=v1", "=v2")))
    assert_mismatch(dataclasses.replace(view, raw_query=view.raw_query + "&acl"))
    assert_mismatch(dataclasses.replace(view, method="DELETE"))
    assert_mismatch(view, secret=SECRET[:-1] + "x")
    # Non sub-resource query parameters are not signed in V2.
    check(dataclasses.replace(view, raw_query=view.raw_query + "&max-keys=3"))


def test_virtual_hosted_style(request_view_of: Any) -> None:
    request = AWSRequest("GET", "http://bucket.s3.example.test/a%20b?acl")
    request.auth_path = "/bucket/a%20b"
    HmacV1Auth(CREDS).add_auth(request)
    view = request_view_of(request)
    assert view.raw_path == "/a%20b"
    check(view, virtual_bucket="bucket")
    assert_mismatch(view)
    assert canonical_resource(view, "bucket") == "/bucket/a%20b?acl"


def test_amz_date_replaces_date(request_view_of: Any) -> None:
    stamp = formatdate(usegmt=True)
    # botocore signs the Date header even with x-amz-date: accepted.
    view = signed(request_view_of, url_for("k"), headers={"x-amz-date": stamp})
    assert "date" in view.headers and "x-amz-date" in view.headers
    check(view)
    # The spec form: Date field empty, x-amz-date in the amz headers.
    headers = {"host": "h", "x-amz-date": stamp}
    auth = SigV2Auth(ACCESS_KEY, "", presigned=False, expires=None)
    base = RequestView("GET", "/bucket/k", "", headers, "h")
    sts = string_to_sign_v2(base, auth)
    assert sts == f"GET\n\n\n\nx-amz-date:{stamp}\n/bucket/k"
    signature = base64.b64encode(
        hmac.new(SECRET.encode(), sts.encode(), hashlib.sha1).digest()
    ).decode()
    view = dataclasses.replace(
        base, headers={**headers, "authorization": f"AWS {ACCESS_KEY}:{signature}"}
    )
    check(view)


@settings(max_examples=100, deadline=None)
@given(
    key=st.text(min_size=1, max_size=20),
    sub=st.sampled_from(["", "acl", "versionId", "uploadId", "response-expires"]),
    value=st.text(max_size=10),
    presigned=st.booleans(),
)
def test_property_botocore(
    request_view_of: Any, key: str, sub: str, value: str, presigned: bool
) -> None:
    query = f"{sub}={quote(value, safe='')}" if sub and value else sub
    check(signed(request_view_of, url_for(key, query), presigned=presigned))


# --- s3cmd as a second oracle -------------------------------------------------------------


@pytest.fixture
def s3cmd_config() -> Iterator[Any]:
    from S3.Config import Config

    config = Config()
    saved = {k: getattr(config, k) for k in ("access_key", "secret_key", "host_base")}
    config.access_key, config.secret_key, config.host_base = ACCESS_KEY, SECRET, "s3.test"
    yield config
    for name, value in saved.items():
        setattr(config, name, value)


@pytest.mark.parametrize("key", KEYS)
@pytest.mark.parametrize(
    "params", [{}, {"acl": None}, {"versionId": "a/b+c"}, {"uploadId": "x y", "partNumber": "2"}]
)
def test_s3cmd_header_signing(s3cmd_config: Any, key: str, params: dict[str, str | None]) -> None:
    from S3.BaseUtils import s3_quote
    from S3.Crypto import format_param_str, sign_request_v2
    from S3.SortedDict import SortedDict

    headers = SortedDict(
        {"x-amz-date": formatdate(usegmt=True), "content-type": "application/octet-stream",
         "x-amz-meta-s3cmd-attrs": "uid:0/gid:0"},
        ignore_case=True,
    )  # fmt: skip
    signed_headers = sign_request_v2("PUT", "/bucket/" + key, params, headers)
    path = "/bucket/" + s3_quote(key, quote_backslashes=False, unicode_output=True)
    query = format_param_str(params)[1:]
    lowered = {k.lower(): v for k, v in signed_headers.items()}
    check(RequestView("PUT", path, query, {**lowered, "host": "s3.test"}, "s3.test"))


def test_s3cmd_signed_url(s3cmd_config: Any) -> None:
    from S3.Crypto import sign_url_base_v2

    url = sign_url_base_v2(bucket="bucket", object="a b/ü", expiry=int(time.time()) + 60)
    parts = urlsplit(url)
    view = RequestView("GET", parts.path, parts.query, {"host": parts.netloc}, parts.netloc)
    # s3cmd uses virtual-hosted URLs for DNS-compatible bucket names.
    bucket = "bucket" if parts.netloc.startswith("bucket.") else None
    check(view, virtual_bucket=bucket)


# --- parse errors -------------------------------------------------------------------------


def _header_view(**headers: str) -> RequestView:
    base = {"host": "h", "date": formatdate(usegmt=True), "authorization": "AWS AK:c2ln"}
    base.update({k.replace("_", "-"): v for k, v in headers.items()})
    return RequestView("GET", "/b/k", "", {k: v for k, v in base.items() if v}, "h")


def _error(view: RequestView, when: dt.datetime | None = None) -> S3Error:
    with pytest.raises(S3Error) as info:
        parse_sigv2(view, when or now())
    return info.value


def test_header_parse() -> None:
    auth = parse_sigv2(_header_view(), now())
    assert (auth.access_key, auth.signature, auth.presigned) == ("AK", "c2ln", False)
    assert _error(_header_view(authorization="AWS nocolon")).code == "InvalidArgument"
    assert _error(_header_view(authorization="AWS :sig")).code == "InvalidArgument"
    assert _error(_header_view(date="")).code == "AccessDenied"
    assert _error(_header_view(date="garbage")).code == "AccessDenied"
    old = formatdate(time.time() - 16 * 60, usegmt=True)
    error = _error(_header_view(date=old))
    assert (error.code, error.status) == ("RequestTimeTooSkewed", 403)
    # x-amz-date wins over Date
    parse_sigv2(_header_view(date=old, x_amz_date=formatdate(usegmt=True)), now())
    assert _error(_header_view(x_amz_date=old)).code == "RequestTimeTooSkewed"


def test_query_parse() -> None:
    def view(query: str) -> RequestView:
        return RequestView("GET", "/b/k", query, {"host": "h"}, "h")

    future = int(time.time()) + 100
    auth = parse_sigv2(view(f"AWSAccessKeyId=AK&Expires={future}&Signature=a%2Bb%3D"), now())
    assert (auth.access_key, auth.signature, auth.expires) == ("AK", "a+b=", future)
    raw_plus = parse_sigv2(view(f"AWSAccessKeyId=AK&Expires={future}&Signature=a+b"), now())
    assert raw_plus.signature == "a+b"
    past = int(time.time()) - 1
    expired = _error(view(f"AWSAccessKeyId=AK&Expires={past}&Signature=x"))
    assert (expired.code, expired.message) == ("AccessDenied", "Request has expired")
    assert _error(view("AWSAccessKeyId=AK&Signature=x")).code == "AccessDenied"
    assert _error(view("AWSAccessKeyId=AK&Expires=soon&Signature=x")).code == "AccessDenied"


def test_detect() -> None:
    assert not detect_sigv2(RequestView("GET", "/", "", {"host": "h"}, "h"))
    v4 = {"host": "h", "authorization": "AWS4-HMAC-SHA256 Credential=a/b"}
    assert not detect_sigv2(RequestView("GET", "/", "", v4, "h"))
    assert detect_sigv2(RequestView("GET", "/", "AWSAccessKeyId=a&Signature=b", {}, "h"))
    assert not detect_sigv2(RequestView("GET", "/", "AWSAccessKeyId=a", {}, "h"))


def test_canonical_resource_subresources() -> None:
    view = RequestView(
        "GET", "/b/k%20x", "versionId=a%2Fb&acl&prefix=p&response-expires=1&uploads=", {}, "h"
    )
    assert canonical_resource(view) == "/b/k%20x?acl&response-expires=1&uploads=&versionId=a/b"
    assert canonical_resource(view, decode_values=False).endswith("versionId=a%2Fb")

"""CORS with boto3 and raw requests (SQLite and PostgreSQL): Put/Get/DeleteBucketCors,
OPTIONS preflight (wildcards, methods, headers, 403 when no rule matches), headers on actual,
error and presigned responses, ``Vary: Origin``."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import Store, error_code, parse_error


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)

RULES = [
    {"ID": "app", "AllowedOrigins": ["https://*.example.com"], "AllowedMethods": ["GET", "PUT"],
     "AllowedHeaders": ["content-type", "x-amz-*"], "ExposeHeaders": ["ETag"],
     "MaxAgeSeconds": 600},
    {"AllowedOrigins": ["*"], "AllowedMethods": ["GET"]},
]


def fails(call: Any) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err.value)


def preflight(store: Store, origin: str, method: str, headers: str = "", key: str = "k"
              ) -> httpx.Response:
    h = {"Origin": origin, "Access-Control-Request-Method": method}
    if headers:
        h["Access-Control-Request-Headers"] = headers
    return httpx.options(f"{store.s3_url}/{store.name}/{key}", headers=h)


def test_cors_configuration_and_preflight(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    assert fails(lambda: s3.get_bucket_cors(Bucket=name)) == "NoSuchCORSConfiguration"
    r = preflight(dual_store, "https://app.example.com", "PUT")
    assert r.status_code == 403 and parse_error(r)["Code"] == "AccessForbidden"
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    assert s3.get_bucket_cors(Bucket=name)["CORSRules"] == RULES
    r = preflight(dual_store, "https://app.example.com", "PUT", "Content-Type, X-Amz-Date")
    assert r.status_code == 200, r.text
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-allow-methods"] == "GET, PUT"
    assert r.headers["access-control-allow-headers"] == "content-type, x-amz-date"
    assert r.headers["access-control-max-age"] == "600"
    assert r.headers["access-control-expose-headers"] == "ETag"
    assert r.headers["access-control-allow-credentials"] == "true"
    assert "Origin" in r.headers["vary"]
    # the second rule: any origin, GET only, no headers
    r = preflight(dual_store, "https://elsewhere.test", "GET")
    assert r.status_code == 200 and r.headers["access-control-allow-origin"] == "*"
    for origin, method, hdrs in [("https://elsewhere.test", "PUT", ""),
                                 ("https://app.example.com", "DELETE", ""),
                                 ("https://app.example.com", "PUT", "authorization"),
                                 ("https://example.com", "PUT", "")]:
        r = preflight(dual_store, origin, method, hdrs)
        assert r.status_code == 403, (origin, method, hdrs)
        assert "access-control-allow-origin" not in r.headers
    assert httpx.options(f"{dual_store.s3_url}/{name}/k").status_code == 400
    s3.delete_bucket_cors(Bucket=name)
    assert fails(lambda: s3.get_bucket_cors(Bucket=name)) == "NoSuchCORSConfiguration"
    assert preflight(dual_store, "https://app.example.com", "GET").status_code == 403


def test_cors_headers_on_actual_error_and_presigned_responses(store: Store) -> None:
    s3, name = store.boto(), store.name
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    origin = {"Origin": "https://app.example.com"}
    plain = httpx.get(f"{store.s3_url}/{name}/k", headers=origin)
    assert "access-control-allow-origin" not in plain.headers  # no configuration yet
    s3.put_bucket_cors(Bucket=name, CORSConfiguration={"CORSRules": RULES})
    url = s3.generate_presigned_url("get_object", Params={"Bucket": name, "Key": "k"})
    r = httpx.get(url, headers=origin)
    assert r.status_code == 200 and r.content == b"v"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    assert r.headers["access-control-expose-headers"] == "ETag"
    assert "Origin" in r.headers["vary"]
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": name, "Key": "p"})
    r = httpx.put(put_url, content=b"p", headers=origin)
    assert r.status_code == 200 and r.headers["access-control-allow-origin"]
    # an error (anonymous read of a private object) carries them too
    r = httpx.get(f"{store.s3_url}/{name}/k", headers=origin)
    assert r.status_code == 403 and parse_error(r)["Code"] == "AccessDenied"
    assert r.headers["access-control-allow-origin"] == "https://app.example.com"
    r = httpx.get(f"{store.s3_url}/{name}/missing", headers={"Origin": "https://x.test"})
    assert r.headers["access-control-allow-origin"] == "*"
    # a method no rule allows: no allow-origin, still Vary
    r = httpx.delete(f"{store.s3_url}/{name}/k", headers=origin)
    assert "access-control-allow-origin" not in r.headers and "vary" in r.headers


@pytest.mark.parametrize("body", [
    b"<CORSConfiguration><CORSRule><AllowedMethod>GET</AllowedMethod></CORSRule>"
    b"</CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*</AllowedOrigin><AllowedMethod>PATCH"
    b"</AllowedMethod></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration><CORSRule><AllowedOrigin>*.*</AllowedOrigin><AllowedMethod>GET"
    b"</AllowedMethod></CORSRule></CORSConfiguration>",
    b"<CORSConfiguration></CORSConfiguration>",
    b"<CORS/>",
    b"not xml",
])
def test_malformed_cors_changes_nothing(store: Store, body: bytes) -> None:
    from .conftest import signed

    s3 = store.boto()
    s3.put_bucket_cors(Bucket=store.name, CORSConfiguration={"CORSRules": RULES[1:]})
    import base64
    import hashlib

    md5 = base64.b64encode(hashlib.md5(body).digest()).decode()
    r = signed(store, "PUT", f"/{store.name}?cors", body=body, headers={"Content-MD5": md5})
    assert r.status_code == 400, r.text
    assert parse_error(r)["Code"] in ("MalformedXML", "InvalidRequest")
    assert s3.get_bucket_cors(Bucket=store.name)["CORSRules"] == RULES[1:]

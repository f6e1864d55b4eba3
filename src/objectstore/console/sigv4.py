"""A small AWS Signature V4 signer for the console's own S3 calls (header and presigned form).

The console is an S3 client of this server for object writes and share links, using the
store owner's credential; so quota, suspension and ACL rules stay in one place.
"""

from __future__ import annotations

import hashlib
import hmac
from datetime import UTC, datetime
from urllib.parse import quote, urlsplit

UNSIGNED = "UNSIGNED-PAYLOAD"


def _quote(value: str) -> str:
    return quote(value, safe="-_.~")


def object_path(bucket: str, key: str = "") -> str:
    """The path-style URL path of a bucket or object, each key byte percent-encoded."""
    path = "/" + _quote(bucket)
    if key:
        path += "/" + quote(key, safe="-_.~/")
    return path


def _canonical_query(params: dict[str, str]) -> str:
    return "&".join(f"{_quote(k)}={_quote(v)}" for k, v in sorted(params.items()))


def _key(secret: str, date: str, region: str) -> bytes:
    k = hmac.new(("AWS4" + secret).encode(), date.encode(), hashlib.sha256).digest()
    for part in (region, "s3", "aws4_request"):
        k = hmac.new(k, part.encode(), hashlib.sha256).digest()
    return k


def _signature(secret: str, date: str, region: str, string_to_sign: str) -> str:
    return hmac.new(_key(secret, date, region), string_to_sign.encode(),
                    hashlib.sha256).hexdigest()


def _host(base_url: str) -> str:
    return urlsplit(base_url).netloc


def sign_headers(method: str, base_url: str, path: str, params: dict[str, str],
                 access_key: str, secret: str, region: str, *,
                 extra: dict[str, str] | None = None, now: datetime | None = None
                 ) -> dict[str, str]:
    """Headers (Authorization included) for a request with an unsigned payload."""
    t = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    date = t[:8]
    headers = {"host": _host(base_url), "x-amz-content-sha256": UNSIGNED, "x-amz-date": t}
    for name, value in (extra or {}).items():
        headers[name.lower()] = value.strip()
    names = sorted(headers)
    canonical = "\n".join([
        method, path, _canonical_query(params),
        "".join(f"{n}:{headers[n]}\n" for n in names), ";".join(names), UNSIGNED])
    scope = f"{date}/{region}/s3/aws4_request"
    to_sign = "\n".join(["AWS4-HMAC-SHA256", t, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    headers["authorization"] = (
        f"AWS4-HMAC-SHA256 Credential={access_key}/{scope}, SignedHeaders={';'.join(names)}, "
        f"Signature={_signature(secret, date, region, to_sign)}")
    del headers["host"]
    return headers


def presign(method: str, base_url: str, path: str, access_key: str, secret: str,
            region: str, expires_s: int, *, params: dict[str, str] | None = None,
            now: datetime | None = None) -> str:
    """A presigned URL (query-string authentication) valid for ``expires_s`` seconds."""
    t = (now or datetime.now(UTC)).strftime("%Y%m%dT%H%M%SZ")
    date = t[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    query = dict(params or {})
    query.update({
        "X-Amz-Algorithm": "AWS4-HMAC-SHA256", "X-Amz-Credential": f"{access_key}/{scope}",
        "X-Amz-Date": t, "X-Amz-Expires": str(expires_s), "X-Amz-SignedHeaders": "host"})
    canonical = "\n".join([method, path, _canonical_query(query),
                           f"host:{_host(base_url)}\n", "host", UNSIGNED])
    to_sign = "\n".join(["AWS4-HMAC-SHA256", t, scope,
                         hashlib.sha256(canonical.encode()).hexdigest()])
    query["X-Amz-Signature"] = _signature(secret, date, region, to_sign)
    return f"{base_url}{path}?{_canonical_query(query)}"

"""AWS Signature Version 2 (HMAC-SHA1) for S3: header form and presigned-query form. Pure."""

from __future__ import annotations

import base64
import dataclasses
import hashlib
import hmac
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from urllib.parse import unquote

from objectstore.s3.errors import s3_error
from objectstore.s3.request_view import RequestView, decode_component, split_query

MAX_SKEW = timedelta(minutes=15)

# Sub-resources included in the canonicalized resource (AWS docs, botocore and s3cmd lists).
SUBRESOURCES = frozenset(
    {
        "accelerate", "acl", "analytics", "cors", "defaultObjectAcl", "delete", "inventory",
        "lifecycle", "location", "logging", "metrics", "notification", "object-lock",
        "partNumber", "policy", "replication", "requestPayment", "restore", "select",
        "select-type", "storageClass", "tagging", "torrent", "uploadId", "uploads",
        "versionId", "versioning", "versions", "website",
        "response-cache-control", "response-content-disposition", "response-content-encoding",
        "response-content-language", "response-content-type", "response-expires",
    }
)  # fmt: skip

_DATE_MSG = "AWS authentication requires a valid Date or x-amz-date header"
_QUERY_MSG = (
    "Query-string authentication requires the Signature, Expires and AWSAccessKeyId parameters"
)


@dataclass(frozen=True)
class SigV2Auth:
    access_key: str
    signature: str  # base64
    presigned: bool
    expires: int | None  # epoch seconds, presigned only


def _raw_query_params(req: RequestView) -> dict[str, str]:
    """First value of each parameter, percent-decoded only (``+`` kept: signatures are base64)."""
    out: dict[str, str] = {}
    for name, value, _ in split_query(req.raw_query):
        out.setdefault(unquote(name), unquote(value))
    return out


def detect_sigv2(req: RequestView) -> bool:
    auth = req.headers.get("authorization")
    if auth is not None:
        return auth.startswith("AWS ") and ":" in auth
    names = {decode_component(n) for n, _, _ in split_query(req.raw_query)}
    return "AWSAccessKeyId" in names and "Signature" in names


def _utc(now: datetime) -> datetime:
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


def _parse_http_date(value: str) -> datetime | None:
    value = value.strip()
    try:
        return _utc(parsedate_to_datetime(value))
    except (TypeError, ValueError, IndexError, OverflowError):
        pass
    for fmt in ("%Y%m%dT%H%M%SZ", "%Y-%m-%dT%H:%M:%SZ"):
        try:
            return datetime.strptime(value, fmt).replace(tzinfo=UTC)
        except ValueError:
            continue
    return None


def parse_sigv2(req: RequestView, now: datetime) -> SigV2Auth:
    """Parse the V2 credentials and check the request time / expiry (not the signature)."""
    now = _utc(now)
    auth = req.headers.get("authorization")
    if auth is not None:
        if not auth.startswith("AWS "):
            raise s3_error("AccessDenied", "Unsupported Authorization type")
        access_key, colon, signature = auth[4:].strip().rpartition(":")
        if not colon or not access_key or not signature:
            raise s3_error(
                "InvalidArgument",
                "AWS authorization header is invalid.  Expected AwsAccessKeyId:signature",
            )
        raw_date = req.headers.get("x-amz-date") or req.headers.get("date")
        when = _parse_http_date(raw_date) if raw_date else None
        if when is None:
            raise s3_error("AccessDenied", _DATE_MSG)
        if abs(now - when) > MAX_SKEW:
            raise s3_error(
                "RequestTimeTooSkewed",
                "The difference between the request time and the current time is too large.",
            )
        return SigV2Auth(access_key, signature.strip(), presigned=False, expires=None)
    params = _raw_query_params(req)
    access_key = params.get("AWSAccessKeyId", "")
    signature = params.get("Signature", "")
    raw_expires = params.get("Expires", "")
    if not access_key or not signature or not raw_expires:
        raise s3_error("AccessDenied", _QUERY_MSG)
    if not raw_expires.isascii() or not raw_expires.isdigit() or len(raw_expires) > 12:
        raise s3_error("AccessDenied", "Invalid Expires parameter")
    expires = int(raw_expires)
    if now.timestamp() > expires:
        raise s3_error("AccessDenied", "Request has expired")
    return SigV2Auth(access_key, signature, presigned=True, expires=expires)


def _amz_headers(req: RequestView, auth: SigV2Auth) -> dict[str, str]:
    headers = {k: v.strip() for k, v in req.headers.items() if k.startswith("x-amz-")}
    if auth.presigned:
        # Presigners (botocore) move x-amz-* headers into the query; treat them as headers.
        for name, value in _raw_query_params(req).items():
            lname = name.lower()
            if lname.startswith("x-amz-") and lname not in headers:
                headers[lname] = value.strip()
    return headers


def canonical_resource(
    req: RequestView, virtual_bucket: str | None = None, *, decode_values: bool = True
) -> str:
    """Raw path (prefixed with ``/bucket`` for virtual-hosted requests) plus sub-resources.

    Sub-resource values are URL-decoded (AWS, botocore); ``decode_values=False`` keeps them as
    sent, which is how s3cmd signs them.
    """
    resource = req.raw_path or "/"
    if virtual_bucket:
        resource = f"/{virtual_bucket}{resource}"
    subs = []
    for raw_name, raw_value, had_eq in split_query(req.raw_query):
        if raw_name in SUBRESOURCES:
            value = unquote(raw_value) if decode_values else raw_value
            subs.append((raw_name, f"{raw_name}={value}" if had_eq else raw_name))
    if subs:
        subs.sort(key=lambda item: item[0])
        resource += "?" + "&".join(item for _, item in subs)
    return resource


def _string_to_sign(
    req: RequestView, auth: SigV2Auth, date: str, virtual_bucket: str | None, decode: bool = True
) -> str:
    amz = _amz_headers(req, auth)
    lines = [
        req.method.upper(),
        req.headers.get("content-md5", "").strip(),
        req.headers.get("content-type", "").strip(),
        date,
    ]
    lines.extend(f"{name}:{amz[name]}" for name in sorted(amz))
    lines.append(canonical_resource(req, virtual_bucket, decode_values=decode))
    return "\n".join(lines)


def _date_field(req: RequestView, auth: SigV2Auth) -> str:
    if auth.presigned:
        return _raw_query_params(req).get("Expires", str(auth.expires))
    if "x-amz-date" in req.headers:
        return ""
    return req.headers.get("date", "").strip()


def string_to_sign_v2(
    req: RequestView, auth: SigV2Auth, *, virtual_bucket: str | None = None
) -> str:
    return _string_to_sign(req, auth, _date_field(req, auth), virtual_bucket)


def sign_v2(secret: str, string_to_sign: str) -> str:
    digest = hmac.new(
        secret.encode("utf-8"),
        string_to_sign.encode("utf-8", errors="surrogateescape"),
        hashlib.sha1,
    ).digest()
    return base64.b64encode(digest).decode("ascii")


def verify_sigv2(
    req: RequestView, auth: SigV2Auth, secret: str, *, virtual_bucket: str | None = None
) -> None:
    """Raise SignatureDoesNotMatch unless the V2 signature is valid.

    Besides the spec form, variants some clients sign are accepted: the Date header value even
    though x-amz-date is present (botocore), and sub-resource values as sent (s3cmd).
    """
    dates = [_date_field(req, auth)]
    if not auth.presigned and "x-amz-date" in req.headers and "date" in req.headers:
        dates.append(req.headers["date"].strip())
    views = [req]
    path = req.raw_path
    if virtual_bucket is None and path.count("/") == 1 and len(path) > 1:
        # botocore signs a bucket-level resource as "/bucket/" but sends "/bucket"
        views.append(dataclasses.replace(req, raw_path=path + "/"))
    candidates: list[str] = []
    for view in views:
        for decode in (True, False):
            for date in dates:
                sts = _string_to_sign(view, auth, date, virtual_bucket, decode)
                if sts not in candidates:
                    candidates.append(sts)
    provided = auth.signature.encode("utf-8", errors="replace")
    for sts in candidates:
        if hmac.compare_digest(sign_v2(secret, sts).encode("ascii"), provided):
            return
    raise s3_error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        details={
            "AWSAccessKeyId": auth.access_key,
            "StringToSign": candidates[0],
            "SignatureProvided": auth.signature,
            "StringToSignBytes": candidates[0].encode("utf-8", errors="surrogateescape").hex(" "),
        },
    )

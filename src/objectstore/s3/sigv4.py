"""AWS Signature Version 4 for S3: parsing and verification (header and presigned-query forms).

Pure functions: no I/O.  The caller looks up the secret for ``SigV4Auth.access_key`` (raising
``InvalidAccessKeyId`` itself) and then calls :func:`verify_sigv4`.
"""

from __future__ import annotations

import hashlib
import hmac
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from functools import lru_cache
from urllib.parse import unquote_to_bytes

from objectstore.s3.errors import s3_error
from objectstore.s3.request_view import (
    RequestView,
    aws_quote,
    decode_component,
    is_unreserved,
    is_unreserved_path,
    split_query,
)

ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
STREAMING_PAYLOAD = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD"
STREAMING_PAYLOAD_TRAILER = "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER"
STREAMING_UNSIGNED_TRAILER = "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
SPECIAL_PAYLOAD_HASHES = frozenset(
    {UNSIGNED_PAYLOAD, STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER, STREAMING_UNSIGNED_TRAILER}
)
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_SKEW = timedelta(minutes=15)
MAX_PRESIGN_EXPIRES = 604800

_AMZ_DATE_RE = re.compile(r"^\d{8}T\d{6}Z$")
_HEX64_RE = re.compile(r"^[0-9a-fA-F]{64}$")
_SCOPE_DATE_RE = re.compile(r"^\d{8}$")
_QUERY_PARAMS = ("X-Amz-Algorithm", "X-Amz-Credential", "X-Amz-Signature", "X-Amz-Date",
                 "X-Amz-SignedHeaders", "X-Amz-Expires")
_DATE_MSG = "AWS authentication requires a valid Date or x-amz-date header"
_SKEW_MSG = "The difference between the request time and the current time is too large."


@dataclass(frozen=True)
class SigV4Auth:
    access_key: str
    date: str  # YYYYMMDD from the scope
    region: str
    service: str  # always "s3"
    signed_headers: tuple[str, ...]
    signature: str  # lower-case hex
    amz_date: str  # YYYYMMDDTHHMMSSZ
    request_time: datetime  # parsed amz_date, tz-aware UTC
    presigned: bool
    expires: int | None  # seconds, presigned only
    payload_hash: str  # x-amz-content-sha256 value, or UNSIGNED-PAYLOAD for presigned

    @property
    def scope(self) -> str:
        """Credential scope without the access key: ``date/region/s3/aws4_request``."""
        return f"{self.date}/{self.region}/{self.service}/aws4_request"

    @property
    def is_streaming(self) -> bool:
        return self.payload_hash.startswith("STREAMING-")

    @property
    def is_signed_streaming(self) -> bool:
        return self.payload_hash in (STREAMING_PAYLOAD, STREAMING_PAYLOAD_TRAILER)

    @property
    def has_trailer(self) -> bool:
        return self.payload_hash.endswith("-TRAILER")


def detect_sigv4(req: RequestView) -> bool:
    auth = req.headers.get("authorization", "")
    if auth.startswith(ALGORITHM + " ") or auth == ALGORITHM:
        return True
    return _has_query_algorithm(req)


def _has_query_algorithm(req: RequestView) -> bool:
    return "X-Amz-Algorithm" in req.raw_query and "X-Amz-Algorithm" in req.params


def _parse_amz_date(value: str) -> datetime | None:
    if not _AMZ_DATE_RE.match(value):
        return None
    try:  # (strptime costs ~10 µs per request)
        return datetime(int(value[0:4]), int(value[4:6]), int(value[6:8]), int(value[9:11]),
                        int(value[11:13]), int(value[13:15]), tzinfo=UTC)
    except ValueError:
        return None


def _utc(now: datetime) -> datetime:
    if now.tzinfo is UTC:
        return now
    return now.replace(tzinfo=UTC) if now.tzinfo is None else now.astimezone(UTC)


@lru_cache(maxsize=1024)
def _parse_credential(credential: str, code: str) -> tuple[str, str, str, str]:
    """(access key, date, region, service) of a credential scope (cached: one credential
    signs many requests; a malformed one raises, which is not cached)."""
    parts = credential.rsplit("/", 4)
    if len(parts) != 5 or not parts[0] or parts[4] != "aws4_request" or not parts[2]:
        raise s3_error(code, f"Error parsing the X-Amz-Credential parameter: {credential!r}")
    access_key, date, region, service, _ = parts
    if not _SCOPE_DATE_RE.match(date):
        raise s3_error(code, f"Invalid credential date {date!r}.")
    if service != "s3":
        raise s3_error(code, f'Incorrect service "{service}". This endpoint belongs to "s3".')
    return access_key, date, region, service


@lru_cache(maxsize=1024)
def _parse_signed_headers(value: str, code: str) -> tuple[str, ...]:
    names = tuple(h.strip().lower() for h in value.split(";"))
    if not value or any(not n for n in names):
        raise s3_error(code, "SignedHeaders is malformed")
    if "host" not in names:
        raise s3_error(code, "The host header must be signed")
    return names


def _check_unsigned_amz_headers(req: RequestView, signed: tuple[str, ...]) -> None:
    unsigned = sorted(h for h in req.headers if h.startswith("x-amz-") and h not in signed)
    if unsigned:
        raise s3_error(
            "AccessDenied",
            "There were headers present in the request which were not signed",
            details={"HeadersNotSigned": ", ".join(unsigned)},
        )


def _parse_authorization(value: str) -> dict[str, str]:
    rest = value[len(ALGORITHM) :]
    if value[: len(ALGORITHM)] != ALGORITHM or (rest and not rest[0].isspace()):
        raise s3_error("AuthorizationHeaderMalformed", "Unsupported authorization type")
    fields: dict[str, str] = {}
    for item in re.split(r"[,\s]+", rest.strip()):
        if not item:
            continue
        key, eq, val = item.partition("=")
        if not eq or key in fields:
            raise s3_error("AuthorizationHeaderMalformed", f"Malformed component {item!r}")
        fields[key] = val
    for required in ("Credential", "SignedHeaders", "Signature"):
        if required not in fields:
            raise s3_error("AuthorizationHeaderMalformed", f"Authorization lacks {required}.")
    return fields


def _parse_header_form(req: RequestView, now: datetime) -> SigV4Auth:
    code = "AuthorizationHeaderMalformed"
    fields = _parse_authorization(req.headers["authorization"])
    scope = _parse_credential(fields["Credential"], code)
    date = scope[1]
    signed = _parse_signed_headers(fields["SignedHeaders"], code)
    signature = fields["Signature"]
    if not _HEX64_RE.match(signature):
        raise s3_error(code, "The authorization header is malformed; invalid Signature.")
    amz_date_header = req.headers.get("x-amz-date")
    if amz_date_header is not None:
        request_time = _parse_amz_date(amz_date_header.strip())
        if request_time is None:
            raise s3_error("AccessDenied", _DATE_MSG)
    elif "date" in req.headers:
        try:
            request_time = _utc(parsedate_to_datetime(req.headers["date"]))
        except (TypeError, ValueError, IndexError, OverflowError):
            raise s3_error("AccessDenied", _DATE_MSG) from None
    else:
        raise s3_error("AccessDenied", _DATE_MSG)
    amz_date = request_time.strftime("%Y%m%dT%H%M%SZ")
    if date != amz_date[:8]:
        raise s3_error(code, "Invalid credential date. Date is not the same as X-Amz-Date.")
    if abs(_utc(now) - request_time) > MAX_SKEW:
        raise s3_error("RequestTimeTooSkewed", _SKEW_MSG)
    payload_hash = req.headers.get("x-amz-content-sha256")
    if payload_hash is None:
        raise s3_error("MissingSecurityHeader", "Missing required header: x-amz-content-sha256")
    if payload_hash not in SPECIAL_PAYLOAD_HASHES and not _HEX64_RE.match(payload_hash):
        raise s3_error("InvalidArgument", "x-amz-content-sha256 must be a SHA-256 or known mode")
    _check_unsigned_amz_headers(req, signed)
    return SigV4Auth(*scope, signed, signature.lower(), amz_date, request_time,
                     False, None, payload_hash)


def _parse_query_form(req: RequestView, now: datetime) -> SigV4Auth:
    code = "AuthorizationQueryParametersError"
    params = req.params
    if any(p not in params for p in _QUERY_PARAMS):
        raise s3_error(code, f"Query-string authentication version 4 requires {_QUERY_PARAMS}")
    if params["X-Amz-Algorithm"] != ALGORITHM:
        raise s3_error(code, "X-Amz-Algorithm only supports \"AWS4-HMAC-SHA256\"")
    scope = _parse_credential(params["X-Amz-Credential"], code)
    date = scope[1]
    signed = _parse_signed_headers(params["X-Amz-SignedHeaders"], code)
    signature = params["X-Amz-Signature"]
    if not _HEX64_RE.match(signature):
        raise s3_error(code, "X-Amz-Signature is malformed")
    amz_date = params["X-Amz-Date"]
    request_time = _parse_amz_date(amz_date)
    if request_time is None:
        raise s3_error(code, "X-Amz-Date must be in the ISO8601 Long Format yyyyMMddTHHmmssZ")
    if date != amz_date[:8]:
        raise s3_error(code, "Invalid credential date. Date is not the same as X-Amz-Date.")
    raw_expires = params["X-Amz-Expires"]
    if not raw_expires.isascii() or not raw_expires.isdigit() or len(raw_expires) > 12:
        raise s3_error(code, "X-Amz-Expires should be a number between 1 and 604800")
    expires = int(raw_expires)
    if not 1 <= expires <= MAX_PRESIGN_EXPIRES:
        raise s3_error(code, "X-Amz-Expires must be between 1 and 604800 seconds (one week)")
    now = _utc(now)
    if request_time - now > MAX_SKEW:
        raise s3_error("RequestTimeTooSkewed", "Request is not yet valid (X-Amz-Date in future)")
    if now > request_time + timedelta(seconds=expires):
        raise s3_error("AccessDenied", "Request has expired")
    payload_hash = params.get("X-Amz-Content-Sha256") or UNSIGNED_PAYLOAD
    if "x-amz-content-sha256" in signed and "X-Amz-Content-Sha256" not in params:
        payload_hash = req.headers.get("x-amz-content-sha256", UNSIGNED_PAYLOAD)
    _check_unsigned_amz_headers(req, signed)
    return SigV4Auth(*scope, signed, signature.lower(), amz_date, request_time,
                     True, expires, payload_hash)


def parse_sigv4(req: RequestView, now: datetime) -> SigV4Auth:
    """Parse and validate the SigV4 authentication of ``req`` (does not check the signature)."""
    in_query = _has_query_algorithm(req)
    if "authorization" in req.headers:
        if in_query:
            raise s3_error(
                "InvalidArgument",
                "Only one auth mechanism allowed; only the X-Amz-Algorithm query parameter, "
                "Signature query string parameter or the Authorization header should be specified",
            )
        return _parse_header_form(req, now)
    if in_query:
        return _parse_query_form(req, now)
    raise s3_error("AccessDenied", "Request is not signed with AWS Signature Version 4")


@lru_cache(maxsize=512)
def signing_key(secret: str, date: str, region: str, service: str = "s3") -> bytes:
    key = ("AWS4" + secret).encode("utf-8")
    for part in (date, region, service, "aws4_request"):
        key = hmac.new(key, part.encode("utf-8"), hashlib.sha256).digest()
    return key


def canonical_uri(raw_path: str) -> str:
    """AWS form of the path: each segment percent-decoded then re-encoded; "/" kept, no folding."""
    path = raw_path or "/"
    if is_unreserved_path(path):
        return path  # nothing to decode nor encode (one regex instead of one per segment)
    return "/".join(seg if is_unreserved(seg) else aws_quote(unquote_to_bytes(seg))
                    for seg in path.split("/"))


@lru_cache(maxsize=4096)
def _canonical_pair(raw_name: str, raw_value: str) -> tuple[str, str]:
    """One query parameter in AWS canonical form (the credential, algorithm, expiry and
    signed-headers parameters repeat request after request: cached)."""
    return aws_quote(decode_component(raw_name)), aws_quote(decode_component(raw_value))


def canonical_query(raw_query: str, *, as_sent: bool = False) -> str:
    """Every parameter except X-Amz-Signature, decoded, AWS-encoded, sorted by key then value.

    ``as_sent=True`` keeps names and values exactly as on the wire (fallback for clients that
    sign their own non-AWS encoding)."""
    pairs = []
    for raw_name, raw_value, _ in split_query(raw_query):
        name = decode_component(raw_name)
        if name == "X-Amz-Signature":
            continue
        if as_sent:
            pairs.append((raw_name, raw_value))
        else:
            pairs.append(_canonical_pair(raw_name, raw_value))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _canonical_headers(req: RequestView, auth: SigV4Auth, raw: bool = True) -> str:
    """The signed headers' lines. Values are the bytes as sent (AWS signs those): a value
    beyond ASCII (Latin-1 or UTF-8 bytes in x-amz-meta-*) is carried as the text whose
    UTF-8 (surrogateescape) encoding gives those bytes back. ``raw=False``: the text as
    decoded from Latin-1, encoded as UTF-8 (clients that sign text, not bytes)."""
    lines = []
    for name in auth.signed_headers:
        value = req.headers.get(name)
        if value is None and name == "host":
            value = req.host
        value = " ".join((value or "").split())
        if raw and not value.isascii():
            value = value.encode("latin-1", "replace").decode("utf-8", "surrogateescape")
        lines.append(f"{name}:{value}\n")
    return "".join(lines)


def _build_canonical(req: RequestView, auth: SigV4Auth, uri: str, query: str,
                     raw: bool = True) -> str:
    headers, signed = _canonical_headers(req, auth, raw), ";".join(auth.signed_headers)
    return f"{req.method.upper()}\n{uri}\n{query}\n{headers}\n{signed}\n{auth.payload_hash}"


def _non_ascii_signed(req: RequestView, auth: SigV4Auth) -> bool:
    return any(not req.headers.get(n, "").isascii() for n in auth.signed_headers)


def canonical_request(req: RequestView, auth: SigV4Auth) -> str:
    return _build_canonical(req, auth, canonical_uri(req.raw_path), canonical_query(req.raw_query))


def string_to_sign(auth: SigV4Auth, canonical: str) -> str:
    digest = hashlib.sha256(canonical.encode("utf-8", errors="surrogateescape")).hexdigest()
    return f"{ALGORITHM}\n{auth.amz_date}\n{auth.scope}\n{digest}"


def _as_sent(req: RequestView, auth: SigV4Auth) -> str:
    """The canonical request over the path and query exactly as sent (clients that sign
    their own encoding)."""
    return _build_canonical(req, auth, req.raw_path or "/",
                            canonical_query(req.raw_query, as_sent=True))


def verify_sigv4(req: RequestView, auth: SigV4Auth, secret: str) -> bytes:
    """Check the request signature; return the signing key (for aws-chunked bodies).

    The AWS-normalised canonical request is tried first; the as-sent variant is built only
    when that one does not match (most requests never pay for it)."""
    key = signing_key(secret, auth.date, auth.region, auth.service)
    provided = auth.signature.lower().encode("ascii", errors="replace")
    first = canonical_request(req, auth)
    candidates = [first]
    for canonical in candidates:
        sts = string_to_sign(auth, canonical)
        expected = hmac.digest(key, sts.encode("utf-8"), "sha256").hex()
        if hmac.compare_digest(expected.encode("ascii"), provided):
            return key
        if len(candidates) == 1:
            second = _as_sent(req, auth)
            if second != first:
                candidates.append(second)
            if _non_ascii_signed(req, auth):  # a client that signed text, not bytes
                candidates.append(_build_canonical(req, auth, canonical_uri(req.raw_path),
                                                   canonical_query(req.raw_query), raw=False))
    raise s3_error(
        "SignatureDoesNotMatch",
        "The request signature we calculated does not match the signature you provided. "
        "Check your key and signing method.",
        details=mismatch_details(auth, candidates[0]),
    )


def _wire_bytes(text: str) -> str:
    """The bytes the signature covers, as AWS shows them: two hex digits each, space-separated."""
    return text.encode("utf-8", errors="surrogateescape").hex(" ")


def mismatch_details(auth: SigV4Auth, canonical: str) -> dict[str, str]:
    """The extra elements of a SignatureDoesNotMatch reply, in AWS's order: what the server
    signed, so a client can compare it with its own (botocore logs both at DEBUG)."""
    sts = string_to_sign(auth, canonical)
    return {
        "AWSAccessKeyId": auth.access_key,
        "StringToSign": sts,
        "SignatureProvided": auth.signature,
        "StringToSignBytes": _wire_bytes(sts),
        "CanonicalRequest": canonical,
        "CanonicalRequestBytes": _wire_bytes(canonical),
    }


"""Bucket and key from the Host header (virtual-hosted style) or the path (path style)."""

from __future__ import annotations

from urllib.parse import unquote

from ..domain.names import validate_object_key
from .errors import s3_error


def split_target(host: str, raw_path: str, s3_domain: str | None
                 ) -> tuple[str | None, str | None]:
    """Return (bucket, key); key is None for bucket requests, both None for the service."""
    hostname = host.rsplit(":", 1)[0].lower() if not host.startswith("[") else host
    if s3_domain:
        suffix = "." + s3_domain.lower()
        if hostname.endswith(suffix) and len(hostname) > len(suffix):
            bucket = hostname[: -len(suffix)]
            path = _decode_path(raw_path)
            key = path[1:] if path.startswith("/") else path
            return bucket, _check_key(key) if key else None
    if not raw_path.startswith("/"):
        raise s3_error("InvalidURI", "Couldn't parse the specified URI.")
    rest = raw_path[1:]
    if not rest:
        return None, None
    # Split on the literal "/" first: an encoded %2F belongs to the segment it is in.
    raw_bucket, _, raw_key = rest.partition("/")
    bucket, key = _decode_path(raw_bucket), _decode_path(raw_key)
    if not bucket or "/" in bucket:
        raise s3_error("InvalidBucketName", "The specified bucket is not valid.")
    return bucket, _check_key(key) if key else None


def _decode_path(raw_path: str) -> str:
    try:
        return unquote(raw_path, errors="strict")
    except UnicodeDecodeError as exc:
        raise s3_error("InvalidURI", "Couldn't parse the specified URI.") from exc


def _check_key(key: str) -> str:
    return validate_object_key(key)  # domain/names: the one place keys are checked

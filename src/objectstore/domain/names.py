"""Naming rules: bucket (object store) names, object keys, regions, access keys."""

from __future__ import annotations

import re
import secrets
import string

from .errors import InvalidInput, KeyTooLong

_BUCKET_RE = re.compile(r"^[a-zA-Z0-9][a-zA-Z0-9.\-]{1,61}[a-zA-Z0-9]$")
_IPV4_RE = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_ACCESS_KEY_RE = re.compile(r"^[A-Za-z0-9_\-]{3,128}$")
_SECRET_RE = re.compile(r"^[\x21-\x7e]{8,128}$")
_UUID_RE = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_UPPER_ALNUM = string.ascii_uppercase + string.digits
_ALNUM = string.ascii_letters + string.digits

MAX_KEY_BYTES = 1024


def validate_store_name(name: object) -> str:
    if not isinstance(name, str) or not name:
        raise InvalidInput("name is required", "name")
    if not _BUCKET_RE.match(name) or ".." in name or _IPV4_RE.match(name):
        raise InvalidInput(
            "name must be 3-63 characters of letters, digits, '-' and '.', "
            "starting and ending with a letter or digit",
            "name",
        )
    return name


_S3_BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_S3_RESERVED_PREFIXES = ("xn--", "sthree-", "amzn-s3-demo-")
_S3_RESERVED_SUFFIXES = ("-s3alias", "--ol-s3", ".mrap", "--x-s3", "--table-s3")


def validate_s3_bucket_name(name: str) -> str:
    """AWS's general purpose bucket naming rules, for S3 CreateBucket: 3-63 characters of
    lower-case letters, digits, '.' and '-', starting and ending with a letter or digit, no
    '..', not an IPv4 address, none of AWS's reserved prefixes and suffixes. (The management
    API keeps the wider rules of ``validate_store_name``: Civo's documented example is
    "bucketA".)"""
    if (not _S3_BUCKET_RE.match(name) or ".." in name or _IPV4_RE.match(name)
            or name.startswith(_S3_RESERVED_PREFIXES) or name.endswith(_S3_RESERVED_SUFFIXES)):
        raise InvalidInput(
            "bucket names are 3-63 characters of lower-case letters, digits, '-' and '.', "
            "starting and ending with a letter or digit", "name")
    return name


def is_id(value: str) -> bool:
    """Store and credential ids are lower-case UUID strings; nothing else can name one."""
    return bool(_UUID_RE.fullmatch(value))


def validate_object_key(key: str) -> str:
    """The one place object keys are checked (request paths and copy sources alike): not
    empty, at most 1024 bytes of UTF-8, no NUL (no store holds one, and PostgreSQL cannot
    compare one)."""
    if not key:
        raise InvalidInput("Object key must not be empty", "key")
    if len(key.encode("utf-8", "surrogatepass")) > MAX_KEY_BYTES:
        raise KeyTooLong("Your key is too long", "key")
    if "\x00" in key:
        raise InvalidInput("Object key must not contain NUL characters", "key")
    return key


def validate_access_key(value: str) -> str:
    if not _ACCESS_KEY_RE.match(value):
        raise InvalidInput(
            "access_key_id must be 3-128 characters of letters, digits, '-' and '_'",
            "access_key_id",
        )
    return value


def validate_secret(value: str) -> str:
    if not _SECRET_RE.match(value):
        raise InvalidInput(
            "secret_access_key_id must be 8-128 printable characters without spaces",
            "secret_access_key_id",
        )
    return value


def generate_access_key() -> str:
    return "".join(secrets.choice(_UPPER_ALNUM) for _ in range(20))


def generate_secret() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(40))


def generate_api_key() -> str:
    return "".join(secrets.choice(_ALNUM) for _ in range(50))

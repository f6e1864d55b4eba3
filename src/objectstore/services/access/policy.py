"""The bucket policy language (AWS's JSON access policy grammar, as S3 accepts it for
bucket policies): parsing and validation into frozen values the evaluator reads.

A policy that does not parse or names something this server does not know is refused as a
whole with a ``PolicyError`` (the S3 plane answers ``MalformedPolicy``): nothing of it is
stored.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

from ...domain.parsing import TooDeep, load_json
from .actions import KNOWN_ACTIONS

MAX_POLICY_BYTES = 20 * 1024  # S3's limit for a bucket policy
VERSIONS = ("2012-10-17", "2008-10-17")
ARN_PREFIX = "arn:aws:s3:::"

STRING_OPS = frozenset({"StringEquals", "StringNotEquals", "StringEqualsIgnoreCase",
                        "StringNotEqualsIgnoreCase", "StringLike", "StringNotLike"})
NUMERIC_OPS = frozenset({"NumericEquals", "NumericNotEquals", "NumericLessThan",
                         "NumericLessThanEquals", "NumericGreaterThan",
                         "NumericGreaterThanEquals"})
DATE_OPS = frozenset({"DateEquals", "DateNotEquals", "DateLessThan", "DateLessThanEquals",
                      "DateGreaterThan", "DateGreaterThanEquals"})
IP_OPS = frozenset({"IpAddress", "NotIpAddress"})
ARN_OPS = frozenset({"ArnEquals", "ArnNotEquals", "ArnLike", "ArnNotLike"})
OPERATORS = STRING_OPS | NUMERIC_OPS | DATE_OPS | IP_OPS | ARN_OPS | {"Bool", "Null"}
NEGATED = frozenset({"StringNotEquals", "StringNotEqualsIgnoreCase", "StringNotLike",
                     "NumericNotEquals", "DateNotEquals", "NotIpAddress", "ArnNotEquals",
                     "ArnNotLike"})

# Condition keys (lower case: keys are case-insensitive); tag keys take a "/<tag>" suffix.
CONDITION_KEYS = frozenset({
    "aws:sourceip", "aws:securetransport", "aws:referer", "aws:useragent", "aws:currenttime",
    "aws:epochtime", "s3:prefix", "s3:delimiter", "s3:max-keys", "s3:x-amz-acl",
    "s3:versionid", "s3:x-amz-server-side-encryption", "s3:signatureversion", "s3:authtype",
    "s3:signatureage", "s3:x-amz-content-sha256", "s3:x-amz-copy-source",
    "s3:x-amz-metadata-directive", "s3:x-amz-storage-class", "s3:x-amz-website-redirect-location",
    "s3:x-amz-server-side-encryption-aws-kms-key-id",
    "s3:x-amz-server-side-encryption-customer-algorithm", "s3:x-amz-grant-read",
    "s3:x-amz-grant-write", "s3:x-amz-grant-read-acp", "s3:x-amz-grant-write-acp",
    "s3:x-amz-grant-full-control", "s3:object-lock-mode", "s3:object-lock-retain-until-date",
    "s3:object-lock-remaining-retention-days", "s3:object-lock-legal-hold",
    "s3:resourceaccount", "s3:if-match", "s3:if-none-match",
})
TAG_KEY_PREFIXES = ("s3:existingobjecttag/", "s3:requestobjecttag/")


class PolicyError(ValueError):
    """A policy this server refuses; the message says why (shown to the client)."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


@dataclass(frozen=True)
class Condition:
    operator: str          # without IfExists / set prefix, e.g. "StringLike"
    key: str               # lower case
    values: tuple[str, ...]
    if_exists: bool = False
    for_all: bool = False  # ForAllValues: (ForAnyValue: is the default for one value)


@dataclass(frozen=True)
class Principals:
    """A Principal / NotPrincipal element: ``*`` or a set of names."""

    anyone: bool
    names: frozenset[str]

    def matches(self, names: frozenset[str]) -> bool:
        return self.anyone or not self.names.isdisjoint(names)


@dataclass(frozen=True)
class Statement:
    sid: str | None
    allow: bool
    principal: Principals | None
    not_principal: Principals | None
    actions: tuple[re.Pattern[str], ...]
    not_actions: tuple[re.Pattern[str], ...] | None
    resources: tuple[re.Pattern[str], ...]
    not_resources: tuple[re.Pattern[str], ...] | None
    conditions: tuple[Condition, ...]
    action_texts: tuple[str, ...] = ()

    @property
    def public(self) -> bool:
        """Whether an Allow reaches anyone (AWS's "public" test): a ``*`` principal (or a
        NotPrincipal) without a condition that pins the caller to fixed source addresses."""
        if not self.allow:
            return False
        anyone = (self.principal is not None and self.principal.anyone) or \
            self.not_principal is not None
        if not anyone:
            return False
        for c in self.conditions:
            if c.operator == "IpAddress" and c.key == "aws:sourceip" and not c.if_exists \
                    and all(ipaddress.ip_network(v, strict=False).prefixlen > 0
                            for v in c.values):
                return False
        return True


@dataclass(frozen=True)
class Policy:
    version: str
    statements: tuple[Statement, ...]

    @property
    def public(self) -> bool:
        return any(s.public for s in self.statements)

    @property
    def reads_object_tags(self) -> bool:
        """Whether a condition needs the object's own tags (s3:ExistingObjectTag/...)."""
        return any(c.key.startswith("s3:existingobjecttag/")
                   for s in self.statements for c in s.conditions)


def glob(pattern: str, *, ignore_case: bool = False) -> re.Pattern[str]:
    """An IAM wildcard pattern (``*`` any run, ``?`` one character) as a full-match regex."""
    parts = (".*" if ch == "*" else "." if ch == "?" else re.escape(ch) for ch in pattern)
    return re.compile("".join(parts), (re.IGNORECASE if ignore_case else 0) | re.DOTALL)


def _strings(value: Any, what: str) -> list[str]:
    if isinstance(value, str):
        return [value]
    if isinstance(value, list) and value and all(isinstance(v, str) for v in value):
        return list(value)
    raise PolicyError(f"{what} must be a string or a non-empty list of strings")


def _principals(value: Any) -> Principals:
    if value == "*":
        return Principals(True, frozenset())
    if not isinstance(value, dict) or not value:
        raise PolicyError("Invalid principal in policy: use \"*\" or {\"AWS\": [...]}")
    names: set[str] = set()
    anyone = False
    for kind, ids in value.items():
        if kind not in ("AWS", "CanonicalUser"):
            raise PolicyError(f"Invalid principal in policy: unsupported type {kind!r}")
        for name in _strings(ids, "Principal"):
            if name == "*":
                anyone = True
            elif not name.strip() or "*" in name or "?" in name:
                raise PolicyError(f"Invalid principal in policy: {name!r}")
            else:
                names.add(name)
    return Principals(anyone, frozenset(names))


def _actions(value: Any) -> tuple[tuple[re.Pattern[str], ...], tuple[str, ...]]:
    out = []
    texts = _strings(value, "Action")
    for text in texts:
        low = text.lower()
        if low != "*" and not low.startswith("s3:"):
            raise PolicyError(f"Policy has invalid action: {text}")
        if "*" not in low and "?" not in low and low not in KNOWN_ACTIONS:
            raise PolicyError(f"Policy has invalid action: {text}")
        out.append(glob(low, ignore_case=True))
    return tuple(out), tuple(texts)


def _resources(value: Any, bucket: str) -> tuple[re.Pattern[str], ...]:
    out = []
    applies = False
    for text in _strings(value, "Resource"):
        if text != "*" and not text.startswith(ARN_PREFIX):
            raise PolicyError(f"Policy has invalid resource: {text}")
        name = "*" if text == "*" else text[len(ARN_PREFIX):].split("/", 1)[0]
        if glob(name).fullmatch(bucket):
            applies = True
        out.append(glob(text))
    if not applies:
        raise PolicyError("Policy has invalid resource: no resource in the statement is in "
                          f"bucket {bucket}")
    return tuple(out)


def parse_number(text: str) -> float:
    if not re.fullmatch(r"-?[0-9]{1,30}(\.[0-9]{1,30})?", text.strip()):
        raise ValueError(text)
    return float(text)


def parse_date(text: str) -> datetime:
    text = text.strip()
    if re.fullmatch(r"[0-9]{1,12}", text):
        return datetime.fromtimestamp(int(text), UTC)
    dt = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return dt if dt.tzinfo else dt.replace(tzinfo=UTC)


def _check_value(operator: str, key: str, value: str) -> None:
    try:
        if operator in NUMERIC_OPS:
            parse_number(value)
        elif operator in DATE_OPS:
            parse_date(value)
        elif operator in IP_OPS:
            ipaddress.ip_network(value, strict=False)
        elif operator in ("Bool", "Null") and value.lower() not in ("true", "false"):
            raise ValueError(value)
    except ValueError:
        raise PolicyError(f"Invalid value {value!r} for {operator} on {key}") from None


def _conditions(value: Any) -> tuple[Condition, ...]:
    if not isinstance(value, dict):
        raise PolicyError("Condition must be an object of operators")
    out: list[Condition] = []
    for raw_op, block in value.items():
        op, for_all = str(raw_op), False
        if op.startswith("ForAllValues:"):
            op, for_all = op[len("ForAllValues:"):], True
        elif op.startswith("ForAnyValue:"):
            op = op[len("ForAnyValue:"):]
        if_exists = op.endswith("IfExists") and op != "Null"
        if if_exists:
            op = op[: -len("IfExists")]
        if op not in OPERATORS:
            raise PolicyError(f"Invalid Condition type: {raw_op}")
        if not isinstance(block, dict) or not block:
            raise PolicyError(f"Condition {raw_op} must map keys to values")
        for raw_key, raw_values in block.items():
            key = str(raw_key).lower()
            if key not in CONDITION_KEYS and not (
                    key.startswith(TAG_KEY_PREFIXES) and "/" in key and
                    key.split("/", 1)[1]):
                raise PolicyError(f"Policy has an invalid condition key: {raw_key}")
            items = raw_values if isinstance(raw_values, list) else [raw_values]
            if not items:
                raise PolicyError(f"Condition {raw_op} on {raw_key} has no value")
            values: list[str] = []
            for item in items:
                if isinstance(item, bool):
                    item = "true" if item else "false"
                elif isinstance(item, int | float):
                    item = str(item)
                if not isinstance(item, str):
                    raise PolicyError(f"Condition values of {raw_key} must be strings")
                _check_value(op, raw_key, item)
                values.append(item)
            out.append(Condition(op, key, tuple(values), if_exists, for_all))
    return tuple(out)


_STATEMENT_KEYS = frozenset({"Sid", "Effect", "Principal", "NotPrincipal", "Action",
                             "NotAction", "Resource", "NotResource", "Condition"})


def _one_of(st: dict[str, Any], a: str, b: str) -> str:
    if (a in st) == (b in st):
        raise PolicyError(f"Each statement must have exactly one of {a} or {b}")
    return a if a in st else b


def _statement(st: Any, bucket: str) -> Statement:
    if not isinstance(st, dict):
        raise PolicyError("Each Statement must be an object")
    unknown = set(st) - _STATEMENT_KEYS
    if unknown:
        raise PolicyError(f"Unknown field in statement: {sorted(unknown)[0]}")
    effect = st.get("Effect")
    if effect not in ("Allow", "Deny"):
        raise PolicyError("Invalid effect: Effect must be Allow or Deny")
    sid = st.get("Sid")
    if sid is not None and (not isinstance(sid, str) or not re.fullmatch(r"[\w ./:-]*", sid)):
        raise PolicyError("Statement Sid must be a string of letters, digits and spaces")
    pkey = _one_of(st, "Principal", "NotPrincipal")
    principals = _principals(st[pkey])
    akey = _one_of(st, "Action", "NotAction")
    actions, texts = _actions(st[akey])
    rkey = _one_of(st, "Resource", "NotResource")
    resources = _resources(st[rkey], bucket)
    conditions = _conditions(st["Condition"]) if "Condition" in st else ()
    return Statement(
        sid=sid, allow=effect == "Allow",
        principal=principals if pkey == "Principal" else None,
        not_principal=principals if pkey == "NotPrincipal" else None,
        actions=actions if akey == "Action" else (),
        not_actions=actions if akey == "NotAction" else None,
        resources=resources if rkey == "Resource" else (),
        not_resources=resources if rkey == "NotResource" else None,
        conditions=conditions, action_texts=texts)


def parse_policy(text: str | bytes, bucket: str) -> Policy:
    """Parse and validate a bucket policy document for ``bucket``."""
    raw = text.encode() if isinstance(text, str) else text
    if len(raw) > MAX_POLICY_BYTES:
        raise PolicyError("Policies must be no more than 20 KB")
    try:
        doc = load_json(raw)
    except TooDeep:
        raise PolicyError("Policies must be valid JSON (nesting is too deep)") from None
    except (ValueError, UnicodeDecodeError):
        raise PolicyError("Policies must be valid JSON") from None
    if not isinstance(doc, dict):
        raise PolicyError("Policies must be valid JSON and the first byte must be '{'")
    unknown = set(doc) - {"Version", "Id", "Statement"}
    if unknown:
        raise PolicyError(f"Unknown field {sorted(unknown)[0]}")
    version = doc.get("Version", "2008-10-17")
    if version not in VERSIONS:
        raise PolicyError("The policy must contain a valid version string")
    raw_statements = doc.get("Statement")
    if isinstance(raw_statements, dict):
        raw_statements = [raw_statements]
    if not isinstance(raw_statements, list) or not raw_statements:
        raise PolicyError("Missing required field Statement")
    statements = tuple(_statement(st, bucket) for st in raw_statements)
    sids = [s.sid for s in statements if s.sid]
    if len(sids) != len(set(sids)):
        raise PolicyError("Statement IDs (SID) in a single policy must be unique")
    return Policy(str(version), statements)


@lru_cache(maxsize=512)
def cached_policy(text: str, bucket: str) -> Policy:
    """``parse_policy`` for stored (already validated) documents on the request path."""
    return parse_policy(text, bucket)

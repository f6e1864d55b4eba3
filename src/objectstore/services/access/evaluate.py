"""Evaluating a bucket policy for one request: explicit Deny wins over any Allow; no
matching statement is "no decision" (the ACL and ownership rules decide then)."""

from __future__ import annotations

import ipaddress
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum

from .policy import (
    DATE_OPS,
    IP_OPS,
    NEGATED,
    NUMERIC_OPS,
    Condition,
    Policy,
    Statement,
    glob,
    parse_date,
    parse_number,
)


class Decision(Enum):
    DENY = "deny"
    ALLOW = "allow"
    NONE = "none"


@dataclass(frozen=True)
class Request:
    """What a policy is evaluated against: the action, the resource ARN, the names of the
    caller (empty: anonymous) and the condition keys (lower-case names) of the request."""

    action: str
    resource: str
    principals: frozenset[str] = frozenset()
    context: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Outcome:
    decision: Decision
    explicit: bool = False  # an Allow whose Principal named the caller (not only "*")
    statement: str | None = None  # the Sid (or index) of the deciding statement


def _any(patterns: tuple[object, ...], value: str) -> bool:
    return any(p.fullmatch(value) for p in patterns)  # type: ignore[attr-defined]


def _compare(op: str, actual: str, wanted: str) -> bool:
    """One positive comparison (the negated operators invert the result of the block)."""
    base = op.replace("Not", "", 1) if op in NEGATED else op
    if base == "StringEquals":
        return actual == wanted
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == wanted.lower()
    if base == "StringLike":
        return glob(wanted).fullmatch(actual) is not None
    if base in ("ArnEquals", "ArnLike"):
        return glob(wanted).fullmatch(actual) is not None
    if base == "Bool":
        return actual.lower() == wanted.lower()
    try:
        if op in NUMERIC_OPS:
            a, w = parse_number(actual), parse_number(wanted)
            return {"NumericEquals": a == w, "NumericNotEquals": a == w,
                    "NumericLessThan": a < w, "NumericLessThanEquals": a <= w,
                    "NumericGreaterThan": a > w, "NumericGreaterThanEquals": a >= w}[op]
        if op in DATE_OPS:
            da, dw = parse_date(actual), parse_date(wanted)
            return {"DateEquals": da == dw, "DateNotEquals": da == dw,
                    "DateLessThan": da < dw, "DateLessThanEquals": da <= dw,
                    "DateGreaterThan": da > dw, "DateGreaterThanEquals": da >= dw}[op]
        if op in IP_OPS:
            return ipaddress.ip_address(actual) in ipaddress.ip_network(wanted, strict=False)
    except (ValueError, TypeError):
        return False
    return False


def condition_holds(c: Condition, context: Mapping[str, str]) -> bool:
    actual = context.get(c.key)
    if c.operator == "Null":
        # Null: "true" -> the key must be absent; "false" -> present.
        return any((actual is None) == (v.lower() == "true") for v in c.values)
    if actual is None:
        # A missing key: IfExists passes; a negated operator passes (nothing equals it);
        # every other operator fails.
        return c.if_exists or c.operator in NEGATED
    matched = any(_compare(c.operator, actual, v) for v in c.values)
    if c.operator in NEGATED:
        return not matched
    return matched


def statement_applies(st: Statement, req: Request) -> bool:
    if st.principal is not None and not st.principal.matches(req.principals):
        return False
    if st.not_principal is not None and st.not_principal.matches(req.principals):
        return False
    if st.not_actions is not None:
        if _any(st.not_actions, req.action):
            return False
    elif not _any(st.actions, req.action):
        return False
    if st.not_resources is not None:
        if _any(st.not_resources, req.resource):
            return False
    elif not _any(st.resources, req.resource):
        return False
    return all(condition_holds(c, req.context) for c in st.conditions)


def evaluate(policy: Policy, req: Request) -> Outcome:
    """Deny if any applicable statement denies; else Allow if any allows; else no decision."""
    allowed: Outcome | None = None
    for i, st in enumerate(policy.statements):
        if not statement_applies(st, req):
            continue
        label = st.sid or str(i)
        if not st.allow:
            return Outcome(Decision.DENY, statement=label)
        explicit = st.principal is not None and not st.principal.names.isdisjoint(
            req.principals)
        if allowed is None or (explicit and not allowed.explicit):
            allowed = Outcome(Decision.ALLOW, explicit, label)
    return allowed or Outcome(Decision.NONE)

"""The policy evaluator against cases written from AWS's documented bucket policy examples
("Examples of Amazon S3 bucket policies", "IAM JSON policy elements: Condition operators"),
and the property that an applicable Deny is never overridden."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from objectstore.services.access.evaluate import Decision, Request, evaluate
from objectstore.services.access.policy import PolicyError, parse_policy

B = "examplebucket"
ALICE = frozenset({"a" * 64, f"arn:aws:iam:::user/{'a' * 64}", "AKIAALICE", "acct-1",
                   "arn:aws:iam::acct-1:root"})
BOB = frozenset({"b" * 64, "AKIABOB", "acct-2", "arn:aws:iam::acct-2:root"})
ANON: frozenset[str] = frozenset()


def pol(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def st_(effect: str = "Allow", principal: Any = "*", action: Any = "s3:GetObject",
        resource: Any = f"arn:aws:s3:::{B}/*", **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"Effect": effect, "Principal": principal, "Action": action,
                           "Resource": resource, **extra}
    return {k: v for k, v in out.items() if v is not None}


def decide(policy: str, action: str = "s3:GetObject", key: str | None = "k",
           who: frozenset[str] = ANON, **ctx: str) -> Decision:
    resource = f"arn:aws:s3:::{B}" + (f"/{key}" if key is not None else "")
    return evaluate(parse_policy(policy, B), Request(action, resource, who, ctx)).decision


ALLOW, DENY, NONE = Decision.ALLOW, Decision.DENY, Decision.NONE

CASES = [
    # (name, policy, request kwargs, expected)
    ("public read (AWS example: granting read-only permission to anonymous users)",
     pol(st_()), {}, ALLOW),
    ("action not covered", pol(st_()), {"action": "s3:PutObject"}, NONE),
    ("bucket ARN does not match object resource", pol(st_(resource=f"arn:aws:s3:::{B}")),
     {}, NONE),
    ("deny beats allow in the same policy",
     pol(st_(), st_("Deny", resource=f"arn:aws:s3:::{B}/secret/*")), {"key": "secret/x"},
     DENY),
    ("deny elsewhere does not apply",
     pol(st_(), st_("Deny", resource=f"arn:aws:s3:::{B}/secret/*")), {"key": "public/x"},
     ALLOW),
    ("action wildcard s3:Get*", pol(st_(action="s3:Get*")),
     {"action": "s3:GetObjectTagging"}, ALLOW),
    ("action matching ignores case", pol(st_(action="s3:getobject")), {}, ALLOW),
    ("resource ? wildcard", pol(st_(resource=f"arn:aws:s3:::{B}/file?.txt")),
     {"key": "file1.txt"}, ALLOW),
    ("resource match is case-sensitive", pol(st_(resource=f"arn:aws:s3:::{B}/Docs/*")),
     {"key": "docs/a"}, NONE),
    ("principal by canonical id", pol(st_(principal={"CanonicalUser": "a" * 64})),
     {"who": ALICE}, ALLOW),
    ("principal by IAM user ARN", pol(st_(principal={"AWS": f"arn:aws:iam:::user/{'a' * 64}"})),
     {"who": ALICE}, ALLOW),
    ("principal by access key", pol(st_(principal={"AWS": ["AKIAALICE"]})), {"who": BOB},
     NONE),
    ("principal by account root ARN", pol(st_(principal={"AWS": "arn:aws:iam::acct-2:root"})),
     {"who": BOB}, ALLOW),
    ("anonymous is not a named principal", pol(st_(principal={"AWS": "AKIAALICE"})), {},
     NONE),
    ("NotPrincipal denies everyone else",
     pol(st_("Deny", principal=None, NotPrincipal={"AWS": "AKIAALICE"})), {"who": BOB}, DENY),
    ("NotPrincipal spares the named one",
     pol(st_("Deny", principal=None, NotPrincipal={"AWS": "AKIAALICE"})), {"who": ALICE},
     NONE),
    ("NotAction: deny everything but GetObject",
     pol(st_("Deny", action=None, NotAction="s3:GetObject",
             resource=[f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*"])),
     {"action": "s3:DeleteObject"}, DENY),
    ("NotAction leaves the excepted action alone",
     pol(st_("Deny", action=None, NotAction="s3:GetObject")), {}, NONE),
    ("NotResource", pol(st_("Deny", resource=None, NotResource=f"arn:aws:s3:::{B}/public/*")),
     {"key": "private/a"}, DENY),
    # aws:SourceIp (AWS example: restricting access to specific IP addresses)
    ("IpAddress in range", pol(st_(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
     {"aws:sourceip": "192.0.2.7"}, ALLOW),
    ("IpAddress out of range",
     pol(st_(Condition={"IpAddress": {"aws:SourceIp": "192.0.2.0/24"}})),
     {"aws:sourceip": "203.0.113.1"}, NONE),
    ("NotIpAddress deny",
     pol(st_("Deny", action="s3:*", Condition={"NotIpAddress": {"aws:SourceIp": ["192.0.2.0/24",
                                                                        "2001:db8::/32"]}})),
     {"aws:sourceip": "2001:db9::1"}, DENY),
    ("NotIpAddress inside an IPv6 range",
     pol(st_("Deny", action="s3:*", Condition={"NotIpAddress": {"aws:SourceIp": "2001:db8::/32"}})),
     {"aws:sourceip": "2001:db8::1"}, NONE),
    # aws:SecureTransport (AWS example: deny plain HTTP)
    ("Bool false denies http",
     pol(st_("Deny", action="s3:*", Condition={"Bool": {"aws:SecureTransport": "false"}})),
     {"aws:securetransport": "false"}, DENY),
    ("Bool with JSON boolean",
     pol(st_("Deny", action="s3:*", Condition={"Bool": {"aws:SecureTransport": False}})),
     {"aws:securetransport": "true"}, NONE),
    # aws:Referer (AWS example: restricting access to a specific HTTP referer)
    ("StringLike referer", pol(st_(Condition={"StringLike": {"aws:Referer":
                                                              "https://www.example.com/*"}})),
     {"aws:referer": "https://www.example.com/page"}, ALLOW),
    ("StringLike referer missing", pol(st_(Condition={"StringLike": {"aws:Referer": "*"}})), {},
     NONE),
    ("StringNotLike with a missing key is true",
     pol(st_("Deny", Condition={"StringNotLike": {"aws:Referer": "https://ok/*"}})), {}, DENY),
    ("StringEquals", pol(st_(Condition={"StringEquals": {"aws:UserAgent": "curl/8"}})),
     {"aws:useragent": "curl/8"}, ALLOW),
    ("StringEquals is case-sensitive",
     pol(st_(Condition={"StringEquals": {"aws:UserAgent": "curl/8"}})),
     {"aws:useragent": "CURL/8"}, NONE),
    ("StringEqualsIgnoreCase",
     pol(st_(Condition={"StringEqualsIgnoreCase": {"aws:UserAgent": "curl/8"}})),
     {"aws:useragent": "CURL/8"}, ALLOW),
    ("StringNotEquals",
     pol(st_("Deny", Condition={"StringNotEquals": {"s3:x-amz-acl": "private"}})),
     {"s3:x-amz-acl": "public-read"}, DENY),
    ("condition keys ignore case",
     pol(st_(Condition={"StringEquals": {"S3:X-Amz-Acl": "private"}})),
     {"s3:x-amz-acl": "private"}, ALLOW),
    ("IfExists passes on a missing key",
     pol(st_(Condition={"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}})),
     {}, ALLOW),
    ("IfExists still checks a present key",
     pol(st_(Condition={"StringEqualsIfExists": {"s3:x-amz-server-side-encryption": "AES256"}})),
     {"s3:x-amz-server-side-encryption": "aws:kms"}, NONE),
    ("Null true: require SSE header (deny when absent)",
     pol(st_("Deny", action="s3:PutObject",
             Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}})),
     {"action": "s3:PutObject"}, DENY),
    ("Null true with the key present",
     pol(st_("Deny", action="s3:PutObject",
             Condition={"Null": {"s3:x-amz-server-side-encryption": "true"}})),
     {"action": "s3:PutObject", "s3:x-amz-server-side-encryption": "AES256"}, NONE),
    # s3:prefix / s3:max-keys / s3:delimiter (AWS example: list only a home folder)
    ("s3:prefix on ListBucket",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"StringLike": {"s3:prefix": ["home/", "home/alice/*"]}})),
     {"action": "s3:ListBucket", "key": None, "s3:prefix": "home/alice/docs"}, ALLOW),
    ("s3:prefix outside",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"StringLike": {"s3:prefix": "home/alice/*"}})),
     {"action": "s3:ListBucket", "key": None, "s3:prefix": "home/bob/"}, NONE),
    ("NumericLessThanEquals max-keys",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"NumericLessThanEquals": {"s3:max-keys": "10"}})),
     {"action": "s3:ListBucket", "key": None, "s3:max-keys": "10"}, ALLOW),
    ("NumericGreaterThan max-keys",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"NumericGreaterThan": {"s3:max-keys": 10}})),
     {"action": "s3:ListBucket", "key": None, "s3:max-keys": "10"}, NONE),
    ("NumericNotEquals", pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
                                Condition={"NumericNotEquals": {"s3:max-keys": "5"}})),
     {"action": "s3:ListBucket", "key": None, "s3:max-keys": "6"}, ALLOW),
    ("a non-numeric value never matches",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"NumericEquals": {"s3:max-keys": "5"}})),
     {"action": "s3:ListBucket", "key": None, "s3:max-keys": "five"}, NONE),
    ("StringEquals s3:delimiter",
     pol(st_(action="s3:ListBucket", resource=f"arn:aws:s3:::{B}",
             Condition={"StringEquals": {"s3:delimiter": "/"}})),
     {"action": "s3:ListBucket", "key": None, "s3:delimiter": "/"}, ALLOW),
    # aws:CurrentTime
    ("DateLessThan in the window",
     pol(st_(Condition={"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
     {"aws:currenttime": "2026-06-01T00:00:00Z"}, ALLOW),
    ("DateGreaterThan not yet",
     pol(st_(Condition={"DateGreaterThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}})),
     {"aws:currenttime": "2026-06-01T00:00:00Z"}, NONE),
    ("DateEquals with epoch seconds",
     pol(st_(Condition={"DateEquals": {"aws:CurrentTime": "0"}})),
     {"aws:currenttime": "1970-01-01T00:00:00Z"}, ALLOW),
    # tags, version id
    ("ExistingObjectTag", pol(st_(Condition={"StringEquals": {
        "s3:ExistingObjectTag/classification": "public"}})),
     {"s3:existingobjecttag/classification": "public"}, ALLOW),
    ("RequestObjectTag", pol(st_(action="s3:PutObject", Condition={"StringEquals": {
        "s3:RequestObjectTag/team": "x"}})),
     {"action": "s3:PutObject", "s3:requestobjecttag/team": "y"}, NONE),
    ("VersionId", pol(st_(action="s3:GetObjectVersion", Condition={"StringEquals": {
        "s3:VersionId": "v1"}})), {"action": "s3:GetObjectVersion", "s3:versionid": "v1"},
     ALLOW),
    ("ArnLike on a condition value", pol(st_(Condition={"ArnLike": {
        "aws:Referer": "arn:aws:s3:::*"}})), {"aws:referer": "arn:aws:s3:::x"}, ALLOW),
    ("two conditions are ANDed",
     pol(st_(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"},
                        "Bool": {"aws:SecureTransport": "true"}})),
     {"aws:sourceip": "10.1.1.1", "aws:securetransport": "false"}, NONE),
    ("values of one key are ORed",
     pol(st_(Condition={"StringEquals": {"aws:UserAgent": ["a", "b"]}})),
     {"aws:useragent": "b"}, ALLOW),
    ("Statement as a single object", json.dumps({"Version": "2012-10-17", "Statement": st_()}),
     {}, ALLOW),
]


@pytest.mark.parametrize(("name", "policy", "kwargs", "expected"), CASES,
                         ids=[c[0] for c in CASES])
def test_aws_examples(name: str, policy: str, kwargs: dict[str, Any], expected: Decision
                      ) -> None:
    kw = dict(kwargs)
    ctx = {k: kw.pop(k) for k in list(kw) if ":" in k}
    assert decide(policy, **kw, **ctx) is expected


MALFORMED = [
    ("not json", "{"),
    ("not an object", "[]"),
    ("bad version", json.dumps({"Version": "2020-01-01", "Statement": [st_()]})),
    ("no statement", json.dumps({"Version": "2012-10-17"})),
    ("bad effect", pol(st_("Maybe"))),
    ("no principal", pol(st_(principal=None))),
    ("both principal kinds", pol(st_(NotPrincipal="*"))),
    ("unknown action", pol(st_(action="s3:GetObjekt"))),
    ("non-s3 action", pol(st_(action="ec2:RunInstances"))),
    ("other bucket", pol(st_(resource="arn:aws:s3:::otherbucket/*"))),
    ("not an s3 arn", pol(st_(resource="arn:aws:iam:::x"))),
    ("unknown operator", pol(st_(Condition={"StringSorta": {"aws:Referer": "x"}}))),
    ("unknown key", pol(st_(Condition={"StringEquals": {"aws:Nope": "x"}}))),
    ("bad cidr", pol(st_(Condition={"IpAddress": {"aws:SourceIp": "300.1.1.1/8"}}))),
    ("bad number", pol(st_(Condition={"NumericEquals": {"s3:max-keys": "ten"}}))),
    ("bad date", pol(st_(Condition={"DateLessThan": {"aws:CurrentTime": "tomorrow"}}))),
    ("unknown field", pol(st_(Effects="Allow"))),
    ("duplicate sid", pol(st_(Sid="a"), st_(Sid="a"))),
    ("wildcard principal id", pol(st_(principal={"AWS": "AKIA*"}))),
    ("too large", pol(*[st_(Sid=f"s{i}") for i in range(300)])),
]


@pytest.mark.parametrize(("name", "text"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_policies_are_refused_with_a_reason(name: str, text: str) -> None:
    with pytest.raises(PolicyError) as err:
        parse_policy(text, B)
    assert err.value.message


def test_public_status() -> None:
    assert parse_policy(pol(st_()), B).public
    assert not parse_policy(pol(st_(principal={"AWS": "AKIAALICE"})), B).public
    assert not parse_policy(pol(st_(Condition={"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}})),
                            B).public
    assert parse_policy(pol(st_(Condition={"IpAddress": {"aws:SourceIp": "0.0.0.0/0"}})),
                        B).public
    assert not parse_policy(pol(st_("Deny")), B).public


# -- property: an applicable Deny is never overridden ------------------------------------------

ACTIONS = ["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:ListBucket", "s3:Get*",
           "s3:*", "*"]
PRINCIPALS: list[Any] = ["*", {"AWS": "AKIAALICE"}, {"AWS": ["AKIABOB", "acct-1"]},
                         {"CanonicalUser": "a" * 64}]
RESOURCES = [f"arn:aws:s3:::{B}", f"arn:aws:s3:::{B}/*", f"arn:aws:s3:::{B}/a/*",
             f"arn:aws:s3:::{B}/a/b", "*"]
CONDITIONS: list[dict[str, Any] | None] = [
    None, {"IpAddress": {"aws:SourceIp": "10.0.0.0/8"}},
    {"Bool": {"aws:SecureTransport": "true"}},
    {"StringLike": {"aws:UserAgent": "*curl*"}},
    {"StringNotEquals": {"s3:x-amz-acl": "private"}},
]

statement = st.builds(
    lambda effect, p, a, r, c: {k: v for k, v in {
        "Effect": effect, "Principal": p, "Action": a, "Resource": r, "Condition": c}.items()
        if v is not None},
    st.sampled_from(["Allow", "Deny"]), st.sampled_from(PRINCIPALS), st.sampled_from(ACTIONS),
    st.sampled_from(RESOURCES), st.sampled_from(CONDITIONS))
request = st.fixed_dictionaries({
    "action": st.sampled_from(["s3:GetObject", "s3:PutObject", "s3:DeleteObject",
                               "s3:ListBucket"]),
    "key": st.sampled_from([None, "a/b", "a/c", "z"]),
    "who": st.sampled_from([ALICE, BOB, ANON]),
    "ctx": st.fixed_dictionaries({}, optional={
        "aws:sourceip": st.sampled_from(["10.1.2.3", "192.0.2.1"]),
        "aws:securetransport": st.sampled_from(["true", "false"]),
        "aws:useragent": st.sampled_from(["curl/8", "boto3"]),
        "s3:x-amz-acl": st.sampled_from(["private", "public-read"])}),
})


@settings(max_examples=300, deadline=None)
@given(st.lists(statement, min_size=0, max_size=6), statement, request,
       st.integers(min_value=0, max_value=6))
def test_an_applicable_deny_always_wins(others: list[dict[str, Any]], deny: dict[str, Any],
                                        req: dict[str, Any], position: int) -> None:
    deny = dict(deny, Effect="Deny")
    statements = list(others)
    statements.insert(min(position, len(statements)), deny)
    resource = f"arn:aws:s3:::{B}" + (f"/{req['key']}" if req["key"] else "")
    request_ = Request(req["action"], resource, req["who"], req["ctx"])
    alone = evaluate(parse_policy(pol(deny), B), request_).decision
    combined = evaluate(parse_policy(pol(*statements), B), request_).decision
    if alone is Decision.DENY:
        assert combined is Decision.DENY  # nothing added around it overrides it
    else:
        assert alone is Decision.NONE
    # and removing every Allow never turns a Deny into anything else
    only_denies = [s for s in statements if s["Effect"] == "Deny"]
    if combined is Decision.DENY:
        assert evaluate(parse_policy(pol(*only_denies), B), request_).decision is Decision.DENY

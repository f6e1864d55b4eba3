"""Bucket configuration across accounts (issue 20.1), with boto3 over a real server: a policy
that names another account (an Allow of ``s3:*``, a broad ``NotAction``) never lets that
account read, replace or delete the policy (405 ``MethodNotAllowed``, as AWS answers anyone
outside the owning account) nor change the settings that decide who else gets in (ACL, public
access block, ownership controls); the other configuration operations follow the policy, as
on AWS. Every case checks that the owner's documents are as they were."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.security.helpers import REGION, Store, create_store, uniq
from tests.support.clients import boto_client, error_code, status_of
from tests.support.server import RunningServer

DENIED = ("AccessDenied", "MethodNotAllowed")


def _foreign(srv: RunningServer) -> tuple[str, Any]:
    """A new account with one credential: (account id, boto3 client)."""
    account, api_key = srv.services.accounts.create(uniq("acct"))
    with srv.api(api_key) as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("c"), "region": REGION})
    assert r.status_code == 200, r.text
    cred = r.json()
    return account.id, boto_client(srv.s3_url, cred["access_key_id"],
                                   cred["secret_access_key_id"])


def _mate(store: Store) -> Any:
    """A second credential of the store's own account."""
    with store.api() as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("m"), "region": REGION})
    assert r.status_code == 200, r.text
    cred = r.json()
    return boto_client(store.s3_url, cred["access_key_id"], cred["secret_access_key_id"]), cred


def _policy(*statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def _resources(name: str) -> list[str]:
    return [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]


def _fails(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err.value), status_of(err.value)


def _documents(s3: Any, name: str) -> dict[str, Any]:
    """What the owner sees of the store's access documents."""
    def get(call: Callable[[], Any]) -> Any:
        try:
            out = call()
        except ClientError as exc:
            return error_code(exc)
        out.pop("ResponseMetadata", None)
        return out

    return {"policy": get(lambda: s3.get_bucket_policy(Bucket=name)),
            "acl": get(lambda: s3.get_bucket_acl(Bucket=name)),
            "block": get(lambda: s3.get_public_access_block(Bucket=name)),
            "ownership": get(lambda: s3.get_bucket_ownership_controls(Bucket=name)),
            "versioning": get(lambda: s3.get_bucket_versioning(Bucket=name))}


def test_policy_takeover_by_another_account_fails(security_server: RunningServer) -> None:
    store = create_store(security_server)
    s3, name = store.boto(), store.name
    s3.put_object(Bucket=name, Key="private/secret", Body=b"secret")
    s3.put_object(Bucket=name, Key="shared/doc", Body=b"doc")
    account, f3 = _foreign(security_server)
    # no policy: the foreign account is simply refused (403, as AWS without permission)
    assert _fails(lambda: f3.put_bucket_policy(Bucket=name, Policy=_policy())) == \
        ("AccessDenied", 403)
    # the owner shares everything but deletes with the other account, and denies everyone
    # the private keys
    doc = _policy({"Sid": "Partner", "Effect": "Allow",
                   "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
                   "NotAction": "s3:DeleteObject", "Resource": _resources(name)},
                  {"Sid": "Private", "Effect": "Deny", "Principal": "*",
                   "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{name}/private/*"})
    s3.put_bucket_policy(Bucket=name, Policy=doc)
    before = _documents(s3, name)
    assert f3.get_object(Bucket=name, Key="shared/doc")["Body"].read() == b"doc"
    # the takeover: replace the policy with one that drops the Deny and locks the owner
    # out, or delete it; and read it to learn what protects what
    takeover = _policy({"Effect": "Allow", "Principal": "*", "Action": "s3:*",
                        "Resource": _resources(name)},
                       {"Effect": "Deny", "Principal": {"AWS": store.access_key},
                        "Action": "s3:*", "Resource": _resources(name)})
    assert _fails(lambda: f3.put_bucket_policy(Bucket=name, Policy=takeover)) == \
        ("MethodNotAllowed", 405)
    assert _fails(lambda: f3.delete_bucket_policy(Bucket=name)) == ("MethodNotAllowed", 405)
    assert _fails(lambda: f3.get_bucket_policy(Bucket=name)) == ("MethodNotAllowed", 405)
    # nor can it open the door another way
    assert _fails(lambda: f3.put_public_access_block(
        Bucket=name, PublicAccessBlockConfiguration={
            "BlockPublicAcls": False, "IgnorePublicAcls": False, "BlockPublicPolicy": False,
            "RestrictPublicBuckets": False}))[0] == "AccessDenied"
    assert _fails(lambda: f3.put_bucket_acl(Bucket=name, ACL="public-read-write"))[0] == \
        "AccessDenied"
    assert _fails(lambda: f3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]}))[0] == "AccessDenied"
    # the owner's Deny survives; the owner's documents are as they were
    assert _fails(lambda: f3.get_object(Bucket=name, Key="private/secret"))[0] == \
        "AccessDenied"
    assert httpx.get(f"{store.s3_url}/{name}/private/secret").status_code == 403
    assert _documents(s3, name) == before
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(doc)
    # a policy readable by "*" is still not readable from outside the account
    s3.put_bucket_policy(Bucket=name, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetBucketPolicy",
         "Resource": f"arn:aws:s3:::{name}"}))
    assert httpx.get(f"{store.s3_url}/{name}?policy").status_code == 405
    assert _fails(lambda: f3.get_bucket_policy(Bucket=name)) == ("MethodNotAllowed", 405)
    # a credential of the owner's own account may, when the policy says so
    m3, mate = _mate(store)
    s3.put_bucket_policy(Bucket=name, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": mate["access_key_id"]},
         "Action": ["s3:GetBucketPolicy", "s3:PutBucketPolicy"],
         "Resource": f"arn:aws:s3:::{name}"}))
    assert "Statement" in json.loads(m3.get_bucket_policy(Bucket=name)["Policy"])
    m3.put_bucket_policy(Bucket=name, Policy=doc)
    assert json.loads(s3.get_bucket_policy(Bucket=name)["Policy"]) == json.loads(doc)


def _lifecycle() -> dict[str, Any]:
    return {"Rules": [{"ID": "x", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                       "Expiration": {"Days": 1}}]}


# (operation, call on (client, bucket), what another account named by an Allow of s3:* gets:
#  None = authorized (it may still fail for its own reasons), else the error code)
OPERATIONS: list[tuple[str, Callable[[Any, str], Any], str | None]] = [
    ("GetBucketPolicy", lambda c, b: c.get_bucket_policy(Bucket=b), "MethodNotAllowed"),
    ("PutBucketPolicy", lambda c, b: c.put_bucket_policy(Bucket=b, Policy=_policy(
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{b}/*"})), "MethodNotAllowed"),
    ("DeleteBucketPolicy", lambda c, b: c.delete_bucket_policy(Bucket=b), "MethodNotAllowed"),
    ("PutBucketAcl", lambda c, b: c.put_bucket_acl(Bucket=b, ACL="public-read"),
     "AccessDenied"),
    ("PutPublicAccessBlock", lambda c, b: c.put_public_access_block(
        Bucket=b, PublicAccessBlockConfiguration={"BlockPublicAcls": True}), "AccessDenied"),
    ("DeletePublicAccessBlock", lambda c, b: c.delete_public_access_block(Bucket=b),
     "AccessDenied"),
    ("PutBucketOwnershipControls", lambda c, b: c.put_bucket_ownership_controls(
        Bucket=b, OwnershipControls={"Rules": [{"ObjectOwnership": "ObjectWriter"}]}),
     "AccessDenied"),
    ("DeleteBucketOwnershipControls", lambda c, b: c.delete_bucket_ownership_controls(
        Bucket=b), "AccessDenied"),
    ("GetBucketPolicyStatus", lambda c, b: c.get_bucket_policy_status(Bucket=b), None),
    ("GetBucketAcl", lambda c, b: c.get_bucket_acl(Bucket=b), None),
    ("GetPublicAccessBlock", lambda c, b: c.get_public_access_block(Bucket=b), None),
    ("GetBucketOwnershipControls", lambda c, b: c.get_bucket_ownership_controls(Bucket=b),
     None),
    ("GetBucketCors", lambda c, b: c.get_bucket_cors(Bucket=b), None),
    ("PutBucketCors", lambda c, b: c.put_bucket_cors(Bucket=b, CORSConfiguration={
        "CORSRules": [{"AllowedMethods": ["GET"], "AllowedOrigins": ["*"]}]}), None),
    ("DeleteBucketCors", lambda c, b: c.delete_bucket_cors(Bucket=b), None),
    ("GetBucketTagging", lambda c, b: c.get_bucket_tagging(Bucket=b), None),
    ("PutBucketTagging", lambda c, b: c.put_bucket_tagging(
        Bucket=b, Tagging={"TagSet": [{"Key": "k", "Value": "v"}]}), None),
    ("DeleteBucketTagging", lambda c, b: c.delete_bucket_tagging(Bucket=b), None),
    ("GetBucketLifecycleConfiguration",
     lambda c, b: c.get_bucket_lifecycle_configuration(Bucket=b), None),
    ("PutBucketLifecycleConfiguration", lambda c, b: c.put_bucket_lifecycle_configuration(
        Bucket=b, LifecycleConfiguration=_lifecycle()), None),
    ("DeleteBucketLifecycle", lambda c, b: c.delete_bucket_lifecycle(Bucket=b), None),
    ("GetBucketEncryption", lambda c, b: c.get_bucket_encryption(Bucket=b), None),
    ("PutBucketEncryption", lambda c, b: c.put_bucket_encryption(
        Bucket=b, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]}), None),
    ("DeleteBucketEncryption", lambda c, b: c.delete_bucket_encryption(Bucket=b), None),
    ("GetBucketVersioning", lambda c, b: c.get_bucket_versioning(Bucket=b), None),
    ("PutBucketVersioning", lambda c, b: c.put_bucket_versioning(
        Bucket=b, VersioningConfiguration={"Status": "Enabled"}), None),
    ("GetObjectLockConfiguration", lambda c, b: c.get_object_lock_configuration(Bucket=b),
     None),
    ("PutObjectLockConfiguration", lambda c, b: c.put_object_lock_configuration(
        Bucket=b, ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"}), None),
    ("GetBucketWebsite", lambda c, b: c.get_bucket_website(Bucket=b), None),
    ("GetBucketLocation", lambda c, b: c.get_bucket_location(Bucket=b), None),
]


@pytest.mark.parametrize(("op", "call", "foreign_gets"), OPERATIONS,
                         ids=[op for op, _, _ in OPERATIONS])
def test_bucket_configuration_from_another_account(
        security_server: RunningServer, op: str, call: Callable[[Any, str], Any],
        foreign_gets: str | None) -> None:
    store = create_store(security_server)
    s3, name = store.boto(), store.name
    account, f3 = _foreign(security_server)
    # without a policy naming it, another account gets nothing
    code, _ = _fails(lambda: call(f3, name))
    assert code == "AccessDenied", (op, code)
    s3.put_bucket_policy(Bucket=name, Policy=_policy(
        {"Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam::{account}:root"},
         "Action": "s3:*", "Resource": _resources(name)}))
    before = _documents(s3, name)
    got, status = None, 200
    try:
        call(f3, name)
    except ClientError as exc:
        got, status = error_code(exc), status_of(exc)
    if foreign_gets is None:
        assert got not in DENIED, (op, got)
        return
    assert (got, status) == (foreign_gets, 405 if got == "MethodNotAllowed" else 403), op
    assert _documents(s3, name) == before, op
    # the owner itself may always
    try:
        call(s3, name)
    except ClientError as exc:
        assert error_code(exc) not in DENIED, (op, error_code(exc))

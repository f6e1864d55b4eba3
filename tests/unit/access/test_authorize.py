"""The decision order of ``authorize``: Deny over the owner, the owner, policy Allow (with
the cross-account write rule and RestrictPublicBuckets), ACLs (IgnorePublicAcls,
BucketOwnerEnforced)."""

from __future__ import annotations

import json
from dataclasses import replace
from datetime import UTC, datetime

import pytest

from objectstore.domain.errors import AccessDenied, NotOwnerAccount
from objectstore.domain.models import Credential, ObjectStore, ObjectVersion
from objectstore.services.access import (
    Access,
    BucketAccess,
    PublicAccessBlock,
    RequestContext,
    authorize,
    needs_object,
    owner_on_write,
)
from objectstore.services.access import acl as acls
from objectstore.services.access.actions import OWNER_ACCOUNT_ONLY, POLICY_OPS
from objectstore.services.access.policy import parse_policy
from objectstore.services.access.principals import canonical_id

NOW = datetime.now(UTC)


def cred(id_: str, account: str) -> Credential:
    return Credential(id_, account, "LON1", id_, f"AK{id_}", "s", None, False, 0, NOW)


OWNER, MATE, STRANGER = cred("owner", "acct-1"), cred("mate", "acct-1"), cred("x", "acct-2")
STORE = ObjectStore("st", "acct-1", "LON1", "bkt", 1, "owner", True, 0, 0, "private", NOW)
OBJ = ObjectVersion("st", "k", "", 1, "e", NOW, "t")


def policy(*statements: dict[str, object]) -> BucketAccess:
    doc = json.dumps({"Version": "2012-10-17", "Statement": list(statements)})
    return BucketAccess(policy=parse_policy(doc, "bkt"))


def allowed(principal: Credential | None, op: str, bucket: BucketAccess = BucketAccess(),
            store: ObjectStore = STORE, obj: ObjectVersion | None = None,
            access: Access = Access.WRITE) -> bool:
    try:
        authorize(principal, access, store, obj, RequestContext(op, "k"), bucket)
    except AccessDenied:
        return False
    return True


def test_owner_may_do_anything_without_a_policy_others_nothing() -> None:
    assert allowed(OWNER, "PutObject") and allowed(OWNER, "PutBucketCors")
    assert not allowed(MATE, "GetObject") and not allowed(None, "GetObject")


def test_deny_applies_to_the_owner_but_never_locks_the_policy() -> None:
    deny = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:*",
                   "Resource": ["arn:aws:s3:::bkt", "arn:aws:s3:::bkt/*"]})
    assert not allowed(OWNER, "PutObject", deny)
    assert allowed(OWNER, "DeleteBucketPolicy", deny)
    assert not allowed(MATE, "DeleteBucketPolicy", deny)


def test_star_grants_reads_to_anyone_but_writes_only_within_the_account() -> None:
    p = policy({"Effect": "Allow", "Principal": "*", "Action": ["s3:GetObject", "s3:PutObject"],
                "Resource": "arn:aws:s3:::bkt/*"})
    assert allowed(None, "GetObject", p) and allowed(STRANGER, "GetObject", p)
    assert allowed(MATE, "PutObject", p)
    assert not allowed(STRANGER, "PutObject", p) and not allowed(None, "PutObject", p)
    named = policy({"Effect": "Allow", "Principal": {"AWS": "acct-2"}, "Action": "s3:PutObject",
                    "Resource": "arn:aws:s3:::bkt/*"})
    assert allowed(STRANGER, "PutObject", named)


def test_restrict_public_buckets() -> None:
    p = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bkt/*"})
    restricted = replace(p, block=PublicAccessBlock(restrict_public_buckets=True))
    assert not allowed(None, "GetObject", restricted)
    assert not allowed(STRANGER, "GetObject", restricted)
    assert allowed(MATE, "GetObject", restricted)


def test_acl_grants_and_ignore_public_acls() -> None:
    public = replace(STORE, acl="public-read")
    assert allowed(None, "ListObjects", store=public, access=Access.LIST)
    # the store's READ grant lists it; its objects are read by their own ACL (as on S3)
    assert not allowed(None, "GetObject", store=public, obj=OBJ, access=Access.READ)
    assert allowed(None, "GetObject", store=public, obj=replace(OBJ, acl="public-read"),
                   access=Access.READ)
    # a missing object: a caller who may list learns so (the handler answers 404)
    assert allowed(None, "GetObject", store=public, access=Access.READ)
    assert not allowed(None, "GetObject", access=Access.READ)
    assert not allowed(None, "PutObject", store=public)
    ignore = BucketAccess(block=PublicAccessBlock(ignore_public_acls=True))
    assert not allowed(None, "GetObject", ignore, store=public, access=Access.READ)
    rw = replace(STORE, acl="public-read-write")
    assert allowed(None, "PutObject", store=rw)
    grants = BucketAccess(grants=[acls.Grant(acls.CANONICAL, canonical_id("mate"), "WRITE")])
    assert allowed(MATE, "PutObject", grants) and not allowed(STRANGER, "PutObject", grants)
    auth = replace(STORE, acl="authenticated-read")
    assert allowed(STRANGER, "ListObjects", store=auth, access=Access.LIST)
    assert not allowed(None, "ListObjects", store=auth, access=Access.LIST)


def test_object_acl_needs_the_object_and_bucket_owner_enforced_disables_acls() -> None:
    assert needs_object(None, Access.READ, STORE, RequestContext("GetObject", "k"))
    # the owner's too: the object may be another account's
    assert needs_object(OWNER, Access.READ, STORE, RequestContext("GetObject", "k"))
    assert not needs_object(OWNER, Access.WRITE, STORE, RequestContext("PutObject", "k"))
    public_obj = replace(OBJ, acl="public-read")
    assert allowed(None, "GetObject", obj=public_obj, access=Access.READ)
    assert not allowed(None, "GetObject", obj=OBJ, access=Access.READ)
    enforced = BucketAccess(ownership="BucketOwnerEnforced")
    assert not allowed(None, "GetObject", enforced, obj=public_obj, access=Access.READ)
    assert allowed(OWNER, "GetObject", enforced, obj=public_obj, access=Access.READ)
    assert not needs_object(None, Access.READ, STORE, RequestContext("GetObject", "k"),
                            enforced)


def test_an_object_another_account_owns_is_its_owners() -> None:
    theirs = replace(OBJ, owner=STRANGER.id)
    reads = ("GetObject", "HeadObject", "GetObjectAcl", "PutObjectAcl", "GetObjectAttributes")
    for op in reads:
        assert allowed(STRANGER, op, obj=theirs, access=Access.READ)
        assert not allowed(OWNER, op, obj=theirs, access=Access.READ)
        assert not allowed(MATE, op, obj=theirs, access=Access.READ)
    assert allowed(OWNER, "DeleteObject", obj=theirs)  # the store's owner may always delete
    # bucket-owner-* canned ACLs grant the store's owner
    assert allowed(OWNER, "GetObject", obj=replace(theirs, acl="bucket-owner-read"),
                   access=Access.READ)
    assert not allowed(OWNER, "GetObjectAcl", obj=replace(theirs, acl="bucket-owner-read"),
                       access=Access.READ)
    assert allowed(OWNER, "PutObjectAcl",
                   obj=replace(theirs, acl="bucket-owner-full-control"), access=Access.READ)
    # the store's policy: its Allows do not reach the object, its Denys do
    p = policy({"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                "Resource": "arn:aws:s3:::bkt/*"})
    assert allowed(None, "GetObject", p, obj=OBJ, access=Access.READ)
    assert not allowed(None, "GetObject", p, obj=theirs, access=Access.READ)
    deny = policy({"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
                   "Resource": "arn:aws:s3:::bkt/*"})
    assert not allowed(STRANGER, "GetObject", deny, obj=theirs, access=Access.READ)
    # BucketOwnerEnforced: the store's owner owns everything
    enforced = BucketAccess(ownership="BucketOwnerEnforced")
    assert allowed(OWNER, "GetObject", enforced, obj=theirs, access=Access.READ)
    assert not allowed(STRANGER, "GetObject", enforced, obj=theirs, access=Access.READ)


@pytest.mark.parametrize(("ownership", "writer", "acl", "owner"), [
    (None, STRANGER, "private", "x"),
    ("ObjectWriter", STRANGER, "bucket-owner-full-control", "x"),
    ("BucketOwnerPreferred", STRANGER, "private", "x"),
    ("BucketOwnerPreferred", STRANGER, "bucket-owner-full-control", None),
    ("BucketOwnerEnforced", STRANGER, "private", None),
    ("ObjectWriter", MATE, "private", None),
    ("ObjectWriter", OWNER, "private", None),
    ("ObjectWriter", None, "private", None),
])
def test_owner_on_write(ownership: str | None, writer: Credential | None, acl: str,
                        owner: str | None) -> None:
    assert owner_on_write(writer, STORE, BucketAccess(ownership=ownership), acl) == owner


@pytest.mark.parametrize("op", ["PutObjectTagging", "PutBucketPolicy", "DeleteBucket",
                                "PutObjectRetention"])
def test_acls_never_grant_configuration(op: str) -> None:
    full = BucketAccess(grants=[acls.Grant(acls.GROUP, acls.ALL_USERS, "FULL_CONTROL")])
    assert not allowed(MATE, op, full)
    assert not allowed(MATE, op, full, obj=replace(OBJ, acl="public-read-write"))


def test_suspended_credentials_are_refused() -> None:
    assert not allowed(replace(OWNER, suspended=True), "GetObject")


@pytest.mark.parametrize("op", sorted(OWNER_ACCOUNT_ONLY))
def test_access_documents_are_the_store_accounts_alone(op: str) -> None:
    """A policy that names another account (``s3:*``) or everyone never lets it read or
    change the policy (NotOwnerAccount: 405) or the ACL, public access block and ownership
    controls (AccessDenied); a credential of the store's own account may, by policy."""
    everything = policy({"Effect": "Allow", "Principal": {"AWS": ["acct-2", "AKmate"]},
                         "Action": "s3:*", "Resource": ["arn:aws:s3:::bkt",
                                                        "arn:aws:s3:::bkt/*"]},
                        {"Effect": "Allow", "Principal": "*", "Action": "s3:Get*",
                         "Resource": "arn:aws:s3:::bkt"})
    request = RequestContext(op)
    for caller in (STRANGER, None):
        with pytest.raises(AccessDenied) as err:
            authorize(caller, Access.OWNER, STORE, None, request, everything)
        if caller is STRANGER or op == "GetBucketPolicy":
            assert isinstance(err.value, NotOwnerAccount) == (op in POLICY_OPS), (op, caller)
        # without the policy: a plain AccessDenied
        with pytest.raises(AccessDenied) as err:
            authorize(caller, Access.OWNER, STORE, None, request, BucketAccess())
        assert not isinstance(err.value, NotOwnerAccount)
    authorize(MATE, Access.OWNER, STORE, None, request, everything)
    authorize(OWNER, Access.OWNER, STORE, None, request, BucketAccess())

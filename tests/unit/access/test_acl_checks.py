"""The checks of the ACL a request sets against the store's documents (services/access's
acl_checks, pure): BucketOwnerEnforced allows only bucket-owner-full-control or grants that
are exactly the owner's full control; BlockPublicAcls refuses public canned ACLs and public
grants; a request on several keys under a policy is decided key by key."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from objectstore.domain.errors import AccessDenied, AclsDisabled
from objectstore.domain.models import Credential, ObjectStore
from objectstore.domain.operations import Op
from objectstore.services.access import (
    AclIntent,
    BucketAccess,
    PublicAccessBlock,
    authorize_each,
    check_acl,
)
from objectstore.services.access import acl as acls
from objectstore.services.access.policy import parse_policy
from objectstore.services.access.principals import canonical_id

NOW = datetime.now(UTC)
ENFORCED = BucketAccess(ownership="BucketOwnerEnforced")
BLOCKED = BucketAccess(block=PublicAccessBlock(block_public_acls=True))
STORE = ObjectStore("st", "acct-1", "LON1", "bkt", 1, "owner", True, 0, 0, "private", NOW)
MATE = Credential("mate", "acct-1", "LON1", "mate", "AKmate", "s", None, False, 0, NOW)


def grant(value: str, permission: str = acls.FULL_CONTROL, kind: str = acls.CANONICAL
          ) -> acls.Grant:
    return acls.Grant(kind, value, permission)


@pytest.mark.parametrize(("intent", "ok"), [
    (AclIntent("bucket-owner-full-control"), True),
    (AclIntent("private"), False),
    (AclIntent("public-read"), False),
    (AclIntent("private", [grant(canonical_id("owner"))]), True),
    (AclIntent("private", [grant(canonical_id("other"))]), False),
])
def test_bucket_owner_enforced_allows_only_the_owners_full_control(intent: AclIntent,
                                                                    ok: bool) -> None:
    if ok:
        check_acl(ENFORCED, intent, "owner")
    else:
        with pytest.raises(AclsDisabled):
            check_acl(ENFORCED, intent, "owner")


@pytest.mark.parametrize(("intent", "ok"), [
    (AclIntent("private"), True),
    (AclIntent("bucket-owner-full-control"), True),
    (AclIntent("public-read"), False),
    (AclIntent("authenticated-read"), False),
    (AclIntent("private", [grant(acls.ALL_USERS, acls.READ, acls.GROUP)]), False),
    (AclIntent("private", [grant(canonical_id("other"), acls.READ)]), True),
])
def test_block_public_acls_refuses_public_ones(intent: AclIntent, ok: bool) -> None:
    check_acl(BucketAccess(), intent, "owner")  # no documents: anything goes
    if ok:
        check_acl(BLOCKED, intent, "owner")
    else:
        with pytest.raises(AccessDenied):
            check_acl(BLOCKED, intent, "owner")


def test_each_key_is_decided_under_a_policy() -> None:
    doc = json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::bkt/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:DeleteObject",
         "Resource": "arn:aws:s3:::bkt/keep/*"}]})
    bucket = BucketAccess(policy=parse_policy(doc, "bkt"))
    calls = []

    def keys() -> dict[str, str]:
        calls.append(1)
        return {}

    authorize_each(MATE, STORE, bucket, Op.DeleteObject, [("a", None), ("b", None)], keys)
    with pytest.raises(AccessDenied):
        authorize_each(MATE, STORE, bucket, Op.DeleteObject, [("a", None), ("keep/x", None)],
                       keys)
    # without a policy nothing is decided key by key (nor are condition keys computed)
    authorize_each(MATE, STORE, BucketAccess(), Op.DeleteObject, [("keep/x", None)], keys)
    assert len(calls) == 2

"""ACLs in full with boto3 (SQLite and PostgreSQL): canned ACLs, grants by id, group and
email (an account's name), AccessControlPolicy XML returned exactly as set, grants on
PutObject, ownership controls, and refused ACLs that change nothing."""

from __future__ import annotations

from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from objectstore.services.access.principals import canonical_id

from .conftest import Store, error_code, uniq
from .test_policies import client_of, new_credential

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTH_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"


def fails(call: Any) -> str:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err.value)


def grants(acl: dict[str, Any]) -> list[tuple[str, str]]:
    return [(g["Grantee"].get("ID") or g["Grantee"].get("URI")
             or g["Grantee"].get("EmailAddress"), g["Permission"]) for g in acl["Grants"]]


def test_grants_by_id_and_group(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    mate = new_credential(dual_store)
    m3 = client_of(dual_store, mate)
    mate_id = canonical_id(mate["id"])
    owner_id = canonical_id(dual_store.credential_id)
    assert fails(lambda: m3.list_objects_v2(Bucket=name)) == "AccessDenied"
    # grant by id: READ on the store lets the grantee list (not read the objects: their own
    # ACLs do that, as on S3); WRITE lets it write
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{mate_id}"', GrantWrite=f"id={mate_id}")
    assert grants(s3.get_bucket_acl(Bucket=name)) == [(mate_id, "READ"), (mate_id, "WRITE")]
    assert m3.list_objects_v2(Bucket=name)["KeyCount"] == 1
    assert fails(lambda: m3.get_object(Bucket=name, Key="k")) == "AccessDenied"
    m3.put_object(Bucket=name, Key="from-mate", Body=b"m")
    assert fails(lambda: m3.get_bucket_acl(Bucket=name)) == "AccessDenied"
    assert fails(lambda: m3.put_bucket_acl(Bucket=name, ACL="private")) == "AccessDenied"
    # AccessControlPolicy XML: returned exactly as set
    policy = {"Owner": {"ID": owner_id}, "Grants": [
        {"Grantee": {"Type": "CanonicalUser", "ID": owner_id}, "Permission": "FULL_CONTROL"},
        {"Grantee": {"Type": "Group", "URI": AUTH_USERS}, "Permission": "READ"},
        {"Grantee": {"Type": "CanonicalUser", "ID": mate_id}, "Permission": "READ_ACP"}]}
    s3.put_bucket_acl(Bucket=name, AccessControlPolicy=policy)
    assert grants(s3.get_bucket_acl(Bucket=name)) == [
        (owner_id, "FULL_CONTROL"), (AUTH_USERS, "READ"), (mate_id, "READ_ACP")]
    assert grants(m3.get_bucket_acl(Bucket=name))[1] == (AUTH_USERS, "READ")
    assert fails(lambda: m3.put_object(Bucket=name, Key="no", Body=b"x")) == "AccessDenied"
    assert httpx.get(f"{dual_store.s3_url}/{name}?list-type=2").status_code == 403
    # group AllUsers via a header on an object: anonymous reads that object only
    s3.put_object(Bucket=name, Key="open", Body=b"o", GrantRead=f'uri="{ALL_USERS}"')
    s3.put_object(Bucket=name, Key="closed", Body=b"c")
    assert httpx.get(f"{dual_store.s3_url}/{name}/open").content == b"o"
    assert httpx.get(f"{dual_store.s3_url}/{name}/closed").status_code == 403
    assert grants(s3.get_object_acl(Bucket=name, Key="open")) == [(ALL_USERS, "READ")]
    # object ACL XML with an email grantee (an account, by name)
    account = dual_store.srv.services.accounts.list()[0]
    s3.put_object_acl(Bucket=name, Key="closed", AccessControlPolicy={
        "Owner": {"ID": owner_id}, "Grants": [
            {"Grantee": {"Type": "AmazonCustomerByEmail", "EmailAddress": account.name},
             "Permission": "READ"}]})
    assert m3.get_object(Bucket=name, Key="closed")["Body"].read() == b"c"
    assert grants(s3.get_object_acl(Bucket=name, Key="closed")) == [(account.name, "READ")]
    assert fails(lambda: s3.put_object_acl(Bucket=name, Key="closed", GrantRead=
                                           "emailAddress=nobody@example.com")) == \
        "UnresolvableGrantByEmailAddress"
    assert grants(s3.get_object_acl(Bucket=name, Key="closed")) == [(account.name, "READ")]


@pytest.mark.parametrize(("canned", "expected"), [
    ("private", []), ("public-read", [(ALL_USERS, "READ")]),
    ("public-read-write", [(ALL_USERS, "READ"), (ALL_USERS, "WRITE")]),
    ("authenticated-read", [(AUTH_USERS, "READ")]), ("bucket-owner-read", []),
    ("bucket-owner-full-control", []),
])
def test_canned_acls(store: Store, canned: str, expected: list[tuple[str, str]]) -> None:
    s3, name = store.boto(), store.name
    owner = (canonical_id(store.credential_id), "FULL_CONTROL")
    s3.put_bucket_acl(Bucket=name, ACL=canned)
    assert grants(s3.get_bucket_acl(Bucket=name)) == [owner, *expected]
    s3.put_object(Bucket=name, Key="k", Body=b"v", ACL=canned)
    assert grants(s3.get_object_acl(Bucket=name, Key="k")) == [owner, *expected]
    anon_put = httpx.put(f"{store.s3_url}/{name}/anon", content=b"a")
    assert anon_put.status_code == (200 if canned == "public-read-write" else 403)


def test_refused_acls_change_nothing(store: Store) -> None:
    s3, name = store.boto(), store.name
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    before = s3.get_bucket_acl(Bucket=name)["Grants"]
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="no-such-acl")) == \
        "InvalidArgument"
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, GrantRead="id=nothex")) == \
        "InvalidArgument"
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, GrantRead='uri="http://x/y"')) == \
        "InvalidArgument"
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, AccessControlPolicy={
        "Owner": {"ID": "f" * 64}, "Grants": []})) == "AccessDenied"
    assert s3.get_bucket_acl(Bucket=name)["Grants"] == before


def test_bucket_owner_enforced_disables_acls(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=name, Key="k", Body=b"v", ACL="public-read")
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 200
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerEnforced"}]
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 403
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read")) == \
        "AccessControlListNotSupported"
    assert fails(lambda: s3.put_object(Bucket=name, Key="p", Body=b"x", ACL="public-read")) \
        == "AccessControlListNotSupported"
    s3.put_object(Bucket=name, Key="q", Body=b"x", ACL="bucket-owner-full-control")
    assert len(grants(s3.get_object_acl(Bucket=name, Key="k"))) == 1
    s3.delete_bucket_ownership_controls(Bucket=name)
    assert fails(lambda: s3.get_bucket_ownership_controls(Bucket=name)) == \
        "OwnershipControlsNotFoundError"
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 200


def test_create_bucket_with_grants_and_ownership(store: Store) -> None:
    s3 = store.boto()
    name = uniq("g")
    s3.create_bucket(Bucket=name, GrantRead=f'uri="{ALL_USERS}"',
                     ObjectOwnership="BucketOwnerPreferred")
    assert grants(s3.get_bucket_acl(Bucket=name))[1:] == [(ALL_USERS, "READ")]
    assert httpx.get(f"{store.s3_url}/{name}?list-type=2").status_code == 200
    assert fails(lambda: s3.create_bucket(Bucket=uniq("g"), ACL="public-read",
                                          ObjectOwnership="BucketOwnerEnforced")) == \
        "InvalidBucketAclWithObjectOwnership"

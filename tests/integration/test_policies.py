"""Bucket policies and the public access block with boto3 over a real server (SQLite and
PostgreSQL): a read-only credential, a public prefix, aws:SourceIp, cross-account rules,
malformed policies that change nothing, BlockPublicPolicy."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError

from objectstore.services.access.principals import canonical_id
from tests.support.server import RunningServer

from .conftest import REGION, Store, boto_client, create_store, error_code, sign_v4, uniq


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)


def fails(call: Any) -> str:
    """The S3 error code ``call`` fails with (it must fail)."""
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err.value)


def new_credential(store: Store, api_key: str | None = None) -> dict[str, Any]:
    """A second credential (of the store's account unless ``api_key`` names another)."""
    with store.srv.api(api_key or store.api_key) as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("c"), "region": REGION})
    assert r.status_code == 200, r.text
    return r.json()


def client_of(store: Store, cred: dict[str, Any]) -> Any:
    return boto_client(store.s3_url, cred["access_key_id"], cred["secret_access_key_id"])


def other_account(store: Store) -> str:
    _, key = store.srv.services.accounts.create(uniq("acct"))
    return key


def policy(store: Store, *statements: dict[str, Any]) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": list(statements)})


def test_read_only_credential_public_prefix_and_source_ip(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=name, Key="public/a.txt", Body=b"public")
    s3.put_object(Bucket=name, Key="private/b.txt", Body=b"private")
    reader = new_credential(dual_store)
    ro = client_of(dual_store, reader)
    # before any policy the second credential reaches nothing
    assert fails(lambda: ro.get_object(Bucket=name, Key="public/a.txt")) == "AccessDenied"
    s3.put_bucket_policy(Bucket=name, Policy=policy(dual_store, {
        "Sid": "ReadOnly", "Effect": "Allow",
        "Principal": {"AWS": [reader["access_key_id"]]},
        "Action": ["s3:GetObject", "s3:ListBucket"],
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]}, {
        "Sid": "PublicPrefix", "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/public/*"}))
    # the read-only credential reads and lists ...
    assert ro.get_object(Bucket=name, Key="private/b.txt")["Body"].read() == b"private"
    assert {o["Key"] for o in ro.list_objects_v2(Bucket=name)["Contents"]} == {
        "public/a.txt", "private/b.txt"}
    # ... but cannot write or delete, and nothing changed
    assert fails(lambda: ro.put_object(Bucket=name, Key="x", Body=b"x")) == "AccessDenied"
    assert fails(lambda: ro.delete_object(Bucket=name, Key="private/b.txt")) == \
        "AccessDenied"
    assert fails(lambda: ro.delete_objects(
        Bucket=name, Delete={"Objects": [{"Key": "private/b.txt"}]})) == "AccessDenied"
    assert fails(lambda: ro.put_bucket_policy(Bucket=name, Policy="{}")) == "AccessDenied"
    assert len(s3.list_objects_v2(Bucket=name)["Contents"]) == 2
    # anonymous: the public prefix only
    base = f"{dual_store.s3_url}/{name}"
    assert httpx.get(f"{base}/public/a.txt").content == b"public"
    assert httpx.get(f"{base}/private/b.txt").status_code == 403
    assert httpx.get(f"{base}?list-type=2").status_code == 403
    # a Deny on another source address range locks everyone out (the owner too) ...
    s3.put_bucket_policy(Bucket=name, Policy=policy(dual_store, {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/public/*"}, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"NotIpAddress": {"aws:SourceIp": "192.0.2.0/24"}}}))
    assert httpx.get(f"{base}/public/a.txt").status_code == 403
    assert fails(lambda: s3.get_object(Bucket=name, Key="private/b.txt")) == \
        "AccessDenied"
    # ... except from its own policy, which it can always replace
    s3.put_bucket_policy(Bucket=name, Policy=policy(dual_store, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": {"NotIpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    assert s3.get_object(Bucket=name, Key="private/b.txt")["Body"].read() == b"private"
    s3.delete_bucket_policy(Bucket=name)
    assert fails(lambda: s3.get_bucket_policy(Bucket=name)) == "NoSuchBucketPolicy"
    assert fails(lambda: ro.get_object(Bucket=name, Key="private/b.txt")) == \
        "AccessDenied"


def test_public_access_block_refuses_public_policy_and_acls(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    public = policy(dual_store, {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                                 "Resource": f"arn:aws:s3:::{name}/*"})
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "BlockPublicAcls": True, "IgnorePublicAcls": False, "BlockPublicPolicy": True,
        "RestrictPublicBuckets": False})
    got = s3.get_public_access_block(Bucket=name)["PublicAccessBlockConfiguration"]
    assert got == {"BlockPublicAcls": True, "IgnorePublicAcls": False,
                   "BlockPublicPolicy": True, "RestrictPublicBuckets": False}
    assert fails(lambda: s3.put_bucket_policy(Bucket=name, Policy=public)) == \
        "AccessDenied"
    assert fails(lambda: s3.get_bucket_policy(Bucket=name)) == "NoSuchBucketPolicy"
    assert fails(lambda: s3.put_bucket_acl(Bucket=name, ACL="public-read")) == \
        "AccessDenied"
    assert fails(lambda: s3.put_object(Bucket=name, Key="p", Body=b"x",
                                            ACL="public-read")) == "AccessDenied"
    assert "Contents" not in s3.list_objects_v2(Bucket=name, Prefix="p")
    # a policy pinned to source addresses is not public
    s3.put_bucket_policy(Bucket=name, Policy=policy(dual_store, {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"IpAddress": {"aws:SourceIp": "127.0.0.0/8"}}}))
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is False
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").content == b"v"
    # RestrictPublicBuckets / IgnorePublicAcls
    s3.delete_public_access_block(Bucket=name)
    s3.put_bucket_policy(Bucket=name, Policy=public)
    assert s3.get_bucket_policy_status(Bucket=name)["PolicyStatus"]["IsPublic"] is True
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 200
    s3.put_public_access_block(Bucket=name, PublicAccessBlockConfiguration={
        "RestrictPublicBuckets": True, "IgnorePublicAcls": True})
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 403
    s3.delete_bucket_policy(Bucket=name)
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    s3.put_object_acl(Bucket=name, Key="k", ACL="public-read")
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 403
    assert httpx.get(f"{dual_store.s3_url}/{name}").status_code == 403
    s3.delete_public_access_block(Bucket=name)
    assert httpx.get(f"{dual_store.s3_url}/{name}/k").status_code == 200
    assert httpx.get(f"{dual_store.s3_url}/{name}").status_code == 200
    assert fails(lambda: s3.get_public_access_block(Bucket=name)) == \
        "NoSuchPublicAccessBlockConfiguration"


@pytest.mark.parametrize(("doc", "needle"), [
    ("not json", "valid JSON"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
     '"Action": "s3:GetObjekt", "Resource": "arn:aws:s3:::BUCKET/*"}]}', "invalid action"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
     '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::elsewhere/*"}]}', "invalid resource"),
    ('{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", '
     '"Action": "s3:GetObject", "Resource": "arn:aws:s3:::BUCKET/*", '
     '"Condition": {"IpAddress": {"aws:SourceIp": "nope"}}}]}', "Invalid value"),
])
def test_malformed_policy_changes_nothing(store: Store, doc: str, needle: str) -> None:
    s3 = store.boto()
    good = policy(store, {"Effect": "Allow", "Principal": {"AWS": "someone"},
                          "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{store.name}/*"})
    s3.put_bucket_policy(Bucket=store.name, Policy=good)
    with pytest.raises(ClientError) as err:
        s3.put_bucket_policy(Bucket=store.name, Policy=doc.replace("BUCKET", store.name))
    assert err.value.response["Error"]["Code"] == "MalformedPolicy"
    assert needle in err.value.response["Error"]["Message"]
    assert json.loads(s3.get_bucket_policy(Bucket=store.name)["Policy"]) == json.loads(good)


def test_other_accounts_write_only_when_named(store: Store) -> None:
    s3, name = store.boto(), store.name
    foreign = new_credential(store, other_account(store))
    mate = new_credential(store)
    f3, m3 = client_of(store, foreign), client_of(store, mate)
    s3.put_bucket_policy(Bucket=name, Policy=policy(store, {
        "Effect": "Allow", "Principal": "*", "Action": ["s3:PutObject", "s3:GetObject"],
        "Resource": f"arn:aws:s3:::{name}/*"}))
    m3.put_object(Bucket=name, Key="mate", Body=b"m")
    assert fails(lambda: f3.put_object(Bucket=name, Key="f", Body=b"f")) == "AccessDenied"
    assert f3.get_object(Bucket=name, Key="mate")["Body"].read() == b"m"
    s3.put_bucket_policy(Bucket=name, Policy=policy(store, {
        "Effect": "Allow", "Principal": {"AWS": f"arn:aws:iam:::user/"
                                                f"{canonical_id(foreign['id'])}"},
        "Action": "s3:PutObject", "Resource": f"arn:aws:s3:::{name}/*"}))
    f3.put_object(Bucket=name, Key="f", Body=b"f")
    # the writer owns it (no ownership controls: ObjectWriter, as on S3) unless it gives
    # the store's owner full control
    assert fails(lambda: s3.get_object(Bucket=name, Key="f")) == "AccessDenied"
    f3.put_object(Bucket=name, Key="f", Body=b"f", ACL="bucket-owner-full-control")
    assert s3.get_object(Bucket=name, Key="f")["Body"].read() == b"f"
    # copying out of the store needs read access to it as a source
    other = create_store(store.srv)
    assert fails(lambda: other.boto().copy_object(
        Bucket=other.name, Key="c", CopySource={"Bucket": name, "Key": "f"})) == "AccessDenied"


def test_existing_object_tag_and_request_conditions(store: Store) -> None:
    s3, name = store.boto(), store.name
    s3.put_object(Bucket=name, Key="t", Body=b"tagged", Tagging="share=yes")
    s3.put_object(Bucket=name, Key="u", Body=b"untagged")
    s3.put_bucket_policy(Bucket=name, Policy=policy(store, {
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringEquals": {"s3:ExistingObjectTag/share": "yes"}}}, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{name}/*",
        "Condition": {"StringNotEquals": {"s3:x-amz-acl": "private"}}}))
    assert httpx.get(f"{store.s3_url}/{name}/t").content == b"tagged"
    assert httpx.get(f"{store.s3_url}/{name}/u").status_code == 403
    assert fails(lambda: s3.put_object(Bucket=name, Key="n", Body=b"n")) == "AccessDenied"
    s3.put_object(Bucket=name, Key="n", Body=b"n", ACL="private")


def test_bucket_tagging(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    assert fails(lambda: s3.get_bucket_tagging(Bucket=name)) == "NoSuchTagSet"
    tags = [{"Key": "team", "Value": "web"}, {"Key": "env", "Value": ""}]
    s3.put_bucket_tagging(Bucket=name, Tagging={"TagSet": tags})
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == tags
    too_many = [{"Key": f"k{i}", "Value": "v"} for i in range(51)]
    assert fails(lambda: s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": too_many})) == "InvalidTag"
    assert fails(lambda: s3.put_bucket_tagging(
        Bucket=name, Tagging={"TagSet": [{"Key": "aws:x", "Value": "v"}]})) == "InvalidTag"
    assert s3.get_bucket_tagging(Bucket=name)["TagSet"] == tags
    s3.delete_bucket_tagging(Bucket=name)
    assert fails(lambda: s3.get_bucket_tagging(Bucket=name)) == "NoSuchTagSet"


def _v2(store: Store) -> Any:
    return boto_client(store.s3_url, store.access_key, store.secret_key,
                       signature_version="s3")


def _presigned_get(store: Store, key: str) -> int:
    url = store.boto().generate_presigned_url(
        "get_object", Params={"Bucket": store.name, "Key": key})
    return httpx.get(url, timeout=30).status_code


def _put_signed(store: Store, key: str, *, unsigned: bool) -> int:
    url = f"{store.s3_url}/{store.name}/{key}"
    h = sign_v4("PUT", url, store.access_key, store.secret_key, body=b"b", unsigned=unsigned)
    return httpx.put(url, content=b"b", headers=h, timeout=30).status_code


# (condition of a Deny on every action, a request it denies, one it does not); each request
# is made by the store's owner (an explicit Deny binds it too) and answers AccessDenied or
# goes through. ``s`` is the store, ``n`` its name.
CONDITION_CASES: dict[str, tuple[dict[str, Any], Any, Any]] = {
    "s3:prefix": ({"StringEquals": {"s3:prefix": "secret/"}},
                  lambda s, n: s.boto().list_objects_v2(Bucket=n, Prefix="secret/"),
                  lambda s, n: s.boto().list_objects_v2(Bucket=n, Prefix="public/")),
    "s3:delimiter": ({"StringEquals": {"s3:delimiter": "/"}},
                     lambda s, n: s.boto().list_objects_v2(Bucket=n, Delimiter="/"),
                     lambda s, n: s.boto().list_objects_v2(Bucket=n)),
    "s3:max-keys": ({"NumericGreaterThan": {"s3:max-keys": "100"}},
                    lambda s, n: s.boto().list_objects(Bucket=n, MaxKeys=500),
                    lambda s, n: s.boto().list_objects(Bucket=n, MaxKeys=10)),
    "s3:VersionId": ({"StringEquals": {"s3:VersionId": "null"}},
                     lambda s, n: s.boto().get_object(Bucket=n, Key="public/a",
                                                      VersionId="null"),
                     lambda s, n: s.boto().get_object(Bucket=n, Key="public/a")),
    "s3:RequestObjectTag": ({"StringEquals": {"s3:RequestObjectTag/team": "red"}},
                            lambda s, n: s.boto().put_object(Bucket=n, Key="t", Body=b"t",
                                                             Tagging="team=red"),
                            lambda s, n: s.boto().put_object(Bucket=n, Key="t", Body=b"t",
                                                             Tagging="team=blue")),
    "s3:signatureversion": ({"StringEquals": {"s3:signatureversion": "AWS"}},
                            lambda s, n: _v2(s).get_object(Bucket=n, Key="public/a"),
                            lambda s, n: s.boto().get_object(Bucket=n, Key="public/a")),
    "s3:authType": ({"StringEquals": {"s3:authType": "REST-QUERY-STRING"}},
                    lambda s, n: _presigned_get(s, "public/a"),
                    lambda s, n: s.boto().get_object(Bucket=n, Key="public/a")),
    "aws:SecureTransport": ({"Bool": {"aws:SecureTransport": "false"},
                             "StringEquals": {"s3:x-amz-acl": "public-read"}},
                            lambda s, n: s.boto().put_object(Bucket=n, Key="p", Body=b"p",
                                                             ACL="public-read"),
                            lambda s, n: s.boto().put_object(Bucket=n, Key="p", Body=b"p")),
    "s3:x-amz-server-side-encryption": (
        {"StringEquals": {"s3:x-amz-server-side-encryption": "AES256"}},
        lambda s, n: s.boto().put_object(Bucket=n, Key="e", Body=b"e",
                                         ServerSideEncryption="AES256"),
        lambda s, n: s.boto().put_object(Bucket=n, Key="e", Body=b"e")),
    "s3:x-amz-copy-source": (
        {"StringLike": {"s3:x-amz-copy-source": "BUCKET/secret/*"}},
        lambda s, n: s.boto().copy_object(Bucket=n, Key="c",
                                          CopySource={"Bucket": n, "Key": "secret/b"}),
        lambda s, n: s.boto().copy_object(Bucket=n, Key="c",
                                          CopySource={"Bucket": n, "Key": "public/a"})),
    "s3:x-amz-metadata-directive": (
        {"StringEquals": {"s3:x-amz-metadata-directive": "REPLACE"}},
        lambda s, n: s.boto().copy_object(Bucket=n, Key="c", MetadataDirective="REPLACE",
                                          CopySource={"Bucket": n, "Key": "public/a"}),
        lambda s, n: s.boto().copy_object(Bucket=n, Key="c", MetadataDirective="COPY",
                                          CopySource={"Bucket": n, "Key": "public/a"})),
    "s3:x-amz-storage-class": (
        {"StringEquals": {"s3:x-amz-storage-class": "STANDARD_IA"}},
        lambda s, n: s.boto().put_object(Bucket=n, Key="s", Body=b"s",
                                         StorageClass="STANDARD_IA"),
        lambda s, n: s.boto().put_object(Bucket=n, Key="s", Body=b"s")),
    "s3:x-amz-grant-read": (
        {"Null": {"s3:x-amz-grant-read": "false"}},
        lambda s, n: s.boto().put_object(
            Bucket=n, Key="g", Body=b"g",
            GrantRead='uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"'),
        lambda s, n: s.boto().put_object(Bucket=n, Key="g", Body=b"g")),
    "s3:x-amz-content-sha256": (
        {"StringEquals": {"s3:x-amz-content-sha256": "UNSIGNED-PAYLOAD"}},
        lambda s, n: _put_signed(s, "u", unsigned=True),
        lambda s, n: _put_signed(s, "u", unsigned=False)),
    "s3:ResourceAccount": (
        {"StringNotEquals": {"s3:ResourceAccount": "no-such-account"}},
        lambda s, n: s.boto().get_object(Bucket=n, Key="public/a"),
        None),
}


@pytest.mark.parametrize("case", sorted(CONDITION_CASES))
def test_condition_keys_are_evaluated(store: Store, case: str) -> None:
    """Each condition key AWS documents for S3 requests, from a real request: the Deny
    applies to the request that supplies the value, not to one that does not."""
    s3, name = store.boto(), store.name
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Suspended"})
    s3.put_object(Bucket=name, Key="public/a", Body=b"a")
    s3.put_object(Bucket=name, Key="secret/b", Body=b"b")
    condition, denied, allowed = CONDITION_CASES[case]
    condition = json.loads(json.dumps(condition).replace("BUCKET", name))
    s3.put_bucket_policy(Bucket=name, Policy=policy(store, {
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"],
        "Condition": condition}))

    def outcome(call: Any) -> str:
        try:
            got = call(store, name)
        except ClientError as exc:
            return error_code(exc)
        if isinstance(got, int):  # a hand-made request's status
            return "AccessDenied" if got == 403 else str(got)
        return "ok"

    assert outcome(denied) == "AccessDenied"
    if allowed is not None:
        assert outcome(allowed) in ("ok", "200")

"""A request answered with an error changes nothing (issue 21.3), with boto3 over a real
server on SQLite and PostgreSQL: a PutObject or CopyObject whose ``x-amz-grant-*`` names an
unknown account answered 400 but stored the object (the grants were applied in a second
transaction after the write). Now everything a write sets is validated first and committed
with the object row: the previous object keeps its bytes, ETag and versions."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from objectstore.services.access.principals import canonical_id
from objectstore.storage.sql.engine import writing

from .conftest import Store, error_code

UNKNOWN = 'emailAddress="nobody-here@example.invalid"'


def _state(s3: Any, name: str) -> dict[str, Any]:
    """Every version of every key (key, version, ETag, bytes' digest, latest), and the ACL
    of the latest version of each key."""
    versions = s3.list_object_versions(Bucket=name)
    out: dict[str, Any] = {"versions": [], "markers": len(versions.get("DeleteMarkers", []))}
    for v in versions.get("Versions", []):
        body = s3.get_object(Bucket=name, Key=v["Key"], VersionId=v["VersionId"])["Body"]
        out["versions"].append((v["Key"], v["VersionId"], v["ETag"], v["IsLatest"],
                                hashlib.sha256(body.read()).hexdigest()))
        if v["IsLatest"]:
            out[f"acl:{v['Key']}"] = s3.get_object_acl(Bucket=name, Key=v["Key"])["Grants"]
    return out


def _fails(call: Any) -> str:
    with pytest.raises(ClientError) as err:
        call()
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 400
    return error_code(err.value)


@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
def test_refused_grants_leave_the_previous_object(dual_store: Store, versioned: bool) -> None:
    s3, name = dual_store.boto(), dual_store.name
    if versioned:
        s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    first = s3.put_object(Bucket=name, Key="k", Body=b"first")["ETag"]
    s3.put_object(Bucket=name, Key="src", Body=b"source bytes")
    before = _state(s3, name)
    used = dual_store.stats()
    # PutObject: an unknown email grantee (large and small bodies), one the header syntax
    # refuses; CopyObject the same, onto the key and onto itself
    for body in (b"second", b"x" * (300 * 1024)):
        assert _fails(lambda b=body: s3.put_object(
            Bucket=name, Key="k", Body=b, GrantRead=UNKNOWN)) == \
            "UnresolvableGrantByEmailAddress"
    assert _fails(lambda: s3.put_object(Bucket=name, Key="k", Body=b"second",
                                        GrantFullControl="id=not-hex")) == "InvalidArgument"
    assert _fails(lambda: s3.copy_object(Bucket=name, Key="k", GrantRead=UNKNOWN,
                                         CopySource={"Bucket": name, "Key": "src"})) == \
        "UnresolvableGrantByEmailAddress"
    assert _fails(lambda: s3.copy_object(
        Bucket=name, Key="src", GrantRead=UNKNOWN, MetadataDirective="REPLACE",
        ContentType="text/x-changed", CopySource={"Bucket": name, "Key": "src"})) == \
        "UnresolvableGrantByEmailAddress"
    assert _state(s3, name) == before
    got = s3.get_object(Bucket=name, Key="k")
    assert (got["Body"].read(), got["ETag"]) == (b"first", first)
    assert s3.head_object(Bucket=name, Key="src")["ContentType"] != "text/x-changed"
    assert dual_store.stats() == used
    # grants that resolve are set with the write, in the same step
    mate = canonical_id(dual_store.credential_id)
    s3.put_object(Bucket=name, Key="k", Body=b"third", GrantRead=f'id="{mate}"')
    assert [g["Permission"] for g in s3.get_object_acl(Bucket=name, Key="k")["Grants"]] == \
        ["READ"]
    # a copy onto itself with a canned ACL replaces the explicit grants
    s3.copy_object(Bucket=name, Key="k", ACL="public-read",
                   CopySource={"Bucket": name, "Key": "k"})
    assert [(g["Grantee"].get("URI"), g["Permission"])
            for g in s3.get_object_acl(Bucket=name, Key="k")["Grants"]][-1] == (
        "http://acs.amazonaws.com/groups/global/AllUsers", "READ")


def test_post_object_refused_after_reading_changes_nothing(dual_store: Store) -> None:
    """A POST form whose redirect is refused (400) must not have stored its file."""
    s3, name = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=name, Key="form", Body=b"before")
    p = s3.generate_presigned_post(name, "form", Fields={"success_action_redirect":
                                                         "javascript:alert(1)"},
                                   Conditions=[{"success_action_redirect":
                                                "javascript:alert(1)"}])
    r = requests.post(p["url"], data=p["fields"], files={"file": ("f", b"after")},
                      allow_redirects=False, timeout=30)
    assert r.status_code == 400, r.text
    assert s3.get_object(Bucket=name, Key="form")["Body"].read() == b"before"


def test_multipart_grants_are_checked_first_and_set_with_the_object(dual_store: Store) -> None:
    s3, name = dual_store.boto(), dual_store.name
    assert _fails(lambda: s3.create_multipart_upload(Bucket=name, Key="mp",
                                                     GrantRead=UNKNOWN)) == \
        "UnresolvableGrantByEmailAddress"
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=name)
    reader = canonical_id(dual_store.credential_id)
    up = s3.create_multipart_upload(Bucket=name, Key="mp", GrantRead=f'id="{reader}"')
    etag = s3.upload_part(Bucket=name, Key="mp", UploadId=up["UploadId"], PartNumber=1,
                          Body=b"part")["ETag"]
    s3.complete_multipart_upload(Bucket=name, Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert [(g["Grantee"].get("ID"), g["Permission"])
            for g in s3.get_object_acl(Bucket=name, Key="mp")["Grants"]] == [(reader, "READ")]



def test_create_bucket_and_bucket_acl_are_one_step(store: Store) -> None:
    """A CreateBucket with grants, ownership and object lock, or a PutBucketAcl with grants,
    that fails part-way (the database refuses one of its writes: a trigger) leaves nothing:
    no store without its lock, no ACL half set."""
    s3, srv = store.boto(), store.srv
    reader = canonical_id(store.credential_id)
    s3.put_bucket_acl(Bucket=store.name, ACL="public-read")
    before = s3.get_bucket_acl(Bucket=store.name)["Grants"]
    # the triggers fail as a database error (not a constraint): their table does not exist
    with writing(srv.services.configs.engine) as conn:
        conn.exec_driver_sql("CREATE TABLE injected_fault (x INTEGER)")
        conn.exec_driver_sql("CREATE TRIGGER fail_lock BEFORE INSERT ON bucket_configs WHEN "
                             "NEW.name = 'object-lock' BEGIN INSERT INTO injected_fault "
                             "VALUES (1); END")
        conn.exec_driver_sql("CREATE TRIGGER fail_acl BEFORE UPDATE OF acl ON objectstores "
                             "BEGIN INSERT INTO injected_fault VALUES (1); END")
        conn.exec_driver_sql("DROP TABLE injected_fault")
    name = f"{store.name}-new"
    with pytest.raises(ClientError) as err:
        s3.create_bucket(Bucket=name, GrantRead=f'id="{reader}"',
                         ObjectOwnership="BucketOwnerPreferred",
                         ObjectLockEnabledForBucket=True)
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with pytest.raises(ClientError) as err:
        s3.put_bucket_acl(Bucket=store.name, GrantRead=f'id="{reader}"')
    assert err.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    with writing(srv.services.configs.engine) as conn:
        for trigger in ("fail_lock", "fail_acl"):
            conn.exec_driver_sql(f"DROP TRIGGER {trigger}")
    assert name not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert s3.get_bucket_acl(Bucket=store.name)["Grants"] == before
    # and when nothing fails, all of it is there
    s3.create_bucket(Bucket=name, GrantRead=f'id="{reader}"',
                     ObjectOwnership="BucketOwnerPreferred", ObjectLockEnabledForBucket=True)
    assert s3.get_bucket_versioning(Bucket=name)["Status"] == "Enabled"
    assert s3.get_object_lock_configuration(Bucket=name)["ObjectLockConfiguration"][
        "ObjectLockEnabled"] == "Enabled"
    assert s3.get_bucket_ownership_controls(Bucket=name)["OwnershipControls"]["Rules"] == [
        {"ObjectOwnership": "BucketOwnerPreferred"}]
    assert (reader, "READ") in [(g["Grantee"].get("ID"), g["Permission"])
                                for g in s3.get_bucket_acl(Bucket=name)["Grants"]]

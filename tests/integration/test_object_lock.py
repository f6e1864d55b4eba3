"""Object lock with boto3 and the aws CLI, on SQLite and PostgreSQL: retention and legal hold
refuse every path of deletion (each path its own assertion), GOVERNANCE bypass, defaults."""

from __future__ import annotations

import json
import subprocess
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Store, aws, error_code, uniq
from tests.support.clients import binary, clean_env


def lock_bucket(store: Store) -> tuple[Any, str]:
    """A bucket made by S3 CreateBucket with object lock enabled (same owner as ``store``)."""
    s3, name = store.boto(), uniq("lock")
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    return s3, name


def soon(minutes: int = 60) -> datetime:
    return (datetime.now(UTC) + timedelta(minutes=minutes)).replace(microsecond=0)


def refused(call: Any, code: str = "AccessDenied", **kw: Any) -> ClientError:
    with pytest.raises(ClientError) as ei:
        call(**kw)
    assert error_code(ei.value) == code, ei.value.response
    return ei.value


def test_lock_configuration_turns_versioning_on_for_good(dual_store: Store) -> None:
    s3, b = lock_bucket(dual_store)
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    conf = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert conf == {"ObjectLockEnabled": "Enabled"}
    refused(s3.put_bucket_versioning, "InvalidBucketState", Bucket=b,
            VersioningConfiguration={"Status": "Suspended"})
    s3.put_object_lock_configuration(Bucket=b, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    conf = s3.get_object_lock_configuration(Bucket=b)["ObjectLockConfiguration"]
    assert conf["Rule"]["DefaultRetention"] == {"Mode": "GOVERNANCE", "Days": 1}
    # a new object gets the default retention, from the server's clock
    before = datetime.now(UTC)
    vid = s3.put_object(Bucket=b, Key="d", Body=b"default")["VersionId"]
    head = s3.head_object(Bucket=b, Key="d", VersionId=vid)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    until = head["ObjectLockRetainUntilDate"]
    assert before + timedelta(days=1) - timedelta(seconds=5) < until \
        < datetime.now(UTC) + timedelta(days=1, seconds=5)
    # an unlocked bucket refuses lock headers and lock calls
    plain = dual_store.boto()
    refused(plain.put_object, "InvalidRequest", Bucket=dual_store.name, Key="x", Body=b"x",
            ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=soon())
    refused(plain.get_object_lock_configuration, "ObjectLockConfigurationNotFoundError",
            Bucket=dual_store.name)
    refused(plain.put_object_lock_configuration, "InvalidBucketState", Bucket=dual_store.name,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled"})
    refused(s3.put_object_lock_configuration, "MalformedXML", Bucket=b,
            ObjectLockConfiguration={"ObjectLockEnabled": "Enabled", "Rule": {
                "DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1, "Years": 1}}})


def test_compliance_retention_refuses_every_deletion_path(dual_store: Store,
                                                          tmp_path: Path) -> None:
    s3, b = lock_bucket(dual_store)
    until = soon()
    vid = s3.put_object(Bucket=b, Key="keep", Body=b"precious", ObjectLockMode="COMPLIANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    head = s3.head_object(Bucket=b, Key="keep")
    assert head["ObjectLockMode"] == "COMPLIANCE" and head["ObjectLockRetainUntilDate"] == until
    # 1. DeleteObject by version, with and without the GOVERNANCE bypass
    refused(s3.delete_object, Bucket=b, Key="keep", VersionId=vid)
    refused(s3.delete_object, Bucket=b, Key="keep", VersionId=vid,
            BypassGovernanceRetention=True)
    # 2. DeleteObjects
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [{"Key": "keep", "VersionId": vid}]})
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("keep", "AccessDenied")]
    # 3. retention cannot be shortened, removed or weakened; it can be extended
    refused(s3.put_object_retention, Bucket=b, Key="keep", VersionId=vid,
            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": until - timedelta(minutes=5)})
    refused(s3.put_object_retention, Bucket=b, Key="keep", VersionId=vid,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until},
            BypassGovernanceRetention=True)
    later = until + timedelta(hours=1)
    s3.put_object_retention(Bucket=b, Key="keep", VersionId=vid,
                            Retention={"Mode": "COMPLIANCE", "RetainUntilDate": later})
    assert s3.get_object_retention(Bucket=b, Key="keep", VersionId=vid)["Retention"][
        "RetainUntilDate"] == later
    # 4. a plain DELETE only adds a delete marker: the locked version stays
    assert s3.delete_object(Bucket=b, Key="keep")["DeleteMarker"] is True
    assert s3.get_object(Bucket=b, Key="keep", VersionId=vid)["Body"].read() == b"precious"
    # 5. S3 DeleteBucket
    refused(s3.delete_bucket, "BucketNotEmpty", Bucket=b)
    # 6. the management API's store deletion (which deletes contents)
    with dual_store.api() as api:
        stores = api.get("/v2/objectstores", params={"region": "LON1"}).json()["items"]
        store_id = next(s["id"] for s in stores if s["name"] == b)
        r2 = api.delete(f"/v2/objectstores/{store_id}", params={"region": "LON1"})
        assert r2.status_code == 409, r2.text
        assert r2.json()["code"] == "database_objectstore_locked"
    # 7. the admin CLI (deleting the whole account)
    srv = dual_store.srv
    env = clean_env(tmp_path)
    settings = srv.services.settings
    env["OBJECTSTORE_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["OBJECTSTORE_DATABASE_URL"] = settings.database_url
    out = subprocess.run([binary("objectstore"), "account", "delete", "default", "--yes"],
                         env=env, capture_output=True, timeout=120)
    assert out.returncode != 0 and b"retention or legal hold" in out.stderr, out
    # 8. lifecycle (a rule that would expire everything at once)
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [{
        "ID": "all", "Status": "Enabled", "Filter": {"Prefix": ""},
        "NoncurrentVersionExpiration": {"NoncurrentDays": 1}}]})
    worker = srv.apps.lifecycle
    worker.clock = lambda: datetime.now(UTC) + timedelta(days=3)  # type: ignore[method-assign]
    stats = worker.run_pass()
    assert stats.locked >= 1 and stats.noncurrent == 0
    # after all that: the version is whole, and so is everything else
    assert s3.get_object(Bucket=b, Key="keep", VersionId=vid)["Body"].read() == b"precious"
    assert s3.head_bucket(Bucket=b)
    assert dual_store.boto().head_bucket(Bucket=dual_store.name)


def test_governance_bypass(dual_store: Store) -> None:
    s3, b = lock_bucket(dual_store)
    until = soon()
    vid = s3.put_object(Bucket=b, Key="g", Body=b"gov", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=until)["VersionId"]
    refused(s3.delete_object, Bucket=b, Key="g", VersionId=vid)
    refused(s3.put_object_retention, Bucket=b, Key="g", VersionId=vid,
            Retention={"Mode": "GOVERNANCE", "RetainUntilDate": until - timedelta(minutes=1)})
    s3.put_object_retention(Bucket=b, Key="g", VersionId=vid, BypassGovernanceRetention=True,
                            Retention={"Mode": "GOVERNANCE",
                                       "RetainUntilDate": until - timedelta(minutes=1)})
    s3.delete_object(Bucket=b, Key="g", VersionId=vid, BypassGovernanceRetention=True)
    refused(s3.head_object, "404", Bucket=b, Key="g", VersionId=vid)


def test_legal_hold(dual_store: Store) -> None:
    s3, b = lock_bucket(dual_store)
    vid = s3.put_object(Bucket=b, Key="h", Body=b"held", ObjectLockLegalHoldStatus="ON")[
        "VersionId"]
    assert s3.get_object_legal_hold(Bucket=b, Key="h")["LegalHold"]["Status"] == "ON"
    assert s3.head_object(Bucket=b, Key="h")["ObjectLockLegalHoldStatus"] == "ON"
    refused(s3.delete_object, Bucket=b, Key="h", VersionId=vid, BypassGovernanceRetention=True)
    s3.put_object_legal_hold(Bucket=b, Key="h", VersionId=vid, LegalHold={"Status": "OFF"})
    s3.delete_object(Bucket=b, Key="h", VersionId=vid)
    refused(s3.put_object_legal_hold, "MalformedXML", Bucket=b, Key="h2",
            LegalHold={"Status": "MAYBE"})


def test_lock_on_multipart_and_copy(dual_store: Store) -> None:
    s3, b = lock_bucket(dual_store)
    until = soon()
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ObjectLockMode="COMPLIANCE",
                                    ObjectLockRetainUntilDate=until)["UploadId"]
    etag = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"p")["ETag"]
    vid = s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})["VersionId"]
    assert s3.get_object_retention(Bucket=b, Key="mp", VersionId=vid)["Retention"] == {
        "Mode": "COMPLIANCE", "RetainUntilDate": until}
    refused(s3.delete_object, Bucket=b, Key="mp", VersionId=vid)
    copied = s3.copy_object(Bucket=b, Key="cp", CopySource={"Bucket": b, "Key": "mp"},
                            ObjectLockLegalHoldStatus="ON")["VersionId"]
    head = s3.head_object(Bucket=b, Key="cp", VersionId=copied)
    assert head["ObjectLockLegalHoldStatus"] == "ON" and "ObjectLockMode" not in head
    refused(s3.put_object, "InvalidArgument", Bucket=b, Key="past", Body=b"x",
            ObjectLockMode="GOVERNANCE",
            ObjectLockRetainUntilDate=datetime.now(UTC) - timedelta(days=1))


def test_aws_cli_object_lock_round_trip(store: Store, tmp_path: Path) -> None:
    b = uniq("lockcli")
    aws(store, tmp_path, "s3api", "create-bucket", "--bucket", b,
        "--object-lock-enabled-for-bucket")
    aws(store, tmp_path, "s3api", "put-object-lock-configuration", "--bucket", b,
        "--object-lock-configuration",
        '{"ObjectLockEnabled": "Enabled", "Rule": {"DefaultRetention": '
        '{"Mode": "GOVERNANCE", "Days": 2}}}')
    conf = json.loads(aws(store, tmp_path, "s3api", "get-object-lock-configuration",
                          "--bucket", b).stdout)
    assert conf["ObjectLockConfiguration"]["Rule"]["DefaultRetention"]["Days"] == 2
    body = tmp_path / "f.txt"
    body.write_bytes(b"cli")
    vid = json.loads(aws(store, tmp_path, "s3api", "put-object", "--bucket", b, "--key", "f",
                         "--body", str(body)).stdout)["VersionId"]
    ret = json.loads(aws(store, tmp_path, "s3api", "get-object-retention", "--bucket", b,
                         "--key", "f", "--version-id", vid).stdout)
    assert ret["Retention"]["Mode"] == "GOVERNANCE"
    aws(store, tmp_path, "s3api", "put-object-legal-hold", "--bucket", b, "--key", "f",
        "--version-id", vid, "--legal-hold", "Status=ON")
    held = json.loads(aws(store, tmp_path, "s3api", "get-object-legal-hold", "--bucket", b,
                          "--key", "f", "--version-id", vid).stdout)
    assert held["LegalHold"]["Status"] == "ON"
    denied = aws(store, tmp_path, "s3api", "delete-object", "--bucket", b, "--key", "f",
                 "--version-id", vid, "--bypass-governance-retention", check=False)
    assert denied.returncode != 0 and b"AccessDenied" in denied.stderr


def test_governance_bypass_needs_the_permission(dual_store: Store) -> None:
    """A policy denying s3:BypassGovernanceRetention takes the bypass away, even from the
    store's owner; without the policy the same request works."""
    s3, b = lock_bucket(dual_store)
    vid = s3.put_object(Bucket=b, Key="g", Body=b"gov", ObjectLockMode="GOVERNANCE",
                        ObjectLockRetainUntilDate=soon())["VersionId"]
    s3.put_bucket_policy(Bucket=b, Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:BypassGovernanceRetention",
        "Resource": f"arn:aws:s3:::{b}/*"}]}))
    refused(s3.delete_object, Bucket=b, Key="g", VersionId=vid, BypassGovernanceRetention=True)
    r = s3.delete_objects(Bucket=b, BypassGovernanceRetention=True,
                          Delete={"Objects": [{"Key": "g", "VersionId": vid}]})
    assert [e["Code"] for e in r["Errors"]] == ["AccessDenied"]
    assert s3.get_object(Bucket=b, Key="g", VersionId=vid)["Body"].read() == b"gov"
    s3.delete_bucket_policy(Bucket=b)
    s3.delete_object(Bucket=b, Key="g", VersionId=vid, BypassGovernanceRetention=True)

"""Object versioning with boto3 over real sockets, on SQLite and PostgreSQL (``dual_store``).

The two versionId bugs of the unversioned server come first: a DELETE or GET naming a
version that does not exist must never touch (or return) the current object.
"""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.integration.conftest import Store, error_code, signed, status_of
from tests.support.server import RunningServer
from tests.support.stores import create_store


@pytest.fixture
def dual_store(module_server: RunningServer) -> Store:
    """A store of its own on the module's server (SQLite and PostgreSQL): these tests touch
    nothing else (conftest)."""
    return create_store(module_server)


UNKNOWN = "00000000000000ff0123abcd"  # well-formed, never issued


def versioned(store: Store) -> Any:
    s3 = store.boto()
    s3.put_bucket_versioning(Bucket=store.name, VersioningConfiguration={"Status": "Enabled"})
    return s3


def versions_of(s3: Any, bucket: str, **kw: Any) -> list[tuple[str, str, bool, bool]]:
    """(key, version id, is latest, is delete marker) in listing order."""
    r = s3.list_object_versions(Bucket=bucket, **kw)
    out = [(v["Key"], v["VersionId"], v["IsLatest"], False) for v in r.get("Versions", [])]
    out += [(m["Key"], m["VersionId"], m["IsLatest"], True) for m in r.get("DeleteMarkers", [])]
    return out


# -- the two bugs first --------------------------------------------------------------------------

def test_delete_of_an_unknown_version_keeps_the_current_object(dual_store: Store) -> None:
    s3 = dual_store.boto()
    s3.put_object(Bucket=dual_store.name, Key="live", Body=b"keep me")
    for vid in (UNKNOWN, "3HL4kqtJlcpXroDTDmJ"):
        with pytest.raises(ClientError) as ei:
            s3.delete_object(Bucket=dual_store.name, Key="live", VersionId=vid)
        assert error_code(ei.value) in ("NoSuchVersion", "InvalidArgument")
        assert status_of(ei.value) in (404, 400)
    assert s3.get_object(Bucket=dual_store.name, Key="live")["Body"].read() == b"keep me"
    # the null version is the object of a never-versioned store
    assert s3.get_object(Bucket=dual_store.name, Key="live",
                         VersionId="null")["Body"].read() == b"keep me"


def test_get_of_an_unknown_version_is_no_such_version(dual_store: Store) -> None:
    s3 = versioned(dual_store)
    s3.put_object(Bucket=dual_store.name, Key="k", Body=b"current")
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=dual_store.name, Key="k", VersionId=UNKNOWN)
    assert error_code(ei.value) == "NoSuchVersion" and status_of(ei.value) == 404
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=dual_store.name, Key="k", VersionId=UNKNOWN)
    assert status_of(ei.value) == 404
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=dual_store.name, Key="k", VersionId="not-a-version")
    assert error_code(ei.value) == "InvalidArgument"


# -- versioning as AWS documents it ---------------------------------------------------------------

def test_versions_markers_and_deleting_versions(dual_store: Store) -> None:
    s3, b = dual_store.boto(), dual_store.name
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    versioned(dual_store)
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Enabled"
    v1 = s3.put_object(Bucket=b, Key="doc", Body=b"one")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="doc", Body=b"two!")["VersionId"]
    assert v1 != v2 and "null" not in (v1, v2)
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"two!"
    got = s3.get_object(Bucket=b, Key="doc", VersionId=v1)
    assert got["Body"].read() == b"one" and got["VersionId"] == v1
    assert s3.head_object(Bucket=b, Key="doc", VersionId=v2)["ContentLength"] == 4
    assert versions_of(s3, b) == [("doc", v2, True, False), ("doc", v1, False, False)]
    assert dual_store.stats()["num_objects"] == 2

    deleted = s3.delete_object(Bucket=b, Key="doc")
    assert deleted["DeleteMarker"] is True
    marker = deleted["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=b, Key="doc")
    assert status_of(ei.value) == 404
    assert ei.value.response["ResponseMetadata"]["HTTPHeaders"]["x-amz-delete-marker"] == "true"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=b, Key="doc", VersionId=marker)
    assert status_of(ei.value) == 405
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    assert versions_of(s3, b) == [("doc", v2, False, False), ("doc", v1, False, False),
                                  ("doc", marker, True, True)]

    # removing the marker brings v2 back; removing v2 by id leaves only v1
    r = s3.delete_object(Bucket=b, Key="doc", VersionId=marker)
    assert r["DeleteMarker"] is True and r["VersionId"] == marker
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"two!"
    assert s3.delete_object(Bucket=b, Key="doc", VersionId=v2)["VersionId"] == v2
    assert s3.get_object(Bucket=b, Key="doc")["Body"].read() == b"one"
    assert versions_of(s3, b) == [("doc", v1, True, False)]
    assert dual_store.stats()["num_objects"] == 1
    (row,) = dual_store.srv.services.stores.by_name(b)
    assert (row.used_bytes, row.object_count) == (3, 1)  # exactly v1's bytes remain


def test_usage_counts_every_version(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    for n in (100_000, 200_000, 300_000):
        s3.put_object(Bucket=b, Key="big", Body=b"x" * n)
    assert dual_store.stats()["size_kb_utilised"] == 600
    assert dual_store.stats()["num_objects"] == 3
    s3.delete_object(Bucket=b, Key="big")  # a marker frees nothing
    assert dual_store.stats()["size_kb_utilised"] == 600
    for key, vid, _latest, _marker in versions_of(s3, b):
        s3.delete_object(Bucket=b, Key=key, VersionId=vid)
    stats = dual_store.stats()
    assert (stats["size_kb_utilised"], stats["num_objects"]) == (0, 0)
    (row,) = dual_store.srv.services.stores.by_name(b)
    assert row.used_bytes == 0
    s3.delete_bucket(Bucket=b)


def test_suspended_store_writes_the_null_version(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    kept = s3.put_object(Bucket=b, Key="s", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    assert s3.put_object(Bucket=b, Key="s", Body=b"null one")["VersionId"] == "null"
    assert s3.put_object(Bucket=b, Key="s", Body=b"null two")["VersionId"] == "null"
    assert versions_of(s3, b) == [("s", "null", True, False), ("s", kept, False, False)]
    assert s3.get_object(Bucket=b, Key="s", VersionId="null")["Body"].read() == b"null two"
    r = s3.delete_object(Bucket=b, Key="s")
    assert r["DeleteMarker"] is True and r["VersionId"] == "null"
    assert versions_of(s3, b) == [("s", kept, False, False), ("s", "null", True, True)]
    assert s3.get_object(Bucket=b, Key="s", VersionId=kept)["Body"].read() == b"versioned"
    assert dual_store.stats()["num_objects"] == 1


def test_versioning_configuration_errors(dual_store: Store) -> None:
    s3, b = dual_store.boto(), dual_store.name
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={
            "Status": "Enabled", "MFADelete": "Enabled"})
    assert error_code(ei.value) == "InvalidArgument"
    assert "MFA" in ei.value.response["Error"]["Message"]
    r = signed(dual_store, "PUT", f"/{b}?versioning", body=b"<VersioningConfiguration>"
               b"<Status>Maybe</Status></VersioningConfiguration>")
    assert r.status_code == 400 and b"MalformedXML" in r.content
    assert "Status" not in s3.get_bucket_versioning(Bucket=b)
    # suspending a store that never had versioning makes it Suspended (AWS; Terraform's
    # aws_s3_bucket_versioning reads it back): PUTs write the null version, a DELETE leaves a
    # null delete marker
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Suspended"})
    assert s3.get_bucket_versioning(Bucket=b)["Status"] == "Suspended"
    assert s3.put_object(Bucket=b, Key="plain", Body=b"x").get("VersionId") in (None, "null")
    s3.delete_object(Bucket=b, Key="plain")
    markers = s3.list_object_versions(Bucket=b, Prefix="plain").get("DeleteMarkers", [])
    assert [(m["Key"], m["VersionId"]) for m in markers] == [("plain", "null")]


def test_list_object_versions_pages_prefixes_and_markers(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    ids: dict[str, list[str]] = {}
    for key in ("a/1", "a/2", "b", "c"):
        ids[key] = [s3.put_object(Bucket=b, Key=key, Body=key.encode() * n)["VersionId"]
                    for n in (1, 2)]
    s3.delete_object(Bucket=b, Key="c")
    everything = versions_of(s3, b)
    assert len(everything) == 9
    seen: list[tuple[str, str]] = []
    kw: dict[str, Any] = {}
    while True:
        r = s3.list_object_versions(Bucket=b, MaxKeys=2, **kw)
        page = [(v["Key"], v["VersionId"]) for v in r.get("Versions", [])]
        page += [(m["Key"], m["VersionId"]) for m in r.get("DeleteMarkers", [])]
        assert len(page) <= 2
        seen += page
        if not r["IsTruncated"]:
            break
        kw = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    assert sorted(seen) == sorted((k, v) for k, v, _, _ in everything)
    assert len(seen) == len(set(seen))
    # newest first within a key
    assert [v for k, v, _, m in everything if k == "a/1"] == ids["a/1"][::-1]
    r = s3.list_object_versions(Bucket=b, Delimiter="/")
    assert [p["Prefix"] for p in r["CommonPrefixes"]] == ["a/"]
    assert {v["Key"] for v in r["Versions"]} == {"b", "c"}
    r = s3.list_object_versions(Bucket=b, Prefix="a/", KeyMarker="a/1")
    assert {(v["Key"], v["VersionId"]) for v in r["Versions"]} == {
        ("a/2", ids["a/2"][0]), ("a/2", ids["a/2"][1])}


def test_delete_objects_with_version_ids(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    v1 = s3.put_object(Bucket=b, Key="m", Body=b"1")["VersionId"]
    v2 = s3.put_object(Bucket=b, Key="m", Body=b"2")["VersionId"]
    r = s3.delete_objects(Bucket=b, Delete={"Objects": [
        {"Key": "m", "VersionId": v1}, {"Key": "m", "VersionId": UNKNOWN}, {"Key": "n"}]})
    assert {(d["Key"], d.get("VersionId")) for d in r["Deleted"]} == {("m", v1), ("n", None)}
    marker = next(d for d in r["Deleted"] if d["Key"] == "n")
    assert marker["DeleteMarker"] is True and marker["DeleteMarkerVersionId"]
    assert [(e["Key"], e["Code"]) for e in r["Errors"]] == [("m", "NoSuchVersion")]
    assert versions_of(s3, b) == [("m", v2, True, False),
                                  ("n", marker["DeleteMarkerVersionId"], True, True)]
    # emptying a store by versions, then deleting it (what backup tools do)
    objs = [{"Key": k, "VersionId": v} for k, v, _, _ in versions_of(s3, b)]
    s3.delete_objects(Bucket=b, Delete={"Objects": objs})
    s3.delete_bucket(Bucket=b)


def test_copy_and_upload_part_copy_from_a_version(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    old = s3.put_object(Bucket=b, Key="src", Body=b"old bytes" * 1000)["VersionId"]
    s3.put_object(Bucket=b, Key="src", Body=b"new")
    r = s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                        "VersionId": old})
    assert r["CopySourceVersionId"] == old and r["VersionId"] not in (old, "null")
    assert s3.get_object(Bucket=b, Key="dst")["Body"].read() == b"old bytes" * 1000
    with pytest.raises(ClientError) as ei:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src",
                                                        "VersionId": UNKNOWN})
    assert error_code(ei.value) == "NoSuchVersion"
    up = s3.create_multipart_upload(Bucket=b, Key="mp")["UploadId"]
    part = s3.upload_part_copy(Bucket=b, Key="mp", UploadId=up, PartNumber=1,
                               CopySource={"Bucket": b, "Key": "src", "VersionId": old},
                               CopySourceRange="bytes=0-8")
    done = s3.complete_multipart_upload(
        Bucket=b, Key="mp", UploadId=up, MultipartUpload={"Parts": [
            {"PartNumber": 1, "ETag": part["CopyPartResult"]["ETag"]}]})
    assert done["VersionId"] not in ("", "null")
    assert s3.get_object(Bucket=b, Key="mp")["Body"].read() == b"old bytes"


def test_copy_source_with_nul_is_a_client_error(dual_store: Store) -> None:
    s3, b = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=b, Key="k", Body=b"x")
    r = signed(dual_store, "PUT", f"/{b}/copy", headers={"x-amz-copy-source": f"/{b}/k%00x"})
    assert r.status_code == 400, r.text
    assert b"InvalidArgument" in r.content


def test_tags_and_acl_of_a_version(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    v1 = s3.put_object(Bucket=b, Key="t", Body=b"1")["VersionId"]
    s3.put_object(Bucket=b, Key="t", Body=b"2")
    s3.put_object_tagging(Bucket=b, Key="t", VersionId=v1,
                          Tagging={"TagSet": [{"Key": "old", "Value": "yes"}]})
    assert s3.get_object_tagging(Bucket=b, Key="t", VersionId=v1)["TagSet"] == [
        {"Key": "old", "Value": "yes"}]
    assert s3.get_object_tagging(Bucket=b, Key="t")["TagSet"] == []


def test_delete_bucket_aborts_unfinished_uploads_and_needs_no_versions(
        dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    up = s3.create_multipart_upload(Bucket=b, Key="unfinished")["UploadId"]
    s3.upload_part(Bucket=b, Key="unfinished", UploadId=up, PartNumber=1, Body=b"p" * 1000)
    s3.put_object(Bucket=b, Key="gone", Body=b"x")
    s3.delete_object(Bucket=b, Key="gone")  # a marker and one old version remain
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=b)
    assert error_code(ei.value) == "BucketNotEmpty"
    for key, vid, _latest, _marker in versions_of(s3, b):
        s3.delete_object(Bucket=b, Key=key, VersionId=vid)
    s3.delete_bucket(Bucket=b)  # only the upload was left: aborted with the bucket
    with dual_store.api() as api:
        assert api.get(f"/v2/objectstores/{dual_store.id}",
                       params={"region": "LON1"}).status_code == 404


def test_get_object_attributes(dual_store: Store) -> None:
    s3, b = versioned(dual_store), dual_store.name
    put = s3.put_object(Bucket=b, Key="attr", Body=b"hello world", ChecksumAlgorithm="CRC32")
    r = s3.get_object_attributes(Bucket=b, Key="attr", ObjectAttributes=[
        "ETag", "Checksum", "ObjectSize", "StorageClass", "ObjectParts"])
    assert r["ETag"] == put["ETag"].strip('"')
    assert r["ObjectSize"] == 11 and r["StorageClass"] == "STANDARD"
    assert r["Checksum"]["ChecksumCRC32"] == put["ChecksumCRC32"]
    assert r["VersionId"] == put["VersionId"]
    with pytest.raises(ClientError) as ei:
        s3.get_object_attributes(Bucket=b, Key="attr", ObjectAttributes=["Nonsense"])
    assert error_code(ei.value) == "InvalidArgument"

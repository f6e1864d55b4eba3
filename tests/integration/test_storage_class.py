"""Storage classes (issue 22): x-amz-storage-class is validated, recorded per version and
reported wherever AWS reports it (HEAD/GET, listings, versions, GetObjectAttributes,
multipart uploads and their parts), copies take the class asked for (STANDARD by default),
a copy onto itself that only changes the class is the in-place change clients use; boto3,
the aws CLI and POST forms, on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
import requests
from botocore.exceptions import ClientError

from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import Store, aws


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)

CLASSES = ("STANDARD", "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA",
           "INTELLIGENT_TIERING", "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW",
           "EXPRESS_ONEZONE")


def error_code(exc: pytest.ExceptionInfo[ClientError]) -> tuple[str, int]:
    err = exc.value.response
    return err["Error"]["Code"], err["ResponseMetadata"]["HTTPStatusCode"]


def listed_classes(s3: Any, bucket: str) -> dict[str, str]:
    v2 = {o["Key"]: o["StorageClass"] for o in s3.list_objects_v2(Bucket=bucket)["Contents"]}
    v1 = {o["Key"]: o["StorageClass"] for o in s3.list_objects(Bucket=bucket)["Contents"]}
    assert v1 == v2
    return v2


def test_put_reports_class_everywhere(dual_store: Store) -> None:
    s3, b = dual_store.boto(), dual_store.name
    for sc in CLASSES:
        s3.put_object(Bucket=b, Key=f"k/{sc}", Body=b"x" * 10, StorageClass=sc)
    s3.put_object(Bucket=b, Key="k/default", Body=b"x")
    # big enough for a blob (not inline)
    s3.put_object(Bucket=b, Key="k/big", Body=b"y" * 300_000, StorageClass="STANDARD_IA")
    for sc in CLASSES:
        head = s3.head_object(Bucket=b, Key=f"k/{sc}")
        got = s3.get_object(Bucket=b, Key=f"k/{sc}")
        assert got["Body"].read() == b"x" * 10  # recorded, readable at once (no tiers)
        raw = requests.head(s3.generate_presigned_url(
            "head_object", Params={"Bucket": b, "Key": f"k/{sc}"}), timeout=10)
        if sc == "STANDARD":  # AWS sends the header only for other classes
            assert "StorageClass" not in head and "StorageClass" not in got
            assert "x-amz-storage-class" not in raw.headers
        else:
            assert head["StorageClass"] == sc and got["StorageClass"] == sc
            assert raw.headers["x-amz-storage-class"] == sc
        attrs = s3.get_object_attributes(Bucket=b, Key=f"k/{sc}",
                                         ObjectAttributes=["StorageClass", "ObjectSize"])
        assert attrs["StorageClass"] == sc
    assert "StorageClass" not in s3.head_object(Bucket=b, Key="k/default")
    assert s3.get_object(Bucket=b, Key="k/big")["StorageClass"] == "STANDARD_IA"
    listed = listed_classes(s3, b)
    assert listed == {**{f"k/{sc}": sc for sc in CLASSES}, "k/default": "STANDARD",
                      "k/big": "STANDARD_IA"}


def test_unknown_class_refused_and_nothing_stored(store: Store) -> None:
    s3, b = store.boto(), store.name
    for bad in ("BOGUS", "standard", "", "FSX_NOPE"):
        with pytest.raises(ClientError) as exc:
            s3.put_object(Bucket=b, Key="k", Body=b"x", StorageClass=bad)
        assert error_code(exc) == ("InvalidStorageClass", 400), bad
    assert "Contents" not in s3.list_objects_v2(Bucket=b)
    with pytest.raises(ClientError) as exc:
        s3.create_multipart_upload(Bucket=b, Key="m", StorageClass="BOGUS")
    assert error_code(exc) == ("InvalidStorageClass", 400)
    assert "Uploads" not in s3.list_multipart_uploads(Bucket=b)
    s3.put_object(Bucket=b, Key="src", Body=b"x")
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=b, Key="dst", CopySource={"Bucket": b, "Key": "src"},
                       StorageClass="BOGUS")
    assert error_code(exc) == ("InvalidStorageClass", 400)
    assert set(listed_classes(s3, b)) == {"src"}


def test_copy_takes_requested_class_or_standard(store: Store) -> None:
    s3, b = store.boto(), store.name
    s3.put_object(Bucket=b, Key="src", Body=b"data", StorageClass="GLACIER")
    s3.copy_object(Bucket=b, Key="plain", CopySource={"Bucket": b, "Key": "src"})
    s3.copy_object(Bucket=b, Key="ia", CopySource={"Bucket": b, "Key": "src"},
                   StorageClass="STANDARD_IA")
    assert "StorageClass" not in s3.head_object(Bucket=b, Key="plain")  # AWS: STANDARD
    assert s3.head_object(Bucket=b, Key="ia")["StorageClass"] == "STANDARD_IA"
    assert listed_classes(s3, b) == {"src": "GLACIER", "plain": "STANDARD",
                                     "ia": "STANDARD_IA"}


@pytest.mark.parametrize("versioned", [False, True])
def test_in_place_class_change(store: Store, versioned: bool) -> None:
    s3, b = store.boto(), store.name
    if versioned:
        s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="k", Body=b"z" * 100_000, Metadata={"a": "1"},
                  ContentType="text/plain")
    src = {"Bucket": b, "Key": "k"}
    # the same class again changes nothing: refused as AWS does
    with pytest.raises(ClientError) as exc:
        s3.copy_object(Bucket=b, Key="k", CopySource=src, StorageClass="STANDARD")
    assert error_code(exc) == ("InvalidRequest", 400)
    s3.copy_object(Bucket=b, Key="k", CopySource=src, StorageClass="STANDARD_IA")
    head = s3.head_object(Bucket=b, Key="k")
    assert head["StorageClass"] == "STANDARD_IA"
    assert head["Metadata"] == {"a": "1"} and head["ContentType"] == "text/plain"
    assert s3.get_object(Bucket=b, Key="k")["Body"].read() == b"z" * 100_000
    # with metadata-directive REPLACE, back to STANDARD
    s3.copy_object(Bucket=b, Key="k", CopySource=src, MetadataDirective="REPLACE",
                   Metadata={"b": "2"}, StorageClass="STANDARD")
    head = s3.head_object(Bucket=b, Key="k")
    assert "StorageClass" not in head and head["Metadata"] == {"b": "2"}
    versions = s3.list_object_versions(Bucket=b).get("Versions", [])
    if versioned:
        assert [v["StorageClass"] for v in versions] == ["STANDARD", "STANDARD_IA",
                                                         "STANDARD"]
        old = versions[1]["VersionId"]
        assert s3.head_object(Bucket=b, Key="k", VersionId=old)["StorageClass"] == \
            "STANDARD_IA"
    else:
        assert [v["StorageClass"] for v in versions] == ["STANDARD"]


def test_versions_listing_reports_each_versions_class(store: Store) -> None:
    s3, b = store.boto(), store.name
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="k", Body=b"1", StorageClass="DEEP_ARCHIVE")
    s3.put_object(Bucket=b, Key="k", Body=b"2", StorageClass="ONEZONE_IA")
    versions = s3.list_object_versions(Bucket=b)["Versions"]
    assert [(v["IsLatest"], v["StorageClass"]) for v in versions] == [
        (True, "ONEZONE_IA"), (False, "DEEP_ARCHIVE")]
    attrs = s3.get_object_attributes(Bucket=b, Key="k", VersionId=versions[1]["VersionId"],
                                     ObjectAttributes=["StorageClass"])
    assert attrs["StorageClass"] == "DEEP_ARCHIVE"


def test_multipart_class(dual_store: Store) -> None:
    s3, b = dual_store.boto(), dual_store.name
    s3.put_object(Bucket=b, Key="src", Body=b"s" * 1024, StorageClass="STANDARD_IA")
    up = s3.create_multipart_upload(Bucket=b, Key="m", StorageClass="GLACIER_IR")
    plain = s3.create_multipart_upload(Bucket=b, Key="p")
    uploads = {u["Key"]: u["StorageClass"] for u in s3.list_multipart_uploads(Bucket=b)["Uploads"]}
    assert uploads == {"m": "GLACIER_IR", "p": "STANDARD"}
    e1 = s3.upload_part(Bucket=b, Key="m", UploadId=up["UploadId"], PartNumber=1,
                        Body=b"a" * 5 * 1024 * 1024)["ETag"]
    e2 = s3.upload_part_copy(Bucket=b, Key="m", UploadId=up["UploadId"], PartNumber=2,
                             CopySource={"Bucket": b, "Key": "src"})["CopyPartResult"]["ETag"]
    assert s3.list_parts(Bucket=b, Key="m", UploadId=up["UploadId"])["StorageClass"] == \
        "GLACIER_IR"
    assert s3.list_parts(Bucket=b, Key="p", UploadId=plain["UploadId"])["StorageClass"] == \
        "STANDARD"
    s3.complete_multipart_upload(
        Bucket=b, Key="m", UploadId=up["UploadId"],
        MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                   {"PartNumber": 2, "ETag": e2}]})
    assert s3.head_object(Bucket=b, Key="m")["StorageClass"] == "GLACIER_IR"
    assert listed_classes(s3, b) == {"src": "STANDARD_IA", "m": "GLACIER_IR"}
    s3.abort_multipart_upload(Bucket=b, Key="p", UploadId=plain["UploadId"])


def test_post_form_class(store: Store) -> None:
    s3, b = store.boto(), store.name

    def post(sc: str) -> requests.Response:
        p = s3.generate_presigned_post(b, f"f/{sc}", Fields={"x-amz-storage-class": sc},
                                       Conditions=[{"x-amz-storage-class": sc}])
        return requests.post(p["url"], data=p["fields"],
                             files={"file": ("f.txt", b"form", "text/plain")}, timeout=30)

    assert post("ONEZONE_IA").status_code == 204
    assert s3.head_object(Bucket=b, Key="f/ONEZONE_IA")["StorageClass"] == "ONEZONE_IA"
    r = post("BOGUS")
    assert r.status_code == 400 and b"<Code>InvalidStorageClass</Code>" in r.content
    assert set(listed_classes(s3, b)) == {"f/ONEZONE_IA"}


def test_aws_cli_storage_class(store: Store, tmp_path: Path) -> None:
    s3, b = store.boto(), store.name
    src = tmp_path / "file.bin"
    src.write_bytes(b"cli" * 1000)
    aws(store, tmp_path, "s3", "cp", str(src), f"s3://{b}/cli.bin",
        "--storage-class", "STANDARD_IA")
    out = aws(store, tmp_path, "s3api", "head-object", "--bucket", b, "--key", "cli.bin")
    assert json.loads(out.stdout)["StorageClass"] == "STANDARD_IA"
    # the in-place change of class the CLI makes with a copy onto itself
    aws(store, tmp_path, "s3", "cp", f"s3://{b}/cli.bin", f"s3://{b}/cli.bin",
        "--storage-class", "GLACIER")
    out = aws(store, tmp_path, "s3api", "list-objects-v2", "--bucket", b)
    assert [o["StorageClass"] for o in json.loads(out.stdout)["Contents"]] == ["GLACIER"]
    assert s3.get_object(Bucket=b, Key="cli.bin")["Body"].read() == b"cli" * 1000
    # (`aws s3 cp` refuses unknown names itself; s3api sends them)
    bad = aws(store, tmp_path, "s3api", "put-object", "--bucket", b, "--key", "bad.bin",
              "--body", str(src), "--storage-class", "BOGUS", check=False)
    assert bad.returncode != 0 and b"InvalidStorageClass" in bad.stderr

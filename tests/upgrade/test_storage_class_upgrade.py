"""Upgrading a previous release's database adds storage classes (migration d6f8a0c2e4b6):
nothing is rewritten (the old rows' class is null), and every object and unfinished upload
the old release wrote reports STANDARD (HEAD/GET send no class header, listings, versions,
GetObjectAttributes, ListMultipartUploads and ListParts say STANDARD); an old upload
completes as STANDARD; what is written afterwards records the class asked for."""

from __future__ import annotations

import pytest

from tests.upgrade.test_upgrade import (  # noqa: F401 - fixtures
    Upgrade,
    alembic_heads,
    db_revision,
    db_rows,
    finish_uploads,
    postgres_upgrade,
    running,
    s3_for,
    sqlite_upgrade,
)

REVISION = "d6f8a0c2e4b6"


def _classes(up: Upgrade) -> list[str | None]:
    return [r[0] for t in ("objects", "object_versions")
            for r in db_rows(up, f"SELECT storage_class FROM {t}")]  # noqa: S608


def check_classes(up: Upgrade) -> None:
    assert db_revision(up) != REVISION  # made by the previous release
    with running(up) as srv:
        assert db_revision(up) in alembic_heads()
        old = _classes(up)
        assert old and set(old) == {None}  # nothing rewritten: null is STANDARD
        for store in up.manifest["stores"]:
            s3 = s3_for(srv, store)
            bucket = store["name"]
            for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                assert u["StorageClass"] == "STANDARD", u
                parts = s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
                assert parts["StorageClass"] == "STANDARD"
            finish_uploads(srv, store)  # old uploads complete as STANDARD objects
            listed = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
            assert listed and {o["StorageClass"] for o in listed} == {"STANDARD"}
            versions = s3.list_object_versions(Bucket=bucket).get("Versions", [])
            assert {v["StorageClass"] for v in versions} == {"STANDARD"}
            for obj in store["objects"]:
                head = s3.head_object(Bucket=bucket, Key=obj["key"])
                assert "StorageClass" not in head, obj["key"]
                attrs = s3.get_object_attributes(Bucket=bucket, Key=obj["key"],
                                                 ObjectAttributes=["StorageClass"])
                assert attrs["StorageClass"] == "STANDARD"
        # written after the upgrade: the class asked for, changed in place by a copy
        store = next(s for s in up.manifest["stores"] if s["account"] == "default")
        s3, bucket = s3_for(srv, store), store["name"]
        s3.put_object(Bucket=bucket, Key="after-upgrade/ia", Body=b"x", StorageClass="STANDARD_IA")
        assert s3.head_object(Bucket=bucket, Key="after-upgrade/ia")["StorageClass"] == \
            "STANDARD_IA"
        first = store["objects"][0]["key"]
        s3.copy_object(Bucket=bucket, Key=first, CopySource={"Bucket": bucket, "Key": first},
                       StorageClass="GLACIER")
        assert s3.head_object(Bucket=bucket, Key=first)["StorageClass"] == "GLACIER"


def test_sqlite_upgrade_reports_standard_for_old_objects(
        sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_classes(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_reports_standard_for_old_objects(
        postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_classes(postgres_upgrade)

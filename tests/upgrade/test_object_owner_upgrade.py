"""Upgrading a previous release's database adds object owners (migration a1c3e5f7b9d2):
every object and unfinished upload the old release wrote is its store owner's (listings,
GetObjectAcl, ListMultipartUploads and ListParts say so, the owner reads them all), and
another account that writes afterwards under ObjectWriter owns what it writes."""

from __future__ import annotations

import hashlib
from typing import Any

import pytest

from tests.upgrade.test_upgrade import (  # noqa: F401 - fixtures
    Upgrade,
    alembic_heads,
    db_revision,
    db_rows,
    postgres_upgrade,
    running,
    s3_for,
    sqlite_upgrade,
)

REVISION = "a1c3e5f7b9d2"


def _null_owners(up: Upgrade) -> int:
    return sum(int(db_rows(up, f"SELECT count(*) FROM {t} WHERE owner IS NULL")[0][0])  # noqa: S608
               for t in ("objects", "object_versions"))


def _owners(s3: Any, bucket: str) -> set[str]:
    found = {o["Owner"]["ID"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, FetchOwner=True) for o in page.get("Contents", [])}
    found |= {o["Owner"]["ID"] for o in s3.list_objects(Bucket=bucket).get("Contents", [])}
    found |= {v["Owner"]["ID"] for v in s3.list_object_versions(Bucket=bucket)
              .get("Versions", [])}
    return found


def check_owners(up: Upgrade) -> None:
    assert db_revision(up) != REVISION  # made by the previous release
    with running(up) as srv:
        assert db_revision(up) in alembic_heads()
        objects = sum(len(s["objects"]) for s in up.manifest["stores"])
        assert _null_owners(up) == objects  # nothing rewritten: null is the store's owner
        for store in up.manifest["stores"]:
            s3 = s3_for(srv, store)
            me = s3.list_buckets()["Owner"]["ID"]
            bucket = store["name"]
            assert _owners(s3, bucket) == {me}, bucket
            for obj in store["objects"]:
                acl = s3.get_object_acl(Bucket=bucket, Key=obj["key"])
                assert acl["Owner"]["ID"] == me, obj["key"]
                # read to the end: an unread body holds the server's stop for 30 s
                body = s3.get_object(Bucket=bucket, Key=obj["key"])["Body"].read()
                assert hashlib.sha256(body).hexdigest() == obj["sha256"], obj["key"]
            for u in s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []):
                assert (u["Initiator"]["ID"], u["Owner"]["ID"]) == (me, me), u
                parts = s3.list_parts(Bucket=bucket, Key=u["Key"], UploadId=u["UploadId"])
                assert (parts["Initiator"]["ID"], parts["Owner"]["ID"]) == (me, me)
        # a new write from another account, with ObjectWriter: the writer owns it
        store = next(s for s in up.manifest["stores"] if s["account"] == "default")
        other = next(s for s in up.manifest["stores"] if s["account"] != "default")
        s3, o3 = s3_for(srv, store), s3_for(srv, other)
        other_id = o3.list_buckets()["Owner"]["ID"]
        bucket = store["name"]
        s3.put_bucket_ownership_controls(Bucket=bucket, OwnershipControls={
            "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
        s3.put_bucket_acl(Bucket=bucket, GrantWrite=f'id="{other_id}"',
                          GrantFullControl=f'id="{s3.list_buckets()["Owner"]["ID"]}"')
        o3.put_object(Bucket=bucket, Key="after-upgrade/theirs", Body=b"theirs")
        assert o3.get_object_acl(Bucket=bucket, Key="after-upgrade/theirs")["Owner"]["ID"] \
            == other_id
        listed = s3.list_objects_v2(Bucket=bucket, Prefix="after-upgrade/", FetchOwner=True)
        assert [o["Owner"]["ID"] for o in listed["Contents"]] == [other_id]
        s3.delete_object(Bucket=bucket, Key="after-upgrade/theirs")
    with running(up):  # and again after a restart (the migration ran once)
        assert db_revision(up) in alembic_heads()


def test_sqlite_upgrade_adds_object_owners(sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_owners(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_adds_object_owners(postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_owners(postgres_upgrade)

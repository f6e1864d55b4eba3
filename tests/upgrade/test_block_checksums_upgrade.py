"""Upgrading a previous release's database adds block checksums (migration b2d4f6a8c0e1):
objects the old release wrote have none and keep reading, whole and ranged (their whole
reads still checked by their full-object checksum); fsck says their blocks cannot be
verified; unfinished uploads of the old release complete and read; what is written after
the upgrade has block checksums."""

from __future__ import annotations

import hashlib
import os

import pytest
from click.testing import CliRunner

from objectstore.cli.main import main
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

REVISION = "b2d4f6a8c0e1"
MiB = 1024 * 1024


def _blocks(up: Upgrade, key: str) -> bytes | None:
    value = db_rows(up, "SELECT blocks FROM objects WHERE key = :k", k=key)[0][0]
    return bytes(value) if value is not None else None


def check_blocks(up: Upgrade) -> None:
    assert db_revision(up) != REVISION  # made by the previous release
    old_blob_keys: list[str] = []
    with running(up) as srv:
        assert db_revision(up) in alembic_heads()
        for store in up.manifest["stores"]:
            s3 = s3_for(srv, store)
            bucket = store["name"]
            finish_uploads(srv, store)
            for obj in store["objects"]:
                whole = s3.get_object(Bucket=bucket, Key=obj["key"])["Body"].read()
                assert hashlib.sha256(whole).hexdigest() == obj["sha256"], obj["key"]
                size = len(whole)
                if size <= 64 * 1024:
                    continue
                old_blob_keys.append(f"{bucket}/{obj['key']}")
                assert _blocks(up, obj["key"]) is None, obj["key"]
                for first, last in ((0, 99), (size // 3, size // 3 + 300_000),
                                    (size - 5, size - 1), (MiB - 3, min(size, 5 * MiB + 9) - 1)):
                    first, last = min(first, size - 1), min(last, size - 1)
                    got = s3.get_object(Bucket=bucket, Key=obj["key"],
                                        Range=f"bytes={first}-{last}")["Body"].read()
                    assert got == whole[first:last + 1], (obj["key"], first, last)
        assert any(k.endswith("multipart/crc32.bin") for k in old_blob_keys)
        # written after the upgrade: block checksums
        store = next(s for s in up.manifest["stores"] if s["account"] == "default")
        s3 = s3_for(srv, store)
        data = os.urandom(3 * MiB + 1)
        s3.put_object(Bucket=store["name"], Key="after-upgrade/blocks", Body=data)
        assert len(_blocks(up, "after-upgrade/blocks") or b"") == 4 * 4
        got = s3.get_object(Bucket=store["name"], Key="after-upgrade/blocks",
                            Range=f"bytes={MiB}-{2 * MiB + 10}")["Body"].read()
        assert got == data[MiB:2 * MiB + 11]
    args = ["fsck", "--data-dir", str(up.data_dir)]
    if up.database_url:
        args += ["--database-url", up.database_url]
    result = CliRunner().invoke(main, args)
    assert result.exit_code == 0, result.output
    notes = [line.split()[1] for line in result.output.splitlines()
             if "unverifiable blocks" in line and line.startswith("ok")]
    assert set(old_blob_keys) <= set(notes), (old_blob_keys, result.output)
    assert not any("after-upgrade/blocks" in n for n in notes)
    assert f"{len(notes)} with unverifiable blocks" in result.output


def test_sqlite_upgrade_keeps_reading_objects_without_block_checksums(
        sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_blocks(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_keeps_reading_objects_without_block_checksums(
        postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_blocks(postgres_upgrade)

"""Versioning through the aws CLI and rclone (``--s3-versions``), on SQLite and PostgreSQL."""

from __future__ import annotations

import json
from pathlib import Path

from tests.integration.conftest import Store, aws, rclone


def test_aws_cli_versioning_round_trip(dual_store: Store, tmp_path: Path) -> None:
    b = dual_store.name
    aws(dual_store, tmp_path, "s3api", "put-bucket-versioning", "--bucket", b,
        "--versioning-configuration", "Status=Enabled")
    got = json.loads(aws(dual_store, tmp_path, "s3api", "get-bucket-versioning",
                         "--bucket", b).stdout)
    assert got["Status"] == "Enabled"
    first, second = tmp_path / "v1.txt", tmp_path / "v2.txt"
    first.write_bytes(b"first version\n")
    second.write_bytes(b"second version, longer\n")
    v1 = json.loads(aws(dual_store, tmp_path, "s3api", "put-object", "--bucket", b, "--key",
                        "notes.txt", "--body", str(first)).stdout)["VersionId"]
    v2 = json.loads(aws(dual_store, tmp_path, "s3api", "put-object", "--bucket", b, "--key",
                        "notes.txt", "--body", str(second)).stdout)["VersionId"]
    listed = json.loads(aws(dual_store, tmp_path, "s3api", "list-object-versions",
                            "--bucket", b).stdout)
    assert [(v["VersionId"], v["IsLatest"], v["Size"]) for v in listed["Versions"]] == [
        (v2, True, 23), (v1, False, 14)]
    out = tmp_path / "old.txt"
    meta = json.loads(aws(dual_store, tmp_path, "s3api", "get-object", "--bucket", b, "--key",
                          "notes.txt", "--version-id", v1, str(out)).stdout)
    assert out.read_bytes() == b"first version\n" and meta["VersionId"] == v1
    gone = json.loads(aws(dual_store, tmp_path, "s3api", "delete-object", "--bucket", b,
                          "--key", "notes.txt", "--version-id", v2).stdout)
    assert gone["VersionId"] == v2
    latest = tmp_path / "latest.txt"
    aws(dual_store, tmp_path, "s3api", "get-object", "--bucket", b, "--key", "notes.txt",
        str(latest))
    assert latest.read_bytes() == b"first version\n"
    bad = aws(dual_store, tmp_path, "s3api", "delete-object", "--bucket", b, "--key",
              "notes.txt", "--version-id", "00000000000000ff0123abcd", check=False)
    assert bad.returncode != 0 and b"NoSuchVersion" in bad.stderr
    assert json.loads(aws(dual_store, tmp_path, "s3api", "head-object", "--bucket", b,
                          "--key", "notes.txt").stdout)["VersionId"] == v1


def test_rclone_lists_and_reads_old_versions(store: Store, tmp_path: Path) -> None:
    s3, b = store.boto(), store.name
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=b, Key="file.txt", Body=b"old contents")
    s3.put_object(Bucket=b, Key="file.txt", Body=b"new contents!")
    plain = rclone(store, tmp_path, "lsf", f"os:{b}").stdout.decode().split()
    assert plain == ["file.txt"]
    listed = rclone(store, tmp_path, "ls", "--s3-versions", f"os:{b}").stdout.decode()
    sizes = {line.split(None, 1)[1]: int(line.split(None, 1)[0])
             for line in listed.splitlines()}
    assert sizes.pop("file.txt") == 13
    (old_name, old_size), = sizes.items()
    assert old_name.startswith("file-v") and old_name.endswith(".txt") and old_size == 12
    got = rclone(store, tmp_path, "cat", "--s3-versions", f"os:{b}/{old_name}").stdout
    assert got == b"old contents"
    # a delete through rclone leaves a marker; the versions stay listable
    rclone(store, tmp_path, "deletefile", f"os:{b}/file.txt")
    assert rclone(store, tmp_path, "lsf", f"os:{b}").stdout.decode().split() == []
    again = rclone(store, tmp_path, "lsf", "--s3-versions", f"os:{b}").stdout.decode().split()
    assert len(again) == 2

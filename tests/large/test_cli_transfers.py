"""The ``aws`` CLI and rclone moving real data: multipart uploads, downloads, sync, check."""

from __future__ import annotations

import hashlib
import time
from pathlib import Path

from tests.support.leftovers import assert_no_leftovers

from .conftest import (
    MIB,
    Store,
    aws,
    blob_bytes,
    file_md5,
    random_file,
    rclone,
    stored_bytes,
    tree_digest,
)


def test_aws_cp_100mib_round_trip_is_stored_once(store: Store, tmp_path: Path) -> None:
    size = 100 * MIB
    src = tmp_path / "big.bin"
    digest = random_file(src, size, seed=100)

    t0 = time.monotonic()
    aws(store, tmp_path, "s3", "cp", str(src), f"s3://{store.name}/dir/big.bin")
    up_s = time.monotonic() - t0

    head = store.boto().head_object(Bucket=store.name, Key="dir/big.bin")
    assert head["ContentLength"] == size
    # aws s3 cp uses 8 MiB parts: 100 MiB is 12 full parts and a 4 MiB tail.
    assert head["ETag"].strip('"').endswith("-13"), head["ETag"]

    # The object is a manifest of its parts: no second copy of the bytes.
    store.srv.apps.gc.drain_doomed()
    stored = blob_bytes(store.srv)
    assert stored == size, f"{stored} bytes of blob files for a {size}-byte object"
    # no partial blob left behind: every blob file is named by the object (or queued for GC)
    settings = store.srv.services.settings
    assert_no_leftovers(settings.data_dir, settings.database_url)
    assert store.used_bytes() == size
    assert store.stats()["num_objects"] == 1

    dst = tmp_path / "down.bin"
    t0 = time.monotonic()
    aws(store, tmp_path, "s3", "cp", f"s3://{store.name}/dir/big.bin", str(dst))
    down_s = time.monotonic() - t0
    assert dst.stat().st_size == size
    assert file_md5(dst) == digest, "downloaded bytes differ from the uploaded file"

    # server-side copy: the CLI copies objects over 8 MiB with UploadPartCopy ranges
    t0 = time.monotonic()
    aws(store, tmp_path, "s3", "cp", f"s3://{store.name}/dir/big.bin",
        f"s3://{store.name}/copy/big.bin")
    copy_s = time.monotonic() - t0
    s3 = store.boto()
    copied = s3.head_object(Bucket=store.name, Key="copy/big.bin")
    assert copied["ContentLength"] == size
    # same 8 MiB part boundaries, same part MD5s: the same multipart ETag
    assert copied["ETag"] == head["ETag"], (copied["ETag"], head["ETag"])
    md5 = hashlib.md5()
    for chunk in s3.get_object(Bucket=store.name, Key="copy/big.bin")["Body"].iter_chunks(
            4 * MIB):
        md5.update(chunk)
    assert md5.hexdigest() == digest, "the server-side copy's bytes differ"
    assert store.used_bytes() == 2 * size
    assert s3.list_multipart_uploads(Bucket=store.name).get("Uploads", []) == []
    assert_no_leftovers(settings.data_dir, settings.database_url)
    print(f"\n[figures] aws s3 cp 100 MiB: upload {up_s:.2f}s ({size / MIB / up_s:.0f} MiB/s), "
          f"download {down_s:.2f}s ({size / MIB / down_s:.0f} MiB/s), "
          f"server-side copy {copy_s:.2f}s")


def _make_tree(root: Path) -> dict[str, int]:
    """~50 files in nested directories; a few larger than the CLI's 8 MiB multipart cut."""
    sizes: dict[str, int] = {}
    n = 0
    for top in ("a", "b", "c"):
        for sub in ("", "x", "x/y"):
            for i in range(5):
                rel = f"{top}/{sub}/f{i}.dat".replace("//", "/")
                sizes[rel] = 1 + (n * 7919) % 50_000
                n += 1
    sizes["empty.txt"] = 0
    sizes["top level with space.txt"] = 1234
    sizes["unicode/ünï cödé+plus.txt"] = 4321
    sizes["big/one.bin"] = 9 * MIB + 17
    sizes["big/two.bin"] = 17 * MIB
    sizes["b/x/y/huge.bin"] = 10 * MIB - 1
    for i, (rel, size) in enumerate(sorted(sizes.items())):
        random_file(root / rel, size, seed=1000 + i)
    return sizes


def test_aws_sync_tree_up_down_and_idempotent(store: Store, tmp_path: Path) -> None:
    up = tmp_path / "up"
    sizes = _make_tree(up)
    assert len(sizes) >= 48
    aws(store, tmp_path, "s3", "sync", str(up), f"s3://{store.name}/tree")

    s3 = store.boto()
    listed = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=store.name, Prefix="tree/"):
        listed.update({o["Key"]: o["Size"] for o in page.get("Contents", [])})
    assert listed == {f"tree/{k}": v for k, v in sizes.items()}
    big = s3.head_object(Bucket=store.name, Key="tree/big/two.bin")
    assert big["ETag"].strip('"').endswith("-3"), big["ETag"]  # 17 MiB in 8 MiB parts

    down = tmp_path / "down"
    down.mkdir()
    aws(store, tmp_path, "s3", "sync", f"s3://{store.name}/tree", str(down))
    assert tree_digest(down) == tree_digest(up)

    usage = store.used_bytes()
    assert usage == sum(sizes.values())
    # A second sync finds nothing to do (it would print an "upload:" line per file) ...
    proc = aws(store, tmp_path, "s3", "sync", str(up), f"s3://{store.name}/tree", quiet=False)
    assert b"upload:" not in proc.stdout, proc.stdout.decode()
    assert proc.stdout.strip() == b"", proc.stdout.decode()
    assert store.used_bytes() == usage
    # ... while a changed file is uploaded again, alone
    random_file(up / "a" / "x" / "f0.dat", 777, seed=4242)
    proc = aws(store, tmp_path, "s3", "sync", str(up), f"s3://{store.name}/tree", quiet=False)
    lines = [ln for ln in proc.stdout.decode().splitlines() if ln.strip()]
    assert len(lines) == 1 and lines[0].startswith("upload:"), lines
    assert "a/x/f0.dat" in lines[0]


def test_rclone_copy_sync_check_1000_files(store: Store, tmp_path: Path) -> None:
    src = tmp_path / "src"
    for i in range(1000):
        d = src / f"d{i % 10}" / f"e{i % 7}"
        d.mkdir(parents=True, exist_ok=True)
        (d / f"file-{i:04d}.txt").write_bytes(f"small file {i}\n".encode() * (1 + i % 13))
    large = {f"large/l{i}.bin": 20 * MIB + i * 12345 for i in range(3)}
    for i, (rel, size) in enumerate(large.items()):
        random_file(src / rel, size, seed=500 + i)
    remote = f"lg:{store.name}/backup"
    common = ("--transfers", "8", "--checkers", "8", "--s3-upload-cutoff", "5M",
              "--s3-chunk-size", "5M")

    t0 = time.monotonic()
    rclone(store, tmp_path, "copy", *common, str(src), remote)
    copy_s = time.monotonic() - t0
    rclone(store, tmp_path, "check", "--checkers", "8", str(src), remote)

    s3 = store.boto()
    head = s3.head_object(Bucket=store.name, Key="backup/large/l0.bin")
    assert head["ContentLength"] == 20 * MIB
    assert head["ETag"].strip('"').endswith("-4"), head["ETag"]  # 20 MiB in 5 MiB chunks
    assert store.stats()["num_objects"] == 1003

    # server-side copies: CopyObject for small files, UploadPartCopy above the copy cutoff
    rclone(store, tmp_path, "copy", "--transfers", "4", "--s3-copy-cutoff", "5M",
           f"{remote}/large", f"lg:{store.name}/copied")
    rclone(store, tmp_path, "check", f"{remote}/large", f"lg:{store.name}/copied")
    for i in range(3):
        c = s3.head_object(Bucket=store.name, Key=f"copied/l{i}.bin")
        assert c["ContentLength"] == 20 * MIB + i * 12345
        assert "-" in c["ETag"], f"expected a multipart (UploadPartCopy) copy: {c['ETag']}"
    body = s3.get_object(Bucket=store.name, Key="copied/l2.bin")["Body"].read()
    assert body == (src / "large" / "l2.bin").read_bytes()
    rclone(store, tmp_path, "purge", f"lg:{store.name}/copied")
    assert store.stats()["num_objects"] == 1003

    # sync deletes what the source no longer has and uploads the changes.
    (src / "d0" / "e0" / "file-0000.txt").unlink()
    (src / "d1" / "e1" / "file-0001.txt").write_bytes(b"changed\n")
    random_file(src / "large" / "l1.bin", 11 * MIB, seed=999)
    rclone(store, tmp_path, "sync", *common, str(src), remote)
    rclone(store, tmp_path, "check", "--checkers", "8", str(src), remote)
    assert store.stats()["num_objects"] == 1002
    try:
        s3.head_object(Bucket=store.name, Key="backup/d0/e0/file-0000.txt")
        raise AssertionError("sync did not delete the removed file")
    except s3.exceptions.ClientError as exc:
        assert exc.response["ResponseMetadata"]["HTTPStatusCode"] == 404

    # ... and back down: the copy is identical.
    down = tmp_path / "down"
    rclone(store, tmp_path, "copy", "--transfers", "8", "--checkers", "8", remote, str(down))
    assert tree_digest(down) == tree_digest(src)
    store.srv.apps.gc.drain_doomed()
    total = sum(p.stat().st_size for p in src.rglob("*") if p.is_file())
    assert store.used_bytes() == total
    assert stored_bytes(store.srv) == total, "blobs + inline rows must hold just the live bytes"
    settings = store.srv.services.settings
    assert_no_leftovers(settings.data_dir, settings.database_url)
    print(f"\n[figures] rclone copy of 1,000 small + 3 x 20 MiB files: {copy_s:.2f}s")

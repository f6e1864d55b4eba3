"""Concurrency: racing quota limits, racing store deletion against uploads, same-key writers.
Each runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import update

from objectstore.config import Settings
from objectstore.storage.sql.tables import objectstores
from tests.support.aio import in_own_loop
from tests.support.server import RunningServer, running_server


def _store(server, name: str):  # type: ignore[no-untyped-def]
    with server.api() as api:
        store = api.post("/v2/objectstores", json={"name": name, "region": "LON1",
                                                   "max_size_gb": 1}).json()
        cred = api.get(f"/v2/objectstore/credentials/{store['owner_info']['credential_id']}")
    c = cred.json()
    s3 = boto3.client("s3", endpoint_url=server.s3_url, aws_access_key_id=c["access_key_id"],
                      aws_secret_access_key=c["secret_access_key_id"], region_name="LON1",
                      config=Config(request_checksum_calculation="when_required",
                                    retries={"total_max_attempts": 1}, max_pool_connections=32))
    return store, s3


def test_racing_writers_never_exceed_the_quota(server) -> None:
    store, s3 = _store(server, "race-quota")
    limit = 10**9  # the store's 1 GB (decimal, as on Civo)
    room = 10 * 1000  # leave room for exactly ten 1000-byte objects
    with server.services.engine.begin() as conn:
        conn.execute(update(objectstores).where(objectstores.c.id == store["id"])
                     .values(used_bytes=limit - room))
    server.services.stores.changed()

    def put(i: int) -> str:
        try:
            s3.put_object(Bucket="race-quota", Key=f"k{i}", Body=b"x" * 1000)
            return "ok"
        except ClientError as exc:
            return exc.response["Error"]["Code"]

    with ThreadPoolExecutor(16) as pool:
        results = list(pool.map(put, range(40)))
    assert results.count("ok") == 10
    assert set(results) == {"ok", "QuotaExceeded"}
    row = server.services.stores.by_name("race-quota")[0]
    assert row.used_bytes == limit  # exactly full, never past it
    assert row.object_count == 10


def test_same_key_writers_last_acknowledged_wins_and_usage_is_exact(server) -> None:
    _store_json, s3 = _store(server, "race-key")
    bodies = {i: bytes([65 + i]) * (100 + i) for i in range(20)}

    def put(i: int) -> None:
        s3.put_object(Bucket="race-key", Key="same", Body=bodies[i])

    with ThreadPoolExecutor(10) as pool:
        list(pool.map(put, range(20)))
    got = s3.get_object(Bucket="race-key", Key="same")["Body"].read()
    assert got in bodies.values()
    row = server.services.stores.by_name("race-key")[0]
    assert row.object_count == 1
    assert row.used_bytes == len(got)


def test_racing_puts_and_deletes_of_few_keys_in_a_versioned_store_keep_every_version(
        server) -> None:
    """Many PUTs and DELETEs of three keys at once (so a commit batch holds several writes
    of one key, some after a DELETE): every acknowledged write is one version or delete
    marker, the latest of each key is the newest, and usage counts every version's bytes
    exactly (the batch's look-ahead must not hand a later write of a key stale state, nor
    lose a write it left to the batch)."""
    _store_json, s3 = _store(server, "race-versions")
    s3.put_bucket_versioning(Bucket="race-versions",
                             VersioningConfiguration={"Status": "Enabled"})
    ops = [(f"k{i % 3}", i) for i in range(240)]

    def op(item: tuple[str, int]) -> tuple[str, str, int]:
        key, i = item
        if i % 5 == 4:
            got = s3.delete_object(Bucket="race-versions", Key=key)
            return key, got["VersionId"], -1
        got = s3.put_object(Bucket="race-versions", Key=key, Body=b"x" * (10 + i))
        return key, got["VersionId"], 10 + i

    with ThreadPoolExecutor(24) as pool:
        done = list(pool.map(op, ops))
    listed = s3.list_object_versions(Bucket="race-versions")
    versions = {(v["Key"], v["VersionId"]): v["Size"] for v in listed.get("Versions", [])}
    markers = {(m["Key"], m["VersionId"]) for m in listed.get("DeleteMarkers", [])}
    assert versions == {(k, vid): size for k, vid, size in done if size >= 0}
    assert markers == {(k, vid) for k, vid, size in done if size < 0}
    latest = [(v["Key"], v["VersionId"]) for v in
              listed.get("Versions", []) + listed.get("DeleteMarkers", []) if v["IsLatest"]]
    assert sorted(k for k, _ in latest) == ["k0", "k1", "k2"]
    for key, vid in latest:  # a newer version's id sorts first (vseq.py)
        assert vid == min(v for k, v, _ in done if k == key)
    row = server.services.stores.by_name("race-versions")[0]
    assert row.used_bytes == sum(versions.values())
    assert row.object_count == len(versions)


def test_racing_puts_and_deletes_of_few_keys_keep_usage_exact(server) -> None:
    """The same without versioning: overwrites and deletes of three keys at once; usage
    ends as the sum of what is left (each write is charged against the version it really
    replaced, not a stale one)."""
    _store_json, s3 = _store(server, "race-usage")

    def op(i: int) -> None:
        if i % 5 == 4:
            s3.delete_object(Bucket="race-usage", Key=f"k{i % 3}")
        else:
            s3.put_object(Bucket="race-usage", Key=f"k{i % 3}", Body=b"x" * (10 + i))

    with ThreadPoolExecutor(24) as pool:
        list(pool.map(op, range(240)))
    left = s3.list_objects_v2(Bucket="race-usage").get("Contents", [])
    row = server.services.stores.by_name("race-usage")[0]
    assert row.used_bytes == sum(o["Size"] for o in left)
    assert row.object_count == len(left)


def test_deleting_a_store_while_uploads_run(server) -> None:
    store, s3 = _store(server, "race-delete")
    stop = threading.Event()
    outcomes: list[str] = []

    def writer(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                s3.put_object(Bucket="race-delete", Key=f"w{n}/{i}", Body=b"y" * 5000)
                outcomes.append("ok")
            except ClientError as exc:
                outcomes.append(exc.response["Error"]["Code"])
            i += 1

    threads = [threading.Thread(target=writer, args=(n,)) for n in range(4)]
    for t in threads:
        t.start()
    while outcomes.count("ok") < 10:
        stop.wait(0.01)
    with server.api() as api:
        assert api.delete(f"/v2/objectstores/{store['id']}").json() == {"result": "success"}
    stop.wait(0.3)
    stop.set()
    for t in threads:
        t.join()
    # after the deletion only NoSuchBucket (or, for a request already authorised, a clean
    # failure) is possible; no write resurrects the store or leaves bytes behind
    assert set(outcomes) <= {"ok", "NoSuchBucket", "AccessDenied", "InvalidAccessKeyId"}
    assert "NoSuchBucket" in outcomes or "InvalidAccessKeyId" in outcomes
    assert server.services.stores.by_name("race-delete") == []
    server.apps.gc.drain_doomed()
    from sqlalchemy import select

    from objectstore.storage.sql.tables import objects

    with server.services.engine.connect() as conn:
        left = conn.execute(select(objects.c.key).where(objects.c.store_id == store["id"]))
        assert left.first() is None
    blobs = [p for p in (server.services.settings.data_dir / "blobs").rglob("*")
             if p.is_file()]
    assert blobs == []


# -- reads and copies racing overwrites (issue 21.1) ---------------------------------------------
# One writer overwrites a 1 MiB key (each version a different byte value) while readers GET it,
# CopyObject it and UploadPartCopy from it. Each read must see one whole version (old or new),
# never an error: the GC deletes a replaced blob only after a grace period, and the engine
# resolves a version and opens its bytes as one step.

RACE_SIZE = 1024 * 1024
RACE_SECONDS = 3.0


@pytest.fixture
def graced_server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    """A server with the production grace period before replaced blobs are deleted."""
    grace = Settings.model_fields["blob_grace_seconds"].default
    with running_server(tmp_path / "data", database_url, blob_grace_seconds=grace) as srv:
        yield srv


def _race(server, name: str, reader) -> tuple[int, list[str]]:  # type: ignore[no-untyped-def]
    """Run one overwriting writer and three ``reader(s3, i)`` threads for RACE_SECONDS:
    (successful reads, errors)."""
    _store_json, s3 = _store(server, name)
    s3.put_object(Bucket=name, Key="hot", Body=b"\x00" * RACE_SIZE)
    stop = threading.Event()
    errors: list[str] = []
    done = [0]

    def writer() -> None:
        i = 1
        while not stop.is_set():
            s3.put_object(Bucket=name, Key="hot", Body=bytes([i % 256]) * RACE_SIZE)
            i += 1

    def read_loop(n: int) -> None:
        i = 0
        while not stop.is_set():
            try:
                reader(s3, name, f"{n}-{i}")
                done[0] += 1
            except ClientError as exc:
                errors.append(exc.response["Error"]["Code"])
            except AssertionError as exc:
                errors.append(f"wrong bytes: {exc}")
            i += 1

    threads = [threading.Thread(target=writer)] + [
        threading.Thread(target=read_loop, args=(n,)) for n in range(3)]
    for t in threads:
        t.start()
    stop.wait(RACE_SECONDS)
    stop.set()
    for t in threads:
        t.join()
    print(f"{name}: {len(errors)} errors in {done[0] + len(errors)} reads")  # -s shows it
    return done[0], errors


def _whole(body: bytes) -> None:
    assert len(body) == RACE_SIZE and body == body[:1] * RACE_SIZE, "a torn or short body"


def get_whole(s3, bucket: str, _tag: str) -> None:  # type: ignore[no-untyped-def]
    """A reader of the racing key: a GET that must see one whole version."""
    _whole(s3.get_object(Bucket=bucket, Key="hot")["Body"].read())


def copy_whole(s3, bucket: str, tag: str) -> None:  # type: ignore[no-untyped-def]
    """A reader of the racing key: a CopyObject whose copy must be one whole version."""
    s3.copy_object(Bucket=bucket, Key=f"copy-{tag}", CopySource={"Bucket": bucket, "Key": "hot"})
    _whole(s3.get_object(Bucket=bucket, Key=f"copy-{tag}")["Body"].read())
    s3.delete_object(Bucket=bucket, Key=f"copy-{tag}")


def part_copy_whole(s3, bucket: str, tag: str) -> None:  # type: ignore[no-untyped-def]
    """A reader of the racing key: an UploadPartCopy of it that must not fail."""
    up = s3.create_multipart_upload(Bucket=bucket, Key=f"mp-{tag}")["UploadId"]
    try:
        s3.upload_part_copy(Bucket=bucket, Key=f"mp-{tag}", UploadId=up, PartNumber=1,
                            CopySource={"Bucket": bucket, "Key": "hot"})
    finally:
        s3.abort_multipart_upload(Bucket=bucket, Key=f"mp-{tag}", UploadId=up)


def test_gets_racing_an_overwrite_see_a_whole_version(graced_server) -> None:
    done, errors = _race(graced_server, "race-get", get_whole)
    assert done > 20
    assert errors == [], f"{len(errors)} of {done + len(errors)} GETs failed: {errors[:5]}"


def test_copies_racing_an_overwrite_copy_a_whole_version(graced_server) -> None:
    done, errors = _race(graced_server, "race-copy", copy_whole)
    assert done > 10
    assert errors == [], f"{len(errors)} of {done + len(errors)} copies failed: {errors[:5]}"


def test_part_copies_racing_an_overwrite_copy_a_whole_version(graced_server) -> None:
    done, errors = _race(graced_server, "race-part-copy", part_copy_whole)
    assert done > 10
    assert errors == [], f"{len(errors)} of {done + len(errors)} part copies failed: {errors[:5]}"


# -- lifecycle expiry racing a write on another gateway (issue 21.5) ----------------------------

@pytest.mark.postgres
def test_lifecycle_expiry_never_removes_a_version_written_meanwhile(pg_cluster, tmp_path: Path
                                                                    ) -> None:  # type: ignore[no-untyped-def]
    """A PostgreSQL writer (another gateway) holds the key's lock and is about to install a
    new version when the lifecycle worker expires the key's old one: the worker waits for the
    lock and then sees that the version it examined is no longer the latest."""
    import hashlib
    import time

    from objectstore.services.engine import metadata as md
    from objectstore.services.engine.objects import ObjectEngine
    from objectstore.services.engine.values import Attributes

    with running_server(tmp_path / "data", pg_cluster.new_database()) as srv:
        _store_json, s3 = _store(srv, "race-expiry")
        s3.put_object(Bucket="race-expiry", Key="k", Body=b"old")
        store = srv.services.stores.by_name("race-expiry")[0]
        old = srv.services.objects.head_sync(store.id, "k")
        new = ObjectEngine.new_version(store, "k", Attributes(), blob_id="", size=3,
                                        etag=hashlib.md5(b"new").hexdigest(),  # noqa: S324
                                        checksums={}, data=b"new")
        result: list[int] = []
        with srv.services.engine.connect() as conn:
            tx = conn.begin()
            md.lock_key(conn, store.id, "k")  # the other gateway's write has begun
            worker = threading.Thread(target=lambda: result.append(
                srv.apps.lifecycle._expire_latest(store, [("k", old.vseq)])))
            worker.start()
            time.sleep(0.5)  # the worker examines the key meanwhile
            md.install(conn, store, new)
            tx.commit()
        worker.join(timeout=30)
        assert result == [0], "the expiry removed the version written meanwhile"
        assert s3.get_object(Bucket="race-expiry", Key="k")["Body"].read() == b"new"


# -- the orphan sweep and uploads in flight (issue 21.4) -----------------------------------------

def _paused_put(url: str, first: bytes, rest: bytes, pause: threading.Event) -> int:
    """PUT ``first + rest`` to a presigned URL, sending ``first``, then waiting for ``pause``
    to be set before sending ``rest``: the status."""
    import httpx

    def body() -> Iterator[bytes]:
        yield first
        pause.wait(30)
        yield rest

    r = httpx.put(url, content=body(), timeout=60,
                  headers={"Content-Length": str(len(first) + len(rest))})
    return r.status_code


@pytest.mark.parametrize("parts", [False, True], ids=["put", "upload-part"])
def test_the_orphan_sweep_never_takes_an_upload_in_flight(tmp_path: Path, parts: bool) -> None:
    """A client pauses mid-body for several times the sweep's age while the sweep runs: the
    upload completes and its object reads back whole."""
    import time

    with running_server(tmp_path / "data", None, orphan_sweep_age_seconds=1.0) as srv:
        _store_json, s3 = _store(srv, "race-sweep")
        first, rest = b"a" * (3 * 1024 * 1024), b"b" * (2 * 1024 * 1024)
        if parts:
            up = s3.create_multipart_upload(Bucket="race-sweep", Key="slow")["UploadId"]
            url = s3.generate_presigned_url("upload_part", Params={
                "Bucket": "race-sweep", "Key": "slow", "UploadId": up, "PartNumber": 1})
        else:
            url = s3.generate_presigned_url("put_object", Params={"Bucket": "race-sweep",
                                                                  "Key": "slow"})
        pause = threading.Event()
        status: list[int] = []
        client = threading.Thread(target=lambda: status.append(
            _paused_put(url, first, rest, pause)))
        client.start()
        swept = 0
        deadline = time.monotonic() + 4  # four times the sweep's age, sweeping all along
        while time.monotonic() < deadline:
            swept += srv.apps.gc.sweep_orphans()
            time.sleep(0.2)
        pause.set()
        client.join(timeout=60)
        assert status == [200]
        assert swept == 0, "the sweep removed the blob being written"
        if parts:
            etag = s3.list_parts(Bucket="race-sweep", Key="slow", UploadId=up)["Parts"][0]["ETag"]
            s3.complete_multipart_upload(Bucket="race-sweep", Key="slow", UploadId=up,
                                         MultipartUpload={"Parts": [
                                             {"PartNumber": 1, "ETag": etag}]})
        got = s3.get_object(Bucket="race-sweep", Key="slow")["Body"].read()
        assert got == first + rest
        # once written and named, a blob older than the sweep's age stays; a leftover goes
        orphan = srv.services.blobs.open_writer()
        orphan.write(b"x")
        orphan.commit()
        time.sleep(1.2)  # both older than the sweep's age now
        assert srv.apps.gc.sweep_orphans() == 1
        assert s3.get_object(Bucket="race-sweep", Key="slow")["Body"].read() == first + rest


def test_a_read_whose_bytes_moved_reads_the_row_again(sqlite_server) -> None:  # type: ignore[no-untyped-def]
    """No grace period: the version a GET or a copy resolved is replaced and its blob
    deleted before the bytes are opened. The engine reads the row once more and serves the
    version that replaced it, whole."""
    import asyncio

    from objectstore.services.engine.values import ReadPlan

    srv = sqlite_server
    _store_json, s3 = _store(srv, "race-moved")
    engine = srv.services.objects
    store = srv.services.stores.by_name("race-moved")[0]
    real_head = engine.head
    n = [0]

    async def head_then_overwrite(*args, **kwargs):  # type: ignore[no-untyped-def]
        found = await real_head(*args, **kwargs)
        n[0] += 1
        if n[0] == 1:  # after the first resolution: overwritten and collected at once
            await asyncio.to_thread(s3.put_object, Bucket="race-moved", Key="k",
                                    Body=b"new" * 100_000)
            await asyncio.to_thread(srv.apps.gc.drain_doomed)
        return found

    engine.head = head_then_overwrite  # type: ignore[method-assign]
    try:
        s3.put_object(Bucket="race-moved", Key="k", Body=b"old" * 100_000)
        planned: list[str] = []

        def plan(v):  # type: ignore[no-untyped-def]
            planned.append(v.etag)
            return ReadPlan(0, v.size - 1)

        async def get() -> bytes:
            _v, body = await engine.get(store, "k", None, plan)
            assert body is not None
            if body.stream is None:
                return body.data
            return b"".join([piece async for piece in body.stream])

        assert in_own_loop(get()) == b"new" * 100_000
        assert len(planned) == 2 and planned[0] != planned[1]

        n[0] = 0
        s3.put_object(Bucket="race-moved", Key="k", Body=b"old" * 100_000)

        async def open_copy() -> bytes:
            opened = await engine.open(store, "k")
            with opened:
                await engine.copy(store, "copy", opened, _attrs())
            return s3.get_object(Bucket="race-moved", Key="copy")["Body"].read()

        assert in_own_loop(open_copy()) == b"new" * 100_000
    finally:
        engine.head = real_head  # type: ignore[method-assign]


def _attrs():  # type: ignore[no-untyped-def]
    from objectstore.services.engine.values import Attributes

    return Attributes()

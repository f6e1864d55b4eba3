"""Lifecycle rules with boto3 and the aws CLI on a server whose lifecycle day lasts 2 s, on
SQLite and PostgreSQL. Passes are run on a clock the test moves forward (no sleeps), except
one test that waits (with a deadline) for the background worker to act on its own."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from objectstore.services.engine import lifecycle
from objectstore.services.engine.lifecycle import LifecycleWorker
from objectstore.services.leader import Leader
from tests.integration.conftest import aws, error_code
from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store

DAY = 2  # seconds


@pytest.fixture
def short_day_server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", database_url, lifecycle_day_seconds=DAY) as srv:
        yield srv


@pytest.fixture
def lc_store(short_day_server: RunningServer) -> Store:
    return create_store(short_day_server)


def days_later(srv: RunningServer, days: float) -> LifecycleWorker:
    """The server's worker, on a clock ``days`` lifecycle days ahead; its background thread
    is stopped first, so passes run only when the test says."""
    worker = srv.apps.lifecycle
    worker.stop()
    worker.clock = lambda: datetime.now(UTC) + timedelta(seconds=days * DAY)  # type: ignore[method-assign]
    return worker


def keys(s3: Any, bucket: str) -> list[str]:
    return [o["Key"] for o in s3.list_objects_v2(Bucket=bucket).get("Contents", [])]


def versions(s3: Any, bucket: str) -> list[tuple[str, bool]]:
    r = s3.list_object_versions(Bucket=bucket)
    return sorted([(v["Key"], False) for v in r.get("Versions", [])]
                  + [(m["Key"], True) for m in r.get("DeleteMarkers", [])])


def rules(s3: Any, bucket: str, *rule: dict[str, Any]) -> None:
    s3.put_bucket_lifecycle_configuration(Bucket=bucket,
                                          LifecycleConfiguration={"Rules": list(rule)})


def test_expiry_by_prefix_tag_and_size(lc_store: Store) -> None:
    s3, b, srv = lc_store.boto(), lc_store.name, lc_store.srv
    days_later(srv, 0)
    rules(s3, b,
          {"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
           "Expiration": {"Days": 1}},
          {"ID": "tagged", "Status": "Enabled",
           "Filter": {"Tag": {"Key": "class", "Value": "scratch"}}, "Expiration": {"Days": 3}},
          {"ID": "big", "Status": "Enabled", "Filter": {"And": {
              "Prefix": "data/", "ObjectSizeGreaterThan": 1000}}, "Expiration": {"Days": 1}},
          {"ID": "off", "Status": "Disabled", "Filter": {"Prefix": ""},
           "Expiration": {"Days": 1}})
    put = s3.put_object(Bucket=b, Key="tmp/a", Body=b"a")
    assert 'rule-id="tmp"' in put["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    s3.put_object(Bucket=b, Key="keep/a", Body=b"a")
    s3.put_object(Bucket=b, Key="s", Body=b"s", Tagging="class=scratch")
    s3.put_object(Bucket=b, Key="data/big", Body=b"x" * 5000)
    s3.put_object(Bucket=b, Key="data/small", Body=b"x" * 10)
    assert "x-amz-expiration" not in s3.head_object(Bucket=b, Key="keep/a")[
        "ResponseMetadata"]["HTTPHeaders"]
    head = s3.head_object(Bucket=b, Key="s")
    assert 'rule-id="tagged"' in head["ResponseMetadata"]["HTTPHeaders"]["x-amz-expiration"]
    assert "Expiration" in s3.get_object(Bucket=b, Key="data/big")
    days_later(srv, 2).run_pass()
    assert keys(s3, b) == ["data/small", "keep/a", "s"]
    stats = days_later(srv, 4).run_pass()
    assert keys(s3, b) == ["data/small", "keep/a"]
    assert stats.expired == 1 and stats.examined >= 2
    assert lc_store.stats()["num_objects"] == 2  # usage freed (unversioned: deleted)


def test_versioned_expiry_noncurrent_markers_and_uploads(lc_store: Store) -> None:
    s3, b, srv = lc_store.boto(), lc_store.name, lc_store.srv
    days_later(srv, 0)
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    rules(s3, b,
          {"ID": "expire", "Status": "Enabled", "Filter": {"Prefix": "e/"},
           "Expiration": {"Days": 1}},
          {"ID": "old", "Status": "Enabled", "Filter": {"Prefix": "v/"},
           "NoncurrentVersionExpiration": {"NoncurrentDays": 1, "NewerNoncurrentVersions": 2}},
          {"ID": "markers", "Status": "Enabled", "Filter": {"Prefix": "m/"},
           "Expiration": {"ExpiredObjectDeleteMarker": True}},
          {"ID": "uploads", "Status": "Enabled", "Filter": {"Prefix": ""},
           "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}})
    s3.put_object(Bucket=b, Key="e/x", Body=b"x")
    ids = [s3.put_object(Bucket=b, Key="v/doc", Body=f"v{i}".encode())["VersionId"]
           for i in range(5)]
    mv = s3.put_object(Bucket=b, Key="m/gone", Body=b"m")["VersionId"]
    s3.delete_object(Bucket=b, Key="m/gone")
    s3.delete_object(Bucket=b, Key="m/gone", VersionId=mv)  # only the marker is left
    up = s3.create_multipart_upload(Bucket=b, Key="u")["UploadId"]
    s3.upload_part(Bucket=b, Key="u", UploadId=up, PartNumber=1, Body=b"p" * 100)
    stats = days_later(srv, 2).run_pass()
    # e/x got a delete marker; v/doc kept its latest and the 2 newest noncurrent versions;
    # the expired marker went; the upload was aborted
    assert ("e/x", True) in versions(s3, b) and ("e/x", False) in versions(s3, b)
    kept = [v["VersionId"] for v in s3.list_object_versions(Bucket=b, Prefix="v/")["Versions"]]
    assert kept == ids[::-1][:3]
    assert not [k for k, _ in versions(s3, b) if k == "m/gone"]
    assert s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == []
    assert (stats.expired, stats.noncurrent, stats.markers, stats.aborted) == (1, 2, 1, 1)
    # a second pass changes nothing more (idempotent): no second marker for e/x
    again = days_later(srv, 2.5).run_pass()
    assert (again.expired, again.noncurrent, again.markers) == (0, 0, 0)
    assert versions(s3, b).count(("e/x", True)) == 1


def test_configuration_round_trip_and_errors(lc_store: Store, tmp_path: Path) -> None:
    s3, b = lc_store.boto(), lc_store.name
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_lifecycle_configuration(Bucket=b)
    assert error_code(ei.value) == "NoSuchLifecycleConfiguration"
    doc = {"Rules": [{"ID": "r1", "Status": "Enabled",
                      "Filter": {"And": {"Prefix": "p/", "Tags": [{"Key": "a", "Value": "b"}]}},
                      "Expiration": {"Days": 30}},
                     {"ID": "r2", "Status": "Disabled", "Filter": {"Prefix": ""},
                      "NoncurrentVersionExpiration": {"NoncurrentDays": 7,
                                                      "NewerNoncurrentVersions": 3},
                      "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 2}}]}
    s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration=doc)
    got = s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]
    assert got[0]["Filter"]["And"] == {"Prefix": "p/", "Tags": [{"Key": "a", "Value": "b"}]}
    assert got[0]["Expiration"] == {"Days": 30}
    assert got[1]["NoncurrentVersionExpiration"] == {"NoncurrentDays": 7,
                                                     "NewerNoncurrentVersions": 3}
    assert got[1]["Status"] == "Disabled"
    bad = [
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Expiration": {"Days": 0}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Tag": {"Key": "k", "Value": "v"}},
          "Expiration": {"ExpiredObjectDeleteMarker": True}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Expiration": {"Date": datetime(2030, 1, 1, 12, tzinfo=UTC)}}, "InvalidArgument"),
        ({"ID": "x", "Status": "Enabled", "Filter": {"Prefix": ""},
          "Transitions": [{"Days": 1, "StorageClass": "GLACIER"}]}, "NotImplemented"),
    ]
    for rule, code in bad:
        with pytest.raises(ClientError) as ei:
            s3.put_bucket_lifecycle_configuration(Bucket=b,
                                                  LifecycleConfiguration={"Rules": [rule]})
        assert error_code(ei.value) == code, rule
    with pytest.raises(ClientError) as ei:
        s3.put_bucket_lifecycle_configuration(Bucket=b, LifecycleConfiguration={"Rules": [
            {"ID": "dup", "Status": "Enabled", "Filter": {"Prefix": ""},
             "Expiration": {"Days": 1}}] * 2})
    assert error_code(ei.value) == "InvalidArgument"
    assert len(s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]) == 2  # unchanged
    # the aws CLI
    listed = json.loads(aws(lc_store, tmp_path, "s3api", "get-bucket-lifecycle-configuration",
                            "--bucket", b).stdout)
    assert [r["ID"] for r in listed["Rules"]] == ["r1", "r2"]
    aws(lc_store, tmp_path, "s3api", "put-bucket-lifecycle-configuration", "--bucket", b,
        "--lifecycle-configuration", json.dumps({"Rules": [
            {"ID": "cli", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
             "Expiration": {"Days": 1}}]}))
    assert [r["ID"] for r in s3.get_bucket_lifecycle_configuration(Bucket=b)["Rules"]] == [
        "cli"]
    aws(lc_store, tmp_path, "s3api", "delete-bucket-lifecycle", "--bucket", b)
    with pytest.raises(ClientError):
        s3.get_bucket_lifecycle_configuration(Bucket=b)


def test_worker_killed_mid_pass_finishes_on_restart(lc_store: Store,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    # pages of 50 (not 500): the same pages, cursor and crash with a tenth of the objects
    page = 50
    monkeypatch.setattr(lifecycle, "PAGE", page)
    total, crash_at = 12 * page // 5, 7 * page // 5  # 2.4 pages; killed in the second
    s3, b, srv = lc_store.boto(), lc_store.name, lc_store.srv
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    worker = days_later(srv, 2)
    for i in range(total):  # more than two pages
        s3.put_object(Bucket=b, Key=f"k/{i:05d}", Body=b"x")
    rules(s3, b, {"ID": "all", "Status": "Enabled", "Filter": {"Prefix": "k/"},
                  "Expiration": {"Days": 1}})
    done = 0

    def crash_mid_pass() -> None:
        nonlocal done
        done += 1
        if done > crash_at:
            raise RuntimeError("killed")

    worker.fault = crash_mid_pass
    with pytest.raises(RuntimeError):
        worker.run_pass()
    assert done == crash_at + 1  # (the fault is called before each deletion)
    # a new worker (as after a restart), on the same database, resumes from the saved cursor
    fresh = LifecycleWorker(srv.services.engine, srv.services.objects, srv.services.multipart,
                            srv.services.configs, Leader(srv.services.engine, "lc-test",
                                                         srv.services.settings.data_dir),
                            DAY, clock=worker.clock)
    stats = fresh.run_pass()
    assert stats.examined <= total - page  # it did not start from the beginning
    markers = [m for page in s3.get_paginator("list_object_versions").paginate(Bucket=b)
               for m in page.get("DeleteMarkers", [])]
    by_key: dict[str, int] = {}
    for m in markers:
        by_key[m["Key"]] = by_key.get(m["Key"], 0) + 1
    assert len(by_key) == total and set(by_key.values()) == {1}  # none missed, none twice
    assert keys(s3, b) == []
    fresh.leader.release()


def test_the_background_worker_runs_by_itself(lc_store: Store) -> None:
    s3, b = lc_store.boto(), lc_store.name
    rules(s3, b, {"ID": "soon", "Status": "Enabled", "Filter": {"Prefix": ""},
                  "Expiration": {"Days": 1}})
    s3.put_object(Bucket=b, Key="short-lived", Body=b"x")
    deadline = time.monotonic() + 30
    while keys(s3, b) and time.monotonic() < deadline:
        time.sleep(0.2)  # polling for the worker (its own clock: one day is 2 s)
    assert keys(s3, b) == []


def test_two_workers_one_leader(lc_store: Store) -> None:
    srv = lc_store.srv
    s3, b = lc_store.boto(), lc_store.name
    rules(s3, b, {"ID": "r", "Status": "Enabled", "Filter": {"Prefix": "none/"},
                  "Expiration": {"Days": 1}})
    leaders = [Leader(srv.services.engine, "lifecycle", srv.services.settings.data_dir)
               for _ in range(2)]
    # the server's own worker holds the role; two more candidates (as other processes)
    assert srv.apps.lifecycle.leader.try_acquire()
    assert [ld.try_acquire() for ld in leaders] == [False, False]
    srv.apps.lifecycle.leader.release()
    assert [ld.try_acquire() for ld in leaders] == [True, False]
    leaders[0].release()


def test_cli_shows_a_stores_rules(lc_store: Store, tmp_path: Path) -> None:
    import subprocess

    from tests.support.clients import binary, clean_env

    s3, b = lc_store.boto(), lc_store.name
    rules(s3, b, {"ID": "logs", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
                  "Expiration": {"Days": 30},
                  "NoncurrentVersionExpiration": {"NoncurrentDays": 7,
                                                  "NewerNoncurrentVersions": 2}})
    env = clean_env(tmp_path)
    settings = lc_store.srv.services.settings
    env["OBJECTSTORE_DATA_DIR"] = str(settings.data_dir)
    if settings.database_url:
        env["OBJECTSTORE_DATABASE_URL"] = settings.database_url
    out = subprocess.run([binary("objectstore"), "rules", b], env=env, capture_output=True,
                         timeout=60, check=True).stdout.decode()
    assert "object lock: not enabled" in out
    assert "lifecycle rule logs (enabled; prefix 'logs/'): expire after 30 days; " \
           "noncurrent versions after 7 days, keeping 2 newer" in out, out
    as_json = json.loads(subprocess.run(
        [binary("objectstore"), "rules", b, "--output", "json"], env=env, capture_output=True,
        timeout=60, check=True).stdout)
    assert as_json["lifecycle"][0]["id"] == "logs" and as_json["object_lock"] is None
    # the store's ID works too (issue 23: a name or an ID wherever one is taken)
    store_id = lc_store.srv.services.stores.by_name(b)[0].id
    by_id = json.loads(subprocess.run(
        [binary("objectstore"), "rules", store_id, "--output", "json"], env=env,
        capture_output=True, timeout=60, check=True).stdout)
    assert by_id == as_json

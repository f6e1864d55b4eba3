"""Usage and quotas with multipart uploads (both databases): parts count while an upload is in
progress, the object after completion, nothing after an abort or expiry; races settle cleanly."""

from __future__ import annotations

import os
import threading
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from tests.support.server import running_server

from .conftest import (
    GB,
    MIB,
    Store,
    blob_files,
    client_error,
    create_store,
    error_code,
    send_headers_only,
    stored_bytes,
    xml_error_code,
)

PART = 5 * MIB


def test_usage_counts_parts_then_object_never_both(dual_store: Store) -> None:
    store, srv = dual_store, dual_store.srv
    s3 = store.boto()
    assert store.stats()["size_kb_utilised"] == 0
    up = s3.create_multipart_upload(Bucket=store.name, Key="big")["UploadId"]
    done = []
    sizes = [PART, PART, 777_777]
    for i, size in enumerate(sizes, 1):
        etag = s3.upload_part(Bucket=store.name, Key="big", UploadId=up, PartNumber=i,
                              Body=os.urandom(size))["ETag"]
        done.append({"PartNumber": i, "ETag": etag})
        assert store.stats()["size_kb_utilised"] == sum(sizes[:i]) // 1000
        assert store.used_bytes() == sum(sizes[:i])
    assert store.stats()["num_objects"] == 0
    s3.complete_multipart_upload(Bucket=store.name, Key="big", UploadId=up,
                                 MultipartUpload={"Parts": done})
    total = sum(sizes)
    st = store.stats()
    assert st["size_kb_utilised"] == total // 1000, "the object must replace the parts, once"
    assert st["num_objects"] == 1
    assert store.used_bytes() == total
    srv.apps.gc.drain_doomed()
    assert stored_bytes(srv) == total

    # overwrite it with a multipart upload: the old object's bytes are released
    up = s3.create_multipart_upload(Bucket=store.name, Key="big")["UploadId"]
    etag = s3.upload_part(Bucket=store.name, Key="big", UploadId=up, PartNumber=1,
                          Body=b"z" * 1000)["ETag"]
    assert store.used_bytes() == total + 1000  # old object + the new part in flight
    s3.complete_multipart_upload(Bucket=store.name, Key="big", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert store.used_bytes() == 1000
    assert store.stats()["num_objects"] == 1
    srv.apps.gc.drain_doomed()
    assert stored_bytes(srv) == 1000

    # abort: back to what the objects use
    up = s3.create_multipart_upload(Bucket=store.name, Key="other")["UploadId"]
    s3.upload_part(Bucket=store.name, Key="other", UploadId=up, PartNumber=1,
                   Body=os.urandom(PART))
    assert store.used_bytes() == 1000 + PART
    s3.abort_multipart_upload(Bucket=store.name, Key="other", UploadId=up)
    assert store.used_bytes() == 1000
    s3.delete_object(Bucket=store.name, Key="big")
    assert store.stats()["size_kb_utilised"] == 0
    assert store.stats()["num_objects"] == 0
    srv.apps.gc.drain_doomed()
    assert blob_files(srv) == {}


def test_quota_refuses_a_part_beyond_the_room(server: Any) -> None:
    store = create_store(server, max_size_gb=1)
    s3 = store.boto()
    up = s3.create_multipart_upload(Bucket=store.name, Key="q")["UploadId"]
    s3.upload_part(Bucket=store.name, Key="q", UploadId=up, PartNumber=1,
                   Body=os.urandom(PART))
    room = GB - PART
    path, query = f"/{store.name}/q", f"partNumber=2&uploadId={up}"
    # one byte too many: refused before the body is read
    status, body = send_headers_only(store, "PUT", path, query=query,
                                     headers={"Content-Length": str(room + 1)})
    assert status == 403, body
    assert xml_error_code(body) == "QuotaExceeded", body
    # the whole quota, declared for another part
    status, body = send_headers_only(store, "PUT", path,
                                     query=f"partNumber=3&uploadId={up}",
                                     headers={"Content-Length": str(GB)})
    assert status == 403 and xml_error_code(body) == "QuotaExceeded", body
    # a part that fits is accepted (on the same store, after the refusals)
    s3b = store.boto()
    s3b.upload_part(Bucket=store.name, Key="q", UploadId=up, PartNumber=2, Body=b"fits")
    assert store.used_bytes() == PART + 4
    parts = s3b.list_parts(Bucket=store.name, Key="q", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1, 2]
    s3b.abort_multipart_upload(Bucket=store.name, Key="q", UploadId=up)
    assert store.used_bytes() == 0


def test_quota_is_rechecked_when_the_part_is_recorded(server: Any) -> None:
    """Two uploads into a nearly full store: the commit-time check refuses the part that no
    longer fits even though the early (declared length) check passed."""
    from sqlalchemy import update

    from objectstore.storage.sql.tables import objectstores

    store = create_store(server, max_size_gb=1)
    with server.services.engine.begin() as conn:  # pretend the store is nearly full
        conn.execute(update(objectstores).where(objectstores.c.id == store.id)
                     .values(used_bytes=GB - 1000))
    s3 = store.boto()
    up = s3.create_multipart_upload(Bucket=store.name, Key="q")["UploadId"]
    s3.upload_part(Bucket=store.name, Key="q", UploadId=up, PartNumber=1, Body=b"a" * 600)
    err = client_error(store.boto().upload_part, Bucket=store.name, Key="q", UploadId=up,
                       PartNumber=2, Body=b"b" * 600)
    assert error_code(err) == "QuotaExceeded"
    assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert store.used_bytes() == GB - 1000 + 600
    parts = s3.list_parts(Bucket=store.name, Key="q", UploadId=up)["Parts"]
    assert [p["PartNumber"] for p in parts] == [1]
    s3.abort_multipart_upload(Bucket=store.name, Key="q", UploadId=up)
    assert store.used_bytes() == GB - 1000
    server.apps.gc.drain_doomed()
    assert blob_files(server) == {}, "the refused part's blob must not be left behind"


def test_expired_uploads_are_cleaned_up(dual_store: Store) -> None:
    store, srv = dual_store, dual_store.srv
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="keep", Body=b"k" * 10)
    ups = []
    for key in ("x/1", "x/2"):
        up = s3.create_multipart_upload(Bucket=store.name, Key=key)["UploadId"]
        s3.upload_part(Bucket=store.name, Key=key, UploadId=up, PartNumber=1,
                       Body=os.urandom(100_000))
        ups.append((key, up))
    assert store.used_bytes() == 10 + 200_000
    # nothing is that old yet
    assert srv.services.multipart.expire(timedelta(hours=1)) == 0
    assert store.used_bytes() == 10 + 200_000
    assert srv.services.multipart.expire(timedelta(0)) == 2
    assert store.used_bytes() == 10
    assert s3.list_multipart_uploads(Bucket=store.name).get("Uploads", []) == []
    for key, up in ups:
        err = client_error(s3.list_parts, Bucket=store.name, Key=key, UploadId=up)
        assert error_code(err) == "NoSuchUpload"
    srv.apps.gc.drain_doomed()
    assert stored_bytes(srv) == 10
    assert s3.get_object(Bucket=store.name, Key="keep")["Body"].read() == b"k" * 10


def test_usage_survives_a_restart_mid_upload(tmp_path: Path, database_url: str | None) -> None:
    data = tmp_path / "restart-data"
    with running_server(data, database_url) as srv:
        store = create_store(srv)
        s3 = store.boto()
        up = s3.create_multipart_upload(Bucket=store.name, Key="r")["UploadId"]
        first = os.urandom(PART)
        e1 = s3.upload_part(Bucket=store.name, Key="r", UploadId=up, PartNumber=1,
                            Body=first)["ETag"]
    with running_server(data, database_url) as srv:
        store.srv, store.s3_url = srv, srv.s3_url  # the restarted server has new ports
        s3 = store.boto()
        assert store.used_bytes() == PART, "in-flight parts must still be counted"
        parts = s3.list_parts(Bucket=store.name, Key="r", UploadId=up)["Parts"]
        assert [(p["PartNumber"], p["ETag"]) for p in parts] == [(1, e1)]
        e2 = s3.upload_part(Bucket=store.name, Key="r", UploadId=up, PartNumber=2,
                            Body=b"end")["ETag"]
        s3.complete_multipart_upload(
            Bucket=store.name, Key="r", UploadId=up,
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e1},
                                       {"PartNumber": 2, "ETag": e2}]})
        assert s3.get_object(Bucket=store.name, Key="r")["Body"].read() == first + b"end"
        assert store.used_bytes() == PART + 3


@pytest.mark.timeout(120)
def test_complete_racing_abort(dual_store: Store) -> None:
    store, srv = dual_store, dual_store.srv
    outcomes: dict[str, int] = {"complete": 0, "abort": 0}
    s3 = store.boto()
    clients = {"complete": store.boto(), "abort": store.boto()}
    for round_ in range(6):
        key = f"race/{round_}"
        up = s3.create_multipart_upload(Bucket=store.name, Key=key)["UploadId"]
        data = [os.urandom(PART), os.urandom(1000)]
        done = [{"PartNumber": i, "ETag": s3.upload_part(
            Bucket=store.name, Key=key, UploadId=up, PartNumber=i, Body=d)["ETag"]}
            for i, d in enumerate(data, 1)]
        before = store.used_bytes()
        barrier = threading.Barrier(2)
        results: dict[str, Any] = {}

        def run(name: str, fn: Any) -> None:
            client = clients[name]
            barrier.wait()
            try:
                results[name] = fn(client)
            except ClientError as exc:
                results[name] = exc

        threads = [
            threading.Thread(target=run, args=("complete", lambda c, k=key, u=up: (
                c.complete_multipart_upload(Bucket=store.name, Key=k, UploadId=u,
                                            MultipartUpload={"Parts": done})))),
            threading.Thread(target=run, args=("abort", lambda c, k=key, u=up: (
                c.abort_multipart_upload(Bucket=store.name, Key=k, UploadId=u)))),
        ]
        for t in threads:
            t.start()
        for t in threads:
            t.join(60)
        failed = {k: v for k, v in results.items() if isinstance(v, ClientError)}
        assert len(results) == 2, results
        assert len(failed) == 1, f"exactly one of complete/abort must win: {results}"
        loser = next(iter(failed))
        assert error_code(failed[loser]) == "NoSuchUpload", failed
        winner = "abort" if loser == "complete" else "complete"
        outcomes[winner] += 1
        if winner == "complete":
            assert s3.get_object(Bucket=store.name, Key=key)["Body"].read() == b"".join(data)
            assert store.used_bytes() == before
        else:
            err = client_error(s3.head_object, Bucket=store.name, Key=key)
            assert err.response["ResponseMetadata"]["HTTPStatusCode"] == 404
            assert store.used_bytes() == before - sum(map(len, data))
        assert s3.list_multipart_uploads(Bucket=store.name).get("Uploads", []) == []
    # usage matches what is stored, and every blob file is accounted for
    listed = sum(o["Size"] for o in s3.list_objects_v2(Bucket=store.name).get("Contents", []))
    assert store.used_bytes() == listed
    srv.apps.gc.drain_doomed()
    assert stored_bytes(srv) == listed
    print(f"\n[figures] complete-vs-abort winners over 6 rounds: {outcomes}")

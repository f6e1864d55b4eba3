"""Concurrency: racing quota limits, racing store deletion against uploads, same-key writers.
Each runs on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
from botocore.config import Config
from botocore.exceptions import ClientError
from sqlalchemy import update

from objectstore.storage.sql.tables import objectstores


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

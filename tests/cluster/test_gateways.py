"""Two gateways on one PostgreSQL and one SeaweedFS cluster, sharing nothing else."""

from __future__ import annotations

import hashlib
import os
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from botocore.exceptions import ClientError

from objectstore.domain.models import GB
from tests.cluster.conftest import Cluster
from tests.support.clients import REGION

pytestmark = pytest.mark.postgres


def test_read_after_write_and_listing_across_gateways(two_gateways: Cluster) -> None:
    a, b = two_gateways.gateways
    store = two_gateways.create_store(a)
    sa, sb = two_gateways.s3(a, store), two_gateways.s3(b, store)
    bodies = {"small": os.urandom(1000), "one-chunk": os.urandom(300_000),
              "chunks": os.urandom(17 * 1024 * 1024 + 5)}
    for key, body in bodies.items():
        sa.put_object(Bucket=store["name"], Key=key, Body=body)
        got = sb.get_object(Bucket=store["name"], Key=key)["Body"].read()
        assert got == body, key  # read-after-write on the other gateway
    big = bodies["chunks"]
    m = 8 * 1024 * 1024
    r = sb.get_object(Bucket=store["name"], Key="chunks", Range=f"bytes={m - 3}-{m + 2}")
    assert r["Body"].read() == big[m - 3:m + 3]
    listed = sb.list_objects_v2(Bucket=store["name"])
    assert sorted(o["Key"] for o in listed["Contents"]) == sorted(bodies)
    # an overwrite through B is what A serves next
    sb.put_object(Bucket=store["name"], Key="one-chunk", Body=b"x" * 100_000)
    assert sa.get_object(Bucket=store["name"], Key="one-chunk")["Body"].read() == b"x" * 100_000


def test_racing_writers_never_exceed_the_quota(two_gateways: Cluster) -> None:
    a, b = two_gateways.gateways
    store = two_gateways.create_store(a, max_size_gb=1)
    size = 100_000
    room = 7 * size + size // 2  # room for exactly 7 objects
    two_gateways.sql("UPDATE objectstores SET used_bytes = %s WHERE id = %s",
                     GB - room, store["id"])
    clients = [two_gateways.s3(a, store), two_gateways.s3(b, store)]

    def put(i: int) -> bool:
        try:
            clients[i % 2].put_object(Bucket=store["name"], Key=f"k{i}", Body=os.urandom(size))
            return True
        except ClientError as exc:
            assert exc.response["Error"]["Code"] in ("QuotaExceeded", "EntityTooLarge",
                                                     "InvalidRequest"), exc.response
            return False

    with ThreadPoolExecutor(12) as pool:
        ok = sum(pool.map(put, range(24)))
    assert ok == 7
    used = two_gateways.sql("SELECT used_bytes, object_count FROM objectstores WHERE id = %s",
                            store["id"])[0]
    assert used[0] == GB - room + 7 * size  # usage exact
    listed = clients[1].list_objects_v2(Bucket=store["name"]).get("Contents", [])
    assert len(listed) == 7


def _until_refused(call: object, budget_s: float = 2.0) -> float:
    t0 = time.perf_counter()
    while True:
        try:
            call()  # type: ignore[operator]
        except ClientError:
            return time.perf_counter() - t0
        if time.perf_counter() - t0 > budget_s:
            raise AssertionError("still served after the change")


def _until_served(call: object, budget_s: float = 2.0) -> None:
    """A change that lifts a refusal (unsuspension) reaches B as promptly; the test must not
    race it (B may refuse for the few ms its notification takes)."""
    t0 = time.perf_counter()
    while True:
        try:
            call()  # type: ignore[operator]
            return
        except ClientError:
            if time.perf_counter() - t0 > budget_s:
                raise
            time.sleep(0.005)


def test_changes_through_a_are_enforced_by_b_within_100_ms(two_gateways: Cluster) -> None:
    a, b = two_gateways.gateways
    store = two_gateways.create_store(a)
    sb = two_gateways.s3(b, store)
    for _ in range(3):  # B has the credential and the bucket cached now
        sb.list_objects_v2(Bucket=store["name"])
    cred_id = store["owner_info"]["credential_id"]
    with two_gateways.api(a) as api:
        r = api.patch(f"/v2/objectstore/credentials/{cred_id}",
                      json={"region": REGION, "suspended": True})
        assert r.status_code == 200, r.text
    took = _until_refused(lambda: sb.list_objects_v2(Bucket=store["name"]))
    assert took < 0.1, f"suspension reached B after {took * 1000:.0f} ms"

    # key replacement: the old secret stops working on B
    with two_gateways.api(a) as api:
        api.patch(f"/v2/objectstore/credentials/{cred_id}",
                  json={"region": REGION, "suspended": False})
    _until_served(lambda: sb.list_objects_v2(Bucket=store["name"]))
    for _ in range(3):
        sb.list_objects_v2(Bucket=store["name"])
    with two_gateways.api(a) as api:
        r = api.patch(f"/v2/objectstore/credentials/{cred_id}",
                      json={"region": REGION,
                            "secret_access_key_id": hashlib.sha256(os.urandom(8)).hexdigest()})
        assert r.status_code == 200, r.text
    took = _until_refused(lambda: sb.list_objects_v2(Bucket=store["name"]))
    assert took < 0.1, f"key replacement reached B after {took * 1000:.0f} ms"


def test_store_deletion_through_a_is_seen_by_b(two_gateways: Cluster) -> None:
    a, b = two_gateways.gateways
    store = two_gateways.create_store(a)
    sb = two_gateways.s3(b, store)
    sb.put_object(Bucket=store["name"], Key="k", Body=b"v")
    sb.head_bucket(Bucket=store["name"])
    with two_gateways.api(a) as api:
        r = api.delete(f"/v2/objectstores/{store['id']}", params={"region": REGION})
        assert r.status_code == 200, r.text
    took = _until_refused(lambda: sb.get_object(Bucket=store["name"], Key="k"))
    assert took < 0.1, f"deletion reached B after {took * 1000:.0f} ms"


def test_a_gateway_with_another_server_key_refuses_to_start(two_gateways: Cluster) -> None:
    import subprocess
    import sys

    from cryptography.fernet import Fernet

    two_gateways.create_store(two_gateways.gateways[0])  # at least one sealed secret
    env = {**os.environ, **two_gateways.env,
           "OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode()}
    r = subprocess.run([sys.executable, "-m", "objectstore.cli.main", "serve", "--api-port",
                        "1", "--s3-port", "2", "--data-dir", str(two_gateways.root / "wrong"),
                        "--database-url", two_gateways.database_url,
                        "--blob-store", two_gateways.blob_store],
                       env=env, capture_output=True, text=True, timeout=60)
    assert r.returncode != 0
    assert "server key does not open the S3 secrets" in r.stderr

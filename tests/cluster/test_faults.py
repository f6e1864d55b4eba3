"""Faults: a gateway, a volume server and the background-work leader SIGKILLed mid-run.

Each test runs short in `make test` (``OBJECTSTORE_FAULT_UPLOADS``, default 60 uploads; one
SIGKILL) and long, marked ``long``, in `make test-long`: ``OBJECTSTORE_FAULT_LONG_UPLOADS``
(default 600) uploads, and ``OBJECTSTORE_FAULT_LONG_ROUNDS`` (default 5) SIGKILLs in a row of
a gateway (a new one each round, the uploads shared out) and of the background leader."""

from __future__ import annotations

import hashlib
import os
import signal
import threading
import time
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
from botocore.exceptions import BotoCoreError, ClientError

from objectstore.cli.devcluster import Gateway, WeedCluster
from tests.cluster.conftest import Cluster, new_cluster
from tests.support.pg import PgCluster

pytestmark = pytest.mark.postgres
UPLOADS = int(os.environ.get("OBJECTSTORE_FAULT_UPLOADS", "60"))
LONG_UPLOADS = int(os.environ.get("OBJECTSTORE_FAULT_LONG_UPLOADS", "600"))
LONG_ROUNDS = int(os.environ.get("OBJECTSTORE_FAULT_LONG_ROUNDS", "5"))
# the upload count of each upload test: the short run, and the long one (`make test-long`)
RUNS = pytest.mark.parametrize("uploads", [
    pytest.param(UPLOADS, id="short"),
    pytest.param(LONG_UPLOADS, id="long", marks=[pytest.mark.long, pytest.mark.timeout(3600)]),
])
REPORT: dict[str, str] = {}


def body_for(key: str) -> bytes:
    """The bytes of ``key``: its size and content follow from the name, so any object found
    later can be checked without remembering it (sizes from 70 KB to ~9 MB: 1 or 2 chunks)."""
    seed = hashlib.sha256(key.encode()).digest()
    size = 70_000 + int.from_bytes(seed[:4], "big") % (9 * 1024 * 1024)
    return (seed * (size // 32 + 1))[:size]


def upload_until(cluster: Cluster, gw_index: int, store: dict[str, object], n: int,
                 fault: threading.Event, after: int, prefix: str = "") -> tuple[set[str], int]:
    """``n`` uploads from 4 threads; ``fault`` is set once ``after`` were acknowledged.
    Returns (acknowledged keys, failures)."""
    s3 = cluster.s3(cluster.gateways[gw_index], store, read_timeout=60)
    acked: set[str] = set()
    failures = 0
    lock = threading.Lock()

    def put(i: int) -> None:
        nonlocal failures
        key = f"{prefix}obj-{i:05d}"
        try:
            s3.put_object(Bucket=store["name"], Key=key, Body=body_for(key))
        except (ClientError, BotoCoreError, OSError):
            with lock:
                failures += 1
            return
        with lock:
            acked.add(key)
            if len(acked) >= after:
                fault.set()

    with ThreadPoolExecutor(4) as pool:
        list(pool.map(put, range(n)))
    return acked, failures


def check_all(cluster: Cluster, gw_index: int, store: dict[str, object],
              acked: set[str]) -> int:
    """Every acknowledged object reads back byte for byte; every listed object is complete."""
    s3 = cluster.s3(cluster.gateways[gw_index], store)
    listed = {o["Key"] for page in s3.get_paginator("list_objects_v2").paginate(
        Bucket=store["name"]) for o in page.get("Contents", [])}
    assert acked <= listed, sorted(acked - listed)[:5]
    for key in listed:
        got = s3.get_object(Bucket=store["name"], Key=key)["Body"].read()
        assert got == body_for(key), key
    return len(listed)


@pytest.fixture
def cluster(tmp_path: Path, pg_cluster: PgCluster, weed: WeedCluster) -> Iterator[Cluster]:
    c = new_cluster(tmp_path, pg_cluster, weed)
    try:
        yield c
    finally:
        c.stop()


@pytest.mark.parametrize("uploads,rounds", [
    pytest.param(UPLOADS, 1, id="short"),
    pytest.param(LONG_UPLOADS // LONG_ROUNDS, LONG_ROUNDS, id="long",
                 marks=[pytest.mark.long, pytest.mark.timeout(3600)]),
])
def test_sigkill_a_gateway_during_uploads(cluster: Cluster, uploads: int, rounds: int) -> None:
    """Each round: a new gateway takes ``uploads`` uploads and is SIGKILLed after a third
    were acknowledged; everything acknowledged (in every round so far) reads back through
    the surviving gateway, and nothing listed is partial."""
    survivor = cluster.add_gateway()
    store = cluster.create_store(survivor)
    acked: set[str] = set()
    failures = found = 0
    for rnd in range(rounds):
        victim = cluster.add_gateway()
        fault = threading.Event()

        def killer(victim: Gateway = victim, fault: threading.Event = fault) -> None:
            fault.wait(900)
            assert victim.proc is not None
            victim.proc.kill(signal.SIGKILL)

        t = threading.Thread(target=killer)
        t.start()
        got, failed = upload_until(cluster, cluster.gateways.index(victim), store, uploads,
                                   fault, uploads // 3, prefix=f"r{rnd}-")
        t.join()
        assert failed > 0  # the kill did interrupt uploads
        acked |= got
        failures += failed
        found = check_all(cluster, 0, store, acked)
    REPORT["gateway"] = (f"{rounds} gateway SIGKILL(s): {len(acked)} acknowledged, "
                         f"{failures} failed, {found} listed")
    print("gateway SIGKILL:", REPORT["gateway"])


@pytest.fixture
def own_weed(tmp_path: Path) -> Iterator[WeedCluster]:
    w = WeedCluster(tmp_path / "weed", volumes=3).start()
    try:
        yield w
    finally:
        w.stop()


@RUNS
def test_sigkill_one_of_three_volume_servers_during_uploads(
        tmp_path: Path, pg_cluster: PgCluster, own_weed: WeedCluster, uploads: int) -> None:
    cluster = new_cluster(tmp_path, pg_cluster, own_weed)
    try:
        gw = cluster.add_gateway()
        store = cluster.create_store(gw)
        fault = threading.Event()
        victim = own_weed.servers[1]

        def killer() -> None:
            fault.wait(900)
            victim.kill(signal.SIGKILL)

        t = threading.Thread(target=killer)
        t.start()
        acked, failures = upload_until(cluster, 0, store, uploads, fault, uploads // 3)
        t.join()
        assert not victim.alive()
        assert failures == 0, f"{failures} uploads failed with one of three volume servers down"
        # new writes keep succeeding, and everything reads back from the survivors
        s3 = cluster.s3(gw, store)
        for i in range(5):
            key = f"after-{i}"
            s3.put_object(Bucket=store["name"], Key=key, Body=body_for(key))
            acked.add(key)
        found = check_all(cluster, 0, store, acked)
        REPORT["volume"] = f"{len(acked)} acknowledged, {failures} failed, {found} read back"
        print("volume server SIGKILL:", REPORT["volume"])
    finally:
        cluster.stop()


def _leader_pid(cluster: Cluster) -> int | None:
    rows = cluster.sql("SELECT a.client_port FROM pg_locks l JOIN pg_stat_activity a "
                       "ON a.pid = l.pid WHERE l.locktype = 'advisory' AND l.granted "
                       "AND a.datname = current_database()")
    return rows[0][0] if rows else None


def _needle_gone(weed: WeedCluster, fid: str) -> bool:
    vid = fid.split(",")[0]
    import json

    with urllib.request.urlopen(f"http://{weed.master_addr}/dir/lookup?volumeId={vid}") as r:
        urls = [loc["url"] for loc in json.loads(r.read())["locations"]]
    for url in urls:
        try:
            urllib.request.urlopen(f"http://{url}/{fid}", timeout=5)
            return False
        except urllib.error.HTTPError as exc:
            if exc.code != 404:
                return False
    return True


def _wait_for_leader(cluster: Cluster) -> None:
    deadline = time.monotonic() + 10
    while _leader_pid(cluster) is None:
        assert time.monotonic() < deadline, "no gateway took the background role"
        time.sleep(0.1)


def _leader_round(cluster: Cluster, weed: WeedCluster, leader: Gateway) -> tuple[Gateway, float]:
    """``leader`` (the only live gateway, holding the background role) is SIGKILLed once a new
    gateway is up; blobs doomed through the new one afterwards are still removed. Returns the
    new gateway (now the leader) and how long the removal took after the kill."""
    b = cluster.add_gateway()
    store = cluster.create_store(b)
    sb = cluster.s3(b, store)
    before = {r[0] for r in cluster.sql("SELECT fid FROM blob_chunks")}
    assert leader.proc is not None
    leader.proc.kill(signal.SIGKILL)
    killed = time.monotonic()
    # doomed blobs queued after the leader died: overwrites and deletes through B
    for i in range(6):
        sb.put_object(Bucket=store["name"], Key=f"k{i}", Body=os.urandom(200_000))
    fids = [r[0] for r in cluster.sql("SELECT fid FROM blob_chunks") if r[0] not in before]
    assert len(fids) == 6
    for i in range(3):
        sb.put_object(Bucket=store["name"], Key=f"k{i}", Body=os.urandom(100_000))
    for i in range(3, 6):
        sb.delete_object(Bucket=store["name"], Key=f"k{i}")
    while cluster.sql("SELECT count(*) FROM doomed_blobs")[0][0] > 0:
        assert time.monotonic() - killed < 15, "doomed blobs were not removed"
        time.sleep(0.1)
    took = time.monotonic() - killed
    assert _leader_pid(cluster) is not None  # B holds the role now
    assert all(_needle_gone(weed, fid) for fid in fids)
    # what is left of this round: the three overwritten keys' new blobs
    assert len({r[0] for r in cluster.sql("SELECT fid FROM blob_chunks")} - before) == 3
    return b, took


@pytest.mark.parametrize("rounds", [
    pytest.param(1, id="short"),
    pytest.param(LONG_ROUNDS, id="long", marks=[pytest.mark.long, pytest.mark.timeout(1800)]),
])
def test_sigkill_the_background_leader_another_takes_over(cluster: Cluster, weed: WeedCluster,
                                                         rounds: int) -> None:
    leader = cluster.add_gateway()
    _wait_for_leader(cluster)  # A takes the role first (it is alone)
    took: list[float] = []
    for _ in range(rounds):  # each round kills the gateway that took over in the last one
        leader, t = _leader_round(cluster, weed, leader)
        took.append(t)
    REPORT["leader"] = (f"{rounds} leader SIGKILL(s), doomed blobs removed at most "
                        f"{max(took):.1f} s after each")
    print("leader SIGKILL:", REPORT["leader"])

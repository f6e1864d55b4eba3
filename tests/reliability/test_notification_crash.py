"""Bucket event notifications across SIGKILLs (issue 25): writers PUT and DELETE through
boto3 while the server (a subprocess) is killed N times; a webhook receiver in this process
outlives every kill. Afterwards every acknowledged write's event must have arrived at least
once, and each key's events must first arrive in sequencer order. Duplicates (an event sent,
then the process killed before the outbox row was deleted) are allowed and reported."""

from __future__ import annotations

import hashlib
import os
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.support.proc import API_KEY, ServerProcess
from tests.support.webhook import Receiver, webhook_receiver

BUCKET = "events-crash"
KEYS = [f"k/{i:02d}" for i in range(12)]


class Run:
    def __init__(self, work: Path, hook: Receiver, database_url: str | None) -> None:
        self.server = ServerProcess(work / "data", database_url, extra_env={
            "OBJECTSTORE_EVENT_RETRY_MAX_SECONDS": "1"})
        self.hook = hook
        self.lock = threading.Lock()
        self.acked: list[tuple[str, str, str]] = []  # (event family, key, etag or "")
        self.counter = 0

    def setup(self) -> None:
        self.server.start()
        h = {"Authorization": f"bearer {API_KEY}"}
        api = self.server.api_url
        store = httpx.post(f"{api}/v2/objectstores", headers=h, timeout=30,
                           json={"name": BUCKET, "region": "LON1"}).json()
        cred = httpx.get(f"{api}/v2/objectstore/credentials/"
                         f"{store['owner_info']['credential_id']}", headers=h,
                         timeout=30).json()
        self.ak, self.sk = cred["access_key_id"], cred["secret_access_key_id"]
        r = httpx.post(f"{api}/v2/objectstore/event-targets", headers=h, timeout=30, json={
            "name": "crash-hook", "type": "webhook", "endpoint": self.hook.url})
        assert r.status_code == 200, r.text
        self.target = r.json()
        self.client().put_bucket_notification_configuration(
            Bucket=BUCKET, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": self.target["arn"],
                "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]}]})

    def client(self) -> Any:
        return boto3.client("s3", endpoint_url=self.server.s3_url, aws_access_key_id=self.ak,
                            aws_secret_access_key=self.sk, region_name="LON1",
                            config=Config(retries={"total_max_attempts": 1},
                                          connect_timeout=5, read_timeout=30))

    def worker(self, stop: threading.Event, seed: int) -> None:
        rng = random.Random(seed)  # noqa: S311 - a test's choices
        s3 = self.client()
        while not stop.is_set():
            key = rng.choice(KEYS)
            with self.lock:
                self.counter += 1
                n = self.counter
            try:
                if rng.random() < 0.15:
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    entry = ("ObjectRemoved", key, "")
                else:
                    body = f"{key}:{n}".encode()
                    s3.put_object(Bucket=BUCKET, Key=key, Body=body)
                    entry = ("ObjectCreated", key, hashlib.md5(body).hexdigest())  # noqa: S324
            except Exception:  # noqa: BLE001 - the server was killed: not acknowledged
                if stop.is_set():
                    return
                time.sleep(0.05)
                continue
            with self.lock:
                self.acked.append(entry)

    def cycle(self, seconds: float, workers: int = 4) -> None:
        stop = threading.Event()
        threads = [threading.Thread(target=self.worker, args=(stop, i * 7919 + len(self.acked)))
                   for i in range(workers)]
        for t in threads:
            t.start()
        time.sleep(seconds)
        self.server.kill()  # SIGKILL mid-writes (and mid-deliveries)
        stop.set()
        for t in threads:
            t.join()
        self.server.start()


def run_kill_loop(work: Path, kills: int, seconds: float, database_url: str | None = None
                  ) -> dict[str, int]:
    with webhook_receiver() as hook:
        run = Run(work, hook, database_url)
        run.setup()
        try:
            rng = random.Random(int(os.environ.get("OBJECTSTORE_CRASH_SEED", "1")))  # noqa: S311
            for _ in range(kills):
                run.cycle(seconds * rng.uniform(0.5, 1.5))
            # what was acknowledged must arrive (at least once)
            def arrived(got: list[dict[str, Any]]) -> bool:
                seen = {(r["eventName"].split(":")[0], r["s3"]["object"]["key"],
                         r["s3"]["object"].get("eTag", "")) for r in got}
                return all((fam, key, etag if fam == "ObjectCreated" else "") in seen
                           or (fam == "ObjectRemoved" and any(
                               s[0] == "ObjectRemoved" and s[1] == key for s in seen))
                           for fam, key, etag in run.acked)
            got = hook.wait_for(arrived, timeout=120)
        finally:
            run.server.stop()
    ids = Counter((r["s3"]["object"]["key"], r["s3"]["object"]["sequencer"]) for r in got)
    duplicates = sum(n - 1 for n in ids.values())
    first: dict[str, list[str]] = {}
    seen: set[tuple[str, str]] = set()
    for r in got:
        ident = (r["s3"]["object"]["key"], r["s3"]["object"]["sequencer"])
        if ident not in seen:
            seen.add(ident)
            first.setdefault(ident[0], []).append(ident[1])
    for key, seqs in first.items():
        assert seqs == sorted(seqs), f"{key}: events first arrived out of sequencer order"
    report = {"kills": kills, "acknowledged_writes": len(run.acked),
              "events_received": len(got), "distinct_events": len(ids),
              "duplicates": duplicates}
    print("notification kill loop:", report)
    return report


def test_every_acknowledged_write_is_announced_across_sigkills(tmp_path: Path) -> None:
    report = run_kill_loop(tmp_path, kills=3, seconds=1.5)
    assert report["acknowledged_writes"] > 20


@pytest.mark.postgres
def test_every_acknowledged_write_is_announced_across_sigkills_postgres(
        tmp_path: Path, pg_cluster: Any) -> None:
    report = run_kill_loop(tmp_path, kills=3, seconds=1.5,
                           database_url=pg_cluster.new_database())
    assert report["acknowledged_writes"] > 20


@pytest.mark.long
def test_notification_kill_loop_long(tmp_path: Path) -> None:
    kills = int(os.environ.get("OBJECTSTORE_EVENT_KILLS", "30"))
    report = run_kill_loop(tmp_path, kills=kills, seconds=2.0)
    assert report["acknowledged_writes"] > kills * 10

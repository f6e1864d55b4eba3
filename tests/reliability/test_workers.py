"""`serve --workers 2`: both processes serve, share state through the database, stop on
SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import boto3
import httpx

from tests.support.pg import free_port


def test_two_workers_serve_and_stop(tmp_path: Path) -> None:
    proc, api, s3_port_url = _start(tmp_path, "--workers", "2")
    s3_port = int(s3_port_url.rsplit(":", 1)[1])
    try:
        assert len(_children(proc.pid)) == 2
        h = {"Authorization": "bearer workers-key-0123456789"}
        store = httpx.post(f"{api}/v2/objectstores", headers=h,
                           json={"name": "workers-b", "region": "LON1"}).json()
        cred = httpx.get(f"{api}/v2/objectstore/credentials/"
                         f"{store['owner_info']['credential_id']}", headers=h).json()
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                          aws_access_key_id=cred["access_key_id"],
                          aws_secret_access_key=cred["secret_access_key_id"],
                          region_name="LON1")
        for i in range(30):  # new connections land on either worker
            boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                         aws_access_key_id=cred["access_key_id"],
                         aws_secret_access_key=cred["secret_access_key_id"],
                         region_name="LON1").put_object(Bucket="workers-b", Key=f"k{i}",
                                                        Body=b"v" * i)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="workers-b")["Contents"]]
        assert len(keys) == 30
        stats = httpx.get(f"{api}/v2/objectstores/{store['id']}/stats", headers=h).json()
        assert stats["num_objects"] == 30
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0


def _start(tmp_path: Path, *flags: str) -> tuple[subprocess.Popen[bytes], str, str]:
    api_port, s3_port = free_port(), free_port()
    env = dict(os.environ, OBJECTSTORE_API_KEY="workers-key-0123456789",
               OBJECTSTORE_LOG_LEVEL="warning")
    env.pop("OBJECTSTORE_WORKERS", None)
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "objectstore.cli.main", "serve", *flags,
         "--data-dir", str(tmp_path / "data"), "--api-port", str(api_port),
         "--s3-port", str(s3_port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    deadline = time.time() + 30
    while True:
        try:
            if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        assert proc.poll() is None, proc.stdout.read() if proc.stdout else ""
        assert time.time() < deadline, "workers did not start"
        time.sleep(0.1)
    return proc, api, f"http://127.0.0.1:{s3_port}"


def _children(pid: int) -> list[int]:
    out = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True).stdout  # noqa: S607
    return [int(p) for p in out.split()]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (killed, not yet reaped by its parent) is not serving
    with open(f"/proc/{pid}/stat") as f:
        return f.read().split(") ", 1)[1][0] != "Z"


def _store(api: str, s3_url: str, name: str) -> Any:
    """Creates the store; returns a function making a new S3 client (new connections) for it."""
    h = {"Authorization": "bearer workers-key-0123456789"}
    store = httpx.post(f"{api}/v2/objectstores", headers=h,
                       json={"name": name, "region": "LON1"}).json()
    cred = httpx.get(f"{api}/v2/objectstore/credentials/"
                     f"{store['owner_info']['credential_id']}", headers=h).json()
    return lambda: boto3.client("s3", endpoint_url=s3_url, region_name="LON1",
                                aws_access_key_id=cred["access_key_id"],
                                aws_secret_access_key=cred["secret_access_key_id"])


def test_default_is_one_worker_per_core_and_metrics_sum_over_them(tmp_path: Path) -> None:
    """No --workers: as many processes as cores this process may use; /metrics, answered by
    whichever worker gets the connection, counts every worker's requests."""
    cores = len(os.sched_getaffinity(0))
    proc, api, s3_url = _start(tmp_path)
    try:
        expected = cores if cores > 1 else 0  # one core: a single process, no children
        assert len(_children(proc.pid)) == expected
        client = _store(api, s3_url, "auto-b")
        for i in range(20):  # a new client (connection) each: they land on either worker
            client().put_object(Bucket="auto-b", Key=f"k{i}", Body=b"v")
        line = 'objectstore_requests_total{operation="PutObject",plane="s3",status="200"}'
        for _ in range(6):  # several scrapes, several connections: each sees the sum
            metrics = httpx.get(f"{api}/metrics").text
            values = [ln.split()[-1] for ln in metrics.splitlines() if ln.startswith(line)]
            assert values == ["20.0"], (values, metrics[:2000])
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0


def test_a_dead_worker_is_replaced_and_workers_die_with_the_parent(tmp_path: Path) -> None:
    proc, api, s3_url = _start(tmp_path, "--workers", "2")
    try:
        first = _children(proc.pid)
        assert len(first) == 2
        os.kill(first[0], signal.SIGKILL)
        deadline = time.time() + 20
        while True:
            now = [p for p in _children(proc.pid) if _alive(p)]
            if len(now) == 2 and first[0] not in now:
                break
            assert time.time() < deadline, f"no replacement: {now}"
            time.sleep(0.1)
        s3 = _store(api, s3_url, "replaced-b")()
        for i in range(10):
            s3.put_object(Bucket="replaced-b", Key=f"k{i}", Body=b"x")
        assert s3.list_objects_v2(Bucket="replaced-b")["KeyCount"] == 10
    finally:
        workers = _children(proc.pid)
        proc.kill()  # SIGKILL: no chance to forward anything
        proc.wait(timeout=10)
    deadline = time.time() + 10
    while any(_alive(p) for p in workers):
        assert time.time() < deadline, "workers outlived a SIGKILLed parent"
        time.sleep(0.1)

"""Soak test: mixed PUT/GET/LIST/DELETE from many clients for a bounded time against a real
server subprocess (default workers: one per core), half the clients on a plain store and half
on a versioned one; reports requests, errors, RSS (the whole process tree) and open file
descriptors and threads over time, and the RSS slope (a least-squares fit, MiB/min) over the
last 30 minutes (the target: flat) and over the second half of the run.

    python -m tests.support.soak --minutes 60 --clients 64 [--workers auto|N] [--env K=V]

``--env K=V`` (repeatable) is set in the server's environment, to compare one setting against
a control under the same load (e.g. glibc's malloc defaults: ``--env
OBJECTSTORE_MALLOC_ARENA_MAX=0 --env OBJECTSTORE_MALLOC_TRIM_SECONDS=0``).
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import random
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from .proc import API_KEY, ServerProcess


def _status(pid: int, field: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(f"{field}:"):
            return int(line.split()[1])
    return 0


def _rss_kib(pid: int) -> int:
    return _status(pid, "VmRSS")


def _tree(pid: int) -> list[int]:
    children = Path(f"/proc/{pid}/task/{pid}/children")
    kids = [int(p) for p in children.read_text().split()] if children.exists() else []
    return [pid, *kids]


def _fds(pid: int) -> int:
    return len(list(Path(f"/proc/{pid}/fd").iterdir()))


def _tree_rss_mib(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            total += _rss_kib(p)
    return total // 1024


def _tree_fds(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            total += _fds(p)
    return total


def _tree_threads(pid: int) -> int:
    total = 0
    for p in _tree(pid):
        with contextlib.suppress(OSError):
            total += _status(p, "Threads")
    return total


def slope_mib_per_min(samples: list[tuple[float, float]]) -> float:
    """The least-squares slope of (seconds, MiB) samples, in MiB per minute (0 for fewer than
    two samples): a fit over every sample, so one noisy sample at either end does not decide
    it as it would a difference of the two ends."""
    if len(samples) < 2:
        return 0.0
    n = len(samples)
    mean_t = sum(t for t, _ in samples) / n
    mean_m = sum(m for _, m in samples) / n
    var = sum((t - mean_t) ** 2 for t, _ in samples)
    if var == 0:
        return 0.0
    cov = sum((t - mean_t) * (m - mean_m) for t, m in samples)
    return cov / var * 60


def window(samples: list[tuple[float, float]], seconds: float) -> list[tuple[float, float]]:
    """The samples of the last ``seconds`` of the run."""
    if not samples:
        return []
    start = samples[-1][0] - seconds
    return [smp for smp in samples if smp[0] >= start]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--minutes", type=float, default=10)
    ap.add_argument("--clients", type=int, default=64)
    ap.add_argument("--workers", default="auto")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="set in the server's environment (repeatable)")
    args = ap.parse_args()
    extra_env = dict(kv.split("=", 1) for kv in args.env)
    with tempfile.TemporaryDirectory(prefix="objectstore-soak-") as tmp:
        srv = ServerProcess(Path(tmp) / "data", workers=args.workers, extra_env=extra_env)
        srv.start(timeout=120)  # slow under tracemalloc or a busy machine
        h = {"Authorization": f"bearer {API_KEY}"}
        store = httpx.post(f"{srv.api_url}/v2/objectstores", headers=h,
                           json={"name": "soak", "region": "LON1"}).json()
        cred = httpx.get(f"{srv.api_url}/v2/objectstore/credentials/"
                         f"{store['owner_info']['credential_id']}", headers=h).json()
        httpx.post(f"{srv.api_url}/v2/objectstores", headers=h, json={
            "name": "soak-versioned", "region": "LON1",
            "access_key_id": cred["access_key_id"]}).raise_for_status()
        boto3.client("s3", endpoint_url=srv.s3_url, aws_access_key_id=cred["access_key_id"],
                     aws_secret_access_key=cred["secret_access_key_id"],
                     region_name="LON1").put_bucket_versioning(
            Bucket="soak-versioned", VersioningConfiguration={"Status": "Enabled"})
        ops: Counter[str] = Counter()
        errors: Counter[str] = Counter()
        lock = threading.Lock()
        stop = threading.Event()

        def client_loop(seed: int) -> None:
            rng = random.Random(seed)
            s3 = boto3.client("s3", endpoint_url=srv.s3_url,
                              aws_access_key_id=cred["access_key_id"],
                              aws_secret_access_key=cred["secret_access_key_id"],
                              region_name="LON1",
                              config=Config(retries={"total_max_attempts": 1},
                                            max_pool_connections=2))
            bucket = "soak-versioned" if seed % 2 else "soak"
            while not stop.is_set():
                key = f"c{seed % 1000}/{rng.randrange(50)}"
                roll = rng.random()
                try:
                    if roll < 0.4:
                        body = rng.randbytes(rng.choice([10, 4096, 65536, 300_000]))
                        r = s3.put_object(Bucket=bucket, Key=key, Body=body)
                        if r["ETag"].strip('"') != hashlib.md5(body).hexdigest():  # noqa: S324
                            raise AssertionError("ETag mismatch")
                        name = "put"
                    elif roll < 0.75:
                        with contextlib.suppress(s3.exceptions.NoSuchKey):
                            s3.get_object(Bucket=bucket, Key=key)["Body"].read()
                        name = "get"
                    elif roll < 0.85:
                        s3.list_objects_v2(Bucket=bucket, Prefix=key.split("/")[0] + "/")
                        name = "list"
                    else:
                        s3.delete_object(Bucket=bucket, Key=key)
                        if bucket == "soak-versioned":  # old versions go too: bounded disk
                            listed = s3.list_object_versions(Bucket=bucket, Prefix=key)
                            for v in [*listed.get("Versions", []),
                                      *listed.get("DeleteMarkers", [])]:
                                if v["Key"] == key and not v["IsLatest"]:
                                    s3.delete_object(Bucket=bucket, Key=key,
                                                     VersionId=v["VersionId"])
                        name = "delete"
                    with lock:
                        ops[name] += 1
                except Exception as exc:  # noqa: BLE001 - counted and reported
                    with lock:
                        errors[type(exc).__name__] += 1

        threads = [threading.Thread(target=client_loop, args=(i,), daemon=True)
                   for i in range(args.clients)]
        assert srv.proc is not None
        pid = srv.proc.pid
        t0 = time.time()
        for t in threads:
            t.start()
        samples = []
        end = t0 + args.minutes * 60
        while time.time() < end:
            time.sleep(min(10, max(0.5, end - time.time())))
            samples.append((round(time.time() - t0), _tree_rss_mib(pid), _tree_fds(pid),
                            sum(ops.values())))
            print(f"t={samples[-1][0]}s rss={samples[-1][1]}MiB fds={samples[-1][2]} "
                  f"threads={_tree_threads(pid)} requests={samples[-1][3]} "
                  f"errors={sum(errors.values())}", flush=True)
        stop.set()
        for t in threads:
            t.join(timeout=60)
        fsck = srv.run_cli("fsck", "--quiet")
        srv.stop()
        total = sum(ops.values())
        rss = [(float(t), float(m)) for t, m, _, _ in samples]
        half = window(rss, samples[-1][0] / 2)
        last30 = window(rss, 30 * 60)
        print(f"soak: {args.minutes} min, {args.clients} clients, {total} requests "
              f"({dict(ops)}), {sum(errors.values())} errors {dict(errors)}; "
              f"RSS {samples[0][1]}->{samples[-1][1]} MiB, fds {samples[0][2]}->"
              f"{samples[-1][2]}; second half RSS {half[0][1]:.0f}->{half[-1][1]:.0f} MiB "
              f"({slope_mib_per_min(half):+.2f} MiB/min fitted, max "
              f"{max(m for _, m in half):.0f}); fsck: "
              f"{fsck.stdout.strip().splitlines()[-1]}")
        span = (last30[-1][0] - last30[0][0]) / 60
        print(f"RSS slope over the last {span:.0f} min"
              f"{'' if span >= 29.5 else ' (a run under 30 min: not the target window)'}"
              f": {slope_mib_per_min(last30):+.2f} MiB/min "
              f"({last30[0][1]:.0f}->{last30[-1][1]:.0f} MiB)", flush=True)
        raise SystemExit(1 if errors or fsck.returncode else 0)


if __name__ == "__main__":
    main()

"""A/B of 256 MiB single-stream PUTs through boto3 with its defaults (over http, which this
uses: a signed payload - x-amz-content-sha256 is the body's SHA-256 - and the CRC32 in an
x-amz-checksum-crc32 header; over https boto3 streams aws-chunked with a CRC32 trailer
instead): one or two source trees of this server (``--workers 1``,
SQLite, filesystem blobs) and ``rclone serve s3``, side by side, PUTs alternated between
them so all see the same machine load. Reports MiB/s and the server's CPU seconds per PUT,
and one core's MD5 rate measured in the same run.

    git worktree add /tmp/prev <commit>
    .venv/bin/python -m bench.ab_boto3_put /tmp/prev/src src --reps 5
    .venv/bin/python -m bench.ab_boto3_put src --reps 5          # this tree against rclone
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import boto3
import psutil
from botocore.config import Config

from bench.ab_large import _start
from bench.client import one_request
from bench.servers import Rclone
from bench.sigv4 import Presigner

MIB = 256


def _cpu(pid: int) -> float:
    p = psutil.Process(pid)
    total = 0.0
    for q in [p, *p.children(recursive=True)]:
        t = q.cpu_times()
        total += t.user + t.system
    return total


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("trees", nargs="+", help="source trees of this server (1 or 2)")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--no-rclone", action="store_true")
    ap.add_argument("--raw", action="store_true",
                    help="the bench's raw-socket client (UNSIGNED-PAYLOAD, no client hashing) "
                    "instead of boto3; this server only")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ab-boto3-"))
    data = os.urandom(MIB << 20)
    md5 = max(MIB / _timed(lambda: hashlib.md5(data).digest()) for _ in range(3))  # noqa: S324
    targets: dict[str, tuple[object, int]] = {}
    stops = []
    names = ["before", "after"] if len(args.trees) == 2 else ["this"]
    for name, src in zip(names, args.trees, strict=True):
        srv, pre = _start(name, src, workdir, [])
        stops.append(srv.stop)
        s3 = boto3.client("s3", endpoint_url=srv.s3_url, region_name="LON1",
                          aws_access_key_id=pre.access_key, aws_secret_access_key=pre.secret_key,
                          config=Config(retries={"total_max_attempts": 1}))
        assert srv.proc is not None
        targets[name] = (_raw_put(srv.s3_port, pre) if args.raw else s3, srv.proc.pid)
    if not args.no_rclone and not args.raw:
        rc = Rclone(workdir)
        rc.start()
        stops.append(rc.stop)
        rc.make_bucket("bbench")
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{rc.port}", region_name="us-east-1",
                          aws_access_key_id=rc.access_key, aws_secret_access_key=rc.secret_key,
                          config=Config(retries={"total_max_attempts": 1}))
        assert rc.proc is not None
        targets["rclone"] = (s3, rc.proc.pid)
    res: dict[str, dict[str, list[float]]] = {n: {"MiBps": [], "cpu_s": []} for n in targets}
    order = list(targets)
    load = os.getloadavg()
    try:
        for i in range(args.reps):
            for name in order if i % 2 == 0 else order[::-1]:
                s3, pid = targets[name]
                subprocess.run(["sync"], check=False)
                c0 = _cpu(pid)
                dt = _timed(lambda: s3.put_object(Bucket="bbench", Key=f"o{i}", Body=data))  # type: ignore[attr-defined]  # noqa: B023
                res[name]["cpu_s"].append(_cpu(pid) - c0)
                res[name]["MiBps"].append(MIB / dt)
    finally:
        for stop in stops:
            stop()
        shutil.rmtree(workdir, ignore_errors=True)  # GiBs of objects
    out = {"md5_MiBps_one_core": round(md5), "loadavg_before": load,
           "loadavg_after": os.getloadavg()}
    for name, r in res.items():
        out[name] = {"median_MiBps": round(statistics.median(r["MiBps"])),
                     "median_cpu_s": round(statistics.median(r["cpu_s"]), 2),
                     "ratio_to_md5": round(statistics.median(r["MiBps"]) / md5, 2),
                     "runs_MiBps": [round(x) for x in r["MiBps"]]}
    print(json.dumps(out))


class _raw_put:  # noqa: N801 - quacks like the boto3 client's put_object
    def __init__(self, port: int, pre: Presigner) -> None:
        self.port, self.pre = port, pre

    def put_object(self, Bucket: str, Key: str, Body: bytes) -> None:  # noqa: N803
        r = one_request("127.0.0.1", self.port, "PUT", self.pre.target("PUT", f"/{Bucket}/{Key}"),
                        memoryview(Body))
        assert r.status == 200, r.status


def _timed(fn: object) -> float:
    t = time.perf_counter()
    fn()  # type: ignore[operator]
    return time.perf_counter() - t


if __name__ == "__main__":
    main()

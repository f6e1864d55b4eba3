"""Encryption at rest, what it costs: 256 MiB PUT and GET into a bucket with SSE-S3 default
encryption next to the same into a plain bucket, on one server in one run (alternating, so
both see the same disk and page cache state). Run by hand: ``.venv/bin/python -m bench.sse
[--size-mib 256] [--reps 3]``."""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import boto3

from .client import one_request
from .servers import HOST, ThisServer

MiB = 1024 * 1024


def _put(server: ThisServer, bucket: str, key: str, data: memoryview) -> float:
    target = server.presigner(bucket).target("PUT", f"/{bucket}/{key}")
    subprocess.run(["sync"], check=False)  # noqa: S607 - the previous run's writeback
    t0 = time.perf_counter()
    r = one_request(HOST, server.port, "PUT", target, data)
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise RuntimeError(f"PUT {bucket}/{key}: HTTP {r.status} {r.body[:300]!r}")
    return dt


def _get(server: ThisServer, bucket: str, key: str, size: int) -> float:
    target = server.presigner(bucket).target("GET", f"/{bucket}/{key}")
    t0 = time.perf_counter()
    r = one_request(HOST, server.port, "GET", target, keep_body=False)
    dt = time.perf_counter() - t0
    if r.status != 200 or r.nbytes != size:
        raise RuntimeError(f"GET {bucket}/{key}: HTTP {r.status}, {r.nbytes} of {size}")
    return dt


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.sse", description=__doc__)
    ap.add_argument("--size-mib", type=int, default=256)
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--tmp", type=Path, default=None)
    args = ap.parse_args(argv)
    size = args.size_mib * MiB
    data = memoryview(os.urandom(size))
    with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
        server = ThisServer(Path(tmp))
        server.start()
        try:
            server.make_bucket("plain")
            server.make_bucket("sse")
            ak, sk = server.creds("sse")
            boto3.client("s3", endpoint_url=f"http://{HOST}:{server.port}",
                         aws_access_key_id=ak, aws_secret_access_key=sk,
                         region_name="LON1").put_bucket_encryption(
                Bucket="sse", ServerSideEncryptionConfiguration={"Rules": [{
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})
            times: dict[str, list[float]] = {k: [] for k in
                                             ("PUT plain", "PUT sse", "GET plain", "GET sse")}
            for i in range(args.reps):
                for b in ("plain", "sse"):
                    times[f"PUT {b}"].append(_put(server, b, f"k{i}", data))
                for b in ("plain", "sse"):
                    _get(server, b, f"k{i}", size)  # warm
                    times[f"GET {b}"].append(_get(server, b, f"k{i}", size))
        finally:
            server.stop()
    rate = {k: args.size_mib / statistics.median(v) for k, v in times.items()}
    print(f"{args.size_mib} MiB objects, median of {args.reps}, one connection:")
    for op in ("PUT", "GET"):
        plain, sse = rate[f"{op} plain"], rate[f"{op} sse"]
        print(f"  {op}: plain {plain:7.0f} MiB/s   SSE-S3 {sse:7.0f} MiB/s   "
              f"= {100 * sse / plain:5.1f}% (target >= 75%)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

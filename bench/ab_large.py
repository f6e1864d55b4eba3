"""A/B of two source trees on large objects: two servers side by side (``--workers 1``,
SQLite, filesystem blobs), 256 MiB PUTs and GETs alternated between them with the bench's
raw-socket client, so both see the same machine load.

    git worktree add /tmp/prev <commit>
    .venv/bin/python -m bench.ab_large /tmp/prev/src src --reps 5

``--before-env`` / ``--after-env NAME=VALUE`` set a server's environment (e.g. the same tree
with and without ``OBJECTSTORE_DIRECT_IO=true``). The GETs read each object once, then once
more (the first read of an object may come from the disk, the second from the page cache).
Prints the median MiB/s of each and every run (used for issue 21.2's block checksums:
bench/results/2026-12-06-block-checksums.json).
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

import httpx

from bench.client import one_request
from bench.sigv4 import Presigner
from tests.support.proc import ServerProcess

MIB = 256


def _start(name: str, src: str, workdir: Path, env: list[str]) -> tuple[ServerProcess, Presigner]:
    tmp = Path(tempfile.mkdtemp(prefix=f"ab-{name}-", dir=workdir))
    extra = dict(item.split("=", 1) for item in env)
    srv = ServerProcess(tmp / "data", extra_env={"PYTHONPATH": str(Path(src).resolve()), **extra})
    srv.start(60)
    with httpx.Client(base_url=srv.api_url,
                      headers={"Authorization": "bearer " + srv.api_key}) as api:
        st = api.post("/v2/objectstores", json={"name": "bbench", "region": "LON1"}).json()
        c = api.get(f"/v2/objectstore/credentials/{st['owner_info']['credential_id']}",
                    params={"region": "LON1"}).json()
    return srv, Presigner(f"127.0.0.1:{srv.s3_port}", c["access_key_id"],
                          c["secret_access_key_id"], region="LON1")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--reps", type=int, default=5)
    ap.add_argument("--before-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment setting for the first server (repeatable)")
    ap.add_argument("--after-env", action="append", default=[], metavar="NAME=VALUE",
                    help="an environment setting for the second server (repeatable)")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ab-large-"))
    servers = {name: _start(name, src, workdir, env)
               for name, src, env in (("before", args.before, args.before_env),
                                      ("after", args.after, args.after_env))}
    data = memoryview(os.urandom(MIB << 20))
    res: dict[str, list[float]] = {f"{n}_{op}": [] for n in servers for op in ("put", "get")}
    order = list(servers)
    try:
        for i in range(args.reps):
            for name in order if i % 2 == 0 else order[::-1]:
                srv, pre = servers[name]
                subprocess.run(["sync"], check=False)
                t = time.perf_counter()
                r = one_request("127.0.0.1", srv.s3_port, "PUT",
                                pre.target("PUT", f"/bbench/o{i}"), data)
                assert r.status == 200, r.status
                res[f"{name}_put"].append(MIB / (time.perf_counter() - t))
        for i in range(args.reps * 2):
            for name in order if i % 2 == 0 else order[::-1]:
                srv, pre = servers[name]
                t = time.perf_counter()
                r = one_request("127.0.0.1", srv.s3_port, "GET",
                                pre.target("GET", f"/bbench/o{i % args.reps}"), keep_body=False)
                assert r.status == 200 and r.nbytes == len(data), r.status
                res[f"{name}_get"].append(MIB / (time.perf_counter() - t))
    finally:
        for srv, _ in servers.values():
            srv.stop()
    print(json.dumps({k: {"median_MiBps": round(statistics.median(v)),
                          "runs": [round(x) for x in v]} for k, v in res.items()}, indent=1))


if __name__ == "__main__":
    main()

"""A/B of two source trees on the small GET: two servers side by side (``--workers 1``,
filesystem blobs, SQLite or ``--database-url`` to a PostgreSQL cluster of their own), 1,000
4 KiB objects each, wrk runs of presigned GETs alternated between them, and the server's CPU
per request (psutil, its whole process tree; PostgreSQL's processes counted too with
``--pg``). CPU per request is the figure to compare on a busy machine.

    git worktree add /tmp/prev <commit>
    .venv/bin/python -m bench.ab_small_get /tmp/prev/src src --runs 6 [--pg]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import tempfile
from pathlib import Path

import httpx
import psutil

from bench.client import one_request
from bench.sigv4 import Presigner
from bench.workloads import _targets_file, _wrk
from tests.support.pg import PgCluster
from tests.support.proc import ServerProcess

KEYS = 1000


def _cpu(pids: list[int]) -> float:
    total = 0.0
    for pid in pids:
        try:
            p = psutil.Process(pid)
            for q in [p, *p.children(recursive=True)]:
                t = q.cpu_times()
                total += t.user + t.system + t.children_user + t.children_system
        except psutil.NoSuchProcess:
            continue
    return total


def _start(name: str, src: str, workdir: Path, url: str | None
           ) -> tuple[ServerProcess, Presigner]:
    tmp = Path(tempfile.mkdtemp(prefix=f"ab-{name}-", dir=workdir))
    srv = ServerProcess(tmp / "data", url,
                        extra_env={"PYTHONPATH": str(Path(src).resolve())})
    srv.start(60)
    with httpx.Client(base_url=srv.api_url,
                      headers={"Authorization": "bearer " + srv.api_key}) as api:
        st = api.post("/v2/objectstores", json={"name": "bbench", "region": "LON1"}).json()
        c = api.get(f"/v2/objectstore/credentials/{st['owner_info']['credential_id']}",
                    params={"region": "LON1"}).json()
    return srv, Presigner(f"127.0.0.1:{srv.s3_port}", c["access_key_id"],
                          c["secret_access_key_id"], region="LON1", expires=3600)


def _postmaster(pg: PgCluster) -> list[int]:
    try:
        return [int((pg.data / "postmaster.pid").read_text().split()[0])]
    except (OSError, ValueError, IndexError):
        return []


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("before")
    ap.add_argument("after")
    ap.add_argument("--runs", type=int, default=6)
    ap.add_argument("--seconds", type=float, default=4)
    ap.add_argument("--pg", action="store_true", help="each server on a PostgreSQL database")
    args = ap.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="ab-small-"))
    pg = None
    servers: dict[str, tuple[ServerProcess, Path]] = {}
    try:
        if args.pg:
            pg = PgCluster()
            pg.start()
        for name, src in (("before", args.before), ("after", args.after)):
            url = pg.new_database() if pg is not None else None
            srv, pre = _start(name, src, workdir, url)
            servers[name] = (srv, _targets_file(workdir / f"{name}.txt", [
                pre.target("GET", f"/bbench/k{i}") for i in range(KEYS)]))
            for i in range(KEYS):
                r = one_request("127.0.0.1", srv.s3_port, "PUT", pre.target("PUT", f"/bbench/k{i}"),
                                os.urandom(4096))
                assert r.status == 200, r.status
        pg_pid = _postmaster(pg) if pg is not None else []
        res: dict[str, list[float]] = {f"{n}_{m}": [] for n in servers for m in ("cpu_us", "ops")}
        load = os.getloadavg()
        order = list(servers)
        for i in range(args.runs):
            for name in order if i % 2 == 0 else order[::-1]:
                srv, targets = servers[name]
                assert srv.proc is not None
                pids = [srv.proc.pid, *pg_pid]
                c0 = _cpu(pids)
                r = _wrk(f"http://127.0.0.1:{srv.s3_port}/", targets, "GET", 0, args.seconds, 64, 1)
                n = r["requests"] - r["status"]
                res[f"{name}_cpu_us"].append((_cpu(pids) - c0) / max(1, n) * 1e6)
                res[f"{name}_ops"].append(r["ops"])
    finally:
        for srv, _ in servers.values():
            srv.stop()
        if pg is not None:
            pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)  # the servers' data dirs
    out = {"database": "PostgreSQL" if args.pg else "SQLite", "loadavg_before": load,
           "loadavg_after": os.getloadavg()}
    for k, v in res.items():
        out[k] = {"median": round(statistics.median(v), 1), "runs": [round(x) for x in v]}
    print(json.dumps(out))


if __name__ == "__main__":
    main()

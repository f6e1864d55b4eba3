"""``python -m bench.pg_small_put``: 4 KiB PUT/GET through one gateway on PostgreSQL +
SeaweedFS (bench/cluster.py's part 1 without the 256 MiB runs, the inline-0 gateway and
weed s3): quick A/B of the metadata write path. ``--env NAME=VALUE`` (repeatable) starts
a second gateway with those settings; the two alternate for ``--rounds`` rounds.
``--log-statements``: PostgreSQL logs every statement during one extra PUT run of the
first gateway, and the statements per PUT (by kind) are printed.
"""

from __future__ import annotations

import argparse
import collections
import re
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

from cryptography.fernet import Fernet

from objectstore.cli.devcluster import Postgres

from . import workloads
from .cluster import BigWeed, Gateway, pg_cpu
from .workloads import Plan


def _psql(pg: Postgres, sql: str) -> None:
    user = ["runuser", "-u", "postgres", "--"]
    subprocess.run([*user, "psql", "-h", str(pg.root), "-p", str(pg.port), "-U", "postgres",
                    "-qc", sql], check=True, stdout=subprocess.DEVNULL)


def count_statements(log: Path, start: int) -> collections.Counter[str]:
    kinds: collections.Counter[str] = collections.Counter()
    text = log.read_text(errors="replace")[start:]
    for m in re.finditer(r"(?:statement|execute [^:]*): (.*)", text):
        s = m.group(1).strip()
        kinds[" ".join(s.split()[:4])[:60]] += 1
    return kinds


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--seconds", type=float, default=5.0)
    ap.add_argument("--env", action="append", default=[])
    ap.add_argument("--base-env", action="append", default=[],
                    help="NAME=VALUE for the first gateway (and the second) too")
    ap.add_argument("--log-statements", action="store_true")
    ap.add_argument("--py-spy", metavar="OUT", help="py-spy record (--idle, raw) of the "
                    "first gateway during its first round's PUTs and GETs")
    ap.add_argument("--b-blob-params", default="",
                    help="query parameters added to the second gateway's blob store URL "
                    "(e.g. fsync=false)")
    ap.add_argument("--spy-delay", type=float, default=2.5,
                    help="seconds into the first round's run before py-spy starts [2.5]")
    ap.add_argument("--spy-seconds", type=int, default=3, help="py-spy's duration [3]")
    ap.add_argument("--busy", action="store_true",
                    help="py-spy without --idle: only the samples of running threads")
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="objectstore-bench-pgput-"))
    pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-bench-pg-")))
    weed = None
    gws: list[Gateway] = []
    results: dict[str, list[dict[str, Any]]] = collections.defaultdict(list)
    try:
        db = pg.start()
        pgcpu = pg_cpu(pg)
        weed = BigWeed(workdir / "seaweedfs", volumes=1, replication="000",
                       volume_size_mb=1024).start()
        blob = weed.url(collection="objectstore")
        env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode(),
               **dict(e.split("=", 1) for e in args.base_env)}
        gws.append(Gateway(workdir, "A", " ".join(args.base_env) or "as is", db, blob, env))
        if args.env:
            extra = dict(e.split("=", 1) for e in args.env)
            b_blob = blob + ("&" if "?" in blob else "?") + args.b_blob_params \
                if args.b_blob_params else blob
            gws.append(Gateway(workdir, "B", " ".join([*args.env, args.b_blob_params]), db,
                               b_blob, {**env, **extra}))
        for g in gws:
            g.start()
        plan = Plan(quick=True, reps=1, small_seconds=args.seconds,
                    small_put_keys=max(20_000, int(args.seconds * 4000)))
        if args.log_statements:
            g = gws[0]
            g.make_bucket("logged")
            _psql(pg, "ALTER SYSTEM SET log_statement = 'all'")
            _psql(pg, "SELECT pg_reload_conf()")
            time.sleep(0.5)
            log = pg.root / "log"
            start = log.stat().st_size
            small = Plan(quick=True, reps=1, small_seconds=1.0, small_put_keys=20_000,
                         small_get_keys=16)
            out = workloads.small(g, small, workdir, bucket="logged")
            _psql(pg, "ALTER SYSTEM SET log_statement = 'none'")
            _psql(pg, "SELECT pg_reload_conf()")
            puts = out.details["small_put"].get("requests")
            kinds = count_statements(log, start)
            print(f"statements logged during a 1 s PUT run + GETs: puts={puts}")
            for k, n in kinds.most_common(25):
                print(f"  {n:8d}  {k}")
        for rnd in range(1, args.rounds + 1):
            for g in (gws if rnd % 2 else gws[::-1]):
                bucket = f"b-{g.name.lower()}-r{rnd}"
                g.make_bucket(bucket)
                c0 = pgcpu()
                spy = None
                if args.py_spy and rnd == 1 and g is gws[0]:
                    assert g.proc is not None
                    # (after the GET keys are in: within the PUT run)
                    spy = threading.Timer(args.spy_delay, subprocess.run, [[
                        str(Path(sys.executable).parent / "py-spy"), "record",
                        *([] if args.busy else ["--idle"]), "--nonblocking",
                        "--format", "raw", "-o", args.py_spy, "-d", str(args.spy_seconds),
                        "--pid", str(g.proc.pid)]], {"capture_output": True})
                    spy.start()
                out = workloads.small(g, plan, workdir, bucket=bucket)
                if spy is not None:
                    spy.join()
                m = out.metrics
                m["pg_cpu_s"] = pgcpu() - c0
                results[g.name].append(m)
                print(f"r{rnd} {g.name}: PUT {m['small_put_ops']:.0f}/s p50 "
                      f"{m['small_put_p50']:.1f} ms p99 {m['small_put_p99']:.1f} ms "
                      f"cpu {m['small_put_cpu_ms']:.2f} ms/req | GET {m['small_get_ops']:.0f}"
                      f"/s p50 {m['small_get_p50']:.1f} ms cpu {m['small_get_cpu_ms']:.2f}",
                      flush=True)
    finally:
        for g in gws:
            g.stop()
        if weed is not None:
            weed.stop()
        pg.stop()
        shutil.rmtree(workdir, ignore_errors=True)
    for name, ms in results.items():
        def mean(k: str, ms: list[dict[str, Any]] = ms) -> float:
            return sum(m[k] for m in ms) / len(ms)
        label = next(g.label for g in gws if g.name == name)
        print(f"{name} ({label}): PUT {mean('small_put_ops'):.0f}/s p50 "
              f"{mean('small_put_p50'):.1f} ms cpu {mean('small_put_cpu_ms'):.2f} ms/req; "
              f"GET {mean('small_get_ops'):.0f}/s p50 {mean('small_get_p50'):.1f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""``python -m bench.cluster``: the scaled-out layout (issue 13), on loopback, in one run.

* ``seaweedfs``: one objectstore gateway (PostgreSQL metadata, SeaweedFS blobs) against
  SeaweedFS's own S3 gateway (``weed filer`` + ``weed s3``) on the *same* master and volume
  server: 256 MiB PUT/GET (1 and 4 streams) and 4 KiB PUT/GET; the 4 KiB figures twice for
  this server, with the default inline limit (bytes in the PostgreSQL row) and with
  ``OBJECTSTORE_INLINE_MAX_BYTES=0`` (bytes in SeaweedFS, like SeaweedFS's own gateway).
* ``gateways``: 4 KiB PUT/GET through one gateway pinned to core 0 (directly, and behind
  nginx) and through two gateways pinned to cores 0 and 1 behind nginx; throughput ratio and
  CPU seconds per request of each process group (psutil CPU times before/after each wrk run).

The workloads are bench/workloads.py's (raw-socket client for 256 MiB, wrk + presigned URLs
for 4 KiB). Every setup is measured ``--rounds`` times (default 2), alternating the order.
See bench/README.md ("Scaled-out layout").
"""

from __future__ import annotations

import argparse
import contextlib
import datetime as dt
import hashlib
import json
import os
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil
from cryptography.fernet import Fernet

from objectstore.cli.devcluster import Nginx, Postgres, Proc, WeedCluster, find_weed
from objectstore.cli.devcluster import free_port as free_port_pair

from . import report, workloads
from .servers import BIN, HOST, Server, ThisServer, free_port, wait_port
from .sigv4 import check_against_botocore
from .workloads import MiB, Outcome, Plan

RESULTS = Path(__file__).resolve().parent / "results"
PARTS = ["seaweedfs", "gateways"]
API_KEY = "bench-cluster-api-key-0123456789"


# --- CPU accounting ------------------------------------------------------------------------


def tree_cpu(pid: int | None) -> float:
    """User+system CPU seconds of a process and its descendants, live or reaped (0 if it is
    gone): each live process's own times plus its reaped children's (cutime/cstime), so a
    PostgreSQL backend that exits keeps counting in the postmaster's figure."""
    if not pid:
        return 0.0
    try:
        root = psutil.Process(pid)
        procs = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for p in procs:
        with contextlib.suppress(psutil.NoSuchProcess):
            t = p.cpu_times()
            total += t.user + t.system + t.children_user + t.children_system
    return total


def _busy_seconds() -> float:
    f = [int(x) for x in open("/proc/stat").readline().split()[1:]]  # noqa: SIM115
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Meter:
    """Named CPU counters of every process this run started, and the rest of the machine."""

    def __init__(self) -> None:
        self.groups: dict[str, Callable[[], float]] = {}

    def add(self, name: str, fn: Callable[[], float]) -> None:
        self.groups[name] = fn

    def remove(self, *names: str) -> None:
        for n in names:
            self.groups.pop(n, None)

    def ours(self) -> float:
        t = os.times()
        return (t.user + t.system + t.children_user + t.children_system
                + sum(fn() for fn in self.groups.values()))

    def snap(self) -> tuple[float, float, float]:
        return time.monotonic(), _busy_seconds(), self.ours()

    @staticmethod
    def background(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
        """Cores used meanwhile by processes this run did not start (other jobs)."""
        wall = b[0] - a[0]
        return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall) if wall > 0 else 0.0


# --- the processes -------------------------------------------------------------------------


PGSTAT = ("xact_commit", "tup_returned", "tup_fetched", "tup_inserted", "tup_updated",
          "tup_deleted")


def pg_stats(url: str) -> dict[str, Callable[[], float]]:
    """pg_stat_database counters of the whole cluster (the stats are flushed within ~1 s,
    so over a few seconds of wrk the change per request is close)."""
    import psycopg

    def read(col: str) -> float:
        with psycopg.connect(url, autocommit=True) as c:
            row = c.execute(f"SELECT sum({col}) FROM pg_stat_database").fetchone()  # noqa: S608
            return float(row[0] if row and row[0] is not None else 0)

    return {f"pgstat:{c}": (lambda c=c: read(c)) for c in PGSTAT}


def pg_cpu(pg: Postgres) -> Callable[[], float]:
    """The postmaster's tree (every backend); pg_ctl daemonizes it, so find it by its pid file."""
    pidfile = pg.root / "data" / "postmaster.pid"
    pid = int(pidfile.read_text().split()[0])
    return lambda: tree_cpu(pid)


class BigWeed(WeedCluster):
    """WeedCluster with room for many collections (each grows 7 volumes at a time, and every
    weed s3 bucket is a collection): devcluster's volume server with ``-max=200``."""

    def add_volume_server(self, i: int) -> None:
        port = free_port_pair(pairs=True)
        vdir = self.root / f"volume{i}"
        vdir.mkdir(exist_ok=True)
        proc = Proc(f"weed-volume{i}", [
            find_weed(), f"-logdir={self.root / 'log'}", "volume", f"-ip={self.host}",
            f"-ip.bind={self.host}", f"-port={port}", f"-dir={vdir}", "-max=200",
            f"-mserver={self.master_addr}", "-preStopSeconds=0", "-minFreeSpace=16MiB"],
            self.root / f"volume{i}.out")
        proc.start()
        self.servers.append(proc)
        self.volume_ports.append(port)


class Gateway(ThisServer):
    """`objectstore serve` on PostgreSQL + SeaweedFS, optionally pinned to one core."""

    def __init__(self, workdir: Path, name: str, label: str, database_url: str,
                 blob_store: str, env: dict[str, str], core: int | None = None,
                 workers: int | None = 1) -> None:
        self.name, self.label = name, label
        super().__init__(workdir)
        self.database_url, self.blob_store, self.env, self.core = (
            database_url, blob_store, env, core)
        self.workers = workers  # None: serve's default (one process per core)
        self.host = HOST
        self.api_key = API_KEY

    @property
    def s3_port(self) -> int:
        return self.port

    def _start(self) -> None:
        self.port, self.api_port = free_port(), free_port()
        argv = [str(BIN / "objectstore"), "serve", "--host", HOST,
                "--data-dir", str(self.workdir / "data"), "--database-url", self.database_url,
                "--blob-store", self.blob_store, "--api-port", str(self.api_port),
                "--s3-port", str(self.port), "--log-level", "warning"]
        if self.workers is not None:  # else serve's default, whatever it becomes
            argv += ["--workers", str(self.workers)]
        if self.core is not None:
            argv = ["taskset", "-c", str(self.core), *argv]  # taskset execs: same pid
        self._spawn(argv, env={"OBJECTSTORE_API_KEY": API_KEY, **self.env})
        assert self.proc is not None
        wait_port(self.api_port, self.proc, 90, self.log)
        wait_port(self.port, self.proc, 90, self.log)


class Front(Server):
    """nginx (devcluster's config, one worker) in front of gateways; buckets via the first."""

    kind = "this"

    def __init__(self, workdir: Path, name: str, label: str, gateways: list[Gateway]) -> None:
        self.name, self.label = name, label
        super().__init__(workdir)
        self.gateways = gateways
        self.nginx: Nginx | None = None

    def _version(self) -> str:
        p = subprocess.run(["nginx", "-v"], capture_output=True, text=True,  # noqa: S607
                           timeout=10)
        return (p.stderr or p.stdout).strip().removeprefix("nginx version: ")

    def _start(self) -> None:
        self.nginx = Nginx(self.workdir / "nginx", self.gateways).start()  # type: ignore[arg-type]
        self.port = self.nginx.s3_port
        assert self.nginx.proc is not None
        self.proc = self.nginx.proc.popen

    def nginx_cpu(self) -> float:
        return tree_cpu(self.proc.pid if self.proc else None)

    def cpu_seconds(self) -> float:
        return self.nginx_cpu() + sum(g.cpu_seconds() for g in self.gateways)

    def make_bucket(self, bucket: str) -> None:
        gw = self.gateways[0]
        if bucket not in gw._creds:
            gw.make_bucket(bucket)
        self._creds[bucket] = gw.creds(bucket)

    def stop(self) -> None:
        if self.nginx is not None:
            self.nginx.stop()
        super().stop()


class WeedS3(Server):
    """SeaweedFS's S3 gateway: ``weed filer`` (leveldb store) + ``weed s3``, on our master."""

    name = "seaweedfs-s3"
    label = "SeaweedFS weed s3 + weed filer (same master/volume server)"

    def __init__(self, workdir: Path, master: str) -> None:
        super().__init__(workdir)
        self.master = master
        self.filer: Proc | None = None

    def _version(self) -> str:
        out = subprocess.run([find_weed(), "version"], capture_output=True,  # noqa: S603
                             text=True, timeout=30).stdout
        return out.split("\n")[0].removeprefix("version ").strip()

    def _start(self) -> None:
        weed = find_weed()
        conf = self.workdir / "s3.json"
        conf.write_text(json.dumps({"identities": [{
            "name": "bench", "credentials": [{"accessKey": self.access_key,
                                              "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        fport = free_port_pair(pairs=True)
        store = self.workdir / "filer"
        store.mkdir()
        self.filer = Proc("weed-filer", [
            weed, f"-logdir={self.workdir}", "filer", f"-ip={HOST}", f"-ip.bind={HOST}",
            f"-port={fport}", f"-master={self.master}", f"-defaultStoreDir={store}",
            f"-localSocket={self.workdir / 'filer.sock'}"], self.workdir / "filer.out",
            env=dict(os.environ))
        self.filer.start()
        assert self.filer.popen is not None
        wait_port(fport, self.filer.popen, 60, self.workdir / "filer.out")
        self.port = free_port_pair(pairs=True)
        self._spawn([weed, f"-logdir={self.workdir}", "s3", f"-filer={HOST}:{fport}",
                     f"-ip={HOST}", f"-ip.bind={HOST}", f"-port={self.port}",
                     f"-config={conf}", "-port.iceberg=0", "-port.lance=0",
                     f"-localSocket={self.workdir / 's3.sock'}"])
        self.wait_s3(timeout=120)

    def filer_cpu(self) -> float:
        return tree_cpu(self.filer.popen.pid if self.filer and self.filer.popen else None)

    def cpu_seconds(self) -> float:
        return super().cpu_seconds() + self.filer_cpu()

    def rss(self) -> int:
        r = super().rss()
        if self.filer and self.filer.popen:
            with contextlib.suppress(psutil.NoSuchProcess):
                r += psutil.Process(self.filer.popen.pid).memory_info().rss
        return r

    def stop(self) -> None:
        super().stop()
        if self.filer is not None:
            self.filer.stop()


# --- running -------------------------------------------------------------------------------


@dataclass
class Ctx:
    plan: Plan
    rounds: int
    workdir: Path
    meter: Meter
    data: memoryview
    md5hex: str
    runs: list[dict[str, Any]]
    pgstats: dict[str, Callable[[], float]]

    def counters(self) -> dict[str, Callable[[], float]]:
        """What each wrk run records the change of: CPU of every process group, and
        PostgreSQL's transaction/row counters (``pgstat:*``)."""
        return {**self.meter.groups, **self.pgstats}

    def measure(self, part: str, setup: Server, workload: str, rnd: int,
                fn: Callable[[], Outcome], extra: dict[str, Any] | None = None) -> None:
        b0 = self.meter.snap()
        cpu0 = {k: f() for k, f in self.meter.groups.items()}
        t0 = time.monotonic()
        try:
            out = fn()
        except Exception as exc:  # noqa: BLE001 - one failure must not end the run
            traceback.print_exc()
            out = Outcome(notes=[f"{workload} failed: {exc}"[:500]])
        b1 = self.meter.snap()
        bg = Meter.background(b0, b1)
        cpu = {k: f() - cpu0[k] for k, f in self.meter.groups.items() if k in cpu0}
        if bg > 0.25:
            out.notes.append(f"other processes used {bg:.2f} cores meanwhile")
        self.runs.append({"part": part, "setup": setup.name, "workload": workload,
                          "round": rnd, "seconds": round(time.monotonic() - t0, 1),
                          "background_cores": round(bg, 3), "metrics": out.metrics,
                          "details": out.details, "notes": out.notes, "cpu_s": cpu,
                          **(extra or {})})
        shown = ", ".join(f"{k} {report.fmt(v)}" for k, v in out.metrics.items()
                          if not k.endswith("_p50"))
        print(f"  r{rnd} {setup.name:22} {workload:6} {time.monotonic() - t0:5.1f} s  "
              f"bg {bg:.2f} cores  {shown}", flush=True)
        for n in out.notes:
            print(f"     note: {n}", flush=True)


def bucket_for(setup: str, rnd: int) -> str:
    return f"b-{setup}-r{rnd}"[:63]


def idle_background(meter: Meter, seconds: float = 2.0) -> float:
    a = meter.snap()
    time.sleep(seconds)
    return Meter.background(a, meter.snap())


def part_seaweedfs(ctx: Ctx, db: str, blob: str, env: dict[str, str], master: str,
                   started: list[Server], info: dict[str, Any], nofsync: bool) -> None:
    gw = Gateway(ctx.workdir, "objectstore", "objectstore gateway (inline <= 64 KiB)", db,
                 blob, env)
    gw0 = Gateway(ctx.workdir, "objectstore-inline0", "objectstore gateway, "
                  "OBJECTSTORE_INLINE_MAX_BYTES=0", db, blob,
                  {**env, "OBJECTSTORE_INLINE_MAX_BYTES": "0"})
    # one gateway as `objectstore serve` runs by default: one process per core (weed s3 is one
    # process using every core)
    gww = Gateway(ctx.workdir, "objectstore-workers", "objectstore gateway, default --workers",
                  db, blob, env, workers=None)
    weed = WeedS3(ctx.workdir, master)
    setups: list[Server] = [gw, gw0, gww, weed]
    if nofsync:  # what the volume servers' fsync costs (weed s3 does not ask for one)
        gwn = Gateway(ctx.workdir, "objectstore-nofsync", "objectstore gateway, "
                      "seaweedfs://...&fsync=false", db, blob + "&fsync=false", env)
        setups.insert(1, gwn)
        ctx.meter.add("gw:objectstore-nofsync", gwn.cpu_seconds)
    for s in setups:
        t0 = time.monotonic()
        s.start()
        started.append(s)
        print(f"  started {s.name} ({s.version}) on :{s.port} in "
              f"{time.monotonic() - t0:.1f} s", flush=True)
    ctx.meter.add("gw:objectstore", gw.cpu_seconds)
    ctx.meter.add("gw:objectstore-inline0", gw0.cpu_seconds)
    ctx.meter.add("gw:objectstore-workers", gww.cpu_seconds)
    ctx.meter.add("weed-s3", lambda: Server.cpu_seconds(weed))
    ctx.meter.add("weed-filer", weed.filer_cpu)
    for rnd in range(1, ctx.rounds + 1):
        for s in setups:
            s.make_bucket(bucket_for(s.name, rnd))
    info["background_idle_seaweedfs"] = idle_background(ctx.meter)
    print(f"  background load before: {info['background_idle_seaweedfs']:.2f} cores",
          flush=True)
    for rnd in range(1, ctx.rounds + 1):
        order = setups if rnd % 2 else setups[::-1]
        for s in order:
            if s is gw0:
                continue  # 256 MiB objects are never inline: the same gateway code path
            ctx.measure("seaweedfs", s, "large", rnd, lambda s=s, rnd=rnd: workloads.large(
                s, ctx.plan, ctx.data, ctx.md5hex, rss_only=False,
                bucket=bucket_for(s.name, rnd)))
        for s in order:
            ctx.measure("seaweedfs", s, "small", rnd, lambda s=s, rnd=rnd: workloads.small(
                s, ctx.plan, ctx.workdir, bucket=bucket_for(s.name, rnd),
                cpu=ctx.counters()))
    for s in setups:
        s.stop()
    ctx.meter.remove("gw:objectstore", "gw:objectstore-inline0", "gw:objectstore-nofsync",
                     "gw:objectstore-workers", "weed-s3", "weed-filer")


def part_gateways(ctx: Ctx, db: str, blob: str, env: dict[str, str],
                  started: list[Server], info: dict[str, Any]) -> None:
    g1 = Gateway(ctx.workdir, "gw1-core0", "objectstore gateway, taskset -c 0", db, blob, env,
                 core=0)
    g2 = Gateway(ctx.workdir, "gw2-core1", "objectstore gateway, taskset -c 1", db, blob, env,
                 core=1)
    for g in (g1, g2):
        g.start()
        started.append(g)
        print(f"  started {g.name} on :{g.port} (pinned to core {g.core})", flush=True)
    f1 = Front(ctx.workdir, "nginx-1gw", "nginx -> gw1", [g1])
    f2 = Front(ctx.workdir, "nginx-2gw", "nginx -> gw1 + gw2", [g1, g2])
    for f in (f1, f2):
        f.start()
        started.append(f)
        print(f"  started {f.name} ({f.version}) on :{f.port}", flush=True)
    ctx.meter.add("gw:gw1-core0", g1.cpu_seconds)
    ctx.meter.add("gw:gw2-core1", g2.cpu_seconds)
    ctx.meter.add("nginx:nginx-1gw", f1.nginx_cpu)
    ctx.meter.add("nginx:nginx-2gw", f2.nginx_cpu)
    setups: list[Server] = [g1, f1, f2]
    for rnd in range(1, ctx.rounds + 1):
        for s in setups:
            s.make_bucket(bucket_for(s.name, rnd))
    info["background_idle_gateways"] = idle_background(ctx.meter)
    print(f"  background load before: {info['background_idle_gateways']:.2f} cores",
          flush=True)
    for rnd in range(1, ctx.rounds + 1):
        for s in (setups if rnd % 2 else setups[::-1]):
            ctx.measure("gateways", s, "small", rnd, lambda s=s, rnd=rnd: workloads.small(
                s, ctx.plan, ctx.workdir, bucket=bucket_for(s.name, rnd),
                cpu=ctx.counters()))
    for s in (f1, f2, g1, g2):
        s.stop()


# --- report --------------------------------------------------------------------------------


def _vals(runs: list[dict[str, Any]], part: str, setup: str, key: str) -> list[float]:
    return [r["metrics"][key] for r in runs if r["part"] == part and r["setup"] == setup
            and r["metrics"].get(key) is not None]


def _mean(v: list[float]) -> float | None:
    return statistics.fmean(v) if v else None


def _each(v: list[float]) -> str:
    return " / ".join(report.fmt(x) for x in v) or "-"


def _ratio(a: float | None, b: float | None) -> str:
    return f"{a / b:.2f}" if a is not None and b else "-"


def _cpu_per_req(run: dict[str, Any], op: str, prefix: str) -> float | None:
    """CPU ms per request of the counters whose name starts with ``prefix`` in one wrk run."""
    res = run["details"].get(f"small_{op}")
    if not res or "cpu_s" not in res:
        return None
    n = res["requests"]
    if not n:
        return None
    return 1000 * sum(v for k, v in res["cpu_s"].items() if k.startswith(prefix)) / n


def _per_req(run: dict[str, Any], op: str, key: str) -> float | None:
    res = run["details"].get(f"small_{op}")
    if not res or key not in res.get("cpu_s", {}) or not res["requests"]:
        return None
    return float(res["cpu_s"][key]) / res["requests"]


def _wrk_ms(run: dict[str, Any], op: str) -> float | None:
    res = run["details"].get(f"small_{op}")
    return 10 * res["client_cpu_pct"] / res["ops"] if res and res["ops"] else None


def _cpu_table(runs: list[dict[str, Any]], part: str, setups: list[tuple[str, str, str]],
               meta: str, nginx: bool = False) -> list[str]:
    """Rows of CPU ms per request by process group, and PostgreSQL's counters per request."""
    head = ["setup", "op", "gateway", *(["nginx"] if nginx else []), meta,
            "weed master+volume", "all servers", "wrk", "PG xacts/req", "PG rows fetched/req"]
    out = ["| " + " | ".join(head) + " |", "|---|---|" + "---:|" * (len(head) - 2)]
    for setup, gwp, metap in setups:
        rs = [r for r in runs if r["part"] == part and r["setup"] == setup
              and r["workload"] == "small"]
        for op in ("put", "get"):
            if not rs:
                continue
            prefixes = [gwp, *([f"nginx:{setup}"] if nginx else []), metap, "weed-cluster"]
            cols = [[_cpu_per_req(r, op, p) for r in rs] for p in prefixes]
            total = [sum(x for x in xs if x is not None) for xs in zip(*cols, strict=True)]
            if nginx and not setup.startswith("nginx"):
                cols[1] = []
            wrk = [_wrk_ms(r, op) for r in rs]
            pg = [[_per_req(r, op, f"pgstat:{c}") for r in rs]
                  for c in ("xact_commit", "tup_fetched")]
            cells = [_each([x for x in c if x is not None]) for c in [*cols, total, wrk, *pg]]
            out.append(f"| {setup} | {op.upper()} | " + " | ".join(cells) + " |")
    return out


METRICS = [(m.key, m.label, m.unit, m.higher_better) for m in report.metrics_for((1, 2))
           if m.key.startswith(("large_", "small_", "rss_"))]


def markdown(result: dict[str, Any]) -> str:
    runs = result["runs"]
    m = result["machine"]
    lines = [f"# Scaled-out layout benchmark (issue 13): {result['date']}", "",
             f"Command: `{result['command']}` ({result['duration_s']:.0f} s). "
             f"Machine: {report.machine_line(m)}", "",
             f"Rounds: {result['rounds']} (each figure below is `round 1 / round 2`, then "
             "their mean; the order of the setups alternates between rounds). wrk "
             f"{result['plan']['small_seconds']:.0f} s per 4 KiB run, 64 connections, 1 thread; "
             f"256 MiB: {result['plan']['reps']} repetition(s) per round.", "",
             "Processes (all on 127.0.0.1): " + "; ".join(
                 f"**{k}**: {v}" for k, v in result["processes"].items()), ""]
    bg = [r["background_cores"] for r in runs]
    idle = ", ".join(f"{k.removeprefix('background_idle_')} {v:.2f}"
                     for k, v in result["info"].items())
    lines += [f"Background CPU (processes this run did not start): idle before each part "
              f"{idle} cores; "
              f"during the measurements mean {statistics.fmean(bg) if bg else 0:.2f}, "
              f"max {max(bg) if bg else 0:.2f} cores.", ""]
    if any(r["part"] == "seaweedfs" for r in runs):
        # the columns next to "objectstore" (one process), those this run measured
        cols = [(s, t) for s, t in (("objectstore-inline0", "inline 0"),
                                    ("objectstore-workers", "default workers"),
                                    ("objectstore-nofsync", "no fsync"))
                if any(r["part"] == "seaweedfs" and r["setup"] == s for r in runs)]
        lines += ["## objectstore gateway vs SeaweedFS's S3 gateway, same SeaweedFS", "",
                  "| metric | unit | objectstore | " + "".join(f"{t} | " for _, t in cols)
                  + "weed s3 | ours/theirs |" + "".join(f" {t}/theirs |" for _, t in cols),
                  "|---|---|" + "---:|" * (3 + 2 * len(cols))]
        for key, label, unit, hb in METRICS:
            a = _vals(runs, "seaweedfs", "objectstore", key)
            b = _vals(runs, "seaweedfs", "seaweedfs-s3", key)
            if not (a or b):
                continue
            others = [_vals(runs, "seaweedfs", s, key) for s, _ in cols]
            lines.append(f"| {label} {'^' if hb else 'v'} | {unit} | {_each(a)} | "
                         + "".join(f"{_each(o)} | " for o in others)
                         + f"{_each(b)} | {_ratio(_mean(a), _mean(b))} |"
                         + "".join(f" {_ratio(_mean(o), _mean(b))} |" for o in others))
        lines += ["", "Ratios are mean/mean; ^ higher is better, v lower is better. "
                  "`objectstore`: one gateway process (`--workers 1`, as devcluster runs a "
                  "gateway); `default workers`: the same gateway as `objectstore serve` runs "
                  "by default, one process per core (weed s3 is one process using every "
                  "core). `inline 0`: the same gateway code with OBJECTSTORE_INLINE_MAX_BYTES=0 "
                  "(every 4 KiB body is a SeaweedFS needle, as it is for weed s3, whose filer "
                  "also keeps no bytes inline by default: -saveToFilerLimit 0).", "",
                  "CPU ms per 4 KiB request (`round 1 / round 2`), by process group:", "",
                  *_cpu_table(runs, "seaweedfs", [
                      ("objectstore", "gw:objectstore", "postgres"),
                      ("objectstore-inline0", "gw:objectstore-inline0", "postgres"),
                      ("objectstore-workers", "gw:objectstore-workers", "postgres"),
                      ("objectstore-nofsync", "gw:objectstore-nofsync", "postgres"),
                      ("seaweedfs-s3", "weed-s3", "weed-filer")], "metadata (PG / filer)"),
                  ""]
    if any(r["part"] == "gateways" for r in runs):
        lines += ["## One gateway vs two behind nginx (each gateway pinned to its own core)", "",
                  "| setup | 4 KiB PUT ops/s | GET ops/s | PUT p99 ms | GET p99 ms |",
                  "|---|---:|---:|---:|---:|"]
        means: dict[str, dict[str, float | None]] = {}
        for setup in ("gw1-core0", "nginx-1gw", "nginx-2gw"):
            if not any(r["part"] == "gateways" and r["setup"] == setup for r in runs):
                continue
            row = [setup]
            means[setup] = {}
            for key in ("small_put_ops", "small_get_ops", "small_put_p99", "small_get_p99"):
                v = _vals(runs, "gateways", setup, key)
                means[setup][key] = _mean(v)
                row.append(f"{_each(v)} (mean {report.fmt(_mean(v))})" if "ops" in key
                           else _each(v))
            lines.append("| " + " | ".join(row) + " |")
        lines += ["", "CPU ms per 4 KiB request (`round 1 / round 2`), by process group "
                  "(`gateway` sums both gateways in nginx-2gw; the idle second gateway is "
                  "not counted in the one-gateway setups):", "",
                  *_cpu_table(runs, "gateways", [
                      ("gw1-core0", "gw:gw1", "postgres"),
                      ("nginx-1gw", "gw:gw1", "postgres"),
                      ("nginx-2gw", "gw:", "postgres")], "PostgreSQL", nginx=True), ""]
        if "nginx-2gw" in means and "nginx-1gw" in means:
            two, one = means["nginx-2gw"], means["nginx-1gw"]
            direct = means.get("gw1-core0", {})
            lines += ["Throughput ratios (mean/mean):", "",
                      f"- two gateways / one gateway, both behind nginx: PUT "
                      f"{_ratio(two['small_put_ops'], one['small_put_ops'])}, GET "
                      f"{_ratio(two['small_get_ops'], one['small_get_ops'])}",
                      f"- two gateways behind nginx / one gateway direct: PUT "
                      f"{_ratio(two['small_put_ops'], direct.get('small_put_ops'))}, GET "
                      f"{_ratio(two['small_get_ops'], direct.get('small_get_ops'))}",
                      f"- one gateway behind nginx / direct (nginx's cost): PUT "
                      f"{_ratio(one['small_put_ops'], direct.get('small_put_ops'))}, GET "
                      f"{_ratio(one['small_get_ops'], direct.get('small_get_ops'))}", ""]
    notes = [f"r{r['round']} {r['setup']} {r['workload']}: {n}" for r in runs
             for n in r["notes"]]
    if notes:
        lines += ["## Notes", "", *[f"- {n}" for n in notes], ""]
    return "\n".join(lines)


# --- main ----------------------------------------------------------------------------------


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench.cluster", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--only", default="", help="seaweedfs and/or gateways [both]")
    ap.add_argument("--rounds", type=int, default=2, help="measure every setup N times [2]")
    ap.add_argument("--seconds", type=float, default=5.0, help="each wrk run [5]")
    ap.add_argument("--reps", type=int, default=1,
                    help="256 MiB repetitions per round (median) [1]")
    ap.add_argument("--nofsync", action="store_true",
                    help="part 1 also runs a gateway with seaweedfs://...&fsync=false")
    ap.add_argument("--limit", type=float, default=1500.0,
                    help="give up (and clean up) after this many seconds [1500]")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON result, .md beside it [bench/results/<date>-<host>-cluster.json]")
    ap.add_argument("--tmp", type=Path, default=None, help="parent of the temp dir")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs)")
    return ap.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    parts = [p.strip() for p in args.only.split(",") if p.strip()] or list(PARTS)
    if set(parts) - set(PARTS):
        sys.exit(f"--only: choose from {', '.join(PARTS)}")
    if not shutil.which("wrk"):
        sys.exit("wrk not found: bash bench/setup.sh")
    if "gateways" in parts and (os.cpu_count() or 1) < 2:
        sys.exit("the gateways part pins two gateways to cores 0 and 1: needs 2 cores")
    check_against_botocore()
    plan = Plan(quick=True, reps=args.reps, small_seconds=args.seconds,
                small_put_keys=max(20_000, int(args.seconds * 4000)))
    t_start = time.monotonic()
    workdir = Path(tempfile.mkdtemp(prefix="objectstore-bench-cluster-", dir=args.tmp))
    print(f"bench.cluster: {', '.join(parts)}; {args.rounds} rounds; temp dir {workdir}",
          flush=True)

    def on_alarm(*_: object) -> None:
        raise TimeoutError(f"bench.cluster: --limit {args.limit:.0f} s reached")

    signal.signal(signal.SIGALRM, on_alarm)
    signal.alarm(int(args.limit))
    meter = Meter()
    runs: list[dict[str, Any]] = []
    info: dict[str, Any] = {}
    started: list[Server] = []
    pg: Postgres | None = None
    weed: WeedCluster | None = None
    try:
        pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-bench-pg-", dir=args.tmp)))
        db = pg.start()
        meter.add("postgres", pg_cpu(pg))
        weed = BigWeed(workdir / "seaweedfs", volumes=1, replication="000",
                       volume_size_mb=1024).start()
        assert weed.master is not None and weed.master.popen is not None
        master_pid = weed.master.popen.pid
        vol_pids = [p.popen.pid for p in weed.servers if p.popen]
        meter.add("weed-cluster", lambda: tree_cpu(master_pid)
                  + sum(tree_cpu(p) for p in vol_pids))
        blob = weed.url(collection="objectstore")
        env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode()}
        print(f"  PostgreSQL :{pg.port}, SeaweedFS master {weed.master_addr}, volume server "
              f":{weed.volume_ports[0]} (replication 000)", flush=True)
        data = memoryview(b"")
        md5hex = ""
        if "seaweedfs" in parts:
            data = memoryview(os.urandom(256 * MiB))
            md5hex = hashlib.md5(data).hexdigest()
        ctx = Ctx(plan, args.rounds, workdir, meter, data, md5hex, runs, pg_stats(db))
        if "seaweedfs" in parts:
            print("== 1: objectstore gateway vs weed s3 on the same SeaweedFS", flush=True)
            part_seaweedfs(ctx, db, blob, env, weed.master_addr, started, info, args.nofsync)
        if "gateways" in parts:
            print("== 2: one gateway vs two behind nginx", flush=True)
            part_gateways(ctx, db, blob, env, started, info)
    finally:
        signal.alarm(0)
        for s in started:
            with contextlib.suppress(Exception):
                s.stop()
        if weed is not None:
            weed.stop()
        if pg is not None:
            pg.stop()
        versions = {s.name: s.version for s in started}
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        else:
            print(f"bench.cluster: kept {workdir}")

    now = dt.datetime.now()
    result: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "command": "python -m bench.cluster " + " ".join(
            sys.argv[1:] if argv is None else argv),
        "duration_s": round(time.monotonic() - t_start, 1),
        "machine": report.machine(workdir.parent),
        "plan": plan.__dict__, "rounds": args.rounds, "parts": parts,
        "processes": {
            "PostgreSQL": "throwaway cluster (devcluster.Postgres: fsync on, "
                          "max_connections 200), metadata of every objectstore gateway",
            "SeaweedFS": f"weed master + 1 volume server, replication 000 ({weed_version()})",
            "objectstore": "`objectstore serve --database-url postgresql://... --blob-store "
                           "seaweedfs://...?replication=000`, 1 worker process; part 1 "
                           "unpinned, part 2 `taskset -c 0` / `-c 1`",
            "seaweedfs-s3": "`weed filer` (leveldb) + `weed s3` on the same master",
            "nginx": "devcluster's config, 1 worker, upstream keepalive 64",
            **{k: v for k, v in versions.items() if v}},
        "info": {k: round(v, 3) for k, v in info.items()},
        "runs": runs,
    }
    out = args.out or RESULTS / f"{now:%Y-%m-%d}-{socket.gethostname().split('.')[0]}-cluster.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = markdown(result)
    out.with_suffix(".md").write_text(md)
    print()
    print(md)
    print(f"bench.cluster: wrote {out} and {out.with_suffix('.md')}", flush=True)
    return 0


def weed_version() -> str:
    with contextlib.suppress(Exception):
        out = subprocess.run([find_weed(), "version"], capture_output=True,  # noqa: S603
                             text=True, timeout=30).stdout
        return "weed " + out.split("\n")[0].removeprefix("version ").strip()
    return "weed ?"


if __name__ == "__main__":
    sys.exit(main())

"""The workloads. Each takes one running server and returns {metric: value} plus details."""

from __future__ import annotations

import contextlib
import html
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from .client import Conn, one_request, populate, put_request
from .servers import HOST, ROOT, Server, ThisServer

MiB = 1 << 20
LUA = Path(__file__).with_name("paths.lua")
DATA_BUCKET = "bench-data"
LIST_BUCKET = "bench-list"


@dataclass
class Plan:
    quick: bool
    large_size: int = 256 * MiB
    reps: int = 3
    small_seconds: float = 10.0
    small_conns: int = 64
    small_size: int = 4096
    small_put_keys: int = 100_000
    small_get_keys: int = 1_000
    list_sizes: tuple[int, int] = (10_000, 100_000)
    populate_limit: float = 900.0
    list_limit: float = 120.0
    mgmt_seconds: float = 10.0
    wrk_threads: int = 1

    @classmethod
    def make(cls, quick: bool) -> Plan:
        if not quick:
            return cls(quick=False)
        return cls(quick=True, reps=1, small_seconds=3.0, small_put_keys=30_000,
                   list_sizes=(2_000, 20_000), populate_limit=240.0, list_limit=60.0,
                   mgmt_seconds=3.0)


@dataclass
class Outcome:
    metrics: dict[str, float | None] = field(default_factory=dict)
    details: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def settle() -> None:
    """Flush every server's dirty pages so one run's writeback does not land in the next."""
    os.sync()
    time.sleep(0.3)


# --- large objects -------------------------------------------------------------------------


class RssSampler:
    def __init__(self, server: Server, interval: float = 0.01) -> None:
        self.server, self.interval = server, interval
        self.peak = 0
        self._stop = threading.Event()
        self._t = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, self.server.rss())
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._t.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._t.join()
        self.peak = max(self.peak, self.server.rss())


def _put(server: Server, key: str, data: memoryview,
         bucket: str = DATA_BUCKET) -> tuple[float, int, str]:
    target = server.presigner(bucket).target("PUT", f"/{bucket}/{key}")
    t0 = time.perf_counter()
    r = one_request(HOST, server.port, "PUT", target, data)
    dt = time.perf_counter() - t0
    if r.status != 200:
        raise RuntimeError(f"PUT {key}: HTTP {r.status} {r.body[:300]!r}")
    return dt, r.status, r.headers.get("etag", "").strip('"')


def _get(server: Server, key: str, size: int, bucket: str = DATA_BUCKET) -> float:
    target = server.presigner(bucket).target("GET", f"/{bucket}/{key}")
    t0 = time.perf_counter()
    r = one_request(HOST, server.port, "GET", target, keep_body=False)
    dt = time.perf_counter() - t0
    if r.status != 200 or r.nbytes != size:
        raise RuntimeError(f"GET {key}: HTTP {r.status}, {r.nbytes} of {size} bytes")
    return dt


def _parallel(fn: Any, args: list[tuple[Any, ...]]) -> float:
    with ThreadPoolExecutor(len(args)) as pool:
        t0 = time.perf_counter()
        futs = [pool.submit(fn, *a) for a in args]
        for f in futs:
            f.result()
        return time.perf_counter() - t0


def large(server: Server, plan: Plan, data: memoryview, md5hex: str, rss_only: bool,
          bucket: str = DATA_BUCKET) -> Outcome:
    out = Outcome()
    size = len(data)
    mib = size / MiB
    keys: list[str] = []
    cpu0 = server.cpu_seconds()
    try:
        if not rss_only:
            t_put, t_get = [], []
            for r in range(plan.reps):
                settle()
                key = f"large/s-{r}"
                keys.append(key)
                dt, _, etag = _put(server, key, data, bucket)
                t_put.append(dt)
                if etag and etag != md5hex and "-" not in etag:
                    out.notes.append(f"ETag {etag} is not the MD5 of the body")
            for _ in range(plan.reps):
                settle()
                t_get.append(_get(server, "large/s-0", size, bucket))
            out.metrics["large_put_1"] = mib / statistics.median(t_put)
            out.metrics["large_get_1"] = mib / statistics.median(t_get)
            out.details["large_put_1_s"] = t_put
            out.details["large_get_1_s"] = t_get
        t_put4 = []
        base = server.rss()
        with RssSampler(server) as rss:
            for r in range(plan.reps):
                settle()
                ks = [f"large/p-{r}-{i}" for i in range(4)]
                keys.extend(ks)
                t_put4.append(_parallel(_put, [(server, k, data, bucket) for k in ks]))
        out.metrics["large_put_4"] = 4 * mib / statistics.median(t_put4)
        out.metrics["rss_put_4"] = rss.peak / MiB
        out.details["rss_before_mib"] = base / MiB
        out.details["large_put_4_s"] = t_put4
        if not rss_only:
            t_get4 = []
            for r in range(plan.reps):
                settle()
                ks = [f"large/p-{r}-{i}" for i in range(4)]
                t_get4.append(_parallel(_get, [(server, k, size, bucket) for k in ks]))
            out.metrics["large_get_4"] = 4 * mib / statistics.median(t_get4)
            out.details["large_get_4_s"] = t_get4
    finally:
        out.details["large_server_cpu_s"] = server.cpu_seconds() - cpu0
        p = server.presigner(bucket)
        conn = Conn(HOST, server.port, 60)
        for k in keys:
            try:
                conn.request("DELETE", p.target("DELETE", f"/{bucket}/{k}"))
            except Exception:  # noqa: BLE001 - cleanup only
                conn.close()
        conn.close()
    return out


# --- small objects (wrk) -------------------------------------------------------------------


def _wrk(url: str, targets: Path, method: str, body_size: int, seconds: float, conns: int,
         threads: int, headers: dict[str, str] | None = None) -> dict[str, Any]:
    argv = ["wrk", f"-t{threads}", f"-c{conns}", f"-d{max(1, round(seconds))}s", "--timeout",
            "10s", "-s", str(LUA)]
    for k, v in (headers or {}).items():
        argv += ["-H", f"{k}: {v}"]
    argv += [url, "--", str(targets), method, str(body_size)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120)  # noqa: S603
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"^BENCHJSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"wrk failed ({p.returncode}): {p.stdout[-800:]} {p.stderr[-800:]}")
    res = json.loads(m.group(1))
    dur = res["duration_us"] / 1e6
    bad = res["status"] + res["timeout"]
    res["ops"] = (res["requests"] - res["status"]) / dur
    res["error_fraction"] = bad / max(1, res["requests"])
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res["client_cpu_pct"] = 100 * cpu / dur
    return res


def _headload(host: str, port: int, targets: Path, seconds: float,
              conns: int) -> dict[str, Any]:
    """HEAD requests from bench/headload.py (wrk cannot do HEAD: see there); same result
    fields as ``_wrk``."""
    argv = [sys.executable, "-m", "bench.headload", host, str(port), str(targets),
            str(max(1, round(seconds))), str(conns)]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    p = subprocess.run(argv, capture_output=True, text=True, timeout=seconds + 120,  # noqa: S603
                       cwd=ROOT)
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    m = re.search(r"^BENCHJSON (\{.*\})$", p.stdout, re.M)
    if p.returncode != 0 or not m:
        raise RuntimeError(f"headload failed ({p.returncode}): {p.stdout[-800:]} "
                           f"{p.stderr[-800:]}")
    res = json.loads(m.group(1))
    dur = res["duration_us"] / 1e6
    res["ops"] = (res["requests"] - res["status"]) / dur
    res["error_fraction"] = (res["status"] + res["timeout"]) / max(1, res["requests"])
    cpu = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    res["client_cpu_pct"] = 100 * cpu / dur
    res["client"] = "bench/headload.py (asyncio/uvloop)"
    return res


def _cpu_per_request(server: Server, run: Any) -> dict[str, Any]:
    """Run ``run()`` (a wrk-like run returning its result dict) with the server's process-tree
    CPU sampled right before and after it; adds ``server_cpu_s``, ``server_cpu_pct`` and
    ``cpu_ms_per_request`` (server CPU ÷ requests completed)."""
    pg = getattr(server, "pg_cpu_seconds", None)  # objectstore-pg: PostgreSQL's share
    pg0 = pg() if pg else 0.0
    cpu0 = server.cpu_seconds()
    res: dict[str, Any] = run()
    cpu = server.cpu_seconds() - cpu0
    if pg:
        res["postgres_cpu_s"] = pg() - pg0
        res["postgres_cpu_ms_per_request"] = (1000 * res["postgres_cpu_s"] / res["requests"]
                                              if res["requests"] else None)
    res["server_cpu_s"] = cpu
    res["server_cpu_pct"] = 100 * cpu / (res["duration_us"] / 1e6)
    res["cpu_ms_per_request"] = 1000 * cpu / res["requests"] if res["requests"] else None
    return res


def _targets_file(path: Path, targets: list[str]) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(targets) + "\n")
    return path


def small(server: Server, plan: Plan, workdir: Path, bucket: str = DATA_BUCKET,
          cpu: dict[str, Any] | None = None, head: bool = False) -> Outcome:
    """``cpu``: more CPU-seconds counters (name -> callable) whose change during each wrk run
    goes into the details as ``cpu_s`` (bench/cluster.py: per-process CPU per request).
    ``head``: also HEAD the GET keys (bench/headload.py) after the GETs."""
    out = Outcome()
    p = server.presigner(bucket)
    body = os.urandom(plan.small_size)
    hosthdr = f"{HOST}:{server.port}"
    get_keys = [f"/{bucket}/small/g-{i:05d}" for i in range(plan.small_get_keys)]
    reqs = [put_request(hosthdr, p.target("PUT", k), body) for k in get_keys]
    ok, errors, _ = populate(HOST, server.port, reqs, plan.small_conns, plan.populate_limit)
    if ok != len(reqs):
        raise RuntimeError(f"populating GET keys: {ok} ok, {errors} failed")
    url = f"http://{hosthdr}/"
    tdir = workdir / "wrk"
    put_file = _targets_file(tdir / f"{server.name}-put.txt", [
        p.target("PUT", f"/{bucket}/small/p-{i:06d}") for i in range(plan.small_put_keys)])
    get_file = _targets_file(tdir / f"{server.name}-get.txt",
                             [p.target("GET", k) for k in get_keys])
    runs: list[tuple[str, Any]] = [
        ("put", lambda: _wrk(url, put_file, "PUT", plan.small_size, plan.small_seconds,
                             plan.small_conns, plan.wrk_threads)),
        ("get", lambda: _wrk(url, get_file, "GET", 0, plan.small_seconds, plan.small_conns,
                             plan.wrk_threads))]
    if head:
        head_file = _targets_file(tdir / f"{server.name}-head.txt",
                                  [p.target("HEAD", k) for k in get_keys])
        runs.append(("head", lambda: _headload(HOST, server.port, head_file,
                                               plan.small_seconds, plan.small_conns)))
    for op, run in runs:
        settle()
        more0 = {k: fn() for k, fn in (cpu or {}).items()}
        try:
            res = _cpu_per_request(server, run)
        except Exception as exc:  # one load run failing must not lose the others' figures
            if op != "head":
                raise
            out.notes.append(f"small HEAD failed: {exc}"[:500])
            continue
        if cpu:
            res["cpu_s"] = {k: fn() - more0[k] for k, fn in cpu.items()}
        out.metrics[f"small_{op}_cpu_ms"] = res["cpu_ms_per_request"]
        if "postgres_cpu_s" in res:
            out.metrics[f"small_{op}_pg_cpu_ms"] = res["postgres_cpu_ms_per_request"]
        out.metrics[f"small_{op}_ops"] = res["ops"]
        out.metrics[f"small_{op}_p50"] = res["p50"] / 1000
        out.metrics[f"small_{op}_p99"] = res["p99"] / 1000
        out.details[f"small_{op}"] = res
        if res["error_fraction"] > 0.001:
            out.notes.append(f"small {op.upper()}: {100 * res['error_fraction']:.2f}% of "
                             "requests failed (non-2xx or timeout)")
    return out


# --- listing -------------------------------------------------------------------------------

_TOKEN = re.compile(rb"<NextContinuationToken>(.*?)</NextContinuationToken>", re.S)
_TRUNC = re.compile(rb"<IsTruncated>\s*true\s*</IsTruncated>")


def _list_pass(server: Server, conn: Conn, deadline: float,
               times: list[float]) -> tuple[int, bool]:
    """Read every page once; append each page's time. Returns (keys seen, completed)."""
    p = server.presigner(LIST_BUCKET)
    keys = 0
    token: str | None = None
    while time.monotonic() < deadline:
        params = {"list-type": "2", "max-keys": "1000"}
        if token:
            params["continuation-token"] = token
        target = p.target("GET", f"/{LIST_BUCKET}", params)
        t0 = time.perf_counter()
        r = conn.request("GET", target)
        times.append(time.perf_counter() - t0)
        if r.status != 200:
            raise RuntimeError(f"ListObjectsV2: HTTP {r.status} {r.body[:300]!r}")
        keys += r.body.count(b"<Key>")
        m = _TOKEN.search(r.body)
        if not _TRUNC.search(r.body) or not m:
            return keys, True
        token = html.unescape(m.group(1).decode())
    return keys, False


def _list_all(server: Server, limit: float, min_pages: int = 20) -> dict[str, Any]:
    """One untimed first page, then full passes until ``min_pages`` pages were timed."""
    conn = Conn(HOST, server.port, 120)
    times: list[float] = []
    deadline = time.monotonic() + limit
    keys, complete, passes = 0, False, 0
    try:
        _list_pass(server, conn, time.monotonic() + 0.001, [])  # warm-up: first page only
        cpu0 = server.cpu_seconds()
        while time.monotonic() < deadline and (passes == 0 or len(times) < min_pages):
            keys, complete = _list_pass(server, conn, deadline, times)
            passes += 1
            if not complete:
                break
        cpu = server.cpu_seconds() - cpu0
    finally:
        conn.close()
    return {"pages": len(times), "passes": passes, "keys": keys, "complete": complete,
            "server_cpu_s": cpu,
            "cpu_ms_per_page": 1000 * cpu / len(times) if times else None,
            "median_ms": 1000 * statistics.median(times) if times else None,
            "mean_ms": 1000 * statistics.fmean(times) if times else None,
            "max_ms": 1000 * max(times) if times else None,
            "first_ms": 1000 * times[0] if times else None,
            "total_s": sum(times)}


def list_populate(server: Server, plan: Plan, have: int, n: int) -> dict[str, Any]:
    """Create keys obj-<have>..obj-<n-1> in the listing bucket (64 parallel PUTs)."""
    p = server.presigner(LIST_BUCKET)
    hosthdr = f"{HOST}:{server.port}"
    body = b"0123456789abcdef"
    reqs = [put_request(hosthdr, p.target("PUT", f"/{LIST_BUCKET}/obj-{i:07d}"), body)
            for i in range(have, n)]
    ok, errors, secs = populate(HOST, server.port, reqs, 64, plan.populate_limit)
    return {"wanted": n - have, "ok": ok, "errors": errors, "seconds": secs,
            "puts_per_s": ok / secs if secs else None}


def list_measure(server: Server, plan: Plan, n: int, populated: dict[str, Any],
                 out: Outcome) -> bool:
    """Time the pages over ``n`` keys. Returns False when the keys could not all be created."""
    tag = _k(n)
    out.details[f"list_populate_{tag}"] = populated
    if populated["ok"] != populated["wanted"]:
        out.notes.append(f"listing {tag}: created only {populated['ok']:,} of "
                         f"{populated['wanted']:,} keys in {plan.populate_limit:.0f} s "
                         f"({populated['errors']} errors); not measured")
        return False
    res = _list_all(server, plan.list_limit)
    out.details[f"list_{tag}"] = res
    if res["complete"] and res["keys"] != n:
        out.notes.append(f"listing {tag}: listed {res['keys']:,} keys, expected {n:,}")
    if not res["complete"]:
        out.notes.append(f"listing {tag}: stopped after {plan.list_limit:.0f} s at page "
                         f"{res['pages']} (figure over the pages listed)")
    out.metrics[f"list_{tag}_page_ms"] = res["median_ms"]
    out.metrics[f"list_{tag}_mean_ms"] = res["mean_ms"]
    out.metrics[f"list_{tag}_cpu_ms"] = res["cpu_ms_per_page"]
    return True


def list_growth(plan: Plan, out: Outcome) -> None:
    a, b = (out.metrics.get(f"list_{_k(n)}_page_ms") for n in plan.list_sizes)
    if a and b:
        out.metrics["list_growth"] = b / a


def _k(n: int) -> str:
    return f"{n // 1000}k"


# --- management API ------------------------------------------------------------------------


MGMT_LISTS = (("mgmt", "/v2/objectstores"), ("creds", "/v2/objectstore/credentials"))


def mgmt(server: ThisServer, plan: Plan, workdir: Path) -> Outcome:
    """wrk on the two management list calls, bearer-authenticated, 64 connections."""
    out = Outcome()
    for name, path in MGMT_LISTS:
        tfile = _targets_file(workdir / "wrk" / f"{name}.txt", [path])
        settle()
        res = _cpu_per_request(server, lambda tfile=tfile: _wrk(
            f"http://{HOST}:{server.api_port}/", tfile, "GET", 0, plan.mgmt_seconds,
            plan.small_conns, plan.wrk_threads,
            headers={"Authorization": f"bearer {server.api_key}"}))
        out.metrics[f"{name}_rps"] = res["ops"]
        out.metrics[f"{name}_p99"] = res["p99"] / 1000
        out.metrics[f"{name}_cpu_ms"] = res["cpu_ms_per_request"]
        if "postgres_cpu_s" in res:
            out.metrics[f"{name}_pg_cpu_ms"] = res["postgres_cpu_ms_per_request"]
        out.details[name] = res
        if res["error_fraction"] > 0.001:
            out.notes.append(f"{name} ({path}): {100 * res['error_fraction']:.2f}% of "
                             "requests failed")
    return out


# --- idle memory ---------------------------------------------------------------------------


def warm_rss(server: Server, n: int = 256, conns: int = 16) -> dict[str, Any]:
    """A few requests first (4 KiB PUTs, then GETs of them, and management list calls for
    this server, ``conns`` connections at once so every worker gets some), then the idle
    RSS (and PSS) of the process tree: the median of 3 samples 0.5 s apart, after 1 s of
    rest."""
    p = server.presigner(DATA_BUCKET)
    hosthdr = f"{HOST}:{server.port}"
    body = b"w" * 4096
    keys = [f"/{DATA_BUCKET}/warm/k-{i:04d}" for i in range(n)]
    ok_put, _, _ = populate(HOST, server.port, [put_request(hosthdr, p.target("PUT", k), body)
                                                for k in keys], conns, 60)
    ok_get, _, _ = populate(HOST, server.port, [
        f"GET {p.target('GET', k)} HTTP/1.1\r\nHost: {hosthdr}\r\n\r\n".encode()
        for k in keys], conns, 60)
    ok_api = 0
    if isinstance(server, ThisServer):
        req = (f"GET /v2/objectstores HTTP/1.1\r\nHost: {HOST}:{server.api_port}\r\n"
               f"Authorization: bearer {server.api_key}\r\n\r\n").encode()
        ok_api, _, _ = populate(HOST, server.api_port, [req] * n, conns, 60)
    time.sleep(1)
    samples, pss = [], []
    for _ in range(3):
        samples.append(server.rss())
        with contextlib.suppress(Exception):  # smaps may be unreadable (another user)
            pss.append(server.pss())
        time.sleep(0.5)
    res = {"rss_mib": statistics.median(samples) / MiB,
           "pss_mib": statistics.median(pss) / MiB if pss else None,
           "processes": server.processes(),
           "workers": server.workers(), "warm_requests_ok": ok_put + ok_get + ok_api}
    pg_rss = getattr(server, "pg_rss", None)
    if pg_rss:
        res["postgres_rss_mib"] = pg_rss() / MiB
    return res


def wrk_version() -> str:
    if not shutil.which("wrk"):
        return ""
    p = subprocess.run(["wrk", "-v"], capture_output=True, text=True, timeout=10)  # noqa: S607
    m = re.search(r"wrk (\S+)", p.stdout + p.stderr)
    return f"wrk {m.group(1)}" if m else "wrk"

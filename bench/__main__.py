"""``python -m bench [--quick] [--only NAME[,NAME]] [--out FILE]``: see bench/README.md."""

from __future__ import annotations

import argparse
import datetime as dt
import hashlib
import json
import os
import shutil
import socket
import sys
import tempfile
import time
import traceback
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from . import report, workloads
from .servers import ALL, Server, ThisServer, ThisServerOneWorker
from .sigv4 import check_against_botocore
from .workloads import DATA_BUCKET, LIST_BUCKET, Outcome, Plan

WORKLOADS = ["large", "rss", "small", "list", "mgmt"]
RESULTS = Path(__file__).resolve().parent / "results"
LOADGEN = ("large objects and listing: a raw-socket HTTP/1.1 client in the bench process "
           "(one thread and one connection per stream, body sent from an in-memory buffer with "
           "one sendall, GET bodies received with recv_into and discarded; listing pages on one "
           "keep-alive connection), presigned SigV4 URLs with UNSIGNED-PAYLOAD; small objects "
           "and management API: wrk (1 thread, 64 connections, Lua script cycling over "
           "presigned URLs), latencies from wrk's histogram; key population (not measured): "
           "an asyncio/uvloop client, 64 connections.")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    ap = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    ap.add_argument("--quick", action="store_true",
                    help="short run: 1 repetition, 3 s wrk runs, listing 2k/20k keys")
    ap.add_argument("--only", default="",
                    help="comma-separated workloads (large, rss, small, list, mgmt) and/or "
                         "peers (rclone, moto, seaweedfs, bare); this server and its "
                         "variants (objectstore-w1, objectstore-pg) always run")
    ap.add_argument("--out", type=Path, default=None,
                    help="JSON result file, a .md beside it [bench/results/<date>-<host>"
                         "[-quick].json, and bench/results/latest.md]")
    ap.add_argument("--tmp", type=Path, default=None,
                    help="where the servers' temp data dirs go [system temp dir]")
    ap.add_argument("--keep", action="store_true", help="keep the temp dir (logs, data)")
    ap.add_argument("--versioned", action="store_true",
                    help="this server's buckets get versioning enabled (what it costs)")
    return ap.parse_args(argv)


def _busy_seconds() -> float:
    """CPU time (all cores) the whole machine spent busy since boot, from /proc/stat."""
    try:
        f = [int(x) for x in open("/proc/stat").readline().split()[1:]]  # noqa: SIM115
    except OSError:
        return 0.0
    user, nice, system, _idle, _iowait, irq, softirq, steal = (f + [0] * 8)[:8]
    return (user + nice + system + irq + softirq + steal) / os.sysconf("SC_CLK_TCK")


class Background:
    """CPU used by processes other than the bench and its servers (other jobs on the machine).

    The figures are only as good as the machine is quiet: this is reported with them.
    """

    def __init__(self, servers: list[Server]) -> None:
        self.servers = servers

    def _ours(self) -> float:
        t = os.times()
        return (t.user + t.system + t.children_user + t.children_system
                + sum(s.cpu_seconds() for s in self.servers))

    def snap(self) -> tuple[float, float, float]:
        return time.monotonic(), _busy_seconds(), self._ours()

    @staticmethod
    def cores(a: tuple[float, float, float], b: tuple[float, float, float]) -> float:
        wall = b[0] - a[0]
        return max(0.0, ((b[1] - a[1]) - (b[2] - a[2])) / wall) if wall > 0 else 0.0


def select(only: str) -> tuple[list[str], list[type[Server]]]:
    names = [n.strip() for n in only.split(",") if n.strip()]
    by_name = {c.name: c for c in ALL}
    unknown = [n for n in names if n not in WORKLOADS and n not in by_name]
    if unknown:
        sys.exit(f"--only: unknown name(s) {', '.join(unknown)}; workloads: "
                 f"{', '.join(WORKLOADS)}; servers: {', '.join(by_name)}")
    wl = [w for w in WORKLOADS if w in names] or list(WORKLOADS)
    if "large" in wl and "rss" in wl:
        wl.remove("rss")  # the large workload measures RSS during its 4-stream PUTs
    sv = [c for c in ALL if c.name in names or c.kind == "this"]
    if not [c for c in sv if c.kind != "this"]:
        sv = list(ALL)  # no peer named: all of them
    # this server and its variants always run: the ratios, the RSS per worker and the
    # PostgreSQL targets need them; a variant runs only its own workloads
    sv = [c for c in sv if c.only is None or c.only & set(wl)]
    return wl, sv


def run_listing(servers: list[Server], plan: Plan, measure: Any, record: Any) -> None:
    """Create the keys on every server at once (not measured, so they may share the CPU),
    then time the listing on one server at a time; then the same for the larger size."""
    outs = {s.name: Outcome() for s in servers}
    have = {s.name: 0 for s in servers}
    alive = list(servers)
    for n in plan.list_sizes:
        if not alive:
            break
        t0 = time.monotonic()
        with ThreadPoolExecutor(len(alive)) as pool:
            futs = {s.name: pool.submit(workloads.list_populate, s, plan, have[s.name], n)
                    for s in alive}
        pops: dict[str, dict[str, Any]] = {}
        for name, f in futs.items():
            try:
                pops[name] = f.result()
            except Exception as exc:  # noqa: BLE001
                pops[name] = {"wanted": n - have[name], "ok": 0, "errors": -1, "seconds": 0,
                              "error": str(exc)[:300]}
        print(f"  created keys up to {n:,} on {len(alive)} servers at once in "
              f"{time.monotonic() - t0:.0f} s: " + ", ".join(
                  f"{k} {v['ok']:,} ({v['puts_per_s'] or 0:.0f}/s)" if v.get("puts_per_s")
                  else f"{k} {v['ok']:,}" for k, v in pops.items()), flush=True)
        workloads.settle()
        for s in list(alive):
            out = outs[s.name]
            done: dict[str, bool] = {}

            def run(s: Server = s, out: Outcome = out, n: int = n,
                    pop: dict[str, Any] = pops[s.name], done: dict[str, bool] = done) -> Outcome:
                done["ok"] = workloads.list_measure(s, plan, n, pop, out)
                return out

            measure(s, f"list_{n // 1000}k", run, out)
            have[s.name] = n
            if not done.get("ok"):
                alive.remove(s)
    for s in servers:
        out = outs[s.name]
        workloads.list_growth(plan, out)
        for note in out.notes:
            print(f"  {s.name:12} note: {note}", flush=True)
        record(s, out)


def md5_rate(data: memoryview) -> float:
    """One core's MD5 rate over the in-memory buffer, MiB/s, best of 3."""
    best = float("inf")
    for _ in range(3):
        t0 = time.perf_counter()
        hashlib.md5(data).digest()
        best = min(best, time.perf_counter() - t0)
    return len(data) / workloads.MiB / best


def rss_per_worker(idle: dict[str, dict[str, Any]], metrics: dict[str, dict[str, Any]],
                   details: dict[str, dict[str, Any]], notes: list[str]) -> None:
    """(idle RSS with the default workers - with ``--workers 1``) / (workers - 1)."""
    d, one = idle.get(ThisServer.name), idle.get(ThisServerOneWorker.name)
    if not d or not one:
        return
    n = d["workers"]
    info = {"default_workers": n, "default_processes": d["processes"],
            "default_rss_mib": d["rss_mib"], "w1_rss_mib": one["rss_mib"]}
    if n > 1:
        info["rss_per_worker_mib"] = (d["rss_mib"] - one["rss_mib"]) / (n - 1)
        metrics.setdefault("rss_per_worker", {})[ThisServer.name] = info["rss_per_worker_mib"]
        print(f"  RSS per extra worker: ({d['rss_mib']:.1f} - {one['rss_mib']:.1f}) / "
              f"({n} - 1) = {info['rss_per_worker_mib']:.1f} MiB", flush=True)
        if d.get("pss_mib") is not None and one.get("pss_mib") is not None:
            info["pss_per_worker_mib"] = (d["pss_mib"] - one["pss_mib"]) / (n - 1)
            metrics.setdefault("pss_per_worker", {})[ThisServer.name] = \
                info["pss_per_worker_mib"]
            print(f"  PSS per extra worker: ({d['pss_mib']:.1f} - {one['pss_mib']:.1f}) / "
                  f"({n} - 1) = {info['pss_per_worker_mib']:.1f} MiB", flush=True)
    else:
        notes.append("RSS per extra worker: not measured, the default server runs one "
                     "worker (the CLI's default is not --workers auto yet)")
    details.setdefault(ThisServer.name, {})["rss_per_worker"] = info


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    plan = Plan.make(args.quick)
    wl, classes = select(args.only)
    t_start = time.monotonic()
    notes: list[str] = []
    skipped: dict[str, str] = {}

    if not shutil.which("wrk") and ("small" in wl or "mgmt" in wl):
        skipped["wrk"] = "wrk not found (bash bench/setup.sh installs it): small/mgmt skipped"
        wl = [w for w in wl if w not in ("small", "mgmt")]
        print(f"bench: {skipped['wrk']}", flush=True)
    check_against_botocore()

    workdir = Path(tempfile.mkdtemp(prefix="objectstore-bench-", dir=args.tmp))
    print(f"bench: {'quick' if plan.quick else 'full'} run, workloads {', '.join(wl)}; "
          f"temp dir {workdir}", flush=True)
    classes = [c for c in classes if c.only is None or c.only & set(wl)]
    if wl == ["mgmt"]:
        classes = [c for c in classes if c.kind == "this"]
    elif set(wl) <= {"list", "mgmt"}:
        classes = [c for c in classes if c.kind != "bare"]
    ThisServer.versioned = args.versioned
    servers: list[Server] = []
    background: list[float] = []
    idle_bg = 0.0
    metrics: dict[str, dict[str, float | None]] = {}
    details: dict[str, dict[str, Any]] = {}
    md5_mibs = 0.0
    try:
        for cls in classes:
            s = cls(workdir)
            try:
                t0 = time.monotonic()
                s.start()
                for b in (DATA_BUCKET, LIST_BUCKET):
                    s.make_bucket(b)
                print(f"  started {s.name} ({s.version}) on :{s.port} in "
                      f"{time.monotonic() - t0:.1f} s", flush=True)
                servers.append(s)
            except Exception as exc:  # noqa: BLE001 - a peer that cannot start is reported
                s.stop()
                skipped[s.name] = f"could not start: {exc}"[:500]
                print(f"  {s.name}: {skipped[s.name]}", flush=True)
                if s.name == report.THIS:
                    raise
        print("  warm-up requests, then idle RSS:", flush=True)
        idle: dict[str, dict[str, Any]] = {}
        for s in servers:
            try:
                idle[s.name] = workloads.warm_rss(s)
            except Exception as exc:  # noqa: BLE001
                notes.append(f"{s.name}: warm-up/idle RSS failed: {exc}"[:500])
                continue
            metrics.setdefault("rss_idle", {})[s.name] = idle[s.name]["rss_mib"]
            metrics.setdefault("pss_idle", {})[s.name] = idle[s.name]["pss_mib"]
            details.setdefault(s.name, {})["idle"] = idle[s.name]
            print(f"  {s.name:14} idle RSS {idle[s.name]['rss_mib']:6.1f} MiB, "
                  f"{idle[s.name]['processes']} process(es), {idle[s.name]['workers']} "
                  "worker(s)", flush=True)
        rss_per_worker(idle, metrics, details, notes)
        bg = Background(servers)
        idle0 = {s.name: s.cpu_seconds() for s in servers}
        run0 = bg.snap()
        time.sleep(2)
        idle_bg = Background.cores(run0, bg.snap())
        print(f"  background load before the run: {idle_bg:.2f} cores", flush=True)
        for s in servers:
            s.note = f"idle CPU {100 * (s.cpu_seconds() - idle0[s.name]) / 2:.1f}%"

        data = memoryview(b"")
        md5hex = ""
        if "large" in wl or "rss" in wl:
            data = memoryview(os.urandom(plan.large_size))
            md5hex = hashlib.md5(data).hexdigest()
        if "large" in wl:
            md5_mibs = md5_rate(data)
            print(f"  one core's MD5 rate: {md5_mibs:,.0f} MiB/s (hashlib over the "
                  f"{len(data) // workloads.MiB} MiB buffer, best of 3)", flush=True)

        def record(s: Server, out: Outcome) -> None:
            for k, v in out.metrics.items():
                metrics.setdefault(k, {})[s.name] = v
            details.setdefault(s.name, {}).update(out.details)
            notes.extend(f"{s.name}: {n}" for n in out.notes)

        def measure(s: Server, w: str, fn: Any, out: Outcome | None = None) -> Outcome:
            """Run one measurement with the background-CPU check; a failure becomes a note."""
            t0 = time.monotonic()
            b0 = bg.snap()
            try:
                got = fn()
                if out is None:
                    out = got
            except Exception as exc:  # noqa: BLE001 - one failure must not end the run
                traceback.print_exc()
                out = out or Outcome()
                out.notes.append(f"{w} failed: {exc}"[:500])
            assert out is not None
            busy = Background.cores(b0, bg.snap())
            out.details[f"background_cores_{w}"] = busy
            background.append(busy)
            if busy > 0.25:
                out.notes.append(f"{w}: other processes used {busy:.2f} cores meanwhile")
            shown = ", ".join(f"{k} {report.fmt(v)}" for k, v in out.metrics.items()
                              if not w.startswith("list_") or f"_{w[5:]}_" in k)
            print(f"  {s.name:12} {time.monotonic() - t0:6.1f} s  bg {busy:.2f} cores  "
                  f"{shown}", flush=True)
            return out

        for w in wl:
            print(f"== {w}", flush=True)
            if w == "list":
                # listing does not depend on worker processes: this server runs it once
                run_listing([s for s in servers if s.kind != "bare"
                             and (s.kind != "this" or s.name == report.THIS)],
                            plan, measure, record)
                continue
            for s in servers:
                if w == "mgmt" and not isinstance(s, ThisServer):
                    continue
                if s.only is not None and w not in s.only:
                    continue
                if w in ("large", "rss"):
                    out = measure(s, w, lambda s=s, w=w: workloads.large(
                        s, plan, data, md5hex, rss_only=(w == "rss")))
                elif w == "small":
                    out = measure(s, w, lambda s=s: workloads.small(s, plan, workdir,
                                                                    head=True))
                else:
                    assert isinstance(s, ThisServer)
                    out = measure(s, w, lambda s=s: workloads.mgmt(s, plan, workdir))
                for n in out.notes:
                    print(f"  {s.name:12} note: {n}", flush=True)
                record(s, out)
            if w == "large" and md5_mibs:
                for name, v in metrics.get("large_put_1", {}).items():
                    if v is not None:
                        metrics.setdefault("large_put_1_md5", {})[name] = v / md5_mibs
    except BaseException:
        if not args.keep:
            shutil.rmtree(workdir, ignore_errors=True)
        raise
    finally:
        for s in servers:
            s.stop()

    now = dt.datetime.now()
    result: dict[str, Any] = {
        "date": now.strftime("%Y-%m-%d %H:%M"),
        "mode": "quick" if plan.quick else "full",
        "command": "python -m bench " + " ".join(sys.argv[1:] if argv is None else argv),
        "duration_s": round(time.monotonic() - t_start, 1),
        "machine": report.machine(workdir.parent),
        "plan": {**plan.__dict__, "list_sizes": list(plan.list_sizes)},
        "workloads": wl,
        "load_generators": LOADGEN + f" wrk: {workloads.wrk_version()}.",
        "servers": {s.name: {"label": s.label, "version": s.version, "kind": s.kind,
                             "note": s.note, "database": s.database,
                             "workers": details.get(s.name, {}).get("idle", {}).get("workers")}
                    for s in servers},
        "skipped": skipped,
        "metrics": metrics,
        "details": details,
        "notes": notes,
    }
    result["machine"]["background_cores_before"] = round(idle_bg, 2)
    result["machine"]["md5_mibs"] = round(md5_mibs, 1) if md5_mibs else None
    result["machine"]["background_cores_mean"] = (
        round(sum(background) / len(background), 2) if background else None)
    result["targets"] = report.judge(metrics, report.targets_for(plan.list_sizes))
    result["variant_targets"] = {
        name: report.judge(metrics, report.targets_for(
            plan.list_sizes, result["servers"][name]["database"], postgres=False), name)
        for name in report.variants(result)}

    out = args.out
    written = []
    if out is None:
        host = socket.gethostname().split(".")[0] or "host"
        out = RESULTS / f"{now:%Y-%m-%d}-{host}{'-quick' if plan.quick else ''}.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2, default=str) + "\n")
    md = report.markdown(result)
    out.with_suffix(".md").write_text(md)
    written = [out, out.with_suffix(".md")]
    if args.out is None:
        (RESULTS / "latest.md").write_text(md)
        written.append(RESULTS / "latest.md")

    print()
    print(f"Machine: {report.machine_line(result['machine'])}")
    for name, s in result["servers"].items():
        print(f"  {name}: {s['label']} {s['version']} ({s['note']})")
    for name, why in skipped.items():
        print(f"  {name}: not run: {why}")
    print()
    print(report.text_table(result))
    mhead, mbody = report.mgmt_rows(result)
    if len(mhead) > 2:
        print()
        print("Management API:")
        print(report.plain_table(mhead, mbody))
    print()
    print("Targets (issue 15):")
    print("\n".join(line for line in report.targets_text(result).splitlines()
                    if not line.startswith("N/A")))
    for name in report.variants(result):
        print()
        print(report.text_table(result, name))
        print()
        print(f"Targets ({name}):")
        print("\n".join(line for line in report.targets_text(
            {"t": result["variant_targets"][name]}, "t").splitlines()
            if not line.startswith("N/A")))
    if notes:
        print()
        print("Notes:")
        for n in notes:
            print(f"  - {n}")
    print()
    print(f"bench: wrote {', '.join(map(str, written))} ({result['duration_s']:.0f} s)",
          flush=True)
    if args.keep:
        print(f"bench: kept {workdir}")
    else:
        shutil.rmtree(workdir, ignore_errors=True)  # many small files: after the table
    return 0


if __name__ == "__main__":
    sys.exit(main())

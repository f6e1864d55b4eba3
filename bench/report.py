"""Tables, ratios, targets, machine description, result files."""

from __future__ import annotations

import os
import platform
import socket
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Any

THIS = "objectstore"


@dataclass(frozen=True)
class Metric:
    key: str
    label: str
    unit: str
    higher_better: bool


def metrics_for(list_sizes: tuple[int, int]) -> list[Metric]:
    a, b = (f"{n // 1000}k" for n in list_sizes)
    return [
        Metric("large_put_1", "256 MiB PUT, 1 stream", "MiB/s", True),
        Metric("large_put_1_md5", "256 MiB PUT, 1 stream / one core's MD5 rate", "x", True),
        Metric("large_put_4", "256 MiB PUT, 4 streams (total)", "MiB/s", True),
        Metric("large_get_1", "256 MiB GET, 1 stream", "MiB/s", True),
        Metric("large_get_4", "256 MiB GET, 4 streams (total)", "MiB/s", True),
        Metric("small_put_ops", "4 KiB PUT, 64 conns", "ops/s", True),
        Metric("small_put_p50", "4 KiB PUT p50", "ms", False),
        Metric("small_put_p99", "4 KiB PUT p99", "ms", False),
        Metric("small_put_cpu_ms", "4 KiB PUT, CPU ms per request", "ms", False),
        Metric("small_put_pg_cpu_ms", "4 KiB PUT, CPU ms per request: of which PostgreSQL", "ms",
               False),
        Metric("small_get_ops", "4 KiB GET, 64 conns", "ops/s", True),
        Metric("small_get_p50", "4 KiB GET p50", "ms", False),
        Metric("small_get_p99", "4 KiB GET p99", "ms", False),
        Metric("small_get_cpu_ms", "4 KiB GET, CPU ms per request", "ms", False),
        Metric("small_get_pg_cpu_ms", "4 KiB GET, CPU ms per request: of which PostgreSQL", "ms",
               False),
        Metric("small_head_ops", "4 KiB HEAD, 64 conns", "ops/s", True),
        Metric("small_head_p50", "4 KiB HEAD p50", "ms", False),
        Metric("small_head_p99", "4 KiB HEAD p99", "ms", False),
        Metric("small_head_cpu_ms", "4 KiB HEAD, CPU ms per request", "ms", False),
        Metric("small_head_pg_cpu_ms", "4 KiB HEAD, CPU ms per request: of which PostgreSQL", "ms",
               False),
        Metric(f"list_{a}_page_ms", f"ListObjectsV2 {a} keys, per page (median)", "ms", False),
        Metric(f"list_{b}_page_ms", f"ListObjectsV2 {b} keys, per page (median)", "ms", False),
        Metric("list_growth", f"page time {b} / {a}", "x", False),
        Metric(f"list_{a}_cpu_ms", f"ListObjectsV2 1,000-key page ({a} keys), CPU ms per "
               "request", "ms", False),
        Metric(f"list_{b}_cpu_ms", f"ListObjectsV2 1,000-key page ({b} keys), CPU ms per "
               "request", "ms", False),
        Metric("rss_put_4", "peak RSS during 4x256 MiB PUT", "MiB", False),
        Metric("rss_idle", "idle RSS after warm-up (process tree)", "MiB", False),
        Metric("pss_idle", "idle PSS after warm-up (process tree)", "MiB", False),
        Metric("rss_per_worker", "RSS per extra worker (default - w1) / (workers-1)", "MiB",
               False),
        Metric("pss_per_worker", "PSS per extra worker (default - w1) / (workers-1)", "MiB",
               False),
        Metric("mgmt_rps", "mgmt GET /v2/objectstores, 64 conns", "req/s", True),
        Metric("mgmt_p99", "mgmt GET /v2/objectstores p99", "ms", False),
        Metric("mgmt_cpu_ms", "mgmt GET /v2/objectstores, CPU ms per request", "ms", False),
        Metric("mgmt_pg_cpu_ms", "mgmt GET /v2/objectstores, CPU ms per request: of which "
               "PostgreSQL", "ms", False),
        Metric("creds_rps", "mgmt GET /v2/objectstore/credentials, 64 conns", "req/s", True),
        Metric("creds_p99", "mgmt GET /v2/objectstore/credentials p99", "ms", False),
        Metric("creds_cpu_ms", "mgmt GET /v2/objectstore/credentials, CPU ms per request",
               "ms", False),
        Metric("creds_pg_cpu_ms", "mgmt GET /v2/objectstore/credentials, CPU ms per request: "
               "of which PostgreSQL", "ms", False),
    ]


def fmt(v: float | None) -> str:
    if v is None:
        return "-"
    if v >= 1000:
        return f"{v:,.0f}"
    if v >= 100:
        return f"{v:.0f}"
    if v >= 10:
        return f"{v:.1f}"
    return f"{v:.2f}"


def ratio(metrics: dict[str, dict[str, float | None]], key: str, peer: str,
          this: str = THIS) -> float | None:
    a = metrics.get(key, {}).get(this)
    b = metrics.get(key, {}).get(peer)
    if a is None or b is None or b == 0:
        return None
    return a / b


# --- targets -------------------------------------------------------------------------------


@dataclass(frozen=True)
class Target:
    text: str
    key: str
    peer: str | None  # None: an absolute value of this server
    op: str  # ">=" or "<=" or "<"
    threshold: float
    server: str | None = None  # judged on this server, not on the table's


PG = "objectstore-pg"


def targets_for(list_sizes: tuple[int, int], db: str = "SQLite",
                postgres: bool = True) -> list[Target]:
    """Issue 15's targets, with issue 27's tighter ones (CPU per HEAD, GET p99 at 1x
    rclone's, the 256 MiB PUT at 0.8x one core's MD5 rate). ``db``: the judged server's
    database (in the mgmt targets' text); ``postgres``: add the mgmt targets judged on
    ``objectstore-pg``."""
    a, b = (f"{n // 1000}k" for n in list_sizes)
    mgmt = [(db, None)] + ([("PostgreSQL", PG)] if postgres else [])
    return [
        Target("4 KiB GET ops/s >= 1.0x rclone", "small_get_ops", "rclone", ">=", 1.0),
        Target("4 KiB GET p99 <= 2x rclone", "small_get_p99", "rclone", "<=", 2.0),
        Target("4 KiB PUT ops/s >= 1.0x rclone", "small_put_ops", "rclone", ">=", 1.0),
        Target("CPU ms per 4 KiB GET <= rclone's", "small_get_cpu_ms", "rclone", "<=", 1.0),
        Target("4 KiB GET p99 <= rclone's", "small_get_p99", "rclone", "<=", 1.0),
        Target("CPU ms per 4 KiB HEAD <= rclone's", "small_head_cpu_ms", "rclone", "<=", 1.0),
        Target("256 MiB PUT 1 stream >= 0.8x one core's MD5 rate", "large_put_1_md5", None,
               ">=", 0.8),
        Target("256 MiB PUT 1 stream >= 1.3x rclone", "large_put_1", "rclone", ">=", 1.3),
        Target("256 MiB GET 1 stream >= 0.8x bare", "large_get_1", "bare", ">=", 0.8),
        Target(f"listing page time {b} / {a} <= 1.5", "list_growth", None, "<=", 1.5),
        *(t for name, srv in mgmt for t in (
            Target(f"mgmt list GET /v2/objectstores ({name}) >= 2,000 req/s", "mgmt_rps",
                   None, ">=", 2000, srv),
            Target(f"mgmt list GET /v2/objectstores ({name}) p99 <= 50 ms", "mgmt_p99",
                   None, "<=", 50, srv))),
    ]


def judge(metrics: dict[str, dict[str, float | None]],
          targets: list[Target], this: str = THIS) -> list[dict[str, Any]]:
    units = {m.key: m.unit for m in metrics_for((10_000, 100_000))}
    rows = []
    for t in targets:
        srv = t.server or this
        mine = metrics.get(t.key, {}).get(srv)
        theirs = metrics.get(t.key, {}).get(t.peer) if t.peer else None
        v = mine if t.peer is None else ratio(metrics, t.key, t.peer, srv)
        unit = units.get(t.key, "")
        if v is None:
            verdict, gap = "N/A", ""
        else:
            ok = {">=": v >= t.threshold, "<=": v <= t.threshold, "<": v < t.threshold}[t.op]
            verdict = "PASS" if ok else "MISS"
            gap = ""
            if not ok:
                pct = 100 * abs(v - t.threshold) / t.threshold
                if t.op == ">=":
                    gap = f"{pct:.0f}% short: needs {t.threshold / v:.2f}x the figure"
                else:
                    gap = f"{pct:.0f}% over: needs the figure / {v / t.threshold:.2f}"
                if t.peer:
                    gap += f"; {srv} {fmt(mine)} vs {t.peer} {fmt(theirs)} {unit}"
                else:
                    gap += f"; {srv} {fmt(mine)} {unit}"
        rows.append({"target": t.text, "key": t.key, "peer": t.peer, "server": srv,
                     "op": t.op, "threshold": t.threshold, "value": v, "this_value": mine,
                     "peer_value": theirs, "verdict": verdict, "gap": gap.strip()})
    return rows


# --- machine -------------------------------------------------------------------------------


def machine(workdir: Path) -> dict[str, Any]:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem = 0
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemTotal:"):
                mem = int(line.split()[1]) * 1024
    except OSError:
        pass
    osname = platform.system()
    try:
        for line in Path("/etc/os-release").read_text().splitlines():
            if line.startswith("PRETTY_NAME="):
                osname = line.split("=", 1)[1].strip('"')
    except OSError:
        pass
    fs = "?"
    try:
        p = subprocess.run(["df", "-T", str(workdir)], capture_output=True, text=True,  # noqa: S607
                           timeout=10)
        parts = p.stdout.splitlines()[1].split()
        fs = f"{parts[1]} on {parts[0]}"
    except (OSError, IndexError, subprocess.SubprocessError):
        pass
    return {"host": socket.gethostname(), "cpu": cpu, "cores": os.cpu_count(),
            "memory_gib": round(mem / (1 << 30), 1), "os": osname,
            "kernel": platform.release(), "python": platform.python_version(),
            "data_fs": fs}


def machine_line(m: dict[str, Any]) -> str:
    line = (f"{m['cpu']}, {m['cores']} cores, {m['memory_gib']} GiB RAM; {m['os']}, kernel "
            f"{m['kernel']}; Python {m['python']}; data on {m['data_fs']}; host {m['host']}")
    if m.get("md5_mibs"):
        line += f"; one core's MD5 rate {m['md5_mibs']:,.0f} MiB/s (hashlib, best of 3)"
    if m.get("background_cores_mean") is not None:
        line += (f"; CPU used by other processes: {m['background_cores_before']:.2f} cores "
                 f"before the run, {m['background_cores_mean']:.2f} on average during it")
    return line


# --- tables --------------------------------------------------------------------------------


def _columns(result: dict[str, Any]) -> list[str]:
    return [n for n, s in result["servers"].items() if s.get("kind") != "this"]


def variants(result: dict[str, Any]) -> list[str]:
    """This server's other configurations in the run (``--workers 1``, PostgreSQL)."""
    return [n for n, s in result["servers"].items() if s.get("kind") == "this" and n != THIS]


def rows(result: dict[str, Any], this: str = THIS) -> tuple[list[str], list[list[str]]]:
    metrics = result["metrics"]
    peers = _columns(result)
    head = ["metric", "unit", this]
    for p in peers:
        head += [p, f"x {p}"]
    out = []
    for m in metrics_for(tuple(result["plan"]["list_sizes"])):
        vals = metrics.get(m.key, {})
        if vals.get(this) is None:
            continue
        arrow = "^" if m.higher_better else "v"
        row = [f"{m.label} {arrow}", m.unit, fmt(vals.get(this))]
        for p in peers:
            r = ratio(metrics, m.key, p, this)
            row += [fmt(vals.get(p)), "-" if r is None else f"{r:.2f}"]
        out.append(row)
    return head, out


def text_table(result: dict[str, Any], this: str = THIS) -> str:
    return plain_table(*rows(result, this))


def plain_table(head: list[str], body: list[list[str]]) -> str:
    widths = [max(len(r[i]) for r in [head, *body]) for i in range(len(head))]
    lines = []
    for r in [head, None, *body]:
        if r is None:
            lines.append("  ".join("-" * w for w in widths))
            continue
        lines.append("  ".join(c.ljust(w) if i == 0 else c.rjust(w)
                               for i, (c, w) in enumerate(zip(r, widths, strict=True))))
    return "\n".join(lines)


def targets_text(result: dict[str, Any], key: str = "targets") -> str:
    lines = []
    for t in result[key]:
        v = "-" if t["value"] is None else f"{t['value']:.2f}"
        what = f"ratio {v}" if t["peer"] else f"value {v}"
        gap = f" ({t['gap']})" if t["gap"] else ""
        lines.append(f"{t['verdict']:4}  {t['target']}: {what}, needs {t['op']} "
                     f"{t['threshold']:g}{gap}")
    return "\n".join(lines)


def _md_table(head: list[str], body: list[list[str]]) -> list[str]:
    """A Markdown table: first column left-aligned, the figures right-aligned."""
    return ["| " + " | ".join(head) + " |",
            "|" + "|".join("---" if i == 0 else "---:" for i in range(len(head))) + "|",
            *("| " + " | ".join(r) + " |" for r in body)]


def _targets_md(targets: list[dict[str, Any]], title: str) -> list[str]:
    out = ["", title, "", "| target | measured | needs | verdict |", "|---|---:|---:|---|"]
    for t in targets:
        if t["verdict"] == "N/A":
            continue
        v = "-" if t["value"] is None else f"{t['value']:.2f}"
        gap = f" ({t['gap']})" if t["gap"] else ""
        out.append(f"| {t['target']} | {v} | {t['op']} {t['threshold']:g} | "
                   f"{t['verdict']}{gap} |")
    return out


MGMT_KEYS = ("mgmt_rps", "mgmt_p99", "mgmt_cpu_ms", "mgmt_pg_cpu_ms", "creds_rps", "creds_p99",
             "creds_cpu_ms", "creds_pg_cpu_ms")


def mgmt_rows(result: dict[str, Any]) -> tuple[list[str], list[list[str]]]:
    """The management API figures of every configuration of this server, side by side."""
    names = [n for n, s in result["servers"].items() if s.get("kind") == "this"
             and result["metrics"].get("mgmt_rps", {}).get(n) is not None]
    head = ["metric", "unit"] + [
        f"{n} ({result['servers'][n].get('database') or '?'})" for n in names]
    body = []
    for m in metrics_for(tuple(result["plan"]["list_sizes"])):
        if m.key in MGMT_KEYS and any(result["metrics"].get(m.key, {}).get(n) is not None
                                      for n in names):
            arrow = "^" if m.higher_better else "v"
            body.append([f"{m.label} {arrow}", m.unit] + [
                fmt(result["metrics"].get(m.key, {}).get(n)) for n in names])
    return head, body


def _mgmt_md(result: dict[str, Any]) -> list[str]:
    head, body = mgmt_rows(result)
    if len(head) < 3:
        return []
    return ["", "## Management API: SQLite and PostgreSQL", "", *_md_table(head, body)]


def markdown(result: dict[str, Any]) -> str:
    head, body = rows(result)
    m = result["machine"]
    out = [f"# Benchmark: {result['date']} ({result['mode']} run)", "",
           f"Machine: {machine_line(m)}.", "",
           "Servers (all on 127.0.0.1, side by side in the same run):", ""]
    for name, s in result["servers"].items():
        extra = f" — {s['note']}" if s.get("note") else ""
        out.append(f"- **{name}**: {s['label']}, {s['version']}{extra}")
    for name, why in result.get("skipped", {}).items():
        out.append(f"- **{name}**: not run — {why}")
    out += ["", f"Load generators: {result['load_generators']}", "",
            "Each figure is this server's value; `x peer` is this server's value divided by the "
            "peer's (^ higher is better, v lower is better).", "", *_md_table(head, body)]
    out += _targets_md(result["targets"], "## Targets (issue 15)")
    out += _mgmt_md(result)
    for name in variants(result):
        vhead, vbody = rows(result, name)
        what = ("this server on PostgreSQL (small objects and management API only; "
                "PostgreSQL's processes count in its CPU, not in its RSS)"
                if result["servers"][name].get("database") == "PostgreSQL" else
                "this server with one worker process (every workload but listing)")
        out += ["", f"## {result['servers'][name]['label']}", "",
                f"The same workloads against {what}; ratios to the same peers.", "",
                *_md_table(vhead, vbody)]
        out += _targets_md(result.get("variant_targets", {}).get(name, []),
                           f"### Targets with {result['servers'][name]['label']}")
    if result.get("notes"):
        out += ["", "## Notes", ""]
        out += [f"- {n}" for n in result["notes"]]
    out.append("")
    return "\n".join(out)

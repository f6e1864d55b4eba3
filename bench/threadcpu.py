"""CPU seconds per thread of a server's worker processes, by thread name (Linux): which of
a request's threads (the event loop, the group committer, the event deliverer, executors) a
cost lands in. Thread names come from ``py-spy dump`` (Python 3.11 does not name the OS
threads), CPU times from ``/proc/<pid>/task/<tid>/stat``."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections import defaultdict
from pathlib import Path

_THREAD = re.compile(r'Thread (\d+) \([^)]*\): "([^"]*)"')
_TICK = os.sysconf("SC_CLK_TCK")
# pools whose threads come and go: counted together
_POOLS = (("AnyIO worker", "AnyIO worker"), ("uvloop_", "executor"), ("asyncio_", "executor"))


def _py_spy() -> str:
    here = Path(sys.executable).parent / "py-spy"
    return str(here) if here.exists() else (shutil.which("py-spy") or "py-spy")


def thread_names(pid: int) -> dict[int, str]:
    """OS thread id -> the Python thread's name (empty if py-spy cannot read the process)."""
    out = subprocess.run([_py_spy(), "dump", "--pid", str(pid)],  # noqa: S603
                         capture_output=True, text=True, timeout=30).stdout
    names = {}
    for tid, name in _THREAD.findall(out):
        for prefix, pool in _POOLS:
            if name.startswith(prefix):
                name = pool
        names[int(tid)] = name
    return names


def thread_cpu(pid: int) -> dict[int, float]:
    """OS thread id -> user+system CPU seconds so far."""
    out: dict[int, float] = {}
    for tid in os.listdir(f"/proc/{pid}/task"):
        try:
            fields = Path(f"/proc/{pid}/task/{tid}/stat").read_text().rsplit(")", 1)[1].split()
        except (FileNotFoundError, ProcessLookupError):
            continue
        out[int(tid)] = (int(fields[11]) + int(fields[12])) / _TICK
    return out


class ThreadCpu:
    """``start()`` / ``stop()`` around a run: CPU seconds per thread name, summed over
    ``pids`` (threads py-spy did not name, e.g. started later, count as "other")."""

    def __init__(self, pids: list[int]) -> None:
        self.pids = pids
        self.names = {pid: thread_names(pid) for pid in pids}
        self._before: dict[int, dict[int, float]] = {}

    def start(self) -> None:
        self._before = {pid: thread_cpu(pid) for pid in self.pids}

    def stop(self) -> dict[str, float]:
        totals: dict[str, float] = defaultdict(float)
        for pid in self.pids:
            before = self._before.get(pid, {})
            for tid, cpu in thread_cpu(pid).items():
                name = self.names[pid].get(tid, "other")
                totals[name] += cpu - before.get(tid, 0.0)
        return dict(totals)

"""glibc malloc tuning (objectstore/malloc.py): the trim gives freed heap pages back, the
trimmer runs (and runs again in a forked worker), and the settings reach it."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import time

import pytest

from objectstore import malloc
from objectstore.config import Settings

pytestmark = pytest.mark.skipif(malloc._glibc() is None, reason="glibc only")

# A fragmented heap: 1 KiB blocks (past pymalloc, so glibc's), nine in ten freed, the tenth
# kept so that the holes are not at the top of the heap (where free() alone would give them
# back). Prints RSS before and after a trim, in KiB.
_FRAGMENT = textwrap.dedent("""
    import sys
    from objectstore import malloc

    def rss():
        for line in open("/proc/self/status"):
            if line.startswith("VmRSS:"):
                return int(line.split()[1])

    blocks = [bytes(1024) for _ in range(150_000)]
    kept = blocks[::10]
    del blocks
    before = rss()
    released = malloc.trim() if sys.argv[1] == "trim" else False
    print(before, rss(), int(released), len(kept))
""")


def _fragment(mode: str) -> tuple[int, int, bool]:
    env = dict(os.environ, MALLOC_TRIM_THRESHOLD_="1000000000")  # free() never trims itself
    out = subprocess.run([sys.executable, "-c", _FRAGMENT, mode], capture_output=True,
                         text=True, check=True, env=env).stdout.split()
    return int(out[0]), int(out[1]), out[2] == "1"


def test_trim_gives_freed_heap_pages_back() -> None:
    before, after, released = _fragment("trim")
    assert released
    assert before - after > 40 * 1024, (before, after)  # ~130 MiB freed in 9 KiB holes
    before, after, _ = _fragment("none")  # the control: without the trim they stay
    assert before - after < 8 * 1024, (before, after)


def test_trimmer_runs_every_interval(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[float] = []
    monkeypatch.setattr(malloc, "trim", lambda: calls.append(time.monotonic()) or True)
    try:
        malloc.configure(0, 0.02)
        assert malloc.trimmer_running()
        deadline = time.monotonic() + 5
        while len(calls) < 3 and time.monotonic() < deadline:
            time.sleep(0.01)
        assert len(calls) >= 3
    finally:
        malloc.stop_trimmer()
    assert not malloc.trimmer_running()
    count = len(calls)
    time.sleep(0.1)
    assert len(calls) == count  # stopped means stopped


def test_trimmer_off_with_zero_seconds() -> None:
    malloc.configure(0, 0)
    assert not malloc.trimmer_running()


def test_forked_worker_gets_its_own_trimmer() -> None:
    try:
        malloc.configure(0, 30)
        assert malloc.trimmer_running()
        pid = os.fork()
        if pid == 0:  # pragma: no cover - the child
            os._exit(0 if malloc.trimmer_running() else 3)
        _, status = os.waitpid(pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0
    finally:
        malloc.stop_trimmer()


def test_settings_defaults_and_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("OBJECTSTORE_MALLOC_ARENA_MAX", raising=False)
    monkeypatch.delenv("OBJECTSTORE_MALLOC_TRIM_SECONDS", raising=False)
    s = Settings()
    assert (s.malloc_arena_max, s.malloc_trim_seconds) == (2, 10.0)
    monkeypatch.setenv("OBJECTSTORE_MALLOC_ARENA_MAX", "0")
    monkeypatch.setenv("OBJECTSTORE_MALLOC_TRIM_SECONDS", "0")
    s = Settings()
    assert (s.malloc_arena_max, s.malloc_trim_seconds) == (0, 0.0)

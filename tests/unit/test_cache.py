"""The request-path cache: TTL, local invalidation, and invalidation seen across processes
through the shared change counter (two mappings of one file behave like two processes)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from objectstore.services.cache import MISS, SharedGeneration, TtlCache
from tests.support.aio import in_own_loop


def test_local_clear_and_ttl() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=60)
    cache.put("k", 1, cache.generation())
    assert cache.get("k") == 1
    cache.clear()
    assert cache.get("k") is MISS
    expired: TtlCache[str, int] = TtlCache(ttl=0)
    expired.put("k", 1, expired.generation())
    assert expired.get("k") is MISS


def test_a_read_that_raced_with_a_change_is_not_cached() -> None:
    cache: TtlCache[str, int] = TtlCache(ttl=60)
    generation = cache.generation()  # a lookup starts...
    cache.clear()  # ...a change lands before it stores what it read
    cache.put("k", 1, generation)
    assert cache.get("k") is MISS


def test_a_change_in_another_mapping_clears_this_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.generation"
    mine, theirs = SharedGeneration(path), SharedGeneration(path)
    here: TtlCache[str, int] = TtlCache(ttl=60, shared=mine)
    there: TtlCache[str, int] = TtlCache(ttl=60, shared=theirs)
    here.put("k", 1, here.generation())
    there.put("k", 1, there.generation())
    stale_generation = here.generation()
    there.clear()  # e.g. a credential suspended by another worker process
    assert there.get("k") is MISS
    assert here.get("k") is MISS, "the other process's change must reach this cache"
    here.put("k", 2, stale_generation)  # a lookup that began before the change
    assert here.get("k") is MISS
    here.put("k", 3, here.generation())
    assert here.get("k") == 3


def test_a_change_in_another_process_clears_this_cache(tmp_path: Path) -> None:
    path = tmp_path / "cache.generation"
    cache: TtlCache[str, int] = TtlCache(ttl=60, shared=SharedGeneration(path))
    cache.put("k", 1, cache.generation())
    code = ("import sys; from pathlib import Path; "
            "from objectstore.services.cache import SharedGeneration, TtlCache; "
            "TtlCache(shared=SharedGeneration(Path(sys.argv[1]))).clear()")
    subprocess.run([sys.executable, "-c", code, str(path)], check=True, timeout=60,
                   env={**os.environ})
    assert cache.get("k") is MISS


def test_concurrent_misses_share_one_load() -> None:
    """Every request of a busy store misses together when its entry expires: one load."""
    import asyncio
    import threading

    cache: TtlCache[str, str | None] = TtlCache(ttl=60)
    calls: list[str] = []
    gate = threading.Event()

    def load() -> str | None:
        calls.append("load")
        gate.wait(5)
        return None  # a cached "not found" is a value like any other

    async def main() -> list[str | None]:
        tasks = [asyncio.create_task(cache.get_or_load_async("k", load)) for _ in range(20)]
        await asyncio.sleep(0.05)
        gate.set()
        return list(await asyncio.gather(*tasks))

    assert in_own_loop(main()) == [None] * 20
    assert calls == ["load"]
    assert cache.get("k") is None  # kept


def test_a_miss_after_a_change_does_not_join_the_older_load() -> None:
    import asyncio
    import threading

    cache: TtlCache[str, int] = TtlCache(ttl=60)
    gate, started = threading.Event(), threading.Event()
    calls = [0]

    def load() -> int:  # each load answers its own rank (not which thread wakes first)
        calls[0] += 1
        mine = calls[0]
        started.set()
        gate.wait(5)
        return mine

    async def main() -> tuple[int, int]:
        first = asyncio.create_task(cache.get_or_load_async("k", load))
        while not started.is_set():  # the first load is under way
            await asyncio.sleep(0.005)
        cache.clear()  # a change while it runs
        second = asyncio.create_task(cache.get_or_load_async("k", load))
        await asyncio.sleep(0.05)
        gate.set()
        return await first, await second

    assert in_own_loop(main()) == (1, 2)
    assert cache.get("k") == 2  # the load begun before the change was not kept


def test_callers_that_joined_a_failed_load_load_again() -> None:
    import asyncio
    import threading

    cache: TtlCache[str, int] = TtlCache(ttl=60)
    gate = threading.Event()
    attempts: list[int] = []

    def load() -> int:
        attempts.append(1)
        if len(attempts) == 1:
            gate.wait(5)
            raise OSError("database gone")
        return 7

    async def main() -> list[object]:
        tasks = [asyncio.create_task(cache.get_or_load_async("k", load)) for _ in range(3)]
        await asyncio.sleep(0.05)
        gate.set()
        return list(await asyncio.gather(*tasks, return_exceptions=True))

    got = in_own_loop(main())
    assert isinstance(got[0], OSError) and got[1:] == [7, 7]


def test_misses_do_not_share_a_load_while_the_change_counter_is_untrusted() -> None:
    """With the cluster-wide counter down (a lost notification connection) a change made
    elsewhere cannot be told apart: each miss loads for itself, as nothing is kept."""
    import asyncio
    import threading

    class Untrusted(SharedGeneration):
        def usable(self) -> bool:
            return False

    cache: TtlCache[str, int] = TtlCache(ttl=60, shared=Untrusted(None))
    calls: list[int] = []
    gate = threading.Event()

    def load() -> int:
        calls.append(1)
        gate.wait(5)
        return len(calls)

    async def main() -> list[int]:
        tasks = [asyncio.create_task(cache.get_or_load_async("k", load)) for _ in range(3)]
        for _ in range(400):  # until every one is loading on its own (at most 2 s)
            if len(calls) >= 3:
                break
            await asyncio.sleep(0.005)
        gate.set()
        return list(await asyncio.gather(*tasks))

    assert sorted(in_own_loop(main())) == [3, 3, 3] and len(calls) == 3
    assert cache.get("k") is MISS

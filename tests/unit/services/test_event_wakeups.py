"""The deliverer's wake-ups: a write that recorded events for some targets wakes those
targets' idle loops and no other's. (Every idle target used to be woken by every write
recorded for any target: with a second, idle target, each PUT cost that target an outbox
query, a third of the PUTs per second in bench/notifications.py.)"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from objectstore.services.events.deliverer import EventDeliverer, _Wake
from tests.support.aio import in_own_loop


def _deliverer() -> EventDeliverer:
    none: Any = None
    return EventDeliverer(none, none, none, none, none)


def _count_threadsafe_calls(loop: asyncio.AbstractEventLoop) -> list[tuple[Any, ...]]:
    """Every ``call_soon_threadsafe`` on ``loop`` from now on, kept (and still made)."""
    calls: list[tuple[Any, ...]] = []
    original = loop.call_soon_threadsafe

    def counting(*args: Any) -> Any:
        calls.append(args)
        return original(*args)

    loop.call_soon_threadsafe = counting  # type: ignore[method-assign]
    return calls


def test_a_write_wakes_only_the_targets_it_recorded_events_for() -> None:
    async def scenario() -> dict[str, int]:
        d = _deliverer()
        d._loop = asyncio.get_running_loop()
        wakes = {t: _Wake() for t in ("a", "b", "c")}
        d._wakes.update(wakes)
        idle = [asyncio.create_task(EventDeliverer._idle(w, w.generation))
                for w in wakes.values()]
        await asyncio.sleep(0.05)
        assert all(w.waiting for w in wakes.values())
        # the committer thread reports a write that recorded events for "a" and "c"
        t = threading.Thread(target=d._kicked, args=({"a", "c"},))
        t.start()
        t.join()
        await asyncio.sleep(0.05)
        woken = {tid: w.generation for tid, w in wakes.items()}
        assert idle[0].done() and idle[2].done()
        assert not idle[1].done()  # "b" sleeps on (until IDLE_S, or a write of its own)
        d._bump(frozenset({"b"}))
        await asyncio.wait_for(idle[1], 1)
        return woken

    assert in_own_loop(scenario()) == {"a": 1, "b": 0, "c": 1}


def test_a_kick_is_not_sent_to_a_busy_target() -> None:
    """A loop in a round (not waiting) finds new events in its next round anyway: the write
    costs no cross-thread call then."""
    async def scenario() -> int:
        d = _deliverer()
        loop = d._loop = asyncio.get_running_loop()
        calls = _count_threadsafe_calls(loop)
        d._wakes["a"] = _Wake()  # not waiting
        d._kicked({"a"})
        d._kicked({"unknown"})
        return len(calls)

    assert in_own_loop(scenario()) == 0


def test_a_waiting_target_is_kicked_once_for_many_writes() -> None:
    """The writes that land while a kick is on its way cost no cross-thread call more."""
    async def scenario() -> tuple[int, bool]:
        d = _deliverer()
        loop = d._loop = asyncio.get_running_loop()
        calls = _count_threadsafe_calls(loop)
        wake = d._wakes["a"] = _Wake()
        idle = asyncio.create_task(EventDeliverer._idle(wake, wake.generation))
        await asyncio.sleep(0.05)
        t = threading.Thread(target=lambda: [d._kicked({"a"}) for _ in range(50)])
        t.start()
        t.join()
        await asyncio.wait_for(idle, 1)
        return len(calls), wake.generation == 1

    assert in_own_loop(scenario()) == (1, True)

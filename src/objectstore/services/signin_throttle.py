"""Slowing API-key guessing in the console, shared by every worker and gateway (the
database): each failed sign-in from a client waits longer, and after a few within the window
the client gets 429 until the window has passed.

A try is counted when it starts (:meth:`SignInThrottle.attempt`, one transaction with the
client's row locked) and forgotten only when it succeeds: tries sent all at once, or spread
over workers and gateways, are counted like tries sent one after another. A client is an
IPv4 address or an IPv6 /64 (one host's usual allocation: it has them all).
"""

from __future__ import annotations

import ipaddress
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import Engine, delete, select, update
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert

from ..storage.sql.engine import writing
from ..storage.sql.tables import signin_failures as t

SWEEP_S = 60.0  # old clients' rows are removed at most this often (per process)


def throttle_key(address: str) -> str:
    """The client a failure counts against: the IPv4 address, or the IPv6 /64."""
    try:
        ip = ipaddress.ip_address(address)
    except ValueError:
        return address[:64]
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network(f"{ip}/64", strict=False))
    return str(ip)


@dataclass(frozen=True)
class Attempt:
    """``retry_after``: seconds to wait, the try refused (None: it may go ahead);
    ``delay``: how long to hold the answer should the try fail (grows with each failure)."""

    retry_after: float | None
    delay: float


class SignInThrottle:
    def __init__(self, engine: Engine, *, max_failures: int = 5, window_s: float = 300.0,
                 base_delay_s: float = 0.25, max_delay_s: float = 2.0,
                 clock: Callable[[], float] = time.time) -> None:
        self.engine = engine
        self.max_failures, self.window_s = max_failures, window_s
        self.base_delay_s, self.max_delay_s = base_delay_s, max_delay_s
        self.clock = clock
        self._swept_at = float("-inf")

    def _insert(self) -> Any:
        return (pg_insert if self.engine.dialect.name == "postgresql" else sqlite_insert)(t)

    def attempt(self, address: str) -> Attempt:
        """Count a try from ``address`` (as a failure until :meth:`succeeded` says
        otherwise), or refuse it when the client has had ``max_failures`` in the window."""
        key = throttle_key(address)
        now = self.clock()
        if not self._swept_at <= now < self._swept_at + SWEEP_S:
            self._swept_at = now
            with writing(self.engine) as conn:  # clients whose window has passed
                conn.execute(delete(t).where(t.c.last_at < now - self.window_s))
        with writing(self.engine) as conn:
            stmt = self._insert().values(
                client=key, failures="", last_at=now).on_conflict_do_nothing()
            conn.execute(stmt)
            text = conn.execute(select(t.c.failures).where(t.c.client == key)
                                .with_for_update()).scalar() or ""
            recent = [x for x in (float(v) for v in text.split()) if now - x < self.window_s]
            if len(recent) >= self.max_failures:
                wait = max(0.0, self.window_s - (now - recent[-self.max_failures]))
                return Attempt(wait, 0.0)
            recent = [*recent, now][-self.max_failures:]
            conn.execute(update(t).where(t.c.client == key).values(
                failures=" ".join(f"{x:.6f}" for x in recent), last_at=now))
        n = len(recent)
        return Attempt(None, float(min(self.max_delay_s, self.base_delay_s * 2.0 ** (n - 1))))

    def retry_after(self, address: str) -> float | None:
        """Seconds this client must wait before it may try again, or None if it may now
        (a read: counts nothing)."""
        now = self.clock()
        with self.engine.connect() as conn:
            text = conn.execute(select(t.c.failures).where(
                t.c.client == throttle_key(address))).scalar() or ""
        recent = [x for x in (float(v) for v in text.split()) if now - x < self.window_s]
        if len(recent) < self.max_failures:
            return None
        return max(0.0, self.window_s - (now - recent[-self.max_failures]))

    def succeeded(self, address: str) -> None:
        with writing(self.engine) as conn:
            conn.execute(delete(t).where(t.c.client == throttle_key(address)))

"""``python -m bench.headload HOST PORT TARGETS SECONDS CONNS``: fixed-time HEAD load.

wrk cannot do HEAD against a server that sends ``Content-Length`` (its HTTP parser then
waits for a body that never comes), so HEAD gets this small load generator instead: an
asyncio (uvloop) client in its own process, one request in flight per keep-alive
connection, request bytes built before the clock starts, round-robin over the targets
file (one presigned request target a line). It prints the same ``BENCHJSON {...}`` line
as bench/paths.lua (counts, duration and latency percentiles in µs), so the bench treats
both alike. It is Python: it needs roughly 30-50 µs of CPU per request, which the bench
records as ``client_cpu_pct``.
"""

from __future__ import annotations

import asyncio
import json
import sys
import time
from typing import Any


class _Conn(asyncio.Protocol):
    def __init__(self, run: _Run) -> None:
        self.run = run
        self.buf = b""
        self.t0 = 0.0
        self.transport: Any = None  # uvloop's transports are not asyncio.Transport
        self.lost = asyncio.get_running_loop().create_future()

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport
        self._send()

    def _send(self) -> None:
        run = self.run
        if time.monotonic() >= run.deadline:
            self.transport.close()
            return
        run.idx = (run.idx + 1) % len(run.requests)
        self.t0 = time.perf_counter()
        self.transport.write(run.requests[run.idx])

    def data_received(self, data: bytes) -> None:
        self.buf += data
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        run = self.run
        run.latencies.append(time.perf_counter() - self.t0)
        run.requests_done += 1
        head = self.buf[:end]
        self.buf = self.buf[end + 4:]  # a HEAD response has no body
        status = int(head[9:12])
        if not 200 <= status < 300:
            run.bad_status += 1
        if b"\r\nconnection: close" in head.lower():
            self.transport.close()
            return
        self._send()

    def connection_lost(self, exc: Exception | None) -> None:
        if not self.lost.done():
            self.lost.set_result(exc)


class _Run:
    def __init__(self, requests: list[bytes], seconds: float) -> None:
        self.requests = requests
        self.idx = 0
        self.deadline = time.monotonic() + seconds
        self.latencies: list[float] = []
        self.requests_done = 0
        self.bad_status = 0
        self.connect_errors = 0
        self.timeouts = 0


async def _main(host: str, port: int, requests: list[bytes], seconds: float,
                conns: int) -> dict[str, float]:
    loop = asyncio.get_running_loop()
    run = _Run(requests, seconds)
    t0 = time.perf_counter()

    async def one() -> None:
        while time.monotonic() < run.deadline:
            try:
                _t, proto = await loop.create_connection(lambda: _Conn(run), host, port)
            except OSError:
                run.connect_errors += 1
                await asyncio.sleep(0.01)
                continue
            # closed at the deadline, or by the server (then reconnect); a connection that
            # has not finished 10 s after the deadline (a response that never came) is cut
            try:
                await asyncio.wait_for(asyncio.shield(proto.lost),
                                       run.deadline - time.monotonic() + 10)
            except TimeoutError:
                run.timeouts += 1
                proto.transport.close()
                return

    await asyncio.gather(*(one() for _ in range(conns)))
    dur = time.perf_counter() - t0
    lat = sorted(run.latencies) or [0.0]

    def pct(p: float) -> int:
        return round(1e6 * lat[min(len(lat) - 1, int(p / 100 * len(lat)))])

    return {"requests": run.requests_done, "duration_us": round(dur * 1e6), "bytes": 0,
            "connect": run.connect_errors, "read": 0, "write": 0, "status": run.bad_status,
            "timeout": run.timeouts, "p50": pct(50), "p90": pct(90), "p99": pct(99),
            "p999": pct(99.9),
            "mean": 1e6 * sum(lat) / len(lat), "max": round(1e6 * lat[-1])}


def main(argv: list[str]) -> int:
    host, port, targets, seconds, conns = argv
    hosthdr = f"{host}:{port}"
    with open(targets) as f:
        reqs = [f"HEAD {t} HTTP/1.1\r\nHost: {hosthdr}\r\n\r\n".encode()
                for t in (line.strip() for line in f) if t]
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    res = runner(_main(host, int(port), reqs, float(seconds), int(conns)))
    print("BENCHJSON " + json.dumps(res), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

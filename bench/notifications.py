"""Bucket event notifications, what they cost: 4 KiB PUTs/s into a bucket with one webhook
target (every PUT announced: ObjectCreated:*) next to a bucket without any, on one server in
one run (alternating runs, each rep starting with another one, so all see the same disk,
load and database size), with wrk as in the ``small``
workload. The webhook receiver is a separate process on 127.0.0.1 answering 200 to each
POST. Before each run the bench waits for every target's backlog to be delivered (no run
pays for another's deliveries), and reports how long each wait and the last one took.
Run by hand: ``.venv/bin/python -m bench.notifications [--seconds 8] [--reps 12]`` (~7 min;
twelve reps: on a 2-core VM a single run's PUT/s swings by a third from rep to rep)."""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import boto3
import httptools
import psutil
import uvloop

from .servers import HOST, ThisServer, free_port
from .threadcpu import ThreadCpu
from .workloads import Plan, _cpu_per_request, _targets_file, _wrk, settle

SIZE = 4096


class _Receiver(asyncio.Protocol):
    """A minimal HTTP/1.1 keep-alive receiver: 200 to every request, body discarded. Parsed
    by httptools in a plain Protocol (no streams): the receiver shares the 2 cores with the
    server, so its CPU per POST is the benchmark's, not the server's, and is kept small."""

    OK = b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport: Any = transport  # (uvloop's is no asyncio.Transport subclass)
        self.parser = httptools.HttpRequestParser(self)

    def data_received(self, data: bytes) -> None:
        try:
            self.parser.feed_data(data)
        except httptools.HttpParserError:
            self.transport.close()

    def on_message_complete(self) -> None:
        self.transport.write(self.OK)


async def _receive(port: int) -> None:
    server = await asyncio.get_running_loop().create_server(_Receiver, HOST, port)
    async with server:
        await server.serve_forever()


def _api_json(server: ThisServer, method: str, path: str, **kw: Any) -> Any:
    with server.api() as api:
        r = api.request(method, path, **kw)
        r.raise_for_status()
        return r.json()


def _drain(server: ThisServer, targets: dict[str, Any]) -> tuple[float, list[Any]]:
    """Wait until every target's backlog is empty (at most 600 s): the seconds it took, and
    the targets as the API shows them then."""
    t0 = time.monotonic()
    while True:
        ts = [_api_json(server, "GET", f"/v2/objectstore/event-targets/{t['id']}")
              for t in targets.values()]
        if all(t["backlog"] == 0 for t in ts) or time.monotonic() - t0 > 600:
            return time.monotonic() - t0, ts
        time.sleep(0.2)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.notifications", description=__doc__)
    ap.add_argument("--seconds", type=float, default=8.0)
    ap.add_argument("--reps", type=int, default=12)
    ap.add_argument("--conns", type=int, default=64)
    ap.add_argument("--tmp", type=Path, default=None)
    ap.add_argument("--workers", type=int, default=None,
                    help="the server's --workers (default: its own default, one per core)")
    ap.add_argument("--receiver", type=int, default=None, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.receiver is not None:
        uvloop.run(_receive(args.receiver))
        return 0
    plan = Plan(quick=False)
    hook_port = free_port()
    receiver = subprocess.Popen([sys.executable, "-m", "bench.notifications",  # noqa: S603
                                 "--receiver", str(hook_port)])
    ops: dict[str, list[float]] = {"none": [], "webhook": [], "batched": []}
    threads: dict[str, dict[str, float]] = {k: {} for k in ops}  # CPU s per thread name
    requests: dict[str, float] = dict.fromkeys(ops, 0.0)
    cpu: dict[str, list[float]] = {"none": [], "webhook": [], "batched": []}  # ms per PUT
    try:
        with tempfile.TemporaryDirectory(dir=args.tmp) as tmp:
            server = ThisServer(Path(tmp))
            server.worker_flag = args.workers
            server.start()
            try:
                server.make_bucket("plain")
                targets = {}
                for bucket, batch in (("notified", 1), ("batched", 100)):
                    server.make_bucket(bucket)
                    target = targets[bucket] = _api_json(
                        server, "POST", "/v2/objectstore/event-targets", json={
                            "name": f"bench-{bucket}", "type": "webhook",
                            "batch_size": batch,
                            "endpoint": f"http://{HOST}:{hook_port}/events"})
                    ak, sk = server.creds(bucket)
                    boto3.client("s3", endpoint_url=f"http://{HOST}:{server.port}",
                                 aws_access_key_id=ak, aws_secret_access_key=sk,
                                 region_name="LON1").put_bucket_notification_configuration(
                        Bucket=bucket, NotificationConfiguration={"QueueConfigurations": [{
                            "QueueArn": target["arn"], "Events": ["s3:ObjectCreated:*"]}]})
                url = f"http://{HOST}:{server.port}/"
                assert server.proc is not None
                per_thread = ThreadCpu([c.pid for c in
                                        psutil.Process(server.proc.pid).children()]
                                       or [server.proc.pid])
                runs = [("plain", "none"), ("notified", "webhook"), ("batched", "batched")]
                drains: list[float] = []
                for rep in range(args.reps):
                    # each rep starts with another of the three: the database grows run by
                    # run, and a fixed order would hand the later runs a bigger one
                    for bucket, label in runs[rep % 3:] + runs[:rep % 3]:
                        p = server.presigner(bucket)
                        paths = _targets_file(Path(tmp) / "wrk" / f"{bucket}-{rep}.txt", [
                            p.target("PUT", f"/{bucket}/r{rep}/p-{i:06d}")
                            for i in range(40_000)])
                        # the runs before: their events delivered, so that no run pays for
                        # the deliveries of another (a backlog left by the webhook runs made
                        # the next run's PUT/s swing)
                        drains.append(_drain(server, targets)[0])
                        settle()
                        per_thread.start()
                        res = _cpu_per_request(server, lambda url=url, paths=paths: _wrk(
                            url, paths, "PUT", SIZE, args.seconds, args.conns,
                            plan.wrk_threads))
                        for name, cpu_s in per_thread.stop().items():
                            threads[label][name] = threads[label].get(name, 0.0) + cpu_s
                        requests[label] += res["ops"] * args.seconds
                        ops[label].append(res["ops"])
                        cpu[label].append(res["cpu_ms_per_request"])
                        print(f"  rep {rep + 1}: {label:8s} {res['ops']:8.0f} PUT/s "
                              f"{res['cpu_ms_per_request']:6.3f} server CPU ms/PUT "
                              f"(errors {100 * res['error_fraction']:.2f}%)", flush=True)
                drain, ts = _drain(server, targets)
            finally:
                server.stop()
    finally:
        receiver.terminate()
        receiver.wait(timeout=10)
    none, c_none = statistics.median(ops["none"]), statistics.median(cpu["none"])
    workers = f"--workers {args.workers}" if args.workers else "the default workers"
    print(f"4 KiB PUT, {args.conns} connections, {workers}, median of {args.reps} x "
          f"{args.seconds:.0f} s (server CPU per PUT includes the deliverer's):")
    print(f"  no notification              {none:8.0f} PUT/s  {c_none:.3f} ms CPU/PUT")
    for label, text in (("webhook", "one webhook (1 record/POST)"),
                        ("batched", "one webhook, batch_size 100")):
        o, c = statistics.median(ops[label]), statistics.median(cpu[label])
        # each rep's three runs are adjacent: the ratio within a rep cancels the drift
        # between reps (the database grows, the load around changes)
        paired = statistics.median(a / b for a, b in zip(ops[label], ops["none"], strict=True))
        print(f"  {text:28s} {o:8.0f} PUT/s  {c:.3f} ms CPU/PUT  = {100 * o / none:5.1f}% "
              f"of the PUTs/s ({100 * (1 - o / none):+.1f}% fewer; goal <= 10% fewer; "
              f"median of the reps' ratios {100 * (1 - paired):+.1f}%), "
              f"CPU {100 * (c / c_none - 1):+.1f}%")
    names = sorted({n for t in threads.values() for n in t},
                   key=lambda n: -threads["webhook"].get(n, 0.0))
    print("  server CPU per PUT by thread (all reps), µs:  none / one record per POST / "
          "batch_size 100")
    for n in names:
        cells = [1e6 * threads[k].get(n, 0.0) / max(requests[k], 1) for k in threads]
        if max(cells) >= 1:
            print(f"    {n:24s}" + "".join(f"{c:9.1f}" for c in cells))
    for t in ts:
        print(f"  {t['name']}: delivered {t['delivered']} events, retried {t['retried']}, "
              f"failed {t['failed']}")
    print(f"  backlogs drained {drain:.1f} s after the last run; before each run: "
          f"{' '.join(f'{d:.1f}' for d in drains)} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

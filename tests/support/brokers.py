"""The message brokers the event-target tests deliver to (issue 25).

The shared ones are the throwaway instances ``scripts/ensure-brokers.sh`` starts (``make test``
does) and ``scripts/broker-env.sh`` names in OBJECTSTORE_TEST_{AMQP,NATS,REDIS}_URL. A test
that needs one fails when its variable is set and the broker does not answer; without the
variable it is skipped (``make test-sqlite`` starts no brokers).

Tests that stop, hang or configure a broker start a private NATS or Redis of their own (the
same Debian binaries, a free port, a temp dir), or put a ``TcpProxy`` between the sender and
the shared RabbitMQ."""

from __future__ import annotations

import asyncio
import contextlib
import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.pg import free_port

REPO = Path(__file__).resolve().parents[2]
ENV = {"amqp": "OBJECTSTORE_TEST_AMQP_URL", "nats": "OBJECTSTORE_TEST_NATS_URL",
       "redis": "OBJECTSTORE_TEST_REDIS_URL"}


def broker_url(kind: str) -> str:
    """The shared broker's URL; skip without the env, fail when it does not answer."""
    url = os.environ.get(ENV[kind])
    if not url:
        pytest.skip(f"{ENV[kind]} not set: run `bash scripts/ensure-brokers.sh` and "
                    "`. scripts/broker-env.sh` (make test does)")
    from urllib.parse import urlsplit

    parts = urlsplit(url)
    try:
        socket.create_connection((parts.hostname, parts.port), timeout=3).close()
    except OSError as exc:
        pytest.fail(f"{ENV[kind]}={url} is set but the broker does not answer ({exc}): "
                    "run `bash scripts/ensure-brokers.sh`")
    return url


def broker_binary(kind: str) -> str:
    """nats-server or redis-server (only where the env says the brokers are installed)."""
    broker_url(kind)
    name = {"nats": "nats-server", "redis": "redis-server"}[kind]
    path = shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None)
    if path is None:
        pytest.fail(f"{name} not found although {ENV[kind]} is set: "
                    "run `bash scripts/ensure-brokers.sh`")
    return path


def wait_port(port: int, timeout: float = 10.0) -> None:
    deadline = time.monotonic() + timeout
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.5).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.02)


class PrivateBroker:
    """A nats-server or redis-server of the test's own: start, stop (SIGTERM), freeze
    (SIGSTOP) and thaw, start again on the same port."""

    def __init__(self, kind: str, workdir: Path, config: str = "") -> None:
        self.kind = kind
        self.bin = broker_binary(kind)
        self.dir = workdir / f"{kind}-{os.getpid()}-{free_port()}"
        self.dir.mkdir(parents=True)
        self.port = free_port()
        self.config = config
        self.proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return (f"nats://127.0.0.1:{self.port}" if self.kind == "nats"
                else f"redis://127.0.0.1:{self.port}/0")

    def start(self) -> None:
        if self.kind == "nats":
            args = [self.bin, "-a", "127.0.0.1", "-p", str(self.port)]
            if self.config:
                conf = self.dir / "nats.conf"
                conf.write_text(self.config)
                args += ["-c", str(conf)]
        else:
            args = [self.bin, "--bind", "127.0.0.1", "--port", str(self.port), "--dir",
                    str(self.dir), "--save", "", "--appendonly", "no", *self.config.split()]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
                                     cwd=self.dir)
        wait_port(self.port)

    def stop(self) -> None:
        proc, self.proc = self.proc, None
        if proc is None:
            return
        with contextlib.suppress(ProcessLookupError):
            proc.send_signal(signal.SIGCONT)
            proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()

    def freeze(self) -> None:
        """SIGSTOP, and wait until every thread has stopped (a Go server's threads may
        still answer for a moment after the signal is sent)."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGSTOP)
        task_dir = Path(f"/proc/{self.proc.pid}/task")
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            states = []
            for t in task_dir.iterdir():
                with contextlib.suppress(OSError):
                    states.append((t / "stat").read_text().rsplit(")", 1)[1].split()[0])
            if states and all(st == "T" for st in states):
                return
            time.sleep(0.01)
        raise AssertionError(f"{self.kind} server did not stop")

    def thaw(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGCONT)


@contextlib.contextmanager
def private_broker(kind: str, workdir: Path, config: str = "") -> Iterator[PrivateBroker]:
    broker = PrivateBroker(kind, workdir, config)
    broker.start()
    try:
        yield broker
    finally:
        broker.stop()


def rabbitmqctl(*args: str) -> None:
    """rabbitmqctl on the shared test node (through scripts/ensure-brokers.sh)."""
    subprocess.run(["bash", str(REPO / "scripts" / "ensure-brokers.sh"), "rabbitmqctl", *args],
                   check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, timeout=60)


class TcpProxy:
    """A loopback TCP proxy to a broker, on the test's event loop. ``blackhole()``: the
    connections stay open but nothing gets through either way (a hung broker or a lost
    network); ``forward()``: traffic flows again (new connections)."""

    def __init__(self, target_port: int) -> None:
        self.target_port = target_port
        self.port = 0
        self.blackholed = False
        self._server: asyncio.Server | None = None
        self._writers: set[asyncio.StreamWriter] = set()

    async def start(self) -> None:
        self._server = await asyncio.start_server(self._handle, "127.0.0.1", self.port)
        self.port = self._server.sockets[0].getsockname()[1]

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            for w in list(self._writers):
                w.transport.abort()
            await self._server.wait_closed()

    def blackhole(self) -> None:
        self.blackholed = True

    def forward(self) -> None:
        """Traffic flows again; the connections that were black-holed are cut (as a
        broker's restart would), so clients must reconnect."""
        self.blackholed = False
        for w in list(self._writers):
            w.transport.abort()
        self._writers.clear()

    async def _handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self._writers.add(writer)
        if self.blackholed:
            with contextlib.suppress(Exception):
                while await reader.read(65536):
                    pass
            return
        try:
            up_reader, up_writer = await asyncio.open_connection("127.0.0.1", self.target_port)
        except OSError:
            writer.transport.abort()
            return
        self._writers.add(up_writer)

        async def pump(src: asyncio.StreamReader, dst: asyncio.StreamWriter) -> None:
            with contextlib.suppress(Exception):
                while data := await src.read(65536):
                    if not self.blackholed:
                        dst.write(data)
                        await dst.drain()
            dst.transport.abort()

        await asyncio.gather(pump(reader, up_writer), pump(up_reader, writer))

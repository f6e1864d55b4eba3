"""The servers under test: start each on 127.0.0.1 with a fresh temp dir, create buckets, stop."""

from __future__ import annotations

import contextlib
import json
import os
import random
import re
import shutil
import signal
import socket
import subprocess
import sys
import time
from importlib import metadata
from pathlib import Path
from typing import Any

import httpx
import psutil

from .client import one_request
from .sigv4 import Presigner

HOST = "127.0.0.1"
BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def free_port(also_plus: int = 0) -> int:
    """A free loopback port (and port+also_plus free too, for servers that derive gRPC ports)."""
    for _ in range(200):
        port = random.randint(20000, 40000)  # noqa: S311
        try:
            for p in (port, port + also_plus) if also_plus else (port,):
                with socket.socket() as s:
                    s.bind((HOST, p))
        except OSError:
            continue
        return port
    raise RuntimeError("no free port")


def wait_port(port: int, proc: subprocess.Popen[bytes], timeout: float, log: Path) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"exited with {proc.returncode}: {_tail(log)}")
        with contextlib.suppress(OSError), socket.create_connection((HOST, port), timeout=1):
            return
        time.sleep(0.1)
    raise RuntimeError(f"port {port} not open after {timeout:.0f} s: {_tail(log)}")


def _tail(log: Path) -> str:
    try:
        return log.read_text(errors="replace")[-1500:]
    except OSError:
        return ""


class Server:
    """One server process. Subclasses set ``name``, ``label`` and implement ``_start``."""

    name = ""
    label = ""
    kind = "peer"  # "this" | "peer" | "bare"
    database = ""  # this server's metadata database ("SQLite", "PostgreSQL")
    only: frozenset[str] | None = None  # the workloads it runs (None: all)
    access_key = "AKBENCHPEER0000000000"
    secret_key = "SKbenchpeer/0000000000000000000000000000"

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir / self.name
        self.port = 0
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = self.workdir / "server.log"
        self._creds: dict[str, tuple[str, str]] = {}
        self.version = ""
        self.note = ""

    # -- lifecycle -----------------------------------------------------------------------
    def start(self) -> None:
        if self.workdir.exists():
            shutil.rmtree(self.workdir)
        self.workdir.mkdir(parents=True)
        self.version = self._version()
        self._start()

    def _spawn(self, argv: list[str], env: dict[str, str] | None = None) -> None:
        with open(self.log, "wb") as logf:
            self.proc = subprocess.Popen(  # noqa: S603
                argv, stdout=logf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
                cwd=self.workdir, env={**os.environ, **(env or {})}, start_new_session=True)

    def _start(self) -> None:
        raise NotImplementedError

    def _version(self) -> str:
        return ""

    def stop(self) -> None:
        p = self.proc
        if p is None or p.poll() is not None:
            return
        with contextlib.suppress(ProcessLookupError):
            os.killpg(p.pid, signal.SIGTERM)  # the session we started for it, by its id
        try:
            p.wait(15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(p.pid, signal.SIGKILL)
            p.wait(5)

    def cleanup(self) -> None:
        shutil.rmtree(self.workdir, ignore_errors=True)

    def _tree_sum(self, measure: Any) -> float:
        """``measure(process)`` summed over the server's process tree (0 if it is gone)."""
        if self.proc is None:
            return 0
        try:
            root = psutil.Process(self.proc.pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += measure(p)
        return total

    def rss(self) -> int:
        """Resident set size of the server's process tree, bytes."""
        return int(self._tree_sum(lambda p: p.memory_info().rss))

    def pss(self) -> int:
        """Proportional set size of the process tree, bytes: pages shared between the
        processes (a forked supervisor and its workers) are divided among them, not counted
        once per process as in ``rss()``."""
        return int(self._tree_sum(lambda p: p.memory_full_info().pss))

    def cpu_seconds(self) -> float:
        """User+system CPU seconds of the process tree, each process's reaped children
        included (a child that exits keeps counting)."""
        return float(self._tree_sum(lambda p: sum(p.cpu_times()[:4])))

    def processes(self) -> int:
        """Processes in the server's tree."""
        return int(self._tree_sum(lambda p: 1))

    def workers(self) -> int:
        """Worker processes: the root's children if it has any (a supervisor), else 1."""
        if self.proc is None:
            return 0
        try:
            return len(psutil.Process(self.proc.pid).children()) or 1
        except psutil.NoSuchProcess:
            return 0

    # -- S3 ------------------------------------------------------------------------------
    def creds(self, bucket: str) -> tuple[str, str]:
        return self._creds.get(bucket, (self.access_key, self.secret_key))

    def presigner(self, bucket: str, expires: int = 6 * 3600) -> Presigner:
        ak, sk = self.creds(bucket)
        return Presigner(f"{HOST}:{self.port}", ak, sk, expires=expires)

    def make_bucket(self, bucket: str) -> None:
        target = self.presigner(bucket).target("PUT", f"/{bucket}")
        r = one_request(HOST, self.port, "PUT", target, b"", timeout=60)
        if r.status not in (200, 204, 409):
            raise RuntimeError(f"{self.name}: CreateBucket {bucket}: HTTP {r.status} "
                               f"{r.body[:300]!r}")

    def wait_s3(self, timeout: float = 60) -> None:
        """Wait until ListBuckets (or any answer for bare servers) succeeds."""
        assert self.proc is not None
        wait_port(self.port, self.proc, timeout, self.log)
        deadline = time.monotonic() + timeout
        last = ""
        while time.monotonic() < deadline:
            try:
                target = Presigner(f"{HOST}:{self.port}", self.access_key,
                                   self.secret_key).target("GET", "/")
                r = one_request(HOST, self.port, "GET", target, timeout=10)
                if r.status == 200:
                    return
                last = f"HTTP {r.status} {r.body[:200]!r}"
            except OSError as exc:
                last = repr(exc)
            time.sleep(0.3)
        raise RuntimeError(f"{self.name}: S3 not ready: {last}")


class ThisServer(Server):
    name = "objectstore"
    label = "objectstore (this)"
    kind = "this"
    api_key = "bench-api-key-0123456789"

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.api_port = 0

    def _version(self) -> str:
        v = metadata.version("objectstore")
        with contextlib.suppress(Exception):
            head = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT,  # noqa: S607
                                  capture_output=True, text=True, timeout=10).stdout.strip()
            dirty = subprocess.run(["git", "status", "--porcelain", "--", "src"],  # noqa: S607
                                   cwd=ROOT, capture_output=True, text=True,
                                   timeout=10).stdout.strip()
            v += f" ({head}{' + uncommitted src changes' if dirty else ''})"
        return v

    worker_flag: int | None = None  # --workers N; None: the server's default
    database = "SQLite"
    versioned = False  # buckets with versioning enabled (set by --versioned)

    def _serve_flags(self) -> list[str]:
        return [] if self.worker_flag is None else ["--workers", str(self.worker_flag)]

    def _start(self) -> None:
        self.port, self.api_port = free_port(), free_port()
        self._spawn([str(BIN / "objectstore"), "serve", "--data-dir", str(self.workdir / "data"),
                     "--api-port", str(self.api_port), "--s3-port", str(self.port),
                     "--log-level", "warning", *self._serve_flags()],
                    env={"OBJECTSTORE_API_KEY": self.api_key})
        assert self.proc is not None
        wait_port(self.api_port, self.proc, 60, self.log)
        wait_port(self.port, self.proc, 60, self.log)

    def api(self) -> httpx.Client:
        return httpx.Client(base_url=f"http://{HOST}:{self.api_port}", timeout=60,
                            headers={"Authorization": f"bearer {self.api_key}"})

    def make_bucket(self, bucket: str) -> None:
        with self.api() as api:
            r = api.post("/v2/objectstores", json={"name": bucket, "region": "LON1"})
            r.raise_for_status()
            cred_id = r.json()["owner_info"]["credential_id"]
            c = api.get(f"/v2/objectstore/credentials/{cred_id}", params={"region": "LON1"})
            c.raise_for_status()
            body = c.json()
        self._creds[bucket] = (body["access_key_id"], body["secret_access_key_id"])
        if self.versioned:  # --versioned: what versioning itself costs
            import boto3

            s3 = boto3.client("s3", endpoint_url=f"http://{HOST}:{self.port}",
                              aws_access_key_id=self._creds[bucket][0],
                              aws_secret_access_key=self._creds[bucket][1],
                              region_name="LON1")
            s3.put_bucket_versioning(Bucket=bucket,
                                     VersioningConfiguration={"Status": "Enabled"})


class Rclone(Server):
    name = "rclone"
    label = "rclone serve s3"

    def _version(self) -> str:
        out = subprocess.run([str(BIN / "rclone"), "version"], capture_output=True,  # noqa: S603
                             text=True, timeout=30).stdout
        return out.splitlines()[0].removeprefix("rclone ") if out else "?"

    def _start(self) -> None:
        self.port = free_port()
        (self.workdir / "root").mkdir()
        (self.workdir / "rclone.conf").write_text("")
        self._spawn([str(BIN / "rclone"), "serve", "s3", "--addr", f"{HOST}:{self.port}",
                     "--auth-key", f"{self.access_key},{self.secret_key}",
                     "--config", str(self.workdir / "rclone.conf"), str(self.workdir / "root")])
        self.wait_s3()


class Moto(Server):
    name = "moto"
    label = "moto server"

    def _version(self) -> str:
        return metadata.version("moto")

    def _start(self) -> None:
        self.port = free_port()
        self._spawn([sys.executable, "-m", "moto.server", "-H", HOST, "-p", str(self.port)],
                    env={"AWS_ACCESS_KEY_ID": self.access_key,
                         "AWS_SECRET_ACCESS_KEY": self.secret_key,
                         "AWS_DEFAULT_REGION": "us-east-1"})
        self.wait_s3()


class Seaweed(Server):
    name = "seaweedfs"
    label = "SeaweedFS (weed mini)"

    def _version(self) -> str:
        out = subprocess.run([str(BIN / "weed"), "version"], capture_output=True,  # noqa: S603
                             text=True, timeout=30).stdout
        m = re.search(r"(\d+\.\d+(\.\d+)?)", out)
        return m.group(1) if m else "?"

    def _start(self) -> None:
        conf = self.workdir / "s3.json"
        conf.write_text(json.dumps({"identities": [{
            "name": "bench", "credentials": [{"accessKey": self.access_key,
                                              "secretKey": self.secret_key}],
            "actions": ["Admin", "Read", "Write", "List", "Tagging"]}]}))
        ports = {k: free_port(10000) for k in ("master", "volume", "filer", "s3", "admin")}
        self.port = ports["s3"]
        self._spawn([str(BIN / "weed"), "mini", f"-dir={self.workdir / 'data'}",
                     f"-ip={HOST}", f"-ip.bind={HOST}",
                     f"-master.port={ports['master']}", f"-volume.port={ports['volume']}",
                     f"-filer.port={ports['filer']}", f"-s3.port={ports['s3']}",
                     f"-admin.port={ports['admin']}", f"-s3.port.iceberg={free_port()}",
                     f"-s3.port.lance={free_port()}", "-webdav=false", "-admin.ui=false",
                     "-master.telemetry=false", f"-s3.config={conf}"])
        self.wait_s3(timeout=120)


class Bare(Server):
    name = "bare"
    label = "bare ASGI reference"
    kind = "bare"

    def _version(self) -> str:
        return f"uvicorn {metadata.version('uvicorn')} + httptools + uvloop"

    def _start(self) -> None:
        self.port = free_port()
        self._spawn([sys.executable, "-m", "bench.bare", "--port", str(self.port),
                     "--data-dir", str(self.workdir / "data")],
                    env={"PYTHONPATH": str(ROOT)})
        self.wait_s3()

    def make_bucket(self, bucket: str) -> None:
        pass


class ThisServerOneWorker(ThisServer):
    """This server again with ``--workers 1``: what one process does (and, against the
    default, what each extra worker costs in memory)."""

    name = "objectstore-w1"
    label = "objectstore (this), --workers 1"
    worker_flag = 1


class ThisServerPostgres(ThisServer):
    """This server on a throwaway PostgreSQL of its own (devcluster.Postgres: initdb in a
    temp dir, loopback port, durable settings), default worker settings. The PostgreSQL
    processes count in its CPU (SQLite runs inside the server's process), not in its RSS
    (summed RSS counts PostgreSQL's shared buffers once per backend)."""

    name = "objectstore-pg"
    label = "objectstore (this) on PostgreSQL"
    database = "PostgreSQL"
    only = frozenset({"small", "mgmt"})

    def __init__(self, workdir: Path) -> None:
        super().__init__(workdir)
        self.pg: Any = None
        self.pg_version = ""

    def _version(self) -> str:
        return super()._version() + (f"; {self.pg_version}" if self.pg_version else "")

    def _start(self) -> None:
        import tempfile

        from objectstore.cli.devcluster import Postgres

        # its own temp dir beside the bench's (that one is 0700: the postgres user, when
        # the bench runs as root, could not enter it)
        self.pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-bench-pg-",
                                                 dir=self.workdir.parent.parent)))
        # initdb's chatter goes to a log, not the bench's output (pg_ctl inherits fd 1)
        with open(self.workdir / "postgres-init.log", "wb") as f:
            sys.stdout.flush()
            saved = os.dup(1)
            os.dup2(f.fileno(), 1)
            try:
                url = self.pg.start()
            finally:
                os.dup2(saved, 1)
                os.close(saved)
        with contextlib.suppress(Exception):
            out = subprocess.run([str(self.pg._bin() / "postgres"), "--version"],  # noqa: S603
                                 capture_output=True, text=True, timeout=10).stdout
            self.pg_version = out.strip().removeprefix("postgres (PostgreSQL) ")
            self.pg_version = f"PostgreSQL {self.pg_version}"
            self.version = self._version()
        self.database_url = url
        super()._start()

    def _serve_flags(self) -> list[str]:
        return [*super()._serve_flags(), "--database-url", self.database_url]

    def _pg_pid(self) -> int | None:
        try:
            return int((self.pg.root / "data" / "postmaster.pid").read_text().split()[0])
        except (OSError, ValueError, IndexError, AttributeError):
            return None

    def _pg_sum(self, measure: Any) -> float:
        pid = self._pg_pid()
        if not pid:
            return 0
        try:
            root = psutil.Process(pid)
            procs = [root, *root.children(recursive=True)]
        except psutil.NoSuchProcess:
            return 0
        total = 0
        for p in procs:
            with contextlib.suppress(psutil.NoSuchProcess):
                total += measure(p)
        return total

    def pg_cpu_seconds(self) -> float:
        return float(self._pg_sum(lambda p: sum(p.cpu_times()[:4])))

    def cpu_seconds(self) -> float:
        return super().cpu_seconds() + self.pg_cpu_seconds()

    def pg_rss(self) -> int:
        """PostgreSQL's processes' RSS summed (each backend counts the shared buffers it
        touched, so this overstates it; not in ``rss()``)."""
        return int(self._pg_sum(lambda p: p.memory_info().rss))

    def stop(self) -> None:
        try:
            super().stop()
        finally:
            if self.pg is not None:
                self.pg.stop()  # pg_ctl stop, and its temp dir removed
                self.pg = None


ALL: list[type[Server]] = [ThisServer, ThisServerOneWorker, ThisServerPostgres, Rclone, Moto,
                           Seaweed, Bare]

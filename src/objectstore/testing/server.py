"""``local_objectstore()``: the server in a background thread, as a context manager."""

from __future__ import annotations

import asyncio
import importlib
import secrets
import socket
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

API_KEY_BYTES = 24


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@dataclass(frozen=True)
class TestStore:
    """A store with a credential of its own."""

    __test__ = False  # not a pytest test class

    id: str
    name: str
    region: str
    endpoint: str  # the S3 endpoint URL (path-style)
    access_key_id: str
    secret_access_key: str

    def boto3_client(self, **config: Any) -> Any:
        boto3: Any = importlib.import_module("boto3")  # optional: only for boto3 users
        return boto3.client("s3", endpoint_url=self.endpoint, region_name=self.region,
                            aws_access_key_id=self.access_key_id,
                            aws_secret_access_key=self.secret_access_key, **config)


@dataclass
class LocalObjectStore:
    api_url: str     # management API (Civo v2) and web console
    s3_url: str      # S3 endpoint
    api_key: str     # the default account's API key
    data_dir: Path
    _apps: Any

    def api(self) -> httpx.Client:
        """An httpx client on the management API, authenticated with the account's key."""
        return httpx.Client(base_url=self.api_url, timeout=30,
                            headers={"Authorization": f"bearer {self.api_key}"})

    def new_store(self, name: str | None = None, size_gb: int = 1,
                  region: str | None = None) -> TestStore:
        services = self._apps.services
        account = services.accounts.authenticate(self.api_key)
        code = services.regions.for_object_stores(region).code
        sw = services.stores.create(account.id, code, name or f"test-{uuid.uuid4().hex[:12]}",
                                    size_gb, None)
        return TestStore(sw.store.id, sw.store.name, code, self.s3_url,
                         sw.owner.access_key_id, sw.owner.secret_access_key)

    def delete_store(self, store: TestStore) -> None:
        services = self._apps.services
        account = services.accounts.authenticate(self.api_key)
        services.stores.delete(account.id, store.id, None)
        services.objects.wake_gc()


@contextmanager
def local_objectstore(data_dir: Path | str | None = None, **settings: Any
                      ) -> Iterator[LocalObjectStore]:
    """Start both planes on free loopback ports; ``settings``: any ``Settings`` field
    (e.g. ``account_quota_gb=10``). A temp data dir is made (and removed) unless given."""
    from ..app import build_apps, ensure_default_account
    from ..config import Settings
    from ..server import serve

    with tempfile.TemporaryDirectory(prefix="objectstore-") as tmp:
        root = Path(data_dir) if data_dir is not None else Path(tmp)
        api_port, s3_port = _free_port(), _free_port()
        key = settings.pop("api_key", None) or secrets.token_urlsafe(API_KEY_BYTES)
        values: dict[str, Any] = {"data_dir": root, "api_port": api_port, "s3_port": s3_port,
                                  "api_key": key, "log_level": "warning", "fsync": False,
                                  "sqlite_synchronous": "NORMAL", **settings}
        apps = build_apps(Settings(**values))
        ensure_default_account(apps.services)
        loop = asyncio.new_event_loop()
        ready: list[asyncio.Event] = []

        async def main() -> None:
            ev = asyncio.Event()
            ready.append(ev)
            await serve(apps, install_signals=False, stop_event=ev)

        thread = threading.Thread(target=lambda: loop.run_until_complete(main()),
                                  name="objectstore-testing", daemon=True)
        thread.start()
        api_url = f"http://127.0.0.1:{api_port}"
        _wait_healthy(api_url)
        try:
            yield LocalObjectStore(api_url, f"http://127.0.0.1:{s3_port}", key, root, apps)
        finally:
            if ready:
                loop.call_soon_threadsafe(ready[0].set)
            thread.join(timeout=30)
            loop.close()


def _wait_healthy(api_url: str, timeout_s: float = 20.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            if httpx.get(f"{api_url}/healthz", timeout=1).status_code == 200:
                return
        except httpx.HTTPError:
            pass
        if time.monotonic() > deadline:
            raise RuntimeError("objectstore did not start")
        time.sleep(0.05)

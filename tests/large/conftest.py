"""Fixtures for the large-object tests: multipart uploads, server-side copy and tagging.

Real clients (boto3, the ``aws`` CLI, rclone) over real sockets against a real server. Each
test creates its own object stores through the management API, as a user would, and gets a
client configuration for them. Nothing here is shared with ``tests/integration``.
"""

from __future__ import annotations

import hashlib
import os
import subprocess
from pathlib import Path
from typing import Any

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError

from tests.support import stores
from tests.support.clients import (  # noqa: F401 - re-exported to the tests
    BIN,
    REGION,
    aws_cli_env,
    binary,
    boto_client,
    clean_env,
    error_code,
    rclone_remote_env,
    run,
    status_of,
    uniq,
)
from tests.support.server import RunningServer

MIB = 1024 * 1024
GB = 10**9  # a store GB: decimal, as on Civo


class Store(stores.Store):
    """A store with the large-object suite's usage helpers."""

    def used_kb(self) -> int:
        return int(self.stats()["size_kb_utilised"])

    def used_bytes(self) -> int:
        """Exact usage in bytes from the services (the API rounds to kB)."""
        return self.row().used_bytes

    def row(self) -> Any:
        """The store as the services see it now (an ObjectStore)."""
        found = [s for s in self.srv.services.stores.by_name(self.name) if s.id == self.id]
        assert found, f"store {self.name} is gone"
        return found[0]


def create_store(srv: RunningServer, name: str | None = None, **body: Any) -> Store:
    """Create a store; pass ``access_key_id=`` to give it an existing credential."""
    return stores.create_store(srv, name, cls=Store, **body)


def aws_env(store: Store, tmp_path: Path) -> dict[str, str]:
    return aws_cli_env(tmp_path, store.access_key, store.secret_key)


def aws(store: Store, tmp_path: Path, *args: str, timeout: float = 180, quiet: bool = True
        ) -> subprocess.CompletedProcess[bytes]:
    """Run the aws CLI; ``quiet=False`` keeps its per-file output (``upload: ...`` lines)."""
    quiet_args = ["--only-show-errors"] if quiet else ["--no-progress"]
    cmd = [binary("aws"), "--endpoint-url", store.s3_url, *quiet_args, *args]
    return run(cmd, aws_env(store, tmp_path), timeout=timeout)


def rclone_env(store: Store, tmp_path: Path) -> dict[str, str]:
    return rclone_remote_env(tmp_path, "lg", store.s3_url, store.access_key,
                             store.secret_key)


def rclone(store: Store, tmp_path: Path, *args: str, timeout: float = 180,
           check: bool = True) -> subprocess.CompletedProcess[bytes]:
    cmd = [binary("rclone"), "--retries", "1", "--low-level-retries", "1", *args]
    return run(cmd, rclone_env(store, tmp_path), timeout=timeout, check=check)


def client_error(fn: Any, *args: Any, **kwargs: Any) -> ClientError:
    """Call ``fn`` and return the ClientError it must raise."""
    with pytest.raises(ClientError) as info:
        fn(*args, **kwargs)
    return info.value


def blob_dir(srv: RunningServer) -> Path:
    return Path(srv.services.settings.data_dir) / "blobs"


def blob_files(srv: RunningServer) -> dict[str, int]:
    """Every stored blob file: name -> size."""
    out: dict[str, int] = {}
    for dirpath, _dirs, files in os.walk(blob_dir(srv)):
        for name in files:
            out[name] = os.path.getsize(os.path.join(dirpath, name))
    return out


def blob_bytes(srv: RunningServer) -> int:
    return sum(blob_files(srv).values())


def inline_bytes(srv: RunningServer) -> int:
    """Bytes of the small objects kept in their metadata rows."""
    from sqlalchemy import func, select

    from objectstore.storage.sql.tables import objects

    with srv.services.engine.connect() as conn:
        return int(conn.execute(select(func.coalesce(func.sum(func.length(objects.c.data)), 0)))
                   .scalar_one())


def stored_bytes(srv: RunningServer) -> int:
    """All object bytes the server holds: blob files plus inline rows."""
    return blob_bytes(srv) + inline_bytes(srv)


def random_file(path: Path, size: int, seed: int = 0) -> str:
    """Write ``size`` pseudo-random bytes (fast, reproducible); return their MD5."""
    import random

    rng = random.Random(seed)
    md5 = hashlib.md5()
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        left = size
        while left:
            n = min(left, 4 * MIB)
            chunk = rng.randbytes(n)
            md5.update(chunk)
            f.write(chunk)
            left -= n
    return md5.hexdigest()


def file_md5(path: Path) -> str:
    md5 = hashlib.md5()
    with open(path, "rb") as f:
        while chunk := f.read(4 * MIB):
            md5.update(chunk)
    return md5.hexdigest()


def tree_digest(root: Path) -> dict[str, str]:
    """Relative path -> MD5 of every file under ``root``."""
    return {p.relative_to(root).as_posix(): file_md5(p)
            for p in sorted(root.rglob("*")) if p.is_file()}


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def store(sqlite_server: RunningServer) -> Store:
    """A store on the SQLite-only server (most tests)."""
    return create_store(sqlite_server)


@pytest.fixture
def s3(store: Store) -> Any:
    return store.boto()


@pytest.fixture
def dual_store(server: RunningServer) -> Store:
    """A store on the dual-database server (SQLite and PostgreSQL)."""
    return create_store(server)


# -- hand-made signed requests (bodies and headers the SDKs will not send) ------------------

def sign(store: Store, method: str, path: str, *, query: str = "",
         headers: dict[str, str] | None = None, body: bytes = b"",
         unsigned_payload: bool = False) -> tuple[str, dict[str, str]]:
    """SigV4-sign a request with the store's credential: (url, headers to send)."""
    from botocore.auth import S3SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials

    url = f"{store.s3_url}{path}" + (f"?{query}" if query else "")
    req = AWSRequest(method=method, url=url, data=body, headers=dict(headers or {}))
    if unsigned_payload:
        req.context["client_config"] = Config(s3={"payload_signing_enabled": False})
    S3SigV4Auth(Credentials(store.access_key, store.secret_key), "s3", REGION).add_auth(req)
    return url, {k: v for k, v in req.headers.items()}


def send(store: Store, method: str, path: str, *, query: str = "",
         headers: dict[str, str] | None = None, body: bytes = b"") -> Any:
    """A signed request through httpx; returns the response."""
    import httpx

    url, hdrs = sign(store, method, path, query=query, headers=headers, body=body)
    with httpx.Client(timeout=60) as c:
        return c.request(method, url, headers=hdrs, content=body)


def send_headers_only(store: Store, method: str, path: str, *, query: str = "",
                      headers: dict[str, str]) -> tuple[int, bytes]:
    """Send a signed request's headers (e.g. a large Content-Length) but no body, and read
    the answer the server gives before reading the body."""
    import http.client
    from urllib.parse import urlsplit

    url, hdrs = sign(store, method, path, query=query, headers=headers, unsigned_payload=True)
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=30)
    try:
        conn.putrequest(method, parts.path + (f"?{parts.query}" if parts.query else ""),
                        skip_host=True, skip_accept_encoding=True)
        if not any(k.lower() == "host" for k in hdrs):
            conn.putheader("Host", parts.netloc)
        for k, v in hdrs.items():
            conn.putheader(k, v)
        conn.endheaders()
        resp = conn.getresponse()
        return resp.status, resp.read()
    finally:
        conn.close()


def xml_error_code(body: bytes) -> str:
    from xml.etree import ElementTree as ET

    root = ET.fromstring(body)
    assert root.tag == "Error", body
    return root.findtext("Code") or ""

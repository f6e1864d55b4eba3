"""Real S3 clients over real sockets against a real server.

Fixtures here create object stores through the management API (as a user would) and build the
configuration each client needs: boto3 clients, an environment for the ``aws`` CLI, s3cmd
config files (SigV2 like Civo's export, and SigV4), and an rclone remote from environment
variables. Client binaries come from the virtualenv; a missing one fails the test loudly.
"""

from __future__ import annotations

import gc
import http.client
import socket
import ssl
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import pytest
from botocore.auth import S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

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
from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store  # noqa: F401 - re-exported to the tests


def aws_env(store: Store, tmp_path: Path) -> dict[str, str]:
    return aws_cli_env(tmp_path, store.access_key, store.secret_key)


def aws(store: Store, tmp_path: Path, *args: str, check: bool = True,
        stdin: bytes | None = None) -> subprocess.CompletedProcess[bytes]:
    cmd = [binary("aws"), "--endpoint-url", store.s3_url, *args]
    return run(cmd, aws_env(store, tmp_path), check=check, stdin=stdin)


def s3cmd_config(store: Store, tmp_path: Path, *, sigv2: bool = True) -> Path:
    """An s3cmd config like ``civo objectstore credential export`` writes (path style)."""
    path = tmp_path / ("s3cfg-v2" if sigv2 else "s3cfg-v4")
    path.write_text(
        "[default]\n"
        f"access_key = {store.access_key}\n"
        f"secret_key = {store.secret_key}\n"
        f"bucket_location = {REGION}\n"
        f"host_base = {store.host_port}\n"
        f"host_bucket = {store.host_port}\n"
        "use_https = False\n"
        f"signature_v2 = {'True' if sigv2 else 'False'}\n"
        "check_ssl_certificate = False\n"
        "socket_timeout = 30\n"
    )
    return path


def s3cmd(config: Path, tmp_path: Path, *args: str, check: bool = True
          ) -> subprocess.CompletedProcess[bytes]:
    cmd = [binary("python"), binary("s3cmd"), "-c", str(config), "--no-progress", *args]
    return run(cmd, clean_env(tmp_path), check=check)


def rclone_env(store: Store, tmp_path: Path) -> dict[str, str]:
    return rclone_remote_env(tmp_path, "os", store.s3_url, store.access_key,
                             store.secret_key)


def rclone(store: Store, tmp_path: Path, *args: str, check: bool = True
           ) -> subprocess.CompletedProcess[bytes]:
    cmd = [binary("rclone"), "--retries", "1", "--low-level-retries", "1", *args]
    return run(cmd, rclone_env(store, tmp_path), check=check)


def parse_error(r: httpx.Response) -> dict[str, str]:
    """An S3 XML error document as {tag: text}; asserts the required shape."""
    from xml.etree import ElementTree as ET

    assert r.headers.get("x-amz-request-id"), r.headers
    assert r.headers.get("content-type", "").startswith("application/xml"), r.headers
    root = ET.fromstring(r.content)
    assert root.tag == "Error", r.text
    fields = {child.tag: child.text or "" for child in root}
    for tag in ("Code", "Message", "Resource", "RequestId"):
        assert tag in fields, (tag, r.text)
    assert fields["RequestId"] == r.headers["x-amz-request-id"]
    return fields


# -- hand-made requests ------------------------------------------------------------------------

class _SigV4(S3SigV4Auth):
    """botocore's S3 SigV4 signer; ``unsigned=True`` sends UNSIGNED-PAYLOAD."""

    def __init__(self, credentials: Credentials, region: str, unsigned: bool) -> None:
        super().__init__(credentials, "s3", region)
        self.unsigned = unsigned

    def _should_sha256_sign_payload(self, request: AWSRequest) -> bool:
        return not self.unsigned


def sign_v4(method: str, url: str, access_key: str, secret_key: str, *,
            headers: dict[str, str] | None = None, body: bytes = b"", region: str = REGION,
            unsigned: bool = False) -> dict[str, str]:
    """Headers (with Authorization) for a SigV4 request signed by botocore."""
    req = AWSRequest(method=method, url=url, data=body, headers=headers or {})
    _SigV4(Credentials(access_key, secret_key), region, unsigned).add_auth(req)
    return {k: v for k, v in req.headers.items()}


def signed(store: Store, method: str, path: str, *, body: bytes = b"",
           headers: dict[str, str] | None = None, access_key: str | None = None,
           secret_key: str | None = None) -> httpx.Response:
    """A SigV4-signed request with httpx; ``path`` is already percent-encoded and may carry a
    query string."""
    url = f"{store.s3_url}{path}"
    h = sign_v4(method, url, access_key or store.access_key, secret_key or store.secret_key,
                headers=headers, body=body)
    with httpx.Client(timeout=30) as client:
        return client.request(method, url, content=body, headers=h)


def raw_exchange(s3_url: str, method: str, path: str, headers: dict[str, str],
                 body: bytes = b"", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """Send exactly these bytes on a fresh socket (e.g. headers promising a body that never
    comes) and read one response."""
    parts = urlsplit(s3_url)
    host, port = parts.hostname or "127.0.0.1", parts.port or 80
    sock = socket.create_connection((host, port), timeout=timeout)
    headers = dict(headers)
    if not any(k.lower() == "host" for k in headers):
        headers["Host"] = parts.netloc
    try:
        head = [f"{method} {path} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
        sock.sendall(("\r\n".join(head) + "\r\n\r\n").encode("latin-1") + body)
        resp = http.client.HTTPResponse(sock, method=method)
        resp.begin()
        data = resp.read()
        return resp.status, {k.lower(): v for k, v in resp.getheaders()}, data
    finally:
        sock.close()


# -- fixtures ---------------------------------------------------------------------------------

@pytest.fixture
def store(sqlite_server: RunningServer) -> Store:
    """A store on the SQLite-only server (most tests)."""
    return create_store(sqlite_server)


@pytest.fixture
def dual_store(server: RunningServer) -> Store:
    """A store on the dual-database server (runs on SQLite and PostgreSQL)."""
    return create_store(server)


@pytest.fixture
def s3(store: Store) -> Any:
    return store.boto()


# A module whose tests touch nothing but stores of their own (no settings, no internals, no
# data-dir contents, no server-wide counts) shares one server: it overrides ``store`` (and
# ``dual_store``) with a store of its own on these, e.g.
#     @pytest.fixture
#     def store(module_sqlite_server: RunningServer) -> Store:
#         return create_store(module_sqlite_server)
# A server per test costs ~0.4 s (start, stop, the migrations on a new database). The
# default account's allocation quota is raised to hold every test's 500 GB stores.
MODULE_SERVER = {"account_quota_gb": 10_000_000}


@pytest.fixture(scope="module")
def module_sqlite_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("data"), None, **MODULE_SERVER) as srv:
        yield srv


@pytest.fixture(scope="module",
                params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def module_server(request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[RunningServer]:
    """The module's server on the embedded SQLite default and on PostgreSQL (as ``server``)."""
    url = None
    if request.param == "postgresql":
        url = request.getfixturevalue("pg_cluster").new_database()
    with running_server(tmp_path_factory.mktemp("data"), url, **MODULE_SERVER) as srv:
        yield srv


@pytest.fixture(scope="session")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for 127.0.0.1."""
    from tests.support.tls import make_cert

    return make_cert(tmp_path_factory.mktemp("tls"))


@pytest.fixture
def tls_server(tmp_path: Path, tls_files: tuple[Path, Path]) -> Iterator[RunningServer]:
    cert, key = tls_files
    with running_server(tmp_path / "data", None, tls_cert=cert, tls_key=key) as srv:
        yield srv
        # A TLS connection a client left open (a boto3 pool, a response held by a failed
        # test's traceback) holds the server's graceful shutdown for 30 s (the SSL
        # close_notify wait): shut down every client socket still connected to it.
        port = urlsplit(srv.s3_url).port
        gc.collect()
        for obj in gc.get_objects():
            if isinstance(obj, ssl.SSLSocket) and obj.fileno() >= 0:
                try:
                    if obj.getpeername()[1] == port:
                        obj.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass


@pytest.fixture
def vhost_server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", None, s3_domain="s3.localhost") as srv:
        yield srv

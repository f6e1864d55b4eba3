"""TLS on every port (issue 23): the management API, the console and S3 over HTTPS, HSTS, a
Secure session cookie, and a certificate replaced on disk picked up without a restart (SIGHUP,
or the periodic look at the files)."""

from __future__ import annotations

import os
import re
import signal
import socket
import ssl
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID

from tests.support.proc import ServerProcess
from tests.support.server import RunningServer, running_server, ssl_verify
from tests.support.stores import create_store
from tests.support.tls import make_cert

HSTS = "max-age=31536000"


def replace_files(src: tuple[Path, Path], dst: tuple[Path, Path]) -> None:
    """Install a new pair the way a renewal does: write aside, rename over."""
    for s, d in zip(src, dst, strict=True):
        tmp = d.with_suffix(".new")
        tmp.write_bytes(s.read_bytes())
        os.replace(tmp, d)


def served_name(url: str) -> str:
    """The common name of the certificate a fresh connection to ``url``'s port is shown."""
    port = int(url.rsplit(":", 1)[1])
    ctx = ssl.create_default_context()
    ctx.check_hostname = False
    ctx.verify_mode = ssl.CERT_NONE
    with socket.create_connection(("127.0.0.1", port), timeout=5) as raw, \
            ctx.wrap_socket(raw) as tls:
        der = tls.getpeercert(binary_form=True)
    assert der is not None
    cert = x509.load_der_x509_certificate(der)
    return str(cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


@pytest.fixture
def tls_pair(tmp_path: Path) -> tuple[Path, Path]:
    return make_cert(tmp_path / "live", "first")


@pytest.fixture
def srv(tmp_path: Path, tls_pair: tuple[Path, Path]) -> Iterator[RunningServer]:
    cert, key = tls_pair
    with running_server(tmp_path / "data", None, tls_cert=cert, tls_key=key,
                        tls_reload_seconds=0.2) as server:
        yield server


def test_every_port_serves_https_with_hsts(srv: RunningServer) -> None:
    assert srv.api_url.startswith("https://") and srv.s3_url.startswith("https://")
    # the management API over HTTPS, verified against the certificate
    store = create_store(srv)
    with srv.api() as api:
        r = api.get("/v2/objectstores", params={"region": "LON1"})
    assert r.status_code == 200, r.text
    assert r.headers["strict-transport-security"] == HSTS
    # S3 over HTTPS, boto3 verifying the certificate
    s3 = store.boto(verify=str(srv.verify))
    try:
        s3.put_object(Bucket=store.name, Key="k", Body=b"over tls")
        got = s3.get_object(Bucket=store.name, Key="k")
        assert got["Body"].read() == b"over tls"
        assert got["ResponseMetadata"]["HTTPHeaders"]["strict-transport-security"] == HSTS
    finally:
        s3.close()
    # the CLI (the Python SDK) over HTTPS, trusting a private CA the standard way
    cli = subprocess.run(  # noqa: S603
        [sys.executable, "-m", "objectstore.cli.main", "store", "list", "-o", "json",
         "--api-url", srv.api_url, "--api-key", srv.api_key], capture_output=True, text=True,
        timeout=60, env=dict(os.environ, SSL_CERT_FILE=str(srv.verify)))
    assert cli.returncode == 0 and store.name in cli.stdout, cli.stdout + cli.stderr
    # nothing is served in clear on either port
    for url in (srv.api_url, srv.s3_url):
        with pytest.raises(httpx.HTTPError):
            httpx.get(url.replace("https://", "http://") + "/healthz", timeout=3)


def test_console_sign_in_cookie_is_secure(srv: RunningServer) -> None:
    with httpx.Client(base_url=srv.api_url, verify=srv.http_verify(), timeout=10) as web:
        form = web.get("/console/signin")
        assert form.status_code == 200
        assert form.headers["strict-transport-security"] == HSTS
        assert "secure" in form.headers["set-cookie"].lower()
        match = re.search(r'name="csrf" value="([^"]+)"', form.text)
        assert match, form.text
        r = web.post("/console/signin", data={"csrf": match.group(1), "api_key": srv.api_key},
                     headers={"Origin": srv.api_url})
        assert r.status_code == 303, r.text
        assert r.headers["strict-transport-security"] == HSTS
        session = [c for c in r.headers.get_list("set-cookie")
                   if c.startswith("objectstore_session=")]
        assert session, r.headers
        attrs = {a.strip().lower() for a in session[0].split(";")[1:]}
        assert "secure" in attrs and "httponly" in attrs, session
        assert web.get("/console/").status_code == 200  # the session works over HTTPS


def test_certificate_replaced_on_disk_is_picked_up(srv: RunningServer, tmp_path: Path,
                                                   tls_pair: tuple[Path, Path]) -> None:
    """No signal (the server runs in a thread here): the periodic look at the files."""
    assert served_name(srv.api_url) == "first" and served_name(srv.s3_url) == "first"
    # a broken pair (a key that does not match) is refused: the old certificate stays
    other = make_cert(tmp_path / "other", "other")
    replace_files((other[0], tls_pair[1]), tls_pair)
    time.sleep(0.8)
    assert served_name(srv.api_url) == "first"
    second = make_cert(tmp_path / "second", "second")
    replace_files(second, tls_pair)
    deadline = time.time() + 5
    while served_name(srv.api_url) != "second" and time.time() < deadline:
        time.sleep(0.1)
    assert served_name(srv.api_url) == "second" and served_name(srv.s3_url) == "second"
    with httpx.Client(verify=ssl_verify(str(second[0])), timeout=10) as client:  # the new CA
        assert client.get(srv.api_url + "/healthz").status_code == 200


@pytest.mark.parametrize("workers", ["1", "2"])
def test_sighup_reloads_the_certificate(tmp_path: Path, workers: str) -> None:
    cert, key = make_cert(tmp_path / "live", "first")
    server = ServerProcess(tmp_path / "data", workers=workers, extra_env={
        "OBJECTSTORE_TLS_CERT": str(cert), "OBJECTSTORE_TLS_KEY": str(key),
        "OBJECTSTORE_TLS_RELOAD_SECONDS": "0"})  # only the signal
    server.start()
    try:
        assert served_name(server.api_url) == "first"
        replace_files(make_cert(tmp_path / "second", "second"), (cert, key))
        time.sleep(0.3)
        if workers == "1":  # (a second worker may still be starting, and load the new pair)
            assert served_name(server.api_url) == "first"  # no look at the files: the old one
        assert server.proc is not None
        server.proc.send_signal(signal.SIGHUP)
        deadline = time.time() + 5
        names: set[str] = set()
        while time.time() < deadline:
            names = {served_name(server.api_url) for _ in range(8)}  # every worker's
            names |= {served_name(server.s3_url) for _ in range(8)}
            if names == {"second"}:
                break
            time.sleep(0.1)
        assert names == {"second"}
        assert server.proc.poll() is None  # the signal did not stop it
        r = httpx.get(server.api_url + "/healthz", verify=ssl_verify(str(cert)), timeout=5)
        assert r.status_code == 200
    finally:
        assert server.stop() == 0

"""Forwarded headers count only from the proxies an operator lists (issue 20.3).

A directly connected client that sends ``X-Forwarded-For`` / ``X-Real-IP`` / ``Forwarded`` /
``X-Forwarded-Proto`` must not change the address (``aws:SourceIp``, access logs, the sign-in
throttle) nor the scheme (``aws:SecureTransport``) the server decides on. Behind a listed
proxy, the client is the first hop from the right that is not a listed proxy.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store

SPOOFS = [{"X-Forwarded-For": "198.51.100.7"}, {"X-Real-IP": "198.51.100.7"},
          {"Forwarded": "for=198.51.100.7;proto=https"},
          {"Forwarded": 'for="198.51.100.7:4711"'}]


def _policy(store: Store, statements: list[dict[str, object]]) -> None:
    s3 = store.boto()
    s3.put_bucket_policy(Bucket=store.name, Policy=json.dumps(
        {"Version": "2012-10-17", "Statement": statements}))


def _source_ip_policy(store: Store) -> None:
    """Anyone may read ``open`` from 198.51.100.0/24 only; nobody outside 127.0.0.0/8 may
    touch the store at all (a Deny the owner is subject to as well)."""
    arn = f"arn:aws:s3:::{store.name}"
    _policy(store, [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"{arn}/open",
         "Condition": {"IpAddress": {"aws:SourceIp": "198.51.100.0/24"}}},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:*",
         "Resource": [arn, f"{arn}/*"],
         "Condition": {"NotIpAddress": {"aws:SourceIp": ["127.0.0.0/8", "198.51.100.0/24"]}}},
    ])


def _anonymous_get(store: Store, key: str, headers: dict[str, str]) -> int:
    return httpx.get(f"{store.s3_url}/{store.name}/{key}", headers=headers,
                     timeout=10).status_code


@pytest.fixture(scope="module")
def direct(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server with the default: no trusted proxies."""
    with running_server(tmp_path_factory.mktemp("direct"), None, sqlite_synchronous="NORMAL",
                        fsync=False) as srv:
        yield srv


@pytest.fixture(scope="module")
def proxied(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """A server behind a proxy on 127.0.0.1 (the tests play the proxy)."""
    with running_server(tmp_path_factory.mktemp("proxied"), None, sqlite_synchronous="NORMAL",
                        fsync=False, trusted_proxies="127.0.0.1, 10.9.0.0/16") as srv:
        yield srv


def test_a_direct_client_cannot_claim_another_source_ip(direct: RunningServer) -> None:
    store = create_store(direct, prefix="fwd")
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="open", Body=b"secret")
    _source_ip_policy(store)
    for headers in SPOOFS:
        assert _anonymous_get(store, "open", headers) == 403, headers
    # nor make itself look like an outsider the Deny would catch (the owner still works,
    # whatever it claims: the server decides on its TCP address, 127.0.0.1)
    owner = store.boto()
    owner.meta.events.register("before-sign.s3", lambda request, **_: request.headers.
                               __setitem__("X-Forwarded-For", "203.0.113.1"))
    assert owner.get_object(Bucket=store.name, Key="open")["Body"].read() == b"secret"


def test_a_direct_client_cannot_claim_https(direct: RunningServer) -> None:
    store = create_store(direct, prefix="fwd")
    store.boto().put_object(Bucket=store.name, Key="tls-only", Body=b"x")
    _policy(store, [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{store.name}/tls-only",
                     "Condition": {"Bool": {"aws:SecureTransport": "true"}}}])
    for headers in ({"X-Forwarded-Proto": "https"}, {"Forwarded": "proto=https"}):
        assert _anonymous_get(store, "tls-only", headers) == 403, headers


def _access_lines(caplog: pytest.LogCaptureFixture) -> list[dict[str, Any]]:
    """The access log's lines so far, once there is one: the server writes a request's line
    after its answer has gone out, so the client may read the answer first (up to 5 s)."""
    deadline = time.monotonic() + 5
    while True:
        lines = [json.loads(r.getMessage()) for r in caplog.records
                 if r.name == "objectstore.access"]
        if lines or time.monotonic() > deadline:
            return lines
        time.sleep(0.01)


def test_access_log_shows_the_tcp_peer_of_a_direct_client(
        direct: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="objectstore.access")
    httpx.get(f"{direct.api_url}/healthz", headers={"X-Forwarded-For": "198.51.100.9"})
    lines = _access_lines(caplog)
    assert lines and lines[-1]["client"] == "127.0.0.1", lines


def test_behind_a_listed_proxy_the_forwarded_client_counts(proxied: RunningServer) -> None:
    store = create_store(proxied, prefix="fwd")
    store.boto().put_object(Bucket=store.name, Key="open", Body=b"secret")
    _source_ip_policy(store)
    for headers in SPOOFS:
        assert _anonymous_get(store, "open", headers) == 200, headers
    # the proxy appended the real client; what the client wrote before it does not count
    assert _anonymous_get(store, "open",
                          {"X-Forwarded-For": "198.51.100.7, 203.0.113.5"}) == 403
    # a chain of listed proxies is walked through to the client
    assert _anonymous_get(store, "open",
                          {"X-Forwarded-For": "203.0.113.5, 198.51.100.7, 10.9.1.1"}) == 200
    # no forwarded header: the proxy itself is the client (127.0.0.1: not allowed to read)
    assert _anonymous_get(store, "open", {}) == 403
    # garbage in the chain: the hop before it is not believed
    assert _anonymous_get(store, "open", {"X-Forwarded-For": "198.51.100.7, nonsense"}) == 403


def test_access_log_names_the_client_and_the_proxy(
        proxied: RunningServer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="objectstore.access")
    httpx.get(f"{proxied.api_url}/healthz", headers={"X-Forwarded-For": "198.51.100.9"})
    lines = _access_lines(caplog)
    assert lines and (lines[-1]["client"], lines[-1]["peer"]) == ("198.51.100.9", "127.0.0.1")


def test_behind_a_listed_proxy_the_forwarded_scheme_counts(proxied: RunningServer) -> None:
    store = create_store(proxied, prefix="fwd")
    store.boto().put_object(Bucket=store.name, Key="tls-only", Body=b"x")
    _policy(store, [{"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
                     "Resource": f"arn:aws:s3:::{store.name}/tls-only",
                     "Condition": {"Bool": {"aws:SecureTransport": "true"}}}])
    assert _anonymous_get(store, "tls-only", {}) == 403
    assert _anonymous_get(store, "tls-only", {"X-Forwarded-Proto": "https"}) == 200


def test_a_proxy_not_listed_is_not_believed(tmp_path: Path) -> None:
    with running_server(tmp_path / "data", None, sqlite_synchronous="NORMAL", fsync=False,
                        trusted_proxies="10.0.0.0/8") as srv:
        store = create_store(srv, prefix="fwd")
        store.boto().put_object(Bucket=store.name, Key="open", Body=b"secret")
        _source_ip_policy(store)
        for headers in SPOOFS:
            assert _anonymous_get(store, "open", headers) == 403, headers


def test_a_bad_trusted_proxies_setting_is_refused() -> None:
    from pydantic import ValidationError

    from objectstore.config import Settings

    with pytest.raises(ValidationError, match="not-an-ip"):
        Settings(trusted_proxies="10.0.0.1, not-an-ip")
    assert Settings(trusted_proxies=" 10.0.0.1 ,, ::1/128").trusted_proxies == \
        "10.0.0.1,::1/128"

"""The console's sign-in throttle and sessions are shared by every worker and gateway
(issue 20.4): they live in the database.

Real servers over real sockets: ``serve --workers 2`` for the throttle (each try on a new
connection, so tries land on either worker), and two gateways (``serve`` processes with data
dirs of their own) on one PostgreSQL database for sessions and the throttle across gateways.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet

from tests.support.pg import PgCluster
from tests.support.proc import ServerProcess

FORM_CSRF_RE = re.compile(r'name="csrf" value="([^"]+)"')
CSRF_RE = re.compile(r'name="csrf-token" content="([^"]+)"')
COOKIE = "objectstore_session"


def sign_in(api_url: str, key: str, *, local_address: str | None = None,
            headers: dict[str, str] | None = None) -> httpx.Response:
    """One sign-in on a connection of its own (from ``local_address``, a loopback address:
    a client of its own as the throttle sees it)."""
    transport = httpx.HTTPTransport(local_address=local_address) if local_address else None
    with httpx.Client(base_url=api_url, follow_redirects=False, timeout=30,
                      transport=transport, headers=headers or {}) as c:
        page = c.get("/console/signin")
        token = FORM_CSRF_RE.search(page.text)
        assert token, page.text
        return c.post("/console/signin", data={"csrf": token.group(1), "api_key": key})


@pytest.fixture
def two_workers(tmp_path: Path) -> Iterator[ServerProcess]:
    srv = ServerProcess(tmp_path / "data", workers="2")
    srv.start()
    try:
        yield srv
    finally:
        srv.stop()


def test_with_two_workers_the_sixth_wrong_key_is_refused(two_workers: ServerProcess) -> None:
    """Five wrong keys in a row, each on a new connection (either worker) and each claiming
    another X-Forwarded-For: the 6th and 7th tries get 429 — even with the right key."""
    codes = [sign_in(two_workers.api_url, f"wrong-key-{i}", local_address="127.0.0.21",
                     headers={"X-Forwarded-For": f"198.51.100.{i}"}).status_code
             for i in range(5)]
    assert codes == [401] * 5
    for key in ("wrong-key-6", two_workers.api_key):
        r = sign_in(two_workers.api_url, key, local_address="127.0.0.21")
        assert r.status_code == 429, (key, r.status_code)
        assert int(r.headers["retry-after"]) > 0
    # another client is not affected
    assert sign_in(two_workers.api_url, two_workers.api_key,
                   local_address="127.0.0.22").status_code == 303


def test_tries_sent_at_once_are_counted_like_tries_in_a_row(
        two_workers: ServerProcess) -> None:
    """12 wrong keys at once over 12 connections (both workers): at most 5 are answered as
    wrong keys, the others are refused before the key is checked."""
    with ThreadPoolExecutor(12) as pool:
        codes = list(pool.map(lambda i: sign_in(two_workers.api_url, f"wrong-{i}",
                                                local_address="127.0.0.23").status_code,
                              range(12)))
    assert sorted(set(codes)) == [401, 429], codes
    assert codes.count(401) == 5, codes


@pytest.fixture
def two_gateways(tmp_path: Path, pg_cluster: PgCluster) -> Iterator[list[ServerProcess]]:
    url = pg_cluster.new_database()
    env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode()}
    gateways = [ServerProcess(tmp_path / f"gw{i}", url, extra_env=env) for i in (1, 2)]
    try:
        for g in gateways:
            g.start(timeout=60)
        yield gateways
    finally:
        for g in gateways:
            g.stop()


@pytest.mark.postgres
def test_a_session_made_on_one_gateway_works_on_the_next(
        two_gateways: list[ServerProcess], pg_cluster: PgCluster) -> None:
    a, b = two_gateways
    r = sign_in(a.api_url, a.api_key)
    assert r.status_code == 303, r.text
    token = r.cookies[COOKIE]
    with httpx.Client(base_url=b.api_url, follow_redirects=False, timeout=30,
                      cookies={COOKIE: token}) as on_b:
        home = on_b.get("/console/")
        assert home.status_code == 200, (home.status_code, home.headers)
        csrf = CSRF_RE.search(home.text)
        assert csrf
        # the token is stored only as its SHA-256
        rows = _sql(a.database_url, "SELECT token_hash, csrf FROM console_sessions")
        assert (hashlib.sha256(token.encode()).hexdigest(), csrf.group(1)) in rows
        assert not any(token in str(v) for row in rows for v in row)
        # signed out on B: the session is over on A too
        out = on_b.post("/console/signout", data={"csrf": csrf.group(1)})
        assert out.status_code == 303
    with httpx.Client(base_url=a.api_url, follow_redirects=False, timeout=30,
                      cookies={COOKIE: token}) as on_a:
        again = on_a.get("/console/")
        assert again.status_code == 303
        assert again.headers["location"].startswith("/console/signin")


@pytest.mark.postgres
def test_wrong_keys_on_one_gateway_count_on_the_next(two_gateways: list[ServerProcess]
                                                     ) -> None:
    a, b = two_gateways
    codes = [sign_in((a, b)[i % 2].api_url, f"wrong-{i}", local_address="127.0.0.24")
             .status_code for i in range(5)]
    assert codes == [401] * 5
    assert sign_in(b.api_url, b.api_key, local_address="127.0.0.24").status_code == 429
    assert sign_in(a.api_url, a.api_key, local_address="127.0.0.24").status_code == 429


def _sql(url: str | None, statement: str) -> list[tuple[object, ...]]:
    import psycopg

    assert url
    with psycopg.connect(url, autocommit=True) as conn:
        return [tuple(r) for r in conn.execute(statement).fetchall()]

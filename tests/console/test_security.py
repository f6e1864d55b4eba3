"""Security: cross-site posts, other accounts' ids, headers, no inline script, throttling,
sign-out, sessions."""

from __future__ import annotations

import re
import threading
import uuid
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from playwright.sync_api import expect

from objectstore.domain.models import Account
from tests.support.server import RunningServer

from .conftest import Console
from .helpers import ConsoleClient


@pytest.fixture
def client(console_srv: RunningServer) -> Iterator[ConsoleClient]:
    c = ConsoleClient(console_srv)
    yield c
    c.close()


@pytest.fixture
def attacker() -> Iterator[tuple[str, dict[str, str]]]:
    """A page on another port of the same host (same site, other origin) that posts a form
    to the console as soon as it loads."""
    pages: dict[str, str] = {}

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body = pages.get(self.path, "").encode()
            self.send_response(200)
            self.send_header("Content-Type", "text/html")
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args: object) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{httpd.server_address[1]}", pages
    finally:
        httpd.shutdown()


def test_a_cross_site_form_post_is_refused(console: Console,
                                           attacker: tuple[str, dict[str, str]]) -> None:
    base, pages = attacker
    console.sign_in(console.srv.api_key)
    name = f"evil-{uuid.uuid4().hex[:8]}"
    pages["/"] = (f'<form method="post" action="{console.url("/stores")}">'
                  f'<input name="name" value="{name}"><input name="region" value="LON1">'
                  '<input name="csrf" value="guess"></form>'
                  "<script>document.forms[0].submit()</script>")
    console.page.goto(base + "/")
    expect(console.page.locator("#error-message")).to_contain_text("cross-site request refused")
    assert console.srv.services.stores.by_name(name) == []


def test_a_post_without_the_csrf_token_is_refused(client: ConsoleClient) -> None:
    client.sign_in(client.srv.api_key)
    name = f"nocsrf-{uuid.uuid4().hex[:8]}"
    r = client.http.post("/console/stores", data={"name": name, "region": "LON1"})
    assert r.status_code == 403 and "CSRF" in r.text
    r = client.http.post("/console/stores", data={"name": name, "csrf": "wrong"})
    assert r.status_code == 403
    r = client.post("/stores", {"name": name}, origin="http://attacker.example")
    assert r.status_code == 403
    assert client.srv.services.stores.by_name(name) == []
    assert client.post("/stores", {"name": name, "region": "LON1"}).status_code == 303
    assert len(client.srv.services.stores.by_name(name)) == 1


def test_other_accounts_store_ids_answer_404(client: ConsoleClient,
                                             tenant: tuple[Account, str]) -> None:
    srv = client.srv
    account, _key = tenant
    other = srv.services.stores.create(account.id, "LON1", f"theirs-{uuid.uuid4().hex[:8]}",
                                       1, None).store
    client.sign_in(srv.api_key)
    sid = other.id
    for path in (f"/stores/{sid}", f"/stores/{sid}/objects", f"/credentials/{other.credential_id}"):
        assert client.get(path).status_code == 404, path
    assert client.get(f"/stores/{sid}/object", key="x").status_code == 404
    assert client.get(f"/stores/{sid}/download", key="x").status_code == 404
    r = client.post(f"/stores/{sid}/delete", {"confirm": other.name})
    assert "was not found" in client.follow(r).text
    r = client.http.put(f"/console/stores/{sid}/upload", params={"key": "k"}, content=b"x",
                        headers={"x-csrf-token": client.csrf})
    assert r.status_code == 404
    assert srv.services.stores.get(account.id, sid, None).store.object_count == 0


INLINE_SCRIPT = re.compile(r"<script(?![^>]*\bsrc=)[^>]*>", re.I)
HANDLER_ATTR = re.compile(r"<[^>]+\son[a-z]+\s*=", re.I)


def test_pages_carry_security_headers_and_no_inline_script(client: ConsoleClient) -> None:
    srv = client.srv
    signin = client.http.get("/console/signin")
    client.sign_in(srv.api_key)
    store = client.follow(client.post("/stores", {"name": f"hdr-{uuid.uuid4().hex[:8]}",
                                                  "region": "LON1", "size_gb": "1"}))
    sid = store.url.path.rsplit("/", 1)[1]
    pages = [signin, store, client.get("/"), client.get("/stores"), client.get("/credentials"),
             client.get(f"/stores/{sid}/objects"), client.get("/accounts"),
             client.get("/nowhere"), client.http.get("/docs")]
    for r in pages:
        csp = r.headers["content-security-policy"]
        assert "script-src 'self'" in csp and "unsafe-inline" not in csp, r.url
        assert "frame-ancestors 'none'" in csp
        assert r.headers["x-frame-options"] == "DENY", r.url
        assert r.headers["x-content-type-options"] == "nosniff"
        assert not INLINE_SCRIPT.search(r.text), r.url
        assert not HANDLER_ATTR.search(r.text), r.url


def test_session_cookie_flags_and_sign_out(client: ConsoleClient) -> None:
    r = client.sign_in(client.srv.api_key)
    cookie = next(v for k, v in r.headers.multi_items()
                  if k == "set-cookie" and v.startswith("objectstore_session="))
    assert "HttpOnly" in cookie and "SameSite=strict" in cookie and "Path=/console" in cookie
    token = cookie.split(";")[0].split("=", 1)[1]
    assert client.get("/").status_code == 200
    out = client.post("/signout")
    assert out.status_code == 303 and out.headers["location"] == "/console/signin"
    # the old cookie no longer opens the console
    replay = ConsoleClient(client.srv)
    replay.http.cookies.set("objectstore_session", token)
    r = replay.get("/")
    assert r.status_code == 303 and r.headers["location"].startswith("/console/signin")
    replay.close()


def test_failed_sign_ins_are_slowed_then_refused_with_429(console_srv: RunningServer) -> None:
    import time

    c = ConsoleClient(console_srv, local_address="127.0.0.7")
    try:
        started = time.monotonic()
        codes = [c.sign_in("wrong-key-000").status_code for _ in range(5)]
        took = time.monotonic() - started
        assert codes == [401] * 5
        assert took >= 0.25 + 0.5 + 1.0 + 2.0 + 2.0 - 0.1  # each failure waited longer
        r = c.sign_in(console_srv.api_key)  # even the right key, while locked out
        assert r.status_code == 429 and int(r.headers["retry-after"]) > 0
        assert "Too many failed sign-ins" in r.text
        other = ConsoleClient(console_srv, local_address="127.0.0.8")
        assert other.sign_in(console_srv.api_key).status_code == 303  # others unaffected
        other.close()
    finally:
        c.close()


def test_signed_out_pages_lead_to_sign_in(client: ConsoleClient) -> None:
    r = client.get("/stores")
    assert r.status_code == 303
    assert r.headers["location"] == "/console/signin?next=%2Fconsole%2Fstores"
    r = client.http.put("/console/stores/x/upload", params={"key": "k"}, content=b"x")
    assert r.status_code == 401 and "sign in" in r.json()["error"]
    assert client.http.get("/").headers["location"] == "/console/"

"""Fixtures for the browser CORS tests: a real server, a web page on another origin, and
Debian's Chromium driven by Playwright (launched as the console tests launch it)."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from playwright.sync_api import Browser, Page, sync_playwright

from tests.console.conftest import CHROMIUM_FLAGS, chromium_path
from tests.support.server import RunningServer, running_server

PAGE = """<!doctype html>
<html><head><meta charset="utf-8"><title>uploader</title></head><body>
<form id="upload" method="post" enctype="multipart/form-data">
  <div id="fields"></div>
  <input type="file" id="file" name="file">
  <button type="submit">Upload</button>
</form>
<pre id="out"></pre>
<script>
// Fill the form with a presigned POST's url and fields (the file input stays last).
window.prepare = (post) => {
  const form = document.getElementById("upload");
  form.action = post.url;
  const box = document.getElementById("fields");
  box.textContent = "";
  for (const [name, value] of Object.entries(post.fields)) {
    const input = document.createElement("input");
    input.type = "hidden"; input.name = name; input.value = value;
    box.appendChild(input);
  }
};
window.attempt = async (fn) => {
  try { return {ok: true, value: await fn()}; }
  catch (e) { return {ok: false, error: String(e)}; }
};
window.putObject = (url, body) => window.attempt(async () => {
  const r = await fetch(url, {method: "PUT", body, headers: {"Content-Type": "text/plain"}});
  return {status: r.status, etag: r.headers.get("ETag")};
});
window.postForm = () => window.attempt(async () => {
  const form = document.getElementById("upload");
  const r = await fetch(form.action, {method: "POST", body: new FormData(form)});
  return {status: r.status};
});
window.getObject = (url) => window.attempt(async () => {
  const r = await fetch(url);
  return {status: r.status, text: await r.text()};
});
</script></body></html>
"""


class _Page(BaseHTTPRequestHandler):
    def do_GET(self) -> None:
        body = PAGE.encode() if self.path.split("?")[0] in ("/", "/index.html") else b"done"
        self.send_response(200)
        self.send_header("Content-Type", "text/html; charset=utf-8")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture(scope="module")
def web_origin() -> Iterator[str]:
    """The page's origin: another port on loopback, so a different origin from S3."""
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Page)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


@pytest.fixture(scope="module")
def cors_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("cors-data"), None,
                        sqlite_synchronous="NORMAL", fsync=False) as running:
        yield running


@pytest.fixture(scope="module")
def browser() -> Iterator[Browser]:
    with sync_playwright() as pw:
        b = pw.chromium.launch(executable_path=chromium_path(), headless=True,
                               args=CHROMIUM_FLAGS)
        try:
            yield b
        finally:
            b.close()


@pytest.fixture
def page(browser: Browser, web_origin: str, tmp_path: Path) -> Iterator[Page]:
    context = browser.new_context()
    context.set_default_timeout(15_000)
    p = context.new_page()
    p.goto(web_origin + "/")
    try:
        yield p
    finally:
        context.close()

"""A deployed site in a real browser (Debian's Chromium via Playwright, launched as the
console tests launch it): the page loads its CSS and JS from the store, a client-side route
of the single-page app comes back through the error document, a folder link redirects."""

from __future__ import annotations

from collections.abc import Iterator
from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Browser, Playwright

from tests.console.conftest import CHROMIUM_FLAGS, chromium_path
from tests.support.server import RunningServer

from .conftest import DOMAIN, make_site

INDEX = """<!doctype html>
<html><head><meta charset="utf-8"><title>My site</title>
<link rel="stylesheet" href="/css/site.css"></head>
<body><h1 id="title">loading</h1><p id="route"></p>
<script src="/js/app.js"></script></body></html>
"""
CSS = "h1 { color: rgb(12, 34, 56); }\n"
JS = """document.getElementById("title").textContent = "Hello from app.js";
document.getElementById("route").textContent = location.pathname;
"""


@pytest.fixture(scope="module")
def browser(pw_session: Playwright) -> Iterator[Browser]:
    b = pw_session.chromium.launch(executable_path=chromium_path(), headless=True,
                                   args=[*CHROMIUM_FLAGS,
                                         f"--host-resolver-rules=MAP *.{DOMAIN} 127.0.0.1"])
    try:
        yield b
    finally:
        b.close()


def test_a_site_loads_with_its_css_and_js(web_srv: RunningServer, browser: Browser) -> None:
    site = make_site(web_srv, error="index.html")
    site.put("index.html", INDEX)
    site.put("css/site.css", CSS, content_type="text/css")
    site.put("js/app.js", JS, content_type="text/javascript")
    site.put("guide/index.html", "<!doctype html><title>Guide</title><h1>The guide</h1>")
    port = urlsplit(site.web_url).port
    base = f"http://{site.host}:{port}"
    context = browser.new_context()
    context.set_default_timeout(15_000)
    page = context.new_page()
    try:
        loaded: list[str] = []
        page.on("response", lambda r: loaded.append(f"{r.status} {urlsplit(r.url).path}"))
        page.goto(base + "/")
        page.wait_for_function("document.getElementById('title').textContent !== 'loading'")
        assert page.title() == "My site"
        assert page.text_content("#title") == "Hello from app.js"
        color = page.eval_on_selector("#title", "e => getComputedStyle(e).color")
        assert color == "rgb(12, 34, 56)"
        assert {"200 /", "200 /css/site.css", "200 /js/app.js"} <= set(loaded), loaded
        # a client-side route: the error document (the app) answers, the app reads the path
        page.goto(base + "/users/42")
        page.wait_for_function("document.getElementById('route').textContent !== ''")
        assert page.text_content("#route") == "/users/42"
        assert page.text_content("#title") == "Hello from app.js"
        # a folder without its slash: redirected to the folder's index
        page.goto(base + "/guide")
        assert urlsplit(page.url).path == "/guide/"
        assert page.text_content("h1") == "The guide"
    finally:
        context.close()

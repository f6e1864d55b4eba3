"""Fixtures for the console tests: one real server (both planes, SQLite) for the module set,
and one Chromium (Debian's, driven by Playwright) with a fresh profile."""

from __future__ import annotations

import os
import shutil
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from playwright.sync_api import BrowserContext, Page, Playwright

from objectstore.domain.models import Account
from tests.support.server import RunningServer, running_server

from .helpers import ConsoleClient

CHROMIUM_FLAGS = ["--headless", "--no-sandbox", "--disable-gpu",
                  "--disable-background-networking", "--disable-component-update",
                  "--disable-sync"]


def chromium_path() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if not found:
        raise RuntimeError("Debian's chromium is missing: run `bash scripts/ensure-chromium.sh`")
    return found


@pytest.fixture(scope="session")
def console_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("console-data"), None,
                        sqlite_synchronous="NORMAL", fsync=False) as running:
        yield running


@pytest.fixture(scope="session")
def browser_context(tmp_path_factory: pytest.TempPathFactory, pw_session: Playwright
                    ) -> Iterator[BrowserContext]:
    profile = tmp_path_factory.mktemp("chromium-profile")
    ctx = pw_session.chromium.launch_persistent_context(
        str(profile), executable_path=chromium_path(), headless=True,
        args=CHROMIUM_FLAGS, accept_downloads=True, viewport={"width": 1200, "height": 900})
    ctx.set_default_timeout(15_000)
    try:
        yield ctx
    finally:
        ctx.close()


@pytest.fixture(scope="session")
def shots(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Where screenshots go: OBJECTSTORE_SCREENSHOTS_DIR (e.g. docs/screenshots), else a
    temp dir."""
    wanted = os.environ.get("OBJECTSTORE_SCREENSHOTS_DIR")
    path = Path(wanted) if wanted else tmp_path_factory.mktemp("screenshots")
    path.mkdir(parents=True, exist_ok=True)
    return path


@dataclass
class Console:
    srv: RunningServer
    page: Page
    shots: Path

    def url(self, path: str = "/") -> str:
        return f"{self.srv.api_url}/console{path}"

    def sign_in(self, key: str) -> None:
        self.page.context.clear_cookies()
        self.page.goto(self.srv.api_url + "/")
        self.page.get_by_label("API key").fill(key)
        self.page.get_by_role("button", name="Sign in").click()
        self.page.get_by_role("heading", name="Overview").wait_for()

    def nav(self, name: str) -> None:
        """Follow a main-menu link and wait for its page (boosted links load in place)."""
        self.page.get_by_role("navigation", name="Main").get_by_role("link", name=name).click()
        self.page.get_by_role("heading", name=name, exact=True).wait_for()

    def shot(self, name: str) -> None:
        self.page.screenshot(path=str(self.shots / f"{name}.png"), full_page=True)

    def confirm(self, word: str | None = None, *, cancel: bool = False) -> None:
        """Answer the console's confirmation dialog (typing ``word`` first when the action
        cannot be undone), or cancel it."""
        dialog = self.page.get_by_role("dialog")
        dialog.wait_for()
        if cancel:
            dialog.get_by_role("button", name="Cancel").click()
        else:
            if word is not None:
                dialog.get_by_role("textbox").fill(word)
            dialog.locator("#confirm-ok").click()
        dialog.wait_for(state="detached")

    def flash(self) -> str:
        return self.page.locator(".flash").first.inner_text()


@pytest.fixture
def console(console_srv: RunningServer, browser_context: BrowserContext,
            shots: Path) -> Iterator[Console]:
    page = browser_context.new_page()
    dialogs: list[str] = []
    page.on("dialog", lambda d: (dialogs.append(d.message), d.dismiss()))
    try:
        yield Console(console_srv, page, shots)
    finally:
        page.close()
    assert not dialogs, f"a script opened dialogs: {dialogs}"


@pytest.fixture
def tenant(console_srv: RunningServer) -> tuple[Account, str]:
    """A fresh account of its own (not the operator) and its API key."""
    import uuid

    return console_srv.services.accounts.create(f"acct-{uuid.uuid4().hex[:10]}")


@pytest.fixture
def mine(console_srv: RunningServer, tenant: tuple[Account, str]
         ) -> Iterator[tuple[ConsoleClient, Account]]:
    """A console session signed in as ``tenant``'s account, and that account."""
    c = ConsoleClient(console_srv)
    assert c.sign_in(tenant[1]).status_code == 303
    yield c, tenant[0]
    c.close()

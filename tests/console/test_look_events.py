"""The console's event targets page, a store's Notifications section and its Website section
as a person sees them, in Chromium at 1366 px and 375 px: a webhook target made through the
page (a real receiver on 127.0.0.1), its counts, delete asking first and refused while a
store names it; the website turned on with index and error documents, its address shown
whole, turning it off asking first. Tables never push the page sideways, headers stay on
one line at 1366 px, cells keep their words. Saves desktop-/phone-{targets,notifications,
website}.png (``OBJECTSTORE_SCREENSHOTS_DIR=docs/screenshots`` refreshes the docs' copies)."""

from __future__ import annotations

import re
import time
from collections.abc import Iterator

import pytest
from playwright.sync_api import Locator, Page, expect

from objectstore.domain.models import Account
from tests.support.pg import free_port
from tests.support.server import RunningServer, running_server
from tests.support.webhook import Receiver, webhook_receiver

from .conftest import Console
from .helpers import new_store, owner_s3
from .test_look import (
    DESKTOP,
    SIZES,
    cells_not_one_char_wide,
    headers_on_one_line,
    no_sideways_overflow,
)

SECTION_SCREENSHOTS = ("targets", "notifications", "website")
WEB_DOMAIN = "web.test"


@pytest.fixture(scope="module")
def console_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    """The console's server with a website listener (the Website section shows its
    address)."""
    with running_server(tmp_path_factory.mktemp("console-web-data"), None,
                        sqlite_synchronous="NORMAL", fsync=False, web_port=free_port(),
                        web_domain=WEB_DOMAIN) as running:
        yield running


@pytest.fixture
def signed_in(console: Console, tenant: tuple[Account, str]) -> Iterator[tuple[Console, Account]]:
    console.sign_in(tenant[1])
    yield console, tenant[0]
    console.page.set_viewport_size({"width": 1200, "height": 900})


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with webhook_receiver() as rec:
        yield rec


def _prefix(size: dict[str, int]) -> str:
    return "desktop" if size == DESKTOP else "phone"


def tables_fit_their_box(page: Page) -> None:
    """No table hides columns in a sideways scroller: counts and actions stay in sight."""
    bad = page.evaluate("""() => Array.from(document.querySelectorAll('main .scroll'))
      .filter(s => s.scrollWidth > s.clientWidth + 1)
      .map(s => [(s.querySelector('table') || {}).id, s.scrollWidth, s.clientWidth])""")
    assert not bad, f"tables wider than their box: {bad} at {page.url}"


def nav_links_in_view(page: Page) -> None:
    """Every link of the main menu is on screen (none pushed out of a sideways scroller)."""
    bad = page.evaluate("""() => Array.from(
        document.querySelectorAll('nav[aria-label="Main"] a')).filter(a => {
          const r = a.getBoundingClientRect();
          return r.width === 0 || r.left < 0 || r.right > innerWidth + 0.5;
        }).map(a => a.textContent.trim())""")
    assert not bad, f"menu links out of sight: {bad} at {page.url}"


def row_names_on_one_line(page: Page) -> None:
    """At a laptop's width a row's name (a target's, a configuration's) is not broken."""
    bad = page.evaluate("""() => Array.from(document.querySelectorAll('tbody th[scope=row]'))
      .filter(th => { const range = document.createRange(); range.selectNodeContents(th);
        const tops = new Set(Array.from(range.getClientRects()).map(r => Math.round(r.top)));
        return tops.size > 1; }).map(th => th.textContent.trim())""")
    assert not bad, f"row names on more than one line: {bad} at {page.url}"


def _fits(page: Page, size: dict[str, int]) -> None:
    no_sideways_overflow(page)
    tables_fit_their_box(page)
    nav_links_in_view(page)
    if size == DESKTOP:
        headers_on_one_line(page)
        row_names_on_one_line(page)
    cells_not_one_char_wide(page)


def _whole(el: Locator) -> None:
    """The element's text is all visible: nothing cut off, inside the window."""
    hidden = el.evaluate("e => [e.scrollWidth - e.clientWidth, e.scrollHeight - e.clientHeight,"
                         " e.getBoundingClientRect().right - innerWidth]")
    assert hidden[0] <= 1 and hidden[1] <= 1 and hidden[2] <= 0, hidden


def _section_shot(console: Console, section: Locator, name: str) -> None:
    """The section alone, as laid out with the page scrolled to the top (so the sticky menu
    bar is not drawn over it)."""
    console.page.evaluate("window.scrollTo(0, 0)")
    box = section.evaluate("""e => { const r = e.getBoundingClientRect();
        return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height}; }""")
    path = console.shots / f"{name}.png"
    console.page.screenshot(path=str(path), full_page=True, clip=box)
    assert path.stat().st_size > 5_000, path


def _counts(row: Locator) -> list[str]:
    """The numbers of a row's count cells (the Backlog cell's limit, on its second line, left
    out)."""
    return [c.strip().split("\n")[0].strip() for c in row.locator("td.num").all_inner_texts()]


@SIZES
def test_event_targets_page_and_notifications_section(
        signed_in: tuple[Console, Account], hook: Receiver, size: dict[str, int]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    page.set_viewport_size(size)
    page.goto(console.url("/event-targets"))
    page.get_by_role("heading", name="Event targets", exact=True).wait_for()
    expect(page.get_by_text("No event targets yet")).to_be_visible()
    _fits(page, size)

    # a webhook target made through the page, pointing at a receiver on 127.0.0.1
    page.get_by_label("Name", exact=True).fill("thumbnails")
    page.get_by_label("Type", exact=True).select_option("webhook")
    page.get_by_label(re.compile(r"^Endpoint")).fill(hook.url)
    page.get_by_label(re.compile(r"^Webhook auth token")).fill("look-secret-42")
    page.get_by_role("button", name="Create event target").click()
    expect(page.get_by_role("status")).to_contain_text("Event target thumbnails created")
    row = page.locator("#event-targets tbody tr").filter(has_text="thumbnails")
    expect(row).to_have_count(1)
    expect(row).to_contain_text("webhook")
    expect(row).to_contain_text(hook.url)
    expect(page.locator("main")).not_to_contain_text("look-secret-42")
    arn = re.search(r"arn:objectstore:sqs:\w+:[0-9a-f-]{36}:webhook", row.inner_text())
    assert arn, row.inner_text()
    assert _counts(row) == ["0", "0", "0", "0"]  # backlog, delivered, retried, failed

    # a store names it; events arrive; the counts show on both pages
    sw = new_store(srv, account, "look-notified")
    s3 = owner_s3(srv, sw)
    s3.put_bucket_notification_configuration(
        Bucket=sw.store.name, NotificationConfiguration={"QueueConfigurations": [{
            "Id": "make-thumbnails", "QueueArn": arn.group(0),
            "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"],
            "Filter": {"Key": {"FilterRules": [{"Name": "prefix", "Value": "photos/"},
                                               {"Name": "suffix", "Value": ".jpg"}]}}}]})
    for i in range(3):
        s3.put_object(Bucket=sw.store.name, Key=f"photos/{i}.jpg", Body=b"x")
    hook.wait_count(3)
    deadline = time.monotonic() + 10
    while _counts(row) != ["0", "3", "0", "0"] and time.monotonic() < deadline:
        time.sleep(0.2)  # the counts are committed just after the receiver answered
        page.reload()
    assert _counts(row) == ["0", "3", "0", "0"]
    for header in ("Backlog", "Delivered", "Retried", "Failed"):
        expect(page.locator("#event-targets thead")).to_contain_text(header)
    _fits(page, size)
    page.evaluate("window.scrollTo(0, 0)")
    console.shot(f"{_prefix(size)}-targets")
    assert (console.shots / f"{_prefix(size)}-targets.png").stat().st_size > 5_000

    # delete asks first; cancel keeps it; confirmed, it is refused while the store names it
    target_id = arn.group(0).split(":")[4]
    delete = page.get_by_role("button", name="Delete event target thumbnails")
    delete.click()
    expect(page.get_by_role("dialog")).to_contain_text("thumbnails")
    console.confirm(cancel=True)
    assert srv.services.targets is not None
    assert srv.services.targets.get(account.id, target_id)
    delete.click()
    console.confirm()
    refused = page.get_by_role("alert")
    expect(refused).to_contain_text("notification configuration")
    expect(refused).to_contain_text("remove it there first")
    _whole(refused)
    no_sideways_overflow(page)
    expect(page.locator("#event-targets tbody tr").filter(has_text="thumbnails")).to_have_count(1)

    # the store's Notifications section
    page.goto(console.url(f"/stores/{sw.store.id}"))
    section = page.locator("section").filter(
        has=page.get_by_role("heading", name="Notifications", exact=True))
    note = section.locator("#store-notifications tbody tr")
    expect(note).to_have_count(1)
    expect(note).to_contain_text("make-thumbnails")
    expect(note).to_contain_text("thumbnails (webhook)")
    expect(note).to_contain_text("photos/….jpg")
    assert _counts(note) == ["0", "3", "0", "0"]
    _fits(page, size)
    section.scroll_into_view_if_needed()
    _section_shot(console, section, f"{_prefix(size)}-notifications")

    # once the store no longer names it, the target goes (asked first)
    s3.put_bucket_notification_configuration(Bucket=sw.store.name,
                                             NotificationConfiguration={})
    page.reload()
    expect(section).to_contain_text("No notifications")
    page.goto(console.url("/event-targets"))
    page.get_by_role("button", name="Delete event target thumbnails").click()
    console.confirm()
    expect(page.get_by_role("status")).to_contain_text("Event target thumbnails deleted")
    expect(page.get_by_text("No event targets yet")).to_be_visible()


@SIZES
def test_website_section(signed_in: tuple[Console, Account], size: dict[str, int]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "look-site")
    page.set_viewport_size(size)
    page.goto(console.url(f"/stores/{sw.store.id}"))
    section = page.locator("section").filter(
        has=page.get_by_role("heading", name="Website", exact=True))
    expect(section.locator("#website-state")).to_have_text("Off")
    expect(section.get_by_role("button", name="Turn off website")).to_have_count(0)
    section.get_by_label("Index document").fill("index.html")
    section.get_by_label(re.compile(r"^Error document")).fill("404.html")
    section.get_by_role("button", name="Turn on website").click()
    expect(page.get_by_role("status")).to_contain_text("turned on")
    expect(section.locator("#website-state")).to_have_text("On")
    assert srv.services.configs.get(sw.store.id, "website") == {"index": "index.html",
                                                                "error": "404.html"}
    port = (srv.web_url or "").rsplit(":", 1)[1]
    link = section.locator("#website-url")
    expected = f"http://{sw.store.name}.{WEB_DOMAIN}:{port}/"
    expect(link).to_have_text(expected)
    expect(link).to_have_attribute("href", expected)
    _whole(link)
    _fits(page, size)
    for field in (section.get_by_label("Index document"),
                  section.get_by_label(re.compile(r"^Error document"))):
        assert field.evaluate("e => e.getBoundingClientRect().right <= innerWidth")
    section.scroll_into_view_if_needed()
    _section_shot(console, section, f"{_prefix(size)}-website")

    # turning it off asks first; cancel keeps the site
    section.get_by_role("button", name="Turn off website").click()
    expect(page.get_by_role("dialog")).to_contain_text(sw.store.name)
    console.confirm(cancel=True)
    assert srv.services.configs.get(sw.store.id, "website") is not None
    section.get_by_role("button", name="Turn off website").click()
    console.confirm()
    expect(page.get_by_role("status")).to_contain_text("turned off")
    expect(section.locator("#website-state")).to_have_text("Off")
    assert srv.services.configs.get(sw.store.id, "website") is None

"""The console as a person sees it, in Chromium at a laptop's width (1366 px) and a phone's
(375 px): destructive actions ask first (cancel keeps the object), tables keep their words
whole and never push the page sideways, the object browser's tools, readable charts."""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import Page, expect

from objectstore.domain.models import Account, StoreWithOwner
from tests.support.server import RunningServer

from .conftest import Console
from .helpers import new_store, owner_s3

DESKTOP = {"width": 1366, "height": 900}
PHONE = {"width": 375, "height": 740}
SIZES = pytest.mark.parametrize("size", [DESKTOP, PHONE], ids=["1366px", "375px"])


def _exists(srv: RunningServer, sw: StoreWithOwner, key: str) -> bool:
    try:
        owner_s3(srv, sw).head_object(Bucket=sw.store.name, Key=key)
        return True
    except ClientError:
        return False


@pytest.fixture
def signed_in(console: Console, tenant: tuple[Account, str]) -> Iterator[tuple[Console, Account]]:
    console.sign_in(tenant[1])
    yield console, tenant[0]


def no_sideways_overflow(page: Page) -> None:
    widths = page.evaluate("() => [document.documentElement.scrollWidth, window.innerWidth]")
    assert widths[0] <= widths[1], f"the page scrolls sideways: {widths} at {page.url}"


def headers_on_one_line(page: Page) -> None:
    """Every column header is one line high (its text never breaks)."""
    bad = page.evaluate("""() => Array.from(document.querySelectorAll('thead th')).filter(th => {
        const cs = getComputedStyle(th);
        const line = parseFloat(cs.lineHeight) || parseFloat(cs.fontSize) * 1.45;
        const inner = th.clientHeight - parseFloat(cs.paddingTop) - parseFloat(cs.paddingBottom);
        return th.textContent.trim() && inner > line * 1.5;
      }).map(th => th.textContent.trim())""")
    assert not bad, f"headers on more than one line: {bad} at {page.url}"


def cells_not_one_char_wide(page: Page) -> None:
    """No table cell with text is squeezed to a sliver (a character or two per line)."""
    bad = page.evaluate("""() => Array.from(document.querySelectorAll('tbody td, tbody th'))
      .filter(c => c.textContent.trim().length > 3 && c.clientWidth < 40)
      .map(c => c.textContent.trim().slice(0, 20))""")
    assert not bad, f"cells squeezed: {bad} at {page.url}"


# -- 1. destructive actions ask first ----------------------------------------------------------

def test_delete_object_asks_and_cancel_keeps_it(signed_in: tuple[Console, Account]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "ask")
    owner_s3(srv, sw).put_object(Bucket=sw.store.name, Key="keep.txt", Body=b"k")
    page.goto(console.url(f"/stores/{sw.store.id}/object?key=keep.txt"))
    page.get_by_role("button", name="Delete object").click()
    dialog = page.get_by_role("dialog")
    expect(dialog).to_be_visible()
    expect(dialog).to_contain_text("keep.txt")
    console.confirm(cancel=True)
    assert _exists(srv, sw, "keep.txt")
    expect(page.locator("#object-key")).to_have_text("keep.txt")
    # versioning off: gone for good, so the word must be typed first
    page.get_by_role("button", name="Delete object").click()
    ok = page.get_by_role("dialog").get_by_role("button", name="Delete object")
    expect(ok).to_be_disabled()
    page.get_by_role("dialog").get_by_role("textbox").fill("delet")
    expect(ok).to_be_disabled()
    console.confirm("delete")
    expect(page.get_by_role("status")).to_contain_text("Deleted")
    assert not _exists(srv, sw, "keep.txt")


def test_delete_selection_asks_with_count_and_select_all(
        signed_in: tuple[Console, Account]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "sel")
    s3 = owner_s3(srv, sw)
    for k in ("a.txt", "b.txt", "c.txt"):
        s3.put_object(Bucket=sw.store.name, Key=k, Body=k.encode())
    page.goto(console.url(f"/stores/{sw.store.id}/objects"))
    expect(page.locator("#object-counts")).to_contain_text("3 objects")
    page.get_by_label("Select all objects on this page").check()
    expect(page.locator("#selected-count")).to_have_text("3 selected")
    page.get_by_label("Select b.txt").uncheck()
    assert page.locator("#select-all").evaluate("b => b.indeterminate")
    page.get_by_role("button", name="Delete selected").click()
    expect(page.get_by_role("dialog")).to_contain_text("Delete 2 selected objects")
    console.confirm(cancel=True)
    assert all(_exists(srv, sw, k) for k in ("a.txt", "b.txt", "c.txt"))
    page.get_by_role("button", name="Delete selected").click()
    console.confirm("delete")
    expect(page.locator("#objects tr.object")).to_have_count(1)
    assert _exists(srv, sw, "b.txt") and not _exists(srv, sw, "a.txt")


def test_delete_version_asks_typed(signed_in: tuple[Console, Account]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "ver")
    s3 = owner_s3(srv, sw)
    s3.put_bucket_versioning(Bucket=sw.store.name,
                             VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=sw.store.name, Key="v.txt", Body=b"1")
    s3.put_object(Bucket=sw.store.name, Key="v.txt", Body=b"2")
    page.goto(console.url(f"/stores/{sw.store.id}/objects?versions=1"))
    rows = page.locator("#versions tr.version")
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name=re.compile("Delete version")).click()
    expect(page.get_by_role("dialog")).to_contain_text("for good")
    page.keyboard.press("Escape")
    expect(page.get_by_role("dialog")).to_have_count(0)
    expect(rows).to_have_count(2)
    rows.nth(1).get_by_role("button", name=re.compile("Delete version")).click()
    console.confirm("delete")
    expect(page.get_by_role("status")).to_contain_text("Deleted version")
    expect(rows).to_have_count(1)


def test_credential_delete_and_replace_keys_ask(signed_in: tuple[Console, Account]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "own")
    # a credential that owns stores: no delete button, a clear message instead
    page.goto(console.url(f"/credentials/{sw.owner.id}"))
    expect(page.locator("#cred-owns-stores")).to_contain_text("cannot be deleted")
    expect(page.locator("#cred-owns-stores")).to_contain_text(sw.store.name)
    expect(page.get_by_role("button", name="Delete credential")).to_have_count(0)

    cred = srv.services.credentials.create(account.id, "LON1", f"spare-{uuid.uuid4().hex[:6]}",
                                           None, None, None)
    page.goto(console.url(f"/credentials/{cred.id}"))
    page.get_by_role("button", name="Replace keys").click()
    expect(page.get_by_role("dialog")).to_contain_text("stop working")
    console.confirm(cancel=True)
    now = srv.services.credentials.get(account.id, cred.id)
    assert now.access_key_id == cred.access_key_id
    page.get_by_role("button", name="Replace keys").click()
    console.confirm("replace")
    expect(page.get_by_role("status")).to_contain_text("new keys")
    assert srv.services.credentials.get(account.id, cred.id).access_key_id \
        != cred.access_key_id

    page.get_by_role("button", name="Delete credential").click()
    console.confirm(cancel=True)
    assert srv.services.credentials.get(account.id, cred.id)
    page.get_by_role("button", name="Delete credential").click()
    console.confirm(cred.name)
    expect(page.get_by_role("status")).to_contain_text(f"Credential {cred.name} deleted")


# -- 2. tables keep their words; pages never scroll sideways; navigation stays put -------------

@SIZES
def test_pages_fit_and_tables_keep_words(signed_in: tuple[Console, Account],
                                         size: dict[str, int]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "layout-with-a-rather-long-store-name")
    s3 = owner_s3(srv, sw)
    s3.put_object(Bucket=sw.store.name, Key="photos/holiday-2026-a-very-long-file-name.jpeg",
                  Body=b"x" * 2048)
    s3.put_object(Bucket=sw.store.name, Key="readme.txt", Body=b"hello")
    s3.put_bucket_versioning(Bucket=sw.store.name,
                             VersioningConfiguration={"Status": "Enabled"})
    page.set_viewport_size(size)
    try:
        for path in ("/", "/stores", f"/stores/{sw.store.id}", f"/stores/{sw.store.id}/objects",
                     f"/stores/{sw.store.id}/objects?versions=1",
                     f"/stores/{sw.store.id}/object?key=readme.txt", "/credentials",
                     f"/credentials/{sw.owner.id}"):
            page.goto(console.url(path))
            no_sideways_overflow(page)
            headers_on_one_line(page)
            cells_not_one_char_wide(page)
        page.goto(srv.api_url + "/docs")
        no_sideways_overflow(page)
        # the navigation stays at the top while the page scrolls
        page.goto(console.url(f"/stores/{sw.store.id}"))
        page.mouse.wheel(0, 2000)
        page.wait_for_function("() => window.scrollY > 100")
        top = page.get_by_role("navigation", name="Main").evaluate(
            "n => n.getBoundingClientRect().top")
        assert 0 <= top < 100
        expect(page.get_by_role("navigation", name="Main")).to_be_in_viewport()
        console.sign_in(srv.api_key)  # the operator's accounts page too
        page.goto(console.url("/accounts"))
        no_sideways_overflow(page)
        headers_on_one_line(page)
        cells_not_one_char_wide(page)
    finally:
        page.set_viewport_size({"width": 1200, "height": 900})


# -- 3. the object browser's tools ---------------------------------------------------------------

def test_objects_sort_search_upload_button_drop_and_share(
        signed_in: tuple[Console, Account], tmp_path: Path) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "tools")
    s3 = owner_s3(srv, sw)
    for key, size in (("b-middle.txt", 20), ("a-small.txt", 1), ("c-large.txt", 3000),
                      ("docs/inner.txt", 5)):
        s3.put_object(Bucket=sw.store.name, Key=key, Body=b"x" * size)
    base = f"/stores/{sw.store.id}/objects"
    page.goto(console.url(base))
    expect(page.locator("#object-counts")).to_contain_text("4 objects in this store")
    expect(page.locator("#object-counts")).to_contain_text("1 folder, 3 objects")
    names = page.locator("#objects tr.object a.object-link")
    expect(names).to_have_text(["a-small.txt", "b-middle.txt", "c-large.txt"])
    size_header = page.get_by_role("button", name="Size")
    size_header.click()
    expect(names).to_have_text(["a-small.txt", "b-middle.txt", "c-large.txt"])
    size_header.click()
    expect(names).to_have_text(["c-large.txt", "b-middle.txt", "a-small.txt"])
    expect(page.locator("th[aria-sort=descending]")).to_contain_text("Size")
    expect(page.locator("#objects tbody tr").first).to_have_class("folder")  # folders first
    page.get_by_role("button", name="Name").click()
    expect(names).to_have_text(["a-small.txt", "b-middle.txt", "c-large.txt"])

    # search by name within the store
    page.get_by_label("Search this store").fill("b-")
    page.get_by_role("button", name="Search").click()
    expect(names).to_have_text(["b-middle.txt"])
    page.get_by_role("link", name="Clear search").click()
    expect(names).to_have_count(3)

    # the upload button opens the file picker; a drop on the drop zone uploads too
    one = tmp_path / "picked.txt"
    one.write_bytes(b"picked")
    with page.expect_file_chooser() as chooser:
        page.get_by_role("button", name="Upload", exact=True).click()
    chooser.value.set_files(str(one))
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")
    assert _exists(srv, sw, "picked.txt")
    page.goto(console.url(base))
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["dropped bytes"], "dropped.txt", {type: "text/plain"}));
        const zone = document.getElementById("dropzone");
        zone.dispatchEvent(new DragEvent("dragover", {dataTransfer: dt, bubbles: true,
                                                      cancelable: true}));
        zone.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                  cancelable: true}));
    }""")
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")
    got = s3.get_object(Bucket=sw.store.name, Key="dropped.txt")["Body"].read()
    assert got == b"dropped bytes"
    # the listing itself takes drops too
    page.goto(console.url(base))
    page.evaluate("""() => {
        const dt = new DataTransfer();
        dt.items.add(new File(["on the list"], "onlist.txt", {type: "text/plain"}));
        const cell = document.querySelector("#objects tbody td.name");
        cell.dispatchEvent(new DragEvent("drop", {dataTransfer: dt, bubbles: true,
                                                  cancelable: true}));
    }""")
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")
    expect(page.get_by_role("link", name="onlist.txt", exact=True)).to_be_visible()

    # breadcrumbs lead back from a folder
    page.goto(console.url(base + "?prefix=docs/"))
    crumbs = page.get_by_role("navigation", name="Breadcrumbs")
    expect(crumbs).to_contain_text("docs")
    crumbs.get_by_role("link", name=sw.store.name).click()
    expect(page.get_by_role("heading", name=sw.store.name, exact=True)).to_be_visible()

    # the share link is shown whole (no hidden part) at both widths, with a copy button
    for size in (DESKTOP, PHONE):
        page.set_viewport_size(size)
        page.goto(console.url(f"/stores/{sw.store.id}/object?key=a-small.txt"))
        page.get_by_role("button", name="Create share link").click()
        box = page.get_by_role("textbox", name="Share link")
        expect(box).to_contain_text("X-Amz-Signature=")
        hidden = box.evaluate(
            "t => [t.scrollHeight - t.clientHeight, t.scrollWidth - t.clientWidth]")
        assert hidden[0] <= 1 and hidden[1] <= 1, hidden
        assert box.evaluate("t => t.getBoundingClientRect().right <= innerWidth")
        no_sideways_overflow(page)
        page.get_by_role("button", name="Copy share link").click()
        expect(page.get_by_role("button", name="Copied")).to_be_visible()
    page.set_viewport_size({"width": 1200, "height": 900})


# -- 4. charts a person can read; the overview's endpoints -------------------------------------

@SIZES
def test_chart_axes_one_sample_mark_tooltips_and_overview(
        signed_in: tuple[Console, Account], size: dict[str, int]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "chart")  # a new store: one sample, the usage of the moment
    page.set_viewport_size(size)
    try:
        page.goto(console.url(f"/stores/{sw.store.id}"))
        chart = page.locator("#usage-chart")
        expect(chart).to_be_visible()
        expect(chart.locator("#x-title")).to_have_text("Time (UTC)")
        expect(chart.locator("#y-title-bytes")).to_have_text("Bytes stored")
        expect(chart.locator("#y-title-objects")).to_have_text("Objects")
        assert chart.locator("text.tick").count() >= 8  # values on both scales, and times
        dots = chart.locator("circle.dot")
        assert dots.count() == 2  # one sample: a mark for bytes and one for objects
        box = dots.first.bounding_box()
        assert box and box["width"] >= 3 and box["height"] >= 3
        tip = chart.locator("g.sample > title").first.text_content() or ""
        assert re.search(r"\d{4}-\d\d-\d\d \d\d:\d\d UTC: 0 B, 0 objects", tip), tip
        expect(page.get_by_text("One sample so far")).to_be_visible()
        no_sideways_overflow(page)

        page.goto(console.url("/"))
        expect(page.locator("#s3-endpoint")).to_have_text(srv.s3_url)
        expect(page.get_by_role("heading", name="Connect a client")).to_be_visible()
        expect(page.locator("#connect-example")).to_contain_text(
            f"--endpoint-url {srv.s3_url}")
        no_sideways_overflow(page)
    finally:
        page.set_viewport_size({"width": 1200, "height": 900})


# -- 5. /docs: examples for every endpoint, errors once, a way back ------------------------------

@SIZES
def test_docs_examples_errors_once_and_way_back(signed_in: tuple[Console, Account],
                                                size: dict[str, int]) -> None:
    console, _ = signed_in
    page, srv = console.page, console.srv
    page.set_viewport_size(size)
    try:
        page.goto(srv.api_url + "/docs")
        ops = page.locator("section.op")
        assert ops.count() >= 10
        for i in range(ops.count()):
            op = ops.nth(i)
            title = op.locator("h2").inner_text()
            request = op.locator("pre.example-request").inner_text()
            method, path = title.split(" ", 1)
            assert request.startswith("curl") and path.split("{")[0] in request, title
            assert (f"-X {method}" in request) == (method != "GET"), title
            if path.startswith("/v2/"):
                assert "Authorization: bearer $API_KEY" in request, title
                body = op.locator("pre.example-response").inner_text()
                assert isinstance(json.loads(body), dict | list), title
        # each error is described once, in one section; operations link to it
        unknown_key = page.get_by_text("Missing or unknown API key")
        expect(unknown_key).to_have_count(1)
        expect(page.locator("#errors dt")).to_have_count(
            len(set(page.locator("section.op .errors-line a").all_inner_texts())))
        assert json.loads(page.locator("#error-example").inner_text())["code"]
        no_sideways_overflow(page)
        page.get_by_role("link", name="Back to the console").first.click()
        expect(page.get_by_role("heading", name="Overview")).to_be_visible()
    finally:
        page.set_viewport_size({"width": 1200, "height": 900})


# -- 6. a favicon; buttons by weight, one height ----------------------------------------------

def test_favicon_and_buttons_by_weight(signed_in: tuple[Console, Account]) -> None:
    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "look")
    owner_s3(srv, sw).put_object(Bucket=sw.store.name, Key="f.txt", Body=b"f")
    for path in ("/", "/stores", f"/stores/{sw.store.id}", f"/stores/{sw.store.id}/objects",
                 f"/stores/{sw.store.id}/object?key=f.txt", "/credentials"):
        page.goto(console.url(path))
        href = page.locator('link[rel="icon"]').get_attribute("href")
        assert href and href.endswith(".svg")
        icon = page.request.get(srv.api_url + href)
        assert icon.status == 200 and icon.headers["content-type"].startswith("image/svg+xml")
        heights = page.evaluate("""() => Array.from(document.querySelectorAll(
            'main button:not(.sort), main a.button')).filter(b => b.offsetParent)
            .map(b => Math.round(b.getBoundingClientRect().height))""")
        assert heights and max(heights) - min(heights) <= 2, (path, heights)
        if path != "/":
            # the page's main action stands out; destructive ones are red
            assert page.locator("main .primary").count() >= 1, path
    page.goto(console.url(f"/stores/{sw.store.id}"))
    red = page.get_by_role("button", name="Delete store").evaluate(
        "b => getComputedStyle(b).backgroundColor")
    assert red == "rgb(180, 35, 24)"


# -- 7. the screenshots in README.md and docs/console.md come from here ------------------------

SCREENSHOTS = ("overview", "objects", "object", "store", "credential", "confirm", "docs")


def test_screenshots_desktop_and_phone(signed_in: tuple[Console, Account]) -> None:
    """Pages of a lived-in account at 1366 px and 375 px, saved as desktop-<page>.png and
    phone-<page>.png (``OBJECTSTORE_SCREENSHOTS_DIR=docs/screenshots`` refreshes the docs'
    copies); each is checked for sideways overflow as it is taken."""
    import time

    console, account = signed_in
    page, srv = console.page, console.srv
    sw = new_store(srv, account, "photos")
    s3 = owner_s3(srv, sw)
    for key, size in (("2026/holiday/beach.jpg", 2_400_000), ("2026/holiday/sunset.jpg",
                      3_100_000), ("2026/receipts/march.pdf", 180_000),
                      ("notes/ideas.md", 4_200), ("album-cover.png", 820_000),
                      ("backup-2026-12-01.tar.gz", 7_300_000), ("readme.txt", 310)):
        s3.put_object(Bucket=sw.store.name, Key=key, Body=b"\0" * size)
    history = srv.apps.mgmt.app.app.app.state.console.state.history  # type: ignore[attr-defined]
    now = time.time()
    for i in range(24):
        history.record(now - 86_000 + i * 3_500, [(sw.store.id, 600_000 * i, i // 3)])
    sid = sw.store.id

    def snap(name: str, prefix: str, *, full: bool = True) -> None:
        no_sideways_overflow(page)
        if full:
            page.evaluate("window.scrollTo(0, 0)")
        page.screenshot(path=str(console.shots / f"{prefix}-{name}.png"), full_page=full)

    for prefix, size in (("desktop", DESKTOP), ("phone", PHONE)):
        page.set_viewport_size(size)
        page.goto(console.url("/"))
        snap("overview", prefix)
        page.goto(console.url(f"/stores/{sid}/objects"))
        page.get_by_label("Select readme.txt").check()
        snap("objects", prefix)
        page.goto(console.url(f"/stores/{sid}/object?key=album-cover.png"))
        page.get_by_role("button", name="Create share link").click()
        expect(page.get_by_role("textbox", name="Share link")).to_contain_text("X-Amz")
        snap("object", prefix)
        page.goto(console.url(f"/stores/{sid}"))
        expect(page.locator("#usage-chart circle.dot")).not_to_have_count(0)
        snap("store", prefix)
        page.goto(console.url(f"/credentials/{sw.owner.id}"))
        snap("credential", prefix)
        page.goto(console.url(f"/stores/{sid}/object?key=readme.txt"))
        page.get_by_role("button", name="Delete object").click()
        expect(page.get_by_role("dialog")).to_be_visible()
        snap("confirm", prefix, full=False)
        console.confirm(cancel=True)
        page.goto(srv.api_url + "/docs#POST-v2-objectstores")
        snap("docs", prefix, full=False)
    page.set_viewport_size({"width": 1200, "height": 900})
    assert _exists(srv, sw, "readme.txt")
    for name in SCREENSHOTS:
        for prefix in ("desktop", "phone"):
            assert (console.shots / f"{prefix}-{name}.png").stat().st_size > 5_000


def test_docs_show_only_screenshots_the_tests_make() -> None:
    """README.md and docs/console.md show the screenshots above (so a refresh updates them
    all) and nothing else from docs/screenshots."""
    from .test_look_events import SECTION_SCREENSHOTS

    root = Path(__file__).resolve().parents[2]
    made = {f"{p}-{n}.png" for n in SCREENSHOTS + SECTION_SCREENSHOTS
            for p in ("desktop", "phone")}
    shown: set[str] = set()
    for doc in ("README.md", "docs/console.md"):
        shown |= set(re.findall(r"screenshots/([\w.-]+\.png)", (root / doc).read_text()))
    assert shown and shown <= made, shown - made
    assert {"desktop-objects.png", "phone-objects.png"} <= shown
    for name in shown:
        assert (root / "docs" / "screenshots" / name).is_file(), name

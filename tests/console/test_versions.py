"""Versioning, object lock and lifecycle in the console: the store page's settings, the
object browser's versions view (download and delete one version), in Chromium; and the
versions view's paging and refusals over HTTP."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from objectstore.domain.models import Account
from tests.support.server import RunningServer

from .conftest import Console
from .helpers import ConsoleClient, new_store, owner_s3


def test_versions_enable_upload_twice_download_old_delete_old(
        console: Console, tenant: tuple[Account, str], tmp_path: Path) -> None:
    page, srv = console.page, console.srv
    account, key = tenant
    sw = new_store(srv, account, "vers")
    sid = sw.store.id
    console.sign_in(key)

    # -- enable versioning on the store page ------------------------------------------------
    page.goto(console.url(f"/stores/{sid}"))
    expect(page.locator("#versioning-state")).to_have_text("Never enabled")
    expect(page.locator("#lock-state")).to_have_text("Not enabled")
    expect(page.get_by_text("No lifecycle rules")).to_be_visible()
    page.get_by_role("button", name="Enable versioning").click()
    expect(page.get_by_role("status")).to_contain_text("Versioning is now enabled")
    expect(page.locator("#versioning-state")).to_have_text("Enabled")
    assert srv.services.stores.get(account.id, sid, None).store.versioning == "Enabled"

    # -- upload the same name twice ----------------------------------------------------------
    first, second = tmp_path / "v1", tmp_path / "v2"
    first.mkdir()
    second.mkdir()
    (first / "notes.txt").write_bytes(b"the first version\n")
    (second / "notes.txt").write_bytes(b"the second version, longer\n")
    page.goto(console.url(f"/stores/{sid}/objects"))
    page.get_by_label("Upload files").set_input_files(str(first / "notes.txt"))
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")
    page.goto(console.url(f"/stores/{sid}/objects"))
    page.get_by_label("Upload files").set_input_files(str(second / "notes.txt"))
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")

    # -- show versions: two, the newest first and latest ------------------------------------
    page.goto(console.url(f"/stores/{sid}/objects"))
    page.get_by_role("link", name="Show versions").click()
    rows = page.locator("#versions tr.version")
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".badge.latest")).to_have_text("latest")
    expect(rows.nth(1).locator(".badge")).to_have_count(0)
    old_id = rows.nth(1).get_attribute("data-version-id")
    new_id = rows.nth(0).get_attribute("data-version-id")
    assert old_id and new_id and old_id != new_id and old_id != "null"
    console.shot("versions")

    # -- download the old version: its bytes ------------------------------------------------
    with page.expect_download() as dl:
        page.get_by_role("link", name=f"Download version {old_id} of notes.txt").click()
    assert Path(dl.value.path()).read_bytes() == b"the first version\n"

    # -- the old version's details ----------------------------------------------------------
    rows.nth(1).get_by_role("link", name="notes.txt", exact=True).click()
    expect(page.locator("#object-version")).to_contain_text(old_id)
    expect(page.get_by_text("An older version (noncurrent)")).to_be_visible()
    expect(page.locator("#object-size")).to_contain_text("18 bytes")

    # -- delete the old version for good ----------------------------------------------------
    page.goto(console.url(f"/stores/{sid}/objects?versions=1"))
    page.get_by_role("button", name=f"Delete version {old_id} of notes.txt").click()
    console.confirm("delete")
    expect(page.get_by_role("status")).to_contain_text(f"Deleted version {old_id}")
    expect(rows).to_have_count(1)
    assert rows.nth(0).get_attribute("data-version-id") == new_id
    listed = owner_s3(srv, sw).list_object_versions(Bucket=sw.store.name)
    assert [v["VersionId"] for v in listed["Versions"]] == [new_id]

    # -- delete the key: a delete marker, shown as such, and removable ----------------------
    page.get_by_role("link", name="Hide versions").click()
    page.get_by_label("Select notes.txt").check()
    page.get_by_role("button", name="Delete selected").click()
    console.confirm()
    expect(page.get_by_text("This store is empty")).to_be_visible()
    page.get_by_role("link", name="Show versions").click()
    expect(rows).to_have_count(2)
    expect(rows.nth(0).locator(".badge.marker")).to_have_text("delete marker")
    rows.nth(0).get_by_role("button", name=re.compile("Remove the delete marker")).click()
    expect(page.get_by_role("status")).to_contain_text("Deleted the delete marker")
    expect(rows).to_have_count(1)
    expect(rows.nth(0).locator(".badge.latest")).to_be_visible()


def test_lifecycle_rules_on_the_store_page(console: Console, tenant: tuple[Account, str]
                                          ) -> None:
    page, srv = console.page, console.srv
    account, key = tenant
    sw = new_store(srv, account, "life")
    s3 = owner_s3(srv, sw)
    s3.put_bucket_versioning(Bucket=sw.store.name,
                             VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_lifecycle_configuration(Bucket=sw.store.name, LifecycleConfiguration={
        "Rules": [
            {"ID": "logs-30d", "Status": "Enabled", "Filter": {"Prefix": "logs/"},
             "Expiration": {"Days": 30},
             "NoncurrentVersionExpiration": {"NoncurrentDays": 7,
                                             "NewerNoncurrentVersions": 2},
             "AbortIncompleteMultipartUpload": {"DaysAfterInitiation": 1}},
            {"ID": "tmp <b>", "Status": "Disabled",
             "Filter": {"And": {"Prefix": "tmp/", "Tags": [{"Key": "kind", "Value": "scratch"}],
                                "ObjectSizeGreaterThan": 1000}},
             "Expiration": {"Date": datetime(2030, 1, 1, tzinfo=UTC)}},
        ]})
    console.sign_in(key)
    page.goto(console.url(f"/stores/{sw.store.id}"))
    table = page.locator("#lifecycle-rules")
    first, second = table.locator("tbody tr").nth(0), table.locator("tbody tr").nth(1)
    expect(first).to_contain_text("logs-30d")
    expect(first).to_contain_text("Enabled")
    expect(first).to_contain_text("keys starting with “logs/”")
    expect(first).to_contain_text("Expire current versions 30 days after creation")
    expect(first).to_contain_text("Delete noncurrent versions 7 days after they become "
                                  "noncurrent, keeping the 2 newest")
    expect(second.locator("td").nth(0)).to_have_text("tmp <b>")  # text, not markup
    expect(second).to_contain_text("Disabled")
    expect(second).to_contain_text("tag kind = scratch")
    expect(second).to_contain_text("larger than 1,000 bytes")
    expect(second).to_contain_text("Expire current versions on 2030-01-01 00:00 UTC")
    expect(first).to_contain_text("Abort incomplete multipart uploads 1 day after")
    console.shot("store-settings")

    box = page.get_by_label(re.compile("To delete the lifecycle configuration"))
    box.fill("not-the-name")
    page.get_by_role("button", name="Delete lifecycle configuration").click()
    expect(page.get_by_role("alert")).to_contain_text("type the store's name")
    assert s3.get_bucket_lifecycle_configuration(Bucket=sw.store.name)["Rules"]
    box.fill(sw.store.name)
    page.get_by_role("button", name="Delete lifecycle configuration").click()
    expect(page.get_by_role("status")).to_contain_text("lifecycle configuration")
    expect(page.get_by_text("No lifecycle rules")).to_be_visible()
    with pytest.raises(ClientError) as gone:
        s3.get_bucket_lifecycle_configuration(Bucket=sw.store.name)
    assert gone.value.response["Error"]["Code"] == "NoSuchLifecycleConfiguration"


def test_lock_enabled_store_refuses_suspension_and_locked_deletes(
        console: Console, tenant: tuple[Account, str]) -> None:
    page, srv = console.page, console.srv
    account, key = tenant
    holder = new_store(srv, account, "holder")  # its owner credential creates the bucket
    s3 = owner_s3(srv, holder)
    name = f"locked-{uuid.uuid4().hex[:8]}"
    s3.create_bucket(Bucket=name, ObjectLockEnabledForBucket=True)
    s3.put_object_lock_configuration(Bucket=name, ObjectLockConfiguration={
        "ObjectLockEnabled": "Enabled",
        "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", "Days": 1}}})
    put = s3.put_object(Bucket=name, Key="kept.txt", Body=b"retained")
    s3.put_object_legal_hold(Bucket=name, Key="kept.txt", LegalHold={"Status": "ON"})
    store = next(s for s in srv.services.stores.by_name(name) if s.account_id == account.id)

    console.sign_in(key)
    page.goto(console.url(f"/stores/{store.id}"))
    expect(page.locator("#lock-state")).to_have_text("Enabled")
    expect(page.locator("#lock-retention")).to_have_text("GOVERNANCE for 1 day")
    expect(page.locator("#versioning-state")).to_have_text("Enabled")
    page.get_by_role("button", name="Suspend versioning").click()
    expect(page.get_by_role("alert")).to_contain_text("Object Lock configuration is present")
    expect(page.locator("#versioning-state")).to_have_text("Enabled")

    page.goto(console.url(f"/stores/{store.id}/object?key=kept.txt"))
    expect(page.locator("#object-version")).to_contain_text(put["VersionId"])
    expect(page.locator("#object-retention")).to_contain_text("GOVERNANCE until")
    expect(page.locator("#object-legal-hold")).to_contain_text("On")
    page.get_by_role("button", name="Delete this version for good").click()
    console.confirm("delete")
    expect(page.get_by_role("alert")).to_contain_text("legal hold")
    assert s3.head_object(Bucket=name, Key="kept.txt")["VersionId"] == put["VersionId"]


def test_versions_view_pages_and_checks(console_srv: RunningServer,
                                        mine: tuple[ConsoleClient, Account]) -> None:
    c, account = mine
    sw = new_store(console_srv, account, "vpage")
    sid = sw.store.id
    assert c.follow(c.post(f"/stores/{sid}/versioning", {"status": "Enabled"})).status_code \
        == 200
    bad = c.post(f"/stores/{sid}/versioning", {"status": "Sideways"})
    assert "Enabled or Suspended" in c.follow(bad).text
    no_csrf = c.http.post(f"/console/stores/{sid}/versioning", data={"status": "Suspended"})
    assert no_csrf.status_code == 403
    s3 = owner_s3(console_srv, sw)
    for body in (b"1", b"22", b"333"):
        s3.put_object(Bucket=sw.store.name, Key="dir/a.txt", Body=body)
    s3.put_object(Bucket=sw.store.name, Key="top.txt", Body=b"t")

    seen: list[str] = []
    r = c.get(f"/stores/{sid}/objects", versions="1", prefix="dir/", limit="2")
    for _ in range(3):
        assert r.status_code == 200, r.text[:500]
        seen += re.findall(r'data-version-id="([^"]+)"', r.text)
        nxt = re.search(r'id="next-page" href="([^"]+)"', r.text)
        if not nxt:
            break
        r = c.http.get(nxt.group(1).replace("&amp;", "&"))
    listed = s3.list_object_versions(Bucket=sw.store.name, Prefix="dir/")["Versions"]
    assert seen == [v["VersionId"] for v in listed] and len(seen) == 3
    root = c.get(f"/stores/{sid}/objects", versions="1").text
    assert 'href="/console/stores/' in root and "dir/</a>" in root  # the folder, in versions
    assert "top.txt" in root

    # an unknown version: a readable error, not a crash
    r = c.get(f"/stores/{sid}/object", key="dir/a.txt", version_id="no-such-version")
    assert r.status_code in (400, 404) and "version" in r.text.lower()
    gone = c.post(f"/stores/{sid}/version/delete",
                  {"key": "dir/a.txt", "version_id": "", "back": f"/console/stores/{sid}"})
    assert "choose the version" in c.follow(gone).text

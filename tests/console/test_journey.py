"""The whole walk through the console in Chromium: sign in, create a store and a credential,
upload three files (one of 20 MiB, in parts) including a folder, browse, download, share,
make public, suspend the owner credential and see S3 refuse it, delete the store."""

from __future__ import annotations

import hashlib
import os
import re
import uuid
from pathlib import Path

import boto3
import httpx
import pytest
from botocore.client import Config
from botocore.exceptions import ClientError
from playwright.sync_api import expect

from .conftest import Console

XSS_NAME = "<img src=x onerror=alert(1)>.txt"


def s3_client(srv_s3: str, ak: str, sk: str):  # type: ignore[no-untyped-def]
    return boto3.client("s3", endpoint_url=srv_s3, aws_access_key_id=ak,
                        aws_secret_access_key=sk, region_name="LON1",
                        config=Config(retries={"total_max_attempts": 1}))


def test_wrong_key_gets_a_clear_message(console: Console) -> None:
    page = console.page
    page.context.clear_cookies()
    page.goto(console.srv.api_url + "/")
    expect(page).to_have_url(re.compile(r"/console/signin"))
    console.shot("signin")
    page.get_by_label("API key").fill("not-the-right-key")
    page.get_by_role("button", name="Sign in").click()
    expect(page.get_by_role("alert")).to_contain_text("That API key is not valid")


def test_journey(console: Console, tmp_path: Path) -> None:
    page, srv = console.page, console.srv
    console.sign_in(srv.api_key)
    console.shot("overview")

    # -- create a store ---------------------------------------------------------------------
    name = f"journey-{uuid.uuid4().hex[:8]}"
    console.nav("Stores")
    page.get_by_label("Name").fill("Bad_Name!")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("alert")).to_contain_text("name must be")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Region").select_option("LON1")
    page.get_by_label("Size (GB)").fill("abc")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("alert")).to_contain_text("Size (GB) must be a whole number")
    page.get_by_label("Name").fill(name)
    page.get_by_label("Size (GB)").fill("5")
    page.get_by_role("button", name="Create store").click()
    expect(page.get_by_role("status")).to_contain_text(f"Store {name} created")
    expect(page.get_by_role("heading", name=name)).to_be_visible()
    store = next(s for s in srv.services.stores.by_name(name))

    # -- create a credential ----------------------------------------------------------------
    console.nav("Credentials")
    cred_name = f"cred-{uuid.uuid4().hex[:6]}"
    page.get_by_label("Name").fill(cred_name)
    page.get_by_role("button", name="Create credential").click()
    expect(page.get_by_role("status")).to_contain_text(f"Credential {cred_name} created")
    page.get_by_text("Environment variables", exact=True).click()
    env = page.locator("#snippet-env").inner_text()
    account = srv.services.accounts.authenticate(srv.api_key)
    cred = next(c for c in srv.services.credentials.list(account.id, "LON1", 1, 1000).items
                if c.name == cred_name)
    assert f"AWS_ACCESS_KEY_ID={cred.access_key_id}" in env
    assert f"AWS_SECRET_ACCESS_KEY={cred.secret_access_key}" in env
    assert f"AWS_ENDPOINT_URL={srv.s3_url}" in env
    console.shot("credential")

    # -- upload three files, one in a folder, one of 20 MiB ---------------------------------
    small = tmp_path / "hello.txt"
    small.write_bytes(b"hello from the console\n")
    big = tmp_path / "big.bin"
    big.write_bytes(os.urandom(20 * 1024 * 1024))
    folder = tmp_path / "photos"
    folder.mkdir()
    (folder / XSS_NAME).write_bytes(b"not a script")
    page.goto(console.url(f"/stores/{store.id}/objects"))
    expect(page.get_by_text("This store is empty")).to_be_visible()
    page.get_by_label("Upload files").set_input_files([str(small), str(big)])
    big_bar = page.get_by_label("Upload progress of big.bin")
    expect(big_bar).to_be_visible()
    expect(page.locator("#upload-list li.done")).to_have_count(2, timeout=60_000)
    assert big_bar.evaluate("b => b.value === b.max && b.max === 20 * 1024 * 1024")
    page.get_by_label("Upload a folder").set_input_files(str(folder))
    expect(page.locator("#upload-list li.done")).to_have_count(3)
    expect(page.locator("#upload-list")).to_have_attribute("data-finished", "ok")
    expect(page.get_by_role("link", name="photos/")).to_be_visible()
    console.shot("objects")
    head = srv.services.objects.head_sync(store.id, "big.bin")
    assert head.size == 20 * 1024 * 1024 and head.etag.strip('"').endswith("-3")  # 3 parts

    # -- browse into the folder: the key with markup is text --------------------------------
    page.get_by_role("link", name="photos/").click()
    expect(page.get_by_role("navigation", name="Breadcrumbs")).to_contain_text("photos")
    link = page.get_by_role("link", name=XSS_NAME, exact=True)
    expect(link).to_be_visible()
    assert page.locator("#objects img").count() == 0
    link.click()
    expect(page.locator("#object-key")).to_have_text(f"photos/{XSS_NAME}")

    # -- download and compare bytes ---------------------------------------------------------
    page.goto(console.url(f"/stores/{store.id}/object?key=big.bin"))
    with page.expect_download() as dl:
        page.get_by_role("link", name="Download").click()
    got = Path(dl.value.path()).read_bytes()
    assert hashlib.sha256(got).digest() == hashlib.sha256(big.read_bytes()).digest()

    # -- share link -------------------------------------------------------------------------
    page.goto(console.url(f"/stores/{store.id}/object?key=hello.txt"))
    page.get_by_label("Link works for").select_option("3600")
    page.get_by_role("button", name="Create share link").click()
    share = page.get_by_role("textbox", name="Share link").input_value()
    assert "X-Amz-Signature=" in share and "X-Amz-Expires=3600" in share
    other = page.context.new_page()
    resp = other.goto(share)
    assert resp is not None and resp.status == 200 and resp.body() == small.read_bytes()
    other.close()
    assert httpx.get(f"{srv.s3_url}/{name}/hello.txt").status_code == 403  # private

    # -- public / private -------------------------------------------------------------------
    page.get_by_role("button", name="Make public").click()
    expect(page.get_by_role("status")).to_contain_text("is now public")
    public = page.locator("#public-url").inner_text()
    anon = httpx.get(public)
    assert anon.status_code == 200 and anon.content == small.read_bytes()
    console.shot("object")

    # -- suspend the store's owner credential: S3 refuses it -------------------------------
    sw = srv.services.stores.get(account.id, store.id, None)
    s3 = s3_client(srv.s3_url, sw.owner.access_key_id, sw.owner.secret_access_key)
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 3
    page.goto(console.url(f"/credentials/{sw.owner.id}"))
    page.get_by_role("button", name="Suspend").click()
    expect(page.locator("#cred-state")).to_contain_text("suspended")
    with pytest.raises(ClientError) as refused:
        s3.list_objects_v2(Bucket=name)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    page.get_by_role("button", name="Resume").click()
    expect(page.locator("#cred-state")).to_contain_text("active")
    assert s3.list_objects_v2(Bucket=name)["KeyCount"] == 3

    # -- delete the store, typing its name --------------------------------------------------
    page.goto(console.url(f"/stores/{store.id}"))
    console.shot("store")
    page.set_viewport_size({"width": 390, "height": 844})  # a phone
    page.goto(console.url(f"/stores/{store.id}/objects"))
    assert page.evaluate("document.documentElement.scrollWidth <= window.innerWidth + 1")
    console.shot("objects-phone")
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(console.url(f"/stores/{store.id}"))
    page.get_by_label(re.compile("Type the store's name")).fill("wrong-name")
    page.get_by_role("button", name="Delete store").click()
    expect(page.get_by_role("alert")).to_contain_text("type its name")
    page.get_by_label(re.compile("Type the store's name")).fill(name)
    page.get_by_role("button", name="Delete store").click()
    expect(page.get_by_role("status")).to_contain_text(f"Store {name} deleted")
    assert srv.services.stores.by_name(name) == []

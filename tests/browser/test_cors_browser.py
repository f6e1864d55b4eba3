"""In a real browser (Debian's Chromium via Playwright): a page on another origin uploads
with fetch PUT to a presigned URL, posts a presigned POST form with a file input, and reads
the object back. Without a CORS rule the browser blocks each; with one they succeed. A plain
form submission (a navigation, which CORS does not govern) lands on success_action_redirect.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page

from tests.support.server import RunningServer
from tests.support.stores import Store, create_store


def _store(srv: RunningServer) -> tuple[Store, Any]:
    store = create_store(srv)
    return store, store.boto()


def _upload_all(page: Page, s3: Any, store: Store, tmp_path: Path, tag: str
                ) -> dict[str, Any]:
    put_url = s3.generate_presigned_url("put_object", Params={
        "Bucket": store.name, "Key": f"put-{tag}.txt", "ContentType": "text/plain"})
    post = s3.generate_presigned_post(store.name, f"form-{tag}-${{filename}}")
    get_url = s3.generate_presigned_url("get_object", Params={
        "Bucket": store.name, "Key": f"seed-{tag}.txt"})
    s3.put_object(Bucket=store.name, Key=f"seed-{tag}.txt", Body=f"seed {tag}".encode())
    file = tmp_path / f"photo-{tag}.txt"
    file.write_text(f"from the file input {tag}")
    page.evaluate("post => window.prepare(post)", post)
    page.set_input_files("#file", str(file))
    return {
        "put": page.evaluate("([u, b]) => window.putObject(u, b)", [put_url, f"put {tag}"]),
        "post": page.evaluate("() => window.postForm()"),
        "get": page.evaluate("u => window.getObject(u)", get_url),
    }


def _keys(s3: Any, store: Store) -> set[str]:
    return {o["Key"] for o in s3.list_objects_v2(Bucket=store.name).get("Contents", [])}


def test_without_cors_the_browser_blocks(page: Page, cors_srv: RunningServer,
                                         tmp_path: Path) -> None:
    store, s3 = _store(cors_srv)
    got = _upload_all(page, s3, store, tmp_path, "blocked")
    assert not got["put"]["ok"] and "Failed to fetch" in got["put"]["error"], got
    assert not got["post"]["ok"], got  # the browser withholds the response
    assert not got["get"]["ok"], got
    assert "put-blocked.txt" not in _keys(s3, store)  # the preflight stopped the PUT itself


def test_with_a_cors_rule_the_browser_succeeds(page: Page, cors_srv: RunningServer,
                                               web_origin: str, tmp_path: Path) -> None:
    store, s3 = _store(cors_srv)
    s3.put_bucket_cors(Bucket=store.name, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": [web_origin], "AllowedMethods": ["GET", "PUT", "POST"],
        "AllowedHeaders": ["*"], "ExposeHeaders": ["ETag"]}]})
    got = _upload_all(page, s3, store, tmp_path, "ok")
    assert got["put"] == {"ok": True, "value": {"status": 200, "etag": got["put"]["value"]
                                                ["etag"]}}, got
    assert got["put"]["value"]["etag"], got  # exposed to the page by ExposeHeaders
    assert got["post"] == {"ok": True, "value": {"status": 204}}, got
    assert got["get"] == {"ok": True, "value": {"status": 200, "text": "seed ok"}}, got
    assert s3.get_object(Bucket=store.name, Key="put-ok.txt")["Body"].read() == b"put ok"
    body = s3.get_object(Bucket=store.name, Key="form-ok-photo-ok.txt")["Body"].read()
    assert body == b"from the file input ok"
    # a rule for another origin does not help this page
    s3.put_bucket_cors(Bucket=store.name, CORSConfiguration={"CORSRules": [{
        "AllowedOrigins": ["https://other.example"], "AllowedMethods": ["GET", "PUT"]}]})
    again = _upload_all(page, s3, store, tmp_path, "other")
    assert not again["put"]["ok"] and not again["get"]["ok"], again


def test_native_form_submission_redirects(page: Page, cors_srv: RunningServer,
                                          web_origin: str, tmp_path: Path) -> None:
    store, s3 = _store(cors_srv)
    done = f"{web_origin}/done"
    post = s3.generate_presigned_post(
        store.name, "native-${filename}", Fields={"success_action_redirect": done},
        Conditions=[{"success_action_redirect": done}])
    file = tmp_path / "native.txt"
    file.write_text("submitted by the form")
    page.evaluate("post => window.prepare(post)", post)
    page.set_input_files("#file", str(file))
    with page.expect_navigation(url=f"{done}?*"):
        page.get_by_role("button", name="Upload").click()
    assert f"bucket={store.name}" in page.url and "key=native-native.txt" in page.url
    body = s3.get_object(Bucket=store.name, Key="native-native.txt")["Body"].read()
    assert body == b"submitted by the form"

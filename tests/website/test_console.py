"""The website section of a store's console page (no browser): turned on with index and
error documents, the address shown, readable errors, CSRF still required, turned off."""

from __future__ import annotations

import re
import uuid

import httpx

from tests.console.helpers import ConsoleClient
from tests.support.server import RunningServer

from .conftest import DOMAIN, public_policy


def _flash(c: ConsoleClient, r: httpx.Response, kind: str) -> str:
    page = c.follow(r)
    found = re.search(rf'class="flash {kind}" role="(?:alert|status)">([^<]*)<', page.text)
    assert found, page.text[:3000]
    return found.group(1)


def test_console_turns_a_website_on_and_off(web_srv: RunningServer) -> None:
    _, key = web_srv.services.accounts.create(f"acct-{uuid.uuid4().hex[:10]}")
    c = ConsoleClient(web_srv)
    assert c.sign_in(key).status_code == 303
    name = f"con-{uuid.uuid4().hex[:8]}"
    r = c.post("/stores", {"name": name, "region": "LON1", "size_gb": "1", "owner": "new"})
    assert r.status_code == 303, r.text
    sid = str(r.headers["location"]).rsplit("/", 1)[1]
    page = c.get(f"/stores/{sid}")
    assert 'id="website-state">Off<' in page.text
    # CSRF: a post without the session's token changes nothing
    bad = c.http.post(f"/console/stores/{sid}/website", data={"csrf": "nope",
                                                              "index": "index.html"})
    assert bad.status_code in (400, 403)
    assert web_srv.services.configs.get(sid, "website") is None
    # readable errors
    assert "no “/”" in _flash(c, c.post(f"/stores/{sid}/website",
                                        {"index": "a/index.html"}), "error")
    assert "Index document is required" in _flash(
        c, c.post(f"/stores/{sid}/website", {"index": " "}), "error")
    ok = c.post(f"/stores/{sid}/website", {"index": "index.html", "error": "404.html"})
    assert "turned on" in _flash(c, ok, "ok")
    assert web_srv.services.configs.get(sid, "website") == {"index": "index.html",
                                                            "error": "404.html"}
    page = c.get(f"/stores/{sid}")
    port = web_srv.web_url.rsplit(":", 1)[1] if web_srv.web_url else ""
    url = f"http://{name}.{DOMAIN}:{port}/"
    assert 'id="website-state">On<' in page.text and f'href="{url}"' in page.text
    assert "Content-Security-Policy" in page.headers
    # the site serves (the store made public over S3)
    store = web_srv.services.stores.by_name(name)[0]
    web_srv.services.configs.put(store.id, "policy", {"text": public_policy(name)})
    r = httpx.get(f"{web_srv.web_url}/", headers={"Host": f"{name}.{DOMAIN}"})
    assert r.status_code == 404 and "NoSuchKey" in r.text  # no index yet, no error doc
    assert "turned off" in _flash(c, c.post(f"/stores/{sid}/website/delete"), "ok")
    assert web_srv.services.configs.get(sid, "website") is None
    r = httpx.get(f"{web_srv.web_url}/", headers={"Host": f"{name}.{DOMAIN}"})
    assert r.status_code == 404 and "NoSuchWebsiteConfiguration" in r.text
    c.close()

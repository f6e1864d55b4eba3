"""Pages without a browser: overview figures, paging and filtering, credential management,
usage chart, operator pages, readable errors."""

from __future__ import annotations

import re
import time
import uuid

from objectstore.domain.models import Account
from objectstore.services.registry import Services
from tests.support.server import RunningServer

from .helpers import ConsoleClient


def _store(c: ConsoleClient, size: str = "3") -> str:
    r = c.post("/stores", {"name": f"pg-{uuid.uuid4().hex[:8]}", "region": "LON1",
                           "size_gb": size, "owner": "new"})
    assert r.status_code == 303, r.text
    return str(r.headers["location"]).rsplit("/", 1)[1]


def _put(c: ConsoleClient, sid: str, key: str, body: bytes = b"x") -> None:
    r = c.http.put(f"/console/stores/{sid}/upload", params={"key": key}, content=body,
                   headers={"x-csrf-token": c.csrf})
    assert r.status_code == 200, r.text


def _error(c: ConsoleClient, r: object) -> str:
    page = c.follow(r)  # type: ignore[arg-type]
    found = re.search(r'class="flash error" role="alert">([^<]*)<', page.text)
    assert found, page.text[:2000]
    return found.group(1)


def test_overview_shows_quota_and_usage_per_region(mine: tuple[ConsoleClient, Account]) -> None:
    c, account = mine
    sid = _store(c, "7")
    _put(c, sid, "a", b"12345")
    page = c.get("/").text
    quota = account.quota_gb
    assert 'id="quota-used">7 GB' in page and f'id="quota-left">{quota - 7} GB' in page
    row = re.search(r"<th scope=\"row\">LON1</th>(.*?)</tr>", page, re.S)
    assert row and "<td>1</td>" in row.group(1) and "5 B" in row.group(1)


def test_paging_folders_and_filter(mine: tuple[ConsoleClient, Account]) -> None:
    c, _ = mine
    sid = _store(c)
    for i in range(25):
        _put(c, sid, f"logs/{i:03d}.txt")
    _put(c, sid, "logs/deep/x.txt")
    _put(c, sid, "top % & ü.txt")
    root = c.get(f"/stores/{sid}/objects").text
    assert "logs/</a>" in root and "top % &amp; ü.txt</a>" in root
    seen: list[str] = []
    params = {"prefix": "logs/", "limit": "10"}
    for _ in range(5):
        page = c.get(f"/stores/{sid}/objects", **params).text
        seen += re.findall(r'class="object-link"[^>]*>([^<]*)</a>', page)
        seen += re.findall(r'class="folder-link"[^>]*>([^<]*)</a>', page)
        nxt = re.search(r'id="next-page" href="[^"]*after=([^"&]*)', page)
        if not nxt:
            break
        from urllib.parse import unquote_plus
        params["after"] = unquote_plus(nxt.group(1))
    assert seen == [f"{i:03d}.txt" for i in range(25)] + ["deep/"]
    filtered = c.get(f"/stores/{sid}/objects", prefix="logs/", filter="01").text
    assert re.findall(r'class="object-link"[^>]*>([^<]*)</a>', filtered) == [
        f"{i:03d}.txt" for i in range(10, 20)]
    empty = c.get(f"/stores/{sid}/objects", prefix="logs/", filter="zzz").text
    assert "No objects start with" in empty


def test_bad_input_gives_readable_messages(mine: tuple[ConsoleClient, Account]) -> None:
    c, _ = mine
    sid = _store(c)
    assert "must be between 1" in _error(c, c.post(f"/stores/{sid}/resize", {"size_gb": "0"}))
    assert "quota exceeded" in _error(c, c.post(f"/stores/{sid}/resize",
                                                {"size_gb": "999999999"}))
    r = c.post("/credentials", {"name": "c1", "region": "LON1", "access_key_id": "bad key"})
    assert "access_key_id must be" in _error(c, r)
    r = c.post("/stores", {"name": "ok-name-1", "region": "MARS1"})
    assert "region" in _error(c, r) and "MARS1" in _error(c, c.post(
        "/stores", {"name": "ok-name-1", "region": "MARS1"}))
    r = c.post(f"/stores/{sid}/objects/delete", {"back": f"/console/stores/{sid}/objects"})
    assert "select at least one object" in _error(c, r)
    r = c.http.put(f"/console/stores/{sid}/upload", params={"key": ""}, content=b"x",
                   headers={"x-csrf-token": c.csrf})
    assert r.status_code == 400 and "key is required" in r.json()["error"]


def test_credential_management(mine: tuple[ConsoleClient, Account],
                               console_srv: RunningServer) -> None:
    c, account = mine
    services: Services = console_srv.services
    r = c.post("/credentials", {"name": "mine", "region": "LON1",
                                "access_key_id": "CONSOLEKEY" + uuid.uuid4().hex[:10].upper(),
                                "secret_access_key": "s" * 40, "max_size_gb": "4"})
    cid = str(r.headers["location"]).rsplit("/", 1)[1]
    page = c.follow(r).text
    cred = services.credentials.get(account.id, cid)
    assert cred.max_size_gb == 4 and cred.secret_access_key in page
    assert f"access_key = {cred.access_key_id}" in page  # the s3cfg snippet
    c.post(f"/credentials/{cid}/limit", {"max_size_gb": ""})
    assert services.credentials.get(account.id, cid).max_size_gb is None
    c.post(f"/credentials/{cid}/keys", {})
    new = services.credentials.get(account.id, cid)
    assert new.access_key_id != cred.access_key_id
    assert new.secret_access_key != cred.secret_access_key
    # a credential that owns a store cannot be deleted, and says why
    r = c.post("/stores", {"name": f"own-{uuid.uuid4().hex[:6]}", "region": "LON1",
                           "size_gb": "1", "owner": cid})
    assert r.status_code == 303
    assert "owns 1 object store" in _error(c, c.post(f"/credentials/{cid}/delete"))


def test_usage_chart_from_the_sampler(mine: tuple[ConsoleClient, Account],
                                      console_srv: RunningServer) -> None:
    c, _ = mine
    sid = _store(c)
    history = console_srv.apps.mgmt.app.app.app.state.console.state.history  # type: ignore[attr-defined]
    now = time.time()
    history.record(now - 3 * 86400, [(sid, 1000, 1)])  # in the week, not the day
    _put(c, sid, "k", b"x" * 2000)
    console_srv.apps.mgmt.app.app.app.state.console.state.sampler.sample_now()  # type: ignore[attr-defined]
    day = c.get(f"/stores/{sid}").text
    week = c.get(f"/stores/{sid}", period="week").text
    # one sample per store per five-minute slot (the one taken at creation was replaced),
    # and the chart ends with the usage of the moment
    assert 'id="usage-chart"' in day and "2.0 KiB and 1 objects, 2 samples" in day
    assert "3 samples" in week
    points = re.search(r'class="bytes" points="([^"]+)"', week)
    assert points and len(points.group(1).split()) == 3
    ys = [float(p.split(",")[1]) for p in points.group(1).split()]
    assert ys[0] > ys[-1]  # 1000 bytes then 2000: the line rises (SVG y grows downwards)


def test_operator_pages(console_srv: RunningServer, mine: tuple[ConsoleClient, Account]) -> None:
    tenant_client, _ = mine
    assert tenant_client.get("/accounts").status_code == 404  # not the operator
    op = ConsoleClient(console_srv)
    try:
        op.sign_in(console_srv.api_key)
        name = f"team-{uuid.uuid4().hex[:6]}"
        page = op.post("/accounts", {"name": name, "quota_gb": "50"}).text
        key = re.search(r'id="new-api-key">([^<]+)<', page)
        assert key
        acct = console_srv.services.accounts.authenticate(key.group(1))
        assert acct.name == name and acct.quota_gb == 50
        assert key.group(1) not in op.get("/accounts").text  # shown once
        op.post(f"/accounts/{acct.id}/quota", {"quota_gb": "70"})
        assert console_srv.services.accounts.get_by_name(name).quota_gb == 70
        assert "type its name" in _error(op, op.post(f"/accounts/{acct.id}/delete",
                                                     {"confirm": "nope"}))
        op.follow(op.post(f"/accounts/{acct.id}/delete", {"confirm": name}))
        assert all(a.name != name for a in console_srv.services.accounts.list())
    finally:
        op.close()

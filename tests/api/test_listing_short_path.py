"""The short way of a cached listing (the middleware mgmt/middleware.py CachedListings,
mgmt/handler.py cached_listing_body): a GET whose answer is cached is sent from the ASGI scope
without the router. It must answer exactly what the full way does, take only the requests it
may, and share a load already running instead of starting one. In-process (the ASGI app itself), on
SQLite; the listing cache's coherence through real servers is test_listing_cache.py's."""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.routing import Router
from starlette.types import Message, Receive, Scope, Send

from objectstore.app import Apps, build_apps, ensure_default_account
from objectstore.config import Settings

KEY = "short-path-test-key-0123456789"
STORES, CREDS = "/v2/objectstores", "/v2/objectstore/credentials"
PATHS = (STORES, STORES + "/", CREDS, CREDS + "/")


@pytest.fixture
def apps(tmp_path: Path) -> Iterator[Apps]:
    apps = build_apps(Settings(data_dir=tmp_path, api_key=KEY, fsync=False,
                               sqlite_synchronous="NORMAL"))
    ensure_default_account(apps.services)
    try:
        yield apps
    finally:
        apps.services.engine.dispose()


@pytest.fixture
def full_way(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The paths of the requests that went the full way (through the router)."""
    seen: list[str] = []
    original = Router.__call__

    async def spy(self: Router, scope: Scope, receive: Receive, send: Send) -> None:
        seen.append(scope["path"])
        await original(self, scope, receive, send)

    monkeypatch.setattr(Router, "__call__", spy)
    return seen


def _scope(method: str, path: str, query: bytes = b"", key: str | None = KEY,
           extra: list[tuple[bytes, bytes]] | None = None, **more: Any) -> Scope:
    headers = [(b"host", b"127.0.0.1:8000"), (b"accept", b"*/*")]
    if key is not None:
        headers.append((b"authorization", f"bearer {key}".encode()))
    return {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
            "method": method, "scheme": "http", "path": path, "raw_path": path.encode(),
            "query_string": query, "root_path": "", "headers": headers + (extra or []),
            "client": ("127.0.0.1", 5555), "server": ("127.0.0.1", 8000), "state": {},
            **more}


async def _call(app: Any, scope: Scope, body: bytes = b"") -> list[Message]:
    sent: list[Message] = []
    given = False

    async def receive() -> Message:
        nonlocal given
        if not given:
            given = True
            return {"type": "http.request", "body": body, "more_body": False}
        await asyncio.Event().wait()  # no disconnect while the test runs
        raise AssertionError

    async def send(message: Message) -> None:
        sent.append(message)

    await app(scope, receive, send)
    return sent


def _populate(apps: Apps) -> None:
    async def main() -> None:
        for i in range(3):
            body = json.dumps({"name": f"short-{i}", "region": "LON1"}).encode()
            sent = await _call(apps.mgmt, _scope("POST", STORES, extra=[
                (b"content-type", b"application/json"),
                (b"content-length", str(len(body)).encode())]), body)
            assert sent[0]["status"] == 200, sent
    asyncio.run(main())


def test_the_short_way_answers_byte_for_byte_what_the_full_way_does(
        apps: Apps, full_way: list[str]) -> None:
    _populate(apps)
    # "Content-Length: 0" (a body, if an empty one) sends the same request the full way
    full_way_header = [(b"content-length", b"0")]

    async def main() -> None:
        for path in PATHS:
            for query in (b"", b"per_page=5", b"region=LON1&page=1&per_page=2"):
                first = await _call(apps.mgmt, _scope("GET", path, query))  # loads, caches
                assert first[0]["status"] == 200, first
                del full_way[:]
                short_scope = _scope("GET", path, query)
                short = await _call(apps.mgmt, short_scope)
                assert full_way == [], f"{path}?{query!r} went the full way"
                full = await _call(apps.mgmt, _scope("GET", path, query,
                                                     extra=full_way_header))
                assert full_way == [path]
                assert short == full == first
                # the route it matched is on the scope, as the router puts it: the metrics
                # label (objectstore.observability) is the same either way
                assert short_scope["route"].path == path
                assert short_scope["route"].endpoint.__name__ in ("list_stores",
                                                                   "list_credentials")
    asyncio.run(main())
    metrics = apps.mgmt.app.metrics.render().decode()  # type: ignore[attr-defined]
    assert 'operation="GET /v2/objectstores"' in metrics
    assert 'operation="GET /v2/objectstore/credentials/"' in metrics


def test_requests_the_short_way_may_not_answer_go_the_full_way(
        apps: Apps, full_way: list[str]) -> None:
    limit = apps.services.settings.max_header_bytes

    async def main() -> None:
        assert (await _call(apps.mgmt, _scope("GET", STORES)))[0]["status"] == 200  # cached
        cases: list[tuple[Scope, bytes, int]] = [
            (_scope("GET", STORES, key="wrong-key-0123456789"), b"", 401),
            (_scope("GET", STORES, key=None), b"", 401),
            (_scope("GET", STORES, key=KEY.upper()), b"", 401),
            (_scope("GET", STORES, extra=[(b"content-length", b"2")]), b"{}", 200),
            (_scope("GET", STORES, extra=[(b"transfer-encoding", b"chunked")]), b"", 200),
            (_scope("GET", STORES, extra=[(b"x-pad", b"p" * limit)]), b"", 431),
            (_scope("HEAD", STORES), b"", 200),
            (_scope("GET", "/v2/quota"), b"", 200),  # not a cached listing
            (_scope("GET", STORES, root_path="/prefix"), b"", 200),  # left to the router
        ]
        for scope, body, status in cases:
            del full_way[:]
            sent = await _call(apps.mgmt, scope, body)
            assert sent[0]["status"] == status, (scope, sent)
            assert full_way == [scope["path"]], scope
    asyncio.run(main())


def test_a_request_the_short_way_shares_the_load_already_running(
        apps: Apps, full_way: list[str], monkeypatch: pytest.MonkeyPatch) -> None:
    _populate(apps)
    stores = apps.services.stores
    original = stores.list
    started, release = threading.Event(), threading.Event()
    loads = 0

    def slow_list(*args: Any, **kwargs: Any) -> Any:
        nonlocal loads
        loads += 1
        started.set()
        assert release.wait(30)
        return original(*args, **kwargs)

    async def main() -> None:
        # the key's account is cached (by a call that is not a cached listing), no listing
        assert (await _call(apps.mgmt, _scope("GET", "/v2/quota")))[0]["status"] == 200
        monkeypatch.setattr(stores, "list", slow_list)
        del full_way[:]
        first = asyncio.ensure_future(_call(apps.mgmt, _scope("GET", STORES)))
        while not started.is_set():  # the first request's load is running (in a thread)
            await asyncio.sleep(0.01)
        assert full_way == [STORES]
        joined = asyncio.ensure_future(_call(apps.mgmt, _scope("GET", STORES)))
        await asyncio.sleep(0.05)
        assert not joined.done()  # waiting for the running load
        release.set()
        a, b = await first, await joined
        assert a[0]["status"] == 200 and a == b
        assert loads == 1
        assert full_way == [STORES]  # the second went the short way
    asyncio.run(main())

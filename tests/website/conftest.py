"""Fixtures for the website tests: one real server with its website listener (SQLite), and
sites made as a user makes them: a store, a public-read policy, objects, a website
configuration — all through boto3."""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import httpx
import pytest

from tests.support.pg import free_port
from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store

DOMAIN = "web.test"


@pytest.fixture(scope="module")
def web_srv(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(tmp_path_factory.mktemp("web-data"), None, sqlite_synchronous="NORMAL",
                        fsync=False, web_port=free_port(), web_domain=DOMAIN) as running:
        yield running


def public_policy(name: str) -> str:
    return json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
        "Resource": f"arn:aws:s3:::{name}/*"}]})


@dataclass
class Site:
    store: Store
    s3: Any
    web_url: str

    @property
    def host(self) -> str:
        return f"{self.store.name}.{DOMAIN}"

    def get(self, path: str, method: str = "GET", host: str | None = None,
            **headers: str) -> httpx.Response:
        """A plain HTTP request to the website listener with this site's Host."""
        return httpx.request(method, self.web_url + path, timeout=10, follow_redirects=False,
                             headers={"Host": host or self.host, **headers})

    def put(self, key: str, body: bytes | str, content_type: str = "text/html",
            **extra: Any) -> None:
        self.s3.put_object(Bucket=self.store.name, Key=key, ContentType=content_type,
                           Body=body.encode() if isinstance(body, str) else body, **extra)


def make_site(srv: RunningServer, *, public: bool = True, index: str | None = "index.html",
              error: str | None = None, name: str | None = None, web_url: str | None = None,
              **config: Any) -> Site:
    """A store made public (unless ``public=False``) with this website configuration;
    ``web_url``: another gateway's website listener than ``srv``'s."""
    store = create_store(srv, name, prefix="site")
    s3 = store.boto()
    if public:
        s3.put_bucket_policy(Bucket=store.name, Policy=public_policy(store.name))
    website: dict[str, Any] = dict(config)
    if index:
        website["IndexDocument"] = {"Suffix": index}
    if error:
        website["ErrorDocument"] = {"Key": error}
    if website:
        s3.put_bucket_website(Bucket=store.name, WebsiteConfiguration=website)
    web_url = web_url or srv.web_url
    assert web_url is not None
    return Site(store, s3, web_url)

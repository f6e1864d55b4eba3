"""The scaled-out layout: two gateways on one PostgreSQL database sharing nothing else. A
site configured and deployed through one gateway's S3 is served by the other's website
listener, and a change made through the first is served by the second at once (the
configuration cache is cleared across gateways: services/notify.py)."""

from __future__ import annotations

import time
from pathlib import Path

import httpx
import pytest

from tests.support.pg import PgCluster, free_port
from tests.support.server import running_server

from .conftest import DOMAIN, make_site


@pytest.mark.postgres
def test_any_gateway_serves_any_site(pg_cluster: PgCluster, tmp_path: Path) -> None:
    url = pg_cluster.new_database()
    with running_server(tmp_path / "gw1", url, fsync=False) as gw1:
        key = (gw1.services.settings.data_dir / "server.key").read_text().strip()
        with running_server(tmp_path / "gw2", url, server_key=key, fsync=False,
                            web_port=free_port(), web_domain=DOMAIN) as gw2:
            assert gw1.web_url is None and gw2.web_url is not None
            # configured and deployed through gateway 1's S3, served by gateway 2
            site = make_site(gw1, error="404.html", web_url=gw2.web_url)
            site.put("index.html", "<h1>v1</h1>")  # small: its bytes are in the database
            site.put("404.html", "gone")
            assert site.get("/").text == "<h1>v1</h1>"
            assert site.get("/nope").text == "gone"
            site.s3.put_bucket_website(Bucket=site.store.name, WebsiteConfiguration={
                "IndexDocument": {"Suffix": "index.html"}, "RoutingRules": [
                    {"Condition": {"KeyPrefixEquals": "old/"},
                     "Redirect": {"ReplaceKeyPrefixWith": "new/"}}]})
            deadline = time.monotonic() + 2
            while site.get("/old/x").status_code != 301:
                assert time.monotonic() < deadline, "the new rules were not seen"
                time.sleep(0.02)
            site.s3.delete_bucket_website(Bucket=site.store.name)
            deadline = time.monotonic() + 2
            while site.get("/").status_code != 404:
                assert time.monotonic() < deadline, "the deletion was not seen"
                time.sleep(0.02)
            assert "NoSuchWebsiteConfiguration" in httpx.get(
                gw2.web_url + "/", headers={"Host": site.host}).text

"""`objectstore website enable|show|disable` (admin, on the data dir) by store name or id,
seen at once by the running server's website listener."""

from __future__ import annotations

import json
from dataclasses import dataclass

import httpx
from click.testing import CliRunner

from objectstore.cli.main import main
from tests.support.server import RunningServer

from .conftest import DOMAIN, make_site


@dataclass
class Ran:
    returncode: int
    stdout: str
    stderr: str


def test_website_commands(web_srv: RunningServer) -> None:
    site = make_site(web_srv, index=None)  # public, no website yet
    site.put("home.htm", "home page")
    site.put("oops.htm", "oops page")
    assert web_srv.web_url is not None
    port = web_srv.web_url.rsplit(":", 1)[1]
    runner = CliRunner(env={"OBJECTSTORE_WEB_PORT": port, "OBJECTSTORE_WEB_DOMAIN": DOMAIN,
                            "OBJECTSTORE_DATA_DIR": str(web_srv.services.settings.data_dir)})

    def cli(command: str, store: str, *args: str, check: bool = True) -> Ran:
        result = runner.invoke(main, ["website", command, store, *args])
        ran = Ran(result.exit_code, result.stdout, result.stderr)
        assert not check or ran.returncode == 0, (ran, result.exception)
        return ran

    name = site.store.name
    assert "no website" in cli("show", name).stdout
    out = cli("enable", name, "--index", "home.htm", "--error", "oops.htm").stdout
    assert f"open http://{name}.{DOMAIN}:{port}/" in out, out
    assert site.get("/").text == "home page"
    missing = site.get("/missing")
    assert missing.status_code == 404 and missing.text == "oops page"
    shown = json.loads(cli("show", site.store.id, "--output", "json").stdout)
    assert shown["website"] == {"index": "home.htm", "error": "oops.htm"}
    assert shown["url"] == f"http://{name}.{DOMAIN}:{port}/"
    bad = cli("enable", name, "--index", "a/b.htm", check=False)
    assert bad.returncode != 0 and "IndexDocument Suffix is not well formed" in bad.stderr
    unknown = cli("show", "no-such-store-here", check=False)
    assert unknown.returncode != 0 and "no object store" in unknown.stderr
    assert "disabled" in cli("disable", site.store.id).stdout
    r = httpx.get(site.web_url + "/", headers={"Host": site.host})
    assert r.status_code == 404 and "NoSuchWebsiteConfiguration" in r.text

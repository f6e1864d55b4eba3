"""`objectstore dev-cluster` as `make cluster` runs it: PostgreSQL, SeaweedFS (a master and
three volume servers), two gateways and nginx in front; S3 and the API through nginx."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import pytest

from objectstore.cli.devcluster import DevCluster, free_port
from tests.support.clients import REGION, boto_client

pytestmark = pytest.mark.postgres


def test_dev_cluster_serves_through_nginx(tmp_path: Path) -> None:
    cluster = DevCluster(tmp_path, gateways=2, volumes=3)
    try:
        cluster.start()
        assert cluster.lb is not None
        api = f"http://127.0.0.1:{cluster.lb.api_port}"
        s3_url = f"http://127.0.0.1:{cluster.lb.s3_port}"
        with httpx.Client(base_url=api, timeout=30,
                          headers={"Authorization": f"bearer {cluster.api_key}"}) as c:
            r = c.post("/v2/objectstores", json={"name": "dev-a", "region": REGION})
            assert r.status_code == 200, r.text
            store = r.json()
            assert store["objectstore_endpoint"] == f"{s3_url}/dev-a"
            cred = c.get(f"/v2/objectstore/credentials/{store['owner_info']['credential_id']}",
                         params={"region": REGION}).json()
        s3 = boto_client(s3_url, cred["access_key_id"], cred["secret_access_key_id"])
        body = os.urandom(9 * 1024 * 1024)
        for i in range(4):  # spread over both gateways by nginx
            s3.put_object(Bucket="dev-a", Key=f"k{i}", Body=body)
        for i in range(4):
            assert s3.get_object(Bucket="dev-a", Key=f"k{i}")["Body"].read() == body
        # both gateways served requests directly too: same objects from each
        for gw in cluster.gws:
            direct = boto_client(gw.s3_url, cred["access_key_id"], cred["secret_access_key_id"])
            assert len(direct.list_objects_v2(Bucket="dev-a")["Contents"]) == 4
        _console_through_nginx(api, cluster.api_key)
    finally:
        cluster.stop()


def test_dev_cluster_command_prints_urls_and_stops_on_ctrl_c(tmp_path: Path) -> None:
    s3_port, api_port = free_port(), free_port()
    proc = subprocess.Popen([sys.executable, "-m", "objectstore.cli.main", "dev-cluster",
                             "--s3-port", str(s3_port), "--api-port", str(api_port)],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    try:
        assert proc.stdout is not None
        deadline = time.monotonic() + 120
        while time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            lines.append(line)
            if line.startswith("Ctrl-C"):
                break
        text = "".join(lines)
        assert f"S3 endpoint on http://127.0.0.1:{s3_port}" in text, text
        assert "API key: " in text, text
        key = text.split("API key: ")[1].split()[0]
        r = httpx.get(f"http://127.0.0.1:{api_port}/v2/regions",
                      headers={"Authorization": f"bearer {key}"})
        assert r.status_code == 200, r.text
    finally:
        proc.send_signal(signal.SIGINT)
        rest, _ = proc.communicate(timeout=60)
    assert proc.returncode == 0, rest
    assert "stopping" in rest
    with pytest.raises(httpx.ConnectError):
        httpx.get(f"http://127.0.0.1:{api_port}/healthz")


def _console_through_nginx(api: str, key: str) -> None:
    """Behind nginx (listed in OBJECTSTORE_TRUSTED_PROXIES by dev-cluster): the gateways see
    each client's own address, so one client's wrong keys lock out only that client; and a
    console session works on whichever gateway nginx picks."""
    from tests.security.test_shared_console_state import COOKIE, sign_in

    codes = [sign_in(api, f"wrong-{i}", local_address="127.0.0.41").status_code
             for i in range(5)]
    assert codes == [401] * 5
    assert sign_in(api, key, local_address="127.0.0.41").status_code == 429
    r = sign_in(api, key, local_address="127.0.0.42")  # another client: not locked out
    assert r.status_code == 303, r.text
    for _ in range(6):  # new connections: nginx spreads them over both gateways
        with httpx.Client(base_url=api, cookies={COOKIE: r.cookies[COOKIE]}) as c:
            assert c.get("/console/").status_code == 200

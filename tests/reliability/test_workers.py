"""`serve --workers 2`: both processes serve, share state through the database, stop on
SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import boto3
import httpx

from tests.support.pg import free_port


def test_two_workers_serve_and_stop(tmp_path: Path) -> None:
    api_port, s3_port = free_port(), free_port()
    env = dict(os.environ, OBJECTSTORE_API_KEY="workers-key-0123456789",
               OBJECTSTORE_LOG_LEVEL="warning")
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "objectstore.cli.main", "serve", "--workers", "2",
         "--data-dir", str(tmp_path / "data"), "--api-port", str(api_port),
         "--s3-port", str(s3_port)], env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    api = f"http://127.0.0.1:{api_port}"
    try:
        deadline = time.time() + 30
        while True:
            try:
                if httpx.get(f"{api}/healthz", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            assert time.time() < deadline, "workers did not start"
            time.sleep(0.1)
        children = subprocess.run(["pgrep", "-P", str(proc.pid)], capture_output=True,
                                  text=True).stdout.split()
        assert len(children) == 2
        h = {"Authorization": "bearer workers-key-0123456789"}
        store = httpx.post(f"{api}/v2/objectstores", headers=h,
                           json={"name": "workers-b", "region": "LON1"}).json()
        cred = httpx.get(f"{api}/v2/objectstore/credentials/"
                         f"{store['owner_info']['credential_id']}", headers=h).json()
        s3 = boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                          aws_access_key_id=cred["access_key_id"],
                          aws_secret_access_key=cred["secret_access_key_id"],
                          region_name="LON1")
        for i in range(30):  # new connections land on either worker
            boto3.client("s3", endpoint_url=f"http://127.0.0.1:{s3_port}",
                         aws_access_key_id=cred["access_key_id"],
                         aws_secret_access_key=cred["secret_access_key_id"],
                         region_name="LON1").put_object(Bucket="workers-b", Key=f"k{i}",
                                                        Body=b"v" * i)
        keys = [o["Key"] for o in s3.list_objects_v2(Bucket="workers-b")["Contents"]]
        assert len(keys) == 30
        stats = httpx.get(f"{api}/v2/objectstores/{store['id']}/stats", headers=h).json()
        assert stats["num_objects"] == 30
    finally:
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=40) == 0

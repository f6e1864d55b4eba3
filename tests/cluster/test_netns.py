"""Gateways as separate hosts: each gateway runs in a network namespace of its own (a test
host made here: veth pair, 10.213.0.x addresses), reaching PostgreSQL and SeaweedFS only over
the network — no shared loopback, no shared files (each has its own data dir)."""

from __future__ import annotations

import os
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from cryptography.fernet import Fernet

from objectstore.cli.devcluster import Postgres, WeedCluster
from tests.cluster.conftest import Cluster

pytestmark = pytest.mark.postgres

HOST_SIDE = ["10.213.0.1", "10.213.0.5"]
GW_ADDR = ["10.213.0.2", "10.213.0.6"]


def ip(*args: str) -> None:
    subprocess.run(["ip", *args], check=True, capture_output=True)


@pytest.fixture
def hosts() -> Iterator[list[str]]:
    if os.geteuid() != 0 or shutil.which("ip") is None:
        pytest.fail("network namespaces need root and iproute2 (the sandbox has both)")
    tag = os.urandom(3).hex()
    names = [f"osgw{i}-{tag}" for i in range(2)]
    made: list[str] = []
    try:
        for i, ns in enumerate(names):
            ip("netns", "add", ns)
            made.append(ns)
            host_if, ns_if = f"vh{i}{tag}", f"vn{i}{tag}"
            ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            ip("link", "set", ns_if, "netns", ns)
            ip("addr", "add", f"{HOST_SIDE[i]}/30", "dev", host_if)
            ip("link", "set", host_if, "up")
            for cmd in (["addr", "add", f"{GW_ADDR[i]}/30", "dev", ns_if],
                        ["link", "set", ns_if, "up"], ["link", "set", "lo", "up"],
                        ["route", "add", "default", "via", HOST_SIDE[i]]):
                ip("netns", "exec", ns, "ip", *cmd)
        yield names
    finally:
        for ns in made:  # deleting a namespace deletes its veth pair
            subprocess.run(["ip", "netns", "del", ns], check=False, capture_output=True)


def test_gateways_in_their_own_network_namespaces(hosts: list[str], tmp_path: Path) -> None:
    pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-netns-pg-")),
                  listen=("127.0.0.1", HOST_SIDE[0]), trust_networks=("10.213.0.0/24",))
    pg.start()
    weed = WeedCluster(tmp_path / "weed", volumes=3, host=HOST_SIDE[0])
    cluster = None
    try:
        weed.start()
        url = f"postgresql://postgres@{HOST_SIDE[0]}:{pg.port}/postgres"
        key = "netns-" + os.urandom(8).hex()
        env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode(),
               "OBJECTSTORE_API_KEY": key, "OBJECTSTORE_LOG_LEVEL": "warning"}
        cluster = Cluster(tmp_path, url, weed.url(), env, key)
        a = cluster.add_gateway(host=GW_ADDR[0], netns=hosts[0])
        b = cluster.add_gateway(host=GW_ADDR[1], netns=hosts[1])
        # each gateway's host has no route to the other's loopback: only the network
        probe = subprocess.run(["ip", "netns", "exec", hosts[1], "python3", "-c",
                                f"import socket; socket.create_connection(('127.0.0.1', "
                                f"{a.api_port}), 2)"], capture_output=True)
        assert probe.returncode != 0
        store = cluster.create_store(a)
        sa, sb = cluster.s3(a, store), cluster.s3(b, store)
        body = os.urandom(10 * 1024 * 1024)
        sa.put_object(Bucket=store["name"], Key="big", Body=body)
        assert sb.get_object(Bucket=store["name"], Key="big")["Body"].read() == body
        sb.put_object(Bucket=store["name"], Key="small", Body=b"hello")
        keys = [o["Key"] for o in sa.list_objects_v2(Bucket=store["name"])["Contents"]]
        assert keys == ["big", "small"]
    finally:
        if cluster is not None:
            cluster.stop()
        weed.stop()
        pg.stop()

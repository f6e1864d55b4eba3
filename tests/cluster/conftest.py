"""Gateways that share nothing but PostgreSQL and SeaweedFS: `objectstore serve` processes,
each with its own data dir, on one database and one SeaweedFS cluster (tests/cluster)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest
from cryptography.fernet import Fernet

from objectstore.cli.devcluster import Gateway, WeedCluster
from tests.support.clients import REGION, boto_client
from tests.support.pg import PgCluster

pytestmark = pytest.mark.postgres


@pytest.fixture(scope="session")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedCluster]:
    cluster = WeedCluster(tmp_path_factory.mktemp("weed"), volumes=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()


@dataclass
class Cluster:
    root: Path
    database_url: str
    blob_store: str
    env: dict[str, str]
    api_key: str
    gateways: list[Gateway] = field(default_factory=list)

    def add_gateway(self, **kw: Any) -> Gateway:
        g = Gateway(f"gw{len(self.gateways) + 1}", self.root, self.database_url,
                    self.blob_store, self.env, **kw)
        self.gateways.append(g)
        return g.start()

    def api(self, gw: Gateway) -> httpx.Client:
        return httpx.Client(base_url=gw.api_url, timeout=30,
                            headers={"Authorization": f"bearer {self.api_key}"})

    def create_store(self, gw: Gateway, **body: Any) -> dict[str, Any]:
        name = "c-" + uuid.uuid4().hex[:12]
        with self.api(gw) as api:
            r = api.post("/v2/objectstores", json={"name": name, "region": REGION, **body})
            assert r.status_code == 200, r.text
            data: dict[str, Any] = r.json()
            c = api.get(f"/v2/objectstore/credentials/{data['owner_info']['credential_id']}",
                        params={"region": REGION})
            assert c.status_code == 200, c.text
        data["cred"] = c.json()
        return data

    def s3(self, gw: Gateway, store: dict[str, Any], **kw: Any) -> Any:
        return boto_client(gw.s3_url, store["cred"]["access_key_id"],
                           store["cred"]["secret_access_key_id"], **kw)

    def sql(self, statement: str, *args: Any) -> list[tuple[Any, ...]]:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            cur = conn.execute(statement, args)
            return list(cur.fetchall()) if cur.description else []

    def stop(self) -> None:
        for g in self.gateways:
            if g.proc is not None:
                g.proc.stop()


def new_cluster(root: Path, pg: PgCluster, weed: WeedCluster) -> Cluster:
    url = pg.new_database()
    key = "cluster-" + os.urandom(8).hex()
    env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode(),
           "OBJECTSTORE_API_KEY": key, "OBJECTSTORE_LOG_LEVEL": "warning",
           # replaced blobs are removed 1 s after the change (not minutes): the fault tests
           # watch the queue drain
           "OBJECTSTORE_BLOB_GRACE_SECONDS": "1"}
    return Cluster(root, url, weed.url("c" + uuid.uuid4().hex[:8]), env, key)


@pytest.fixture(scope="module")
def two_gateways(tmp_path_factory: pytest.TempPathFactory, pg_cluster: PgCluster,
                 weed: WeedCluster) -> Iterator[Cluster]:
    cluster = new_cluster(tmp_path_factory.mktemp("gw"), pg_cluster, weed)
    try:
        cluster.add_gateway()
        cluster.add_gateway()
        yield cluster
    finally:
        cluster.stop()

"""The PostgreSQL + SeaweedFS backup recipe of docs/deploy.md, run as written: `pg_dump` of the
metadata first, then `weed backup` of every volume of the collection, then a restore into a new
database and a new SeaweedFS cluster, a gateway (same server key and SSE master key) on them
serving every object, and fsck clean."""

from __future__ import annotations

import base64
import hashlib
import json
import os
import shutil
import subprocess
import sys
import urllib.request
import uuid
from pathlib import Path
from typing import Any

import pytest
from cryptography.fernet import Fernet

from objectstore.cli.devcluster import WeedCluster, find_weed
from tests.support.clients import boto_client
from tests.support.pg import PgCluster
from tests.support.server import running_server
from tests.support.stores import create_store

pytestmark = pytest.mark.postgres


def collection_volumes(master: str, collection: str) -> list[int]:
    """The volume ids of one collection, from the master (`/vol/status`)."""
    with urllib.request.urlopen(f"http://{master}/vol/status", timeout=10) as r:  # noqa: S310
        doc = json.load(r)
    ids: set[int] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if "Id" in node and node.get("Collection") == collection:
                ids.add(int(node["Id"]))
            for v in node.values():
                walk(v)
        elif isinstance(node, list):
            for v in node:
                walk(v)

    walk(doc)
    return sorted(ids)


def run(*args: str) -> str:
    proc = subprocess.run(args, capture_output=True, text=True, timeout=120)  # noqa: S603
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_pg_dump_and_weed_backup_restore_elsewhere(tmp_path: Path, pg_cluster: PgCluster,
                                                   weed: WeedCluster) -> None:
    collection = "bk" + uuid.uuid4().hex[:8]
    keys = {"server_key": Fernet.generate_key().decode(),
            "sse_master_key": base64.b64encode(os.urandom(32)).decode()}
    db = pg_cluster.new_database()
    blobs = {f"obj{i}": hashlib.sha256(str(i).encode()).digest() * (4096 * (i + 1))
             for i in range(4)}
    backup = tmp_path / "backup"
    (backup / "volumes").mkdir(parents=True)
    with running_server(tmp_path / "gw1", db, blob_store=weed.url(collection), **keys) as srv:
        store = create_store(srv)
        s3 = store.boto()
        for key, data in blobs.items():
            s3.put_object(Bucket=store.name, Key=key, Body=data)
        s3.put_object(Bucket=store.name, Key="inline", Body=b"small")
        s3.put_object(Bucket=store.name, Key="encrypted", Body=blobs["obj1"],
                      ServerSideEncryption="AES256")
        s3.close()
        # the recipe: metadata first, then the volumes (append-only: they hold every chunk
        # the dump names)
        pg = pg_cluster.bin
        run(str(pg / "pg_dump"), "--format=custom", f"--file={backup / 'objectstore.dump'}",
            db)
        volumes = collection_volumes(weed.master_addr, collection)
        assert volumes
        for vid in volumes:
            run(find_weed(), "backup", f"-master={weed.master_addr}", f"-volumeId={vid}",
                f"-collection={collection}", f"-dir={backup / 'volumes'}")

    # restore: a new database, a new SeaweedFS cluster seeded with the backed-up volumes
    new_db = pg_cluster.new_database()
    run(str(pg_cluster.bin / "pg_restore"), "--no-owner", f"--dbname={new_db}",
        str(backup / "objectstore.dump"))
    restored = WeedCluster(tmp_path / "weed2", volumes=1, replication="000")
    (restored.root / "volume0").mkdir(parents=True)
    for f in (backup / "volumes").iterdir():
        shutil.copy2(f, restored.root / "volume0" / f.name)
    restored.start()
    try:
        with running_server(tmp_path / "gw2", new_db,
                            blob_store=restored.url(collection), **keys) as srv2:
            s3 = boto_client(srv2.s3_url, store.access_key, store.secret_key)
            for key, data in blobs.items():
                assert s3.get_object(Bucket=store.name, Key=key)["Body"].read() == data
            assert s3.get_object(Bucket=store.name, Key="inline")["Body"].read() == b"small"
            got = s3.get_object(Bucket=store.name, Key="encrypted")
            assert got["Body"].read() == blobs["obj1"]
            assert got["ServerSideEncryption"] == "AES256"
            s3.put_object(Bucket=store.name, Key="after", Body=b"x" * 100_000)  # writable
            s3.close()
        env = dict(os.environ, OBJECTSTORE_SERVER_KEY=keys["server_key"],
                   OBJECTSTORE_SSE_MASTER_KEY=keys["sse_master_key"])
        fsck = subprocess.run(  # noqa: S603
            [sys.executable, "-m", "objectstore.cli.main", "fsck", "--quiet", "--data-dir",
             str(tmp_path / "gw2"), "--database-url", new_db, "--blob-store",
             restored.url(collection)], capture_output=True, text=True, timeout=120, env=env)
        assert fsck.returncode == 0 and "0 damaged" in fsck.stdout, fsck.stdout + fsck.stderr
    finally:
        restored.stop()

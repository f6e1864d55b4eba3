"""A data dir / database made by the previous release upgrades in place.

The fixtures (``fixtures/``, made by ``make_fixture.py`` with the old code) hold two accounts,
three stores, credentials with size limits, inline, blob, empty, unicode-keyed, multipart
(CRC32) and copied objects with metadata, content headers, tags and ACLs, and two unfinished
multipart uploads. The current server starts on them as an operator would upgrade
(``objectstore serve`` in a subprocess: the Alembic migrations run at start), and every
object must read back byte for byte with the same ETag, content type, metadata, headers,
tags, checksums and access; the database must reach the current migration head; old objects
are the "null" version of their key and stay readable as noncurrent versions once versioning
is enabled; usage must equal the bytes stored; the unfinished uploads must still complete and
abort; new writes must work; and everything must survive a restart, with no blob file lost or
left over.

To make fixtures from another release: see ``make_fixture.py``.
"""

from __future__ import annotations

import gzip
import hashlib
import json
import os
import subprocess
import tarfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.support.clients import REGION, boto_client
from tests.support.leftovers import assert_no_leftovers, missing_blobs
from tests.support.pg import PgCluster
from tests.support.proc import ServerProcess

FIXTURES = Path(__file__).resolve().parent / "fixtures"
HEADER_NAMES = ("CacheControl", "ContentDisposition", "ContentEncoding", "ContentLanguage",
                "Expires")
# The fixture's unfinished uploads are as old as the fixture: keep the GC from expiring them.
SERVER_ENV = {"OBJECTSTORE_MULTIPART_MAX_AGE_HOURS": str(24 * 365 * 100)}


@dataclass
class Upgrade:
    data_dir: Path
    database_url: str | None
    manifest: dict[str, Any]

    def server(self) -> ServerProcess:
        return ServerProcess(self.data_dir, self.database_url,
                             api_key=self.manifest["api_keys"]["default"],
                             extra_env=SERVER_ENV)


def extract(tarball: Path, dest: Path) -> Path:
    """Unpack a fixture tarball and date its blob files two days back, so the GC's orphan
    sweep at start considers them all: a blob the new code fails to count as referenced
    would be removed and its object would fail to read on the second start."""
    with tarfile.open(tarball) as tar:
        tar.extractall(dest, filter="data")
    old = time.time() - 2 * 24 * 3600
    for path in (dest / "data" / "blobs").rglob("*"):
        os.utime(path, (old, old))
    return dest / "data"


def load_manifest(name: str) -> dict[str, Any]:
    return json.loads((FIXTURES / name).read_text())


@pytest.fixture
def sqlite_upgrade(tmp_path: Path) -> Upgrade:
    data = extract(FIXTURES / "prev-sqlite.tar.gz", tmp_path)
    return Upgrade(data, None, load_manifest("manifest-sqlite.json"))


@pytest.fixture
def postgres_upgrade(tmp_path: Path, pg_cluster: PgCluster) -> Upgrade:
    data = extract(FIXTURES / "prev-postgres-data.tar.gz", tmp_path)
    url = pg_cluster.new_database()
    sql = gzip.decompress((FIXTURES / "prev-postgres.sql.gz").read_bytes())
    subprocess.run([str(pg_cluster.bin / "psql"), "-X", "-q", "-v", "ON_ERROR_STOP=1",
                    "-d", url], input=sql, check=True, capture_output=True)
    return Upgrade(data, url, load_manifest("manifest-postgres.json"))




@contextmanager
def running(up: Upgrade) -> Iterator[ServerProcess]:
    srv = up.server()
    srv.start(timeout=60)
    try:
        yield srv
    except BaseException:
        print(srv.log.read_text()[-4000:])
        raise
    finally:
        rc = srv.stop()
    assert rc == 0, srv.log.read_text()[-4000:]


def api(srv: ServerProcess, key: str) -> httpx.Client:
    return httpx.Client(base_url=srv.api_url, timeout=30,
                        headers={"Authorization": f"bearer {key}"})


def used_bytes_in_db(up: Upgrade, table: str, row_id: str) -> int | None:
    """The exact usage counter of a store / credential row, read straight from the database
    (the API rounds to kB); None if the column is gone (renamed by a later schema)."""
    import sqlalchemy as sa

    url = up.database_url or f"sqlite:///{up.data_dir / 'objectstore.db'}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            cols = {c["name"] for c in sa.inspect(conn).get_columns(table)}
            if "used_bytes" not in cols:
                return None
            return int(conn.execute(sa.text(f"SELECT used_bytes FROM {table} WHERE id = :id"),
                                    {"id": row_id}).scalar_one())
    finally:
        engine.dispose()


def s3_for(srv: ServerProcess, store: dict[str, Any]) -> Any:
    return boto_client(srv.s3_url, store["access_key_id"], store["secret_access_key"])


def check_management(srv: ServerProcess, m: dict[str, Any]) -> None:
    """Every account's API key works; stores and credentials are all there, with the same
    ids, sizes (the GB figure), owners and decryptable secrets."""
    for account, key in m["api_keys"].items():
        mine = {s["name"]: s for s in m["stores"] if s["account"] == account}
        with api(srv, key) as c:
            r = c.get("/v2/objectstores", params={"region": REGION, "per_page": 1000})
            assert r.status_code == 200, r.text
            listed = {s["name"]: s for s in r.json()["items"]}
            assert set(listed) == set(mine), (account, sorted(listed))
            for name, want in mine.items():
                got = listed[name]
                assert got["id"] == want["id"]
                assert got["max_size_gb"] == want["max_size_gb"], got
                assert got["owner_info"]["credential_id"] == want["credential_id"], got
                assert got["owner_info"]["access_key_id"] == want["access_key_id"], got
                r = c.get(f"/v2/objectstore/credentials/{want['credential_id']}",
                          params={"region": REGION})
                assert r.status_code == 200, r.text
                cred = r.json()
                assert cred["access_key_id"] == want["access_key_id"]
                assert cred["secret_access_key_id"] == want["secret_access_key"]
            for want in (c_ for c_ in m["credentials"] if c_["account"] == account):
                r = c.get(f"/v2/objectstore/credentials/{want['id']}", params={"region": REGION})
                assert r.status_code == 200, r.text
                cred = r.json()
                assert cred["name"] == want["name"]
                assert cred["access_key_id"] == want["access_key_id"]
                assert cred["secret_access_key_id"] == want["secret_access_key"]
                assert cred["max_size_gb"] == want["max_size_gb"], cred


def anonymous_status(obj: dict[str, Any]) -> int:
    """What an anonymous GET of ``obj`` answers: its own ACL decides (issue 20.9: a store's
    READ grant lists it, it does not read its objects, as on S3). The manifests' recorded
    ``anonymous_status`` is the previous release's, which read a public-read store's
    private objects too (200)."""
    return 200 if obj.get("acl") in ("public-read", "public-read-write") else 403


def check_objects(srv: ServerProcess, store: dict[str, Any]) -> None:
    """Listing, bytes, ETag, content type, metadata, headers, tags, checksums, anonymous
    access: all as the old release recorded them."""
    s3 = s3_for(srv, store)
    bucket = store["name"]
    want = {o["key"]: o for o in store["objects"]}
    listed: dict[str, Any] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, MaxKeys=3):
        listed.update({o["Key"]: o for o in page.get("Contents", [])})
    assert list(listed) == sorted(want, key=lambda k: k.encode()), (bucket, list(listed))
    for key, obj in want.items():
        assert listed[key]["Size"] == obj["size"], key
        assert listed[key]["ETag"] == obj["etag"], key
        r = s3.get_object(Bucket=bucket, Key=key)
        body = r["Body"].read()
        assert len(body) == obj["size"], key
        assert hashlib.sha256(body).hexdigest() == obj["sha256"], key
        assert r["ContentLength"] == obj["size"], key
        assert r["ETag"] == obj["etag"], key
        assert r["ContentType"] == obj["content_type"], key
        assert r["Metadata"] == obj["metadata"], key
        assert {h: str(r[h]) for h in HEADER_NAMES if h in r} == obj["headers"], key
        head = s3.head_object(Bucket=bucket, Key=key, ChecksumMode="ENABLED")
        for name, value in obj["checksums"].items():
            assert head.get(name) == value, (key, name, head)
        if obj["parts"]:
            part = s3.head_object(Bucket=bucket, Key=key, PartNumber=1, ChecksumMode="ENABLED")
            assert part["PartsCount"] == obj["parts"], (key, part)
            # the previous release kept no part's own checksum: none is said (not the whole
            # object's composite one, which is not the part's)
            assert not any(k.startswith("Checksum") and k != "ChecksumType"
                           for k in part), (key, part)
        tags = s3.get_object_tagging(Bucket=bucket, Key=key)["TagSet"]
        assert {t["Key"]: t["Value"] for t in tags} == obj["tags"], key
        anon = httpx.get(f"{srv.s3_url}/{bucket}/{quote(key)}", timeout=30)
        assert anon.status_code == anonymous_status(obj), (key, anon.status_code)
        if anon.status_code == 200:
            assert hashlib.sha256(anon.content).hexdigest() == obj["sha256"], key
    check_versions(s3, store)


def check_versions(s3: Any, store: dict[str, Any]) -> None:
    """Objects of the old release are the "null" version of their key (as on S3 for objects
    written before versioning was enabled); noncurrent versions read back byte for byte."""
    bucket = store["name"]
    listed: list[dict[str, Any]] = []
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=bucket, MaxKeys=4):
        listed += page.get("Versions", [])
        assert not page.get("DeleteMarkers"), page["DeleteMarkers"]
    got = {(v["Key"], v["VersionId"]): v for v in listed}
    want = {(o["key"], o.get("version_id", "null")): o for o in store["objects"]}
    old = {(n["key"], n["version_id"]): n for n in store.get("noncurrent", [])}
    assert set(got) == set(want) | set(old), (bucket, sorted(got))
    for ident, v in got.items():
        item = want.get(ident) or old[ident]
        assert v["IsLatest"] is (ident in want), (ident, v)
        assert v["Size"] == item["size"] and v["ETag"] == item["etag"], (ident, v)
    for (key, version_id), n in old.items():
        r = s3.get_object(Bucket=bucket, Key=key, VersionId=version_id)
        assert hashlib.sha256(r["Body"].read()).hexdigest() == n["sha256"], (key, version_id)


def check_usage(srv: ServerProcess, up: Upgrade, store: dict[str, Any]) -> None:
    """/stats (kB and object count) and the exact byte counters equal the stored bytes."""
    key = up.manifest["api_keys"][store["account"]]
    with api(srv, key) as c:
        r = c.get(f"/v2/objectstores/{store['id']}/stats", params={"region": REGION})
    assert r.status_code == 200, r.text
    st = r.json()
    # num_objects counts versions (every version's bytes are stored and charged)
    versions = len(store["objects"]) + len(store.get("noncurrent", []))
    assert st["num_objects"] == versions, (store["name"], st)
    assert st["size_kb_utilised"] == store["used_bytes"] // 1000, (store["name"], st)
    exact = used_bytes_in_db(up, "objectstores", store["id"])
    assert exact in (None, store["used_bytes"]), (store["name"], exact)


def check_credential_usage(up: Upgrade) -> None:
    per_cred: dict[str, int] = {}
    for store in up.manifest["stores"]:
        per_cred[store["credential_id"]] = (per_cred.get(store["credential_id"], 0)
                                            + store["used_bytes"])
    for cred_id, used in per_cred.items():
        exact = used_bytes_in_db(up, "credentials", cred_id)
        assert exact in (None, used), (cred_id, exact, used)


def check_everything(srv: ServerProcess, up: Upgrade) -> None:
    check_management(srv, up.manifest)
    for store in up.manifest["stores"]:
        check_objects(srv, store)
        check_usage(srv, up, store)
    check_credential_usage(up)


def finish_uploads(srv: ServerProcess, store: dict[str, Any]) -> None:
    """The old release's unfinished uploads are listed with their parts, and complete or
    abort; the manifest is updated to what the store then holds."""
    s3 = s3_for(srv, store)
    bucket = store["name"]
    listed = s3.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
    assert {(u["Key"], u["UploadId"]) for u in listed} == {
        (u["key"], u["upload_id"]) for u in store["uploads"]}
    for up in store["uploads"]:
        parts = s3.list_parts(Bucket=bucket, Key=up["key"], UploadId=up["upload_id"])["Parts"]
        assert [(p["PartNumber"], p["ETag"], p["Size"]) for p in parts] == [
            (p["number"], p["etag"], p["size"]) for p in up["parts"]]
        if up["then"] == "abort":
            s3.abort_multipart_upload(Bucket=bucket, Key=up["key"], UploadId=up["upload_id"])
            store["used_bytes"] -= sum(p["size"] for p in up["parts"])
            continue
        r = s3.complete_multipart_upload(
            Bucket=bucket, Key=up["key"], UploadId=up["upload_id"],
            MultipartUpload={"Parts": [{"PartNumber": p["number"], "ETag": p["etag"]}
                                       for p in up["parts"]]})
        got = s3.get_object(Bucket=bucket, Key=up["key"])
        body = got["Body"].read()
        assert hashlib.sha256(body).hexdigest() == up["parts"][0]["sha256"]
        assert got["ContentType"] == up["content_type"]
        assert got["Metadata"] == up["metadata"]
        assert r["ETag"].endswith(f'-{len(up["parts"])}"'), r["ETag"]
        store["objects"].append({
            "key": up["key"], "size": len(body), "sha256": up["parts"][0]["sha256"],
            "etag": r["ETag"], "content_type": up["content_type"], "metadata": up["metadata"],
            "headers": {}, "tags": {}, "checksums": {}, "parts": len(up["parts"]),
            "acl": "private"})
    store["uploads"] = []
    assert s3.list_multipart_uploads(Bucket=bucket).get("Uploads", []) == []


def write_after_upgrade(srv: ServerProcess, store: dict[str, Any]) -> None:
    """New writes on an upgraded store: a new blob and inline object, an overwrite and a
    delete of objects the old release wrote (the manifest follows)."""
    s3 = s3_for(srv, store)
    bucket = store["name"]
    objs = {o["key"]: o for o in store["objects"]}
    new = {"after-upgrade/blob.bin": bytes(range(256)) * 1024,  # 256 KiB
           "after-upgrade/inline.txt": b"written by the new release\n"}
    blob_key = next(k for k, o in objs.items() if o["size"] > 64 * 1024 and not o["parts"])
    new[blob_key] = b"overwritten after the upgrade " * 5000
    for key, body in new.items():
        r = s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/x-new",
                          Metadata={"new": "yes"})
        old = objs.get(key)
        store["used_bytes"] += len(body) - (old["size"] if old else 0)
        objs[key] = {"key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
                     "etag": r["ETag"], "content_type": "text/x-new",
                     "metadata": {"new": "yes"}, "headers": {}, "tags": {}, "checksums": {},
                     "parts": None,
                     "acl": "private"}
    gone = next(k for k, o in objs.items() if o["parts"] and k not in new)
    s3.delete_object(Bucket=bucket, Key=gone)
    store["used_bytes"] -= objs.pop(gone)["size"]
    store["objects"] = list(objs.values())


def versioning_after_upgrade(srv: ServerProcess, store: dict[str, Any]) -> None:
    """Versioning turned on for an upgraded store: overwriting an object of the old release
    keeps its bytes as the noncurrent "null" version (both counted in usage)."""
    s3 = s3_for(srv, store)
    bucket = store["name"]
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    objs = {o["key"]: o for o in store["objects"]}
    key = next(k for k, o in objs.items() if o["size"] > 64 * 1024)
    body = b"a new version after the upgrade " * 4000
    r = s3.put_object(Bucket=bucket, Key=key, Body=body)
    assert r["VersionId"] and r["VersionId"] != "null", r
    old = objs[key]
    store.setdefault("noncurrent", []).append(
        {"key": key, "version_id": "null", "size": old["size"], "etag": old["etag"],
         "sha256": old["sha256"]})
    objs[key] = {**old, "version_id": r["VersionId"], "size": len(body),
                 "sha256": hashlib.sha256(body).hexdigest(), "etag": r["ETag"],
                 "content_type": "binary/octet-stream", "metadata": {}, "headers": {},
                 "tags": {}, "checksums": {}}
    store["used_bytes"] += len(body)
    store["objects"] = list(objs.values())


def alembic_heads() -> set[str]:
    """The current code's migration heads (the revision an upgraded database must reach)."""
    from alembic.script import ScriptDirectory

    import objectstore

    migrations = Path(objectstore.__file__).parent / "storage" / "sql" / "migrations"
    return set(ScriptDirectory(str(migrations)).get_heads())


def db_rows(up: Upgrade, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """The rows ``sql`` selects in the upgraded database (SQLite or PostgreSQL)."""
    import sqlalchemy as sa

    url = up.database_url or f"sqlite:///{up.data_dir / 'objectstore.db'}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(sa.text(sql), params)]
    finally:
        engine.dispose()


def db_revision(up: Upgrade) -> str:
    return str(db_rows(up, "SELECT version_num FROM alembic_version")[0][0])


def run_upgrade(up: Upgrade) -> None:
    assert not missing_blobs(up.data_dir, up.database_url), "the fixture itself is broken"
    made_by = db_revision(up)
    with running(up) as srv:
        assert db_revision(up) in alembic_heads(), (made_by, db_revision(up), alembic_heads())
        check_everything(srv, up)
    # A second start: the first one's GC (orphan sweep, upload expiry) has run by now.
    with running(up) as srv:
        check_everything(srv, up)
        alpha = next(s for s in up.manifest["stores"] if s["uploads"])
        finish_uploads(srv, alpha)
        write_after_upgrade(srv, alpha)
        versioning_after_upgrade(srv, next(s for s in up.manifest["stores"]
                                           if s["account"] != "default"))
        check_everything(srv, up)
    with running(up) as srv:
        check_everything(srv, up)
    # The GC drains the blobs of the overwrite and the delete once woken; the server's stop
    # may come first, so queued blobs are allowed (not leftovers).
    assert_no_leftovers(up.data_dir, up.database_url)


def test_sqlite_data_dir_of_previous_release_upgrades(sqlite_upgrade: Upgrade) -> None:
    run_upgrade(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_database_of_previous_release_upgrades(postgres_upgrade: Upgrade) -> None:
    run_upgrade(postgres_upgrade)

"""Build the upgrade fixtures: a data dir (SQLite) and a PostgreSQL dump made by a previous
release, with a manifest of every object they hold.

Run it with the OLD code (a worktree of the release) and this repository's venv::

    git worktree add /tmp/prev <commit>
    .venv/bin/python tests/upgrade/make_fixture.py --src /tmp/prev/src
    git worktree remove /tmp/prev

The old server runs as a subprocess (``python -m objectstore.cli.main serve`` with
``PYTHONPATH=<src>``) and is driven only over HTTP (boto3 and the management API), so this
script never imports the code under test. Outputs, in ``tests/upgrade/fixtures/``:

- ``prev-sqlite.tar.gz``: the whole data dir (``objectstore.db``, ``server.key``, ``blobs/``);
- ``prev-postgres.sql.gz``: ``pg_dump --no-owner`` of the database of a second run on
  PostgreSQL, and ``prev-postgres-data.tar.gz``: that run's data dir (server key and blobs);
- ``manifest-sqlite.json`` / ``manifest-postgres.json``: API keys, stores, credentials,
  objects (sha256, size, ETag, content type, metadata, headers, tags, checksums), unfinished
  uploads and expected usage.

Object bytes are reproducible (seeded); ids, keys and secrets differ between the two runs.
The 5 MiB first part of the multipart object is a repeating pattern so the tarballs stay small.
"""

from __future__ import annotations

import argparse
import base64
import gzip
import hashlib
import json
import os
import random
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zlib
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT))

from tests.support.clients import REGION, boto_client  # noqa: E402
from tests.support.pg import PgCluster  # noqa: E402
from tests.support.proc import ServerProcess  # noqa: E402

FIXTURES = Path(__file__).resolve().parent / "fixtures"
KIB, MIB = 1024, 1024 * 1024
DEFAULT_KEY = "upgrade-fixture-default-key-0123456789abcdefghijklmno"
OTHER_KEY = "upgrade-fixture-other-key-0123456789abcdefghijklmnopq"
OTHER_ACCOUNT = "upgrade-other"


def rand(seed: str, n: int) -> bytes:
    return random.Random(seed).randbytes(n)


def pattern(seed: str, n: int) -> bytes:
    unit = hashlib.sha256(seed.encode()).digest() * 64  # 2 KiB
    return (unit * (n // len(unit) + 1))[:n]


def crc32_b64(data: bytes) -> str:
    return base64.b64encode(zlib.crc32(data).to_bytes(4, "big")).decode()


class Builder:
    """Fills one old server with the fixture's content and records the manifest."""

    def __init__(self, srv: ServerProcess) -> None:
        self.srv = srv
        self.manifest: dict[str, Any] = {
            "api_keys": {"default": DEFAULT_KEY, OTHER_ACCOUNT: OTHER_KEY},
            "region": REGION, "stores": [], "credentials": []}

    def api(self, key: str) -> httpx.Client:
        return httpx.Client(base_url=self.srv.api_url, timeout=30,
                            headers={"Authorization": f"bearer {key}"})

    def credential(self, key: str, cred_id: str) -> dict[str, Any]:
        with self.api(key) as api:
            r = api.get(f"/v2/objectstore/credentials/{cred_id}", params={"region": REGION})
            r.raise_for_status()
            return r.json()

    def make_credential(self, account: str, name: str, max_size_gb: int) -> dict[str, Any]:
        with self.api(self.manifest["api_keys"][account]) as api:
            r = api.post("/v2/objectstore/credentials",
                         json={"name": name, "region": REGION, "max_size_gb": max_size_gb})
            r.raise_for_status()
            cred = r.json()
        self.manifest["credentials"].append({
            "account": account, "id": cred["id"], "name": name,
            "access_key_id": cred["access_key_id"],
            "secret_access_key": cred["secret_access_key_id"], "max_size_gb": max_size_gb})
        return cred

    def make_store(self, account: str, name: str, max_size_gb: int,
                   access_key_id: str | None = None) -> tuple[dict[str, Any], Any]:
        key = self.manifest["api_keys"][account]
        body: dict[str, Any] = {"name": name, "region": REGION, "max_size_gb": max_size_gb}
        if access_key_id:
            body["access_key_id"] = access_key_id
        with self.api(key) as api:
            r = api.post("/v2/objectstores", json=body)
            r.raise_for_status()
            data = r.json()
        cred = self.credential(key, data["owner_info"]["credential_id"])
        entry = {"account": account, "id": data["id"], "name": name,
                 "max_size_gb": max_size_gb, "credential_id": cred["id"],
                 "access_key_id": cred["access_key_id"],
                 "secret_access_key": cred["secret_access_key_id"],
                 "owns_credential": access_key_id is None, "acl": "private",
                 "objects": [], "uploads": []}
        self.manifest["stores"].append(entry)
        s3 = boto_client(self.srv.s3_url, cred["access_key_id"], cred["secret_access_key_id"])
        return entry, s3

    def put(self, entry: dict[str, Any], s3: Any, key: str, body: bytes, *,
            content_type: str = "binary/octet-stream", metadata: dict[str, str] | None = None,
            tags: dict[str, str] | None = None, acl: str = "private",
            headers: dict[str, str] | None = None, checksum: str | None = None) -> None:
        kwargs: dict[str, Any] = {"Bucket": entry["name"], "Key": key, "Body": body,
                                  "ContentType": content_type,
                                  "Metadata": metadata or {}, **(headers or {})}
        if tags:
            kwargs["Tagging"] = "&".join(f"{k}={v}" for k, v in tags.items())
        if acl != "private":
            kwargs["ACL"] = acl
        if checksum:
            kwargs["ChecksumAlgorithm"] = checksum
        s3.put_object(**kwargs)
        self.record(entry, s3, key, body, tags or {}, acl)

    def record(self, entry: dict[str, Any], s3: Any, key: str, body: bytes,
               tags: dict[str, str], acl: str, parts: int | None = None) -> None:
        head = s3.head_object(Bucket=entry["name"], Key=key, ChecksumMode="ENABLED")
        got = s3.get_object(Bucket=entry["name"], Key=key)["Body"].read()
        assert got == body, key
        tag_set = s3.get_object_tagging(Bucket=entry["name"], Key=key)["TagSet"]
        assert {t["Key"]: t["Value"] for t in tag_set} == tags, (key, tag_set)
        anon = httpx.get(f"{self.srv.s3_url}/{entry['name']}/{quote(key)}")
        assert anon.status_code in (200, 403), (key, anon)
        header_names = ("CacheControl", "ContentDisposition", "ContentEncoding",
                        "ContentLanguage", "Expires")
        obj = {
            "key": key, "size": len(body), "sha256": hashlib.sha256(body).hexdigest(),
            "etag": head["ETag"], "content_type": head["ContentType"],
            "metadata": head.get("Metadata", {}), "tags": tags, "acl": acl,
            "headers": {h: str(head[h]) for h in header_names if h in head},
            "checksums": {k: v for k, v in head.items() if k.startswith("Checksum")
                          and k != "ChecksumType"},
            "parts": parts, "anonymous_status": anon.status_code,
        }
        entry["objects"] = [o for o in entry["objects"] if o["key"] != key] + [obj]

    def multipart(self, entry: dict[str, Any], s3: Any, key: str, bodies: list[bytes],
                  tags: dict[str, str]) -> None:
        up = s3.create_multipart_upload(
            Bucket=entry["name"], Key=key, ChecksumAlgorithm="CRC32",
            ContentType="application/x-upgrade-test", Metadata={"kind": "multipart"},
            Tagging="&".join(f"{k}={v}" for k, v in tags.items()))
        done = []
        for n, body in enumerate(bodies, 1):
            r = s3.upload_part(Bucket=entry["name"], Key=key, UploadId=up["UploadId"],
                               PartNumber=n, Body=body, ChecksumAlgorithm="CRC32")
            assert r["ChecksumCRC32"] == crc32_b64(body)
            done.append({"PartNumber": n, "ETag": r["ETag"], "ChecksumCRC32": r["ChecksumCRC32"]})
        s3.complete_multipart_upload(Bucket=entry["name"], Key=key, UploadId=up["UploadId"],
                                     MultipartUpload={"Parts": done})
        self.record(entry, s3, key, b"".join(bodies), tags, "private", parts=len(bodies))

    def unfinished(self, entry: dict[str, Any], s3: Any, key: str, body: bytes,
                   then: str) -> None:
        up = s3.create_multipart_upload(Bucket=entry["name"], Key=key,
                                        ContentType="text/x-unfinished",
                                        Metadata={"state": "unfinished"})
        r = s3.upload_part(Bucket=entry["name"], Key=key, UploadId=up["UploadId"],
                           PartNumber=1, Body=body)
        entry["uploads"].append({
            "key": key, "upload_id": up["UploadId"], "then": then,
            "content_type": "text/x-unfinished", "metadata": {"state": "unfinished"},
            "parts": [{"number": 1, "etag": r["ETag"], "size": len(body),
                       "sha256": hashlib.sha256(body).hexdigest()}]})

    def build(self) -> None:
        # a second account (admin CLI on the same data dir / database, as an operator would)
        r = self.srv.run_cli("account", "create", OTHER_ACCOUNT, "--api-key", OTHER_KEY,
                             "--quota-gb", "50")
        assert r.returncode == 0, r.stderr

        # store 1: its own credential; every kind of object
        alpha, s3 = self.make_store("default", "upgrade-alpha", 10)
        self.put(alpha, s3, "small.txt", b"hello, upgraded world\n", content_type="text/plain",
                 metadata={"color": "blue", "owner": "fixture"}, tags={"k1": "v1", "k2": "v2"})
        self.put(alpha, s3, "inline-64k-minus-1.bin", rand("inline", 64 * KIB - 1),
                 metadata={"kind": "inline"})
        self.put(alpha, s3, "blob-1mib.bin", rand("blob-old", 300 * KIB))  # overwritten next
        self.put(alpha, s3, "blob-1mib.bin", rand("blob", MIB), metadata={"kind": "blob"},
                 tags={"size": "1MiB"}, checksum="SHA256")
        self.put(alpha, s3, "headers.html", b"<html><body>headers</body></html>\n",
                 content_type="text/html; charset=utf-8",
                 headers={"CacheControl": "max-age=3600, public",
                          "ContentDisposition": 'attachment; filename="h.html"',
                          "ContentLanguage": "en-GB", "ContentEncoding": "identity",
                          "Expires": "Wed, 21 Oct 2037 07:28:00 GMT"})
        self.put(alpha, s3, "public/readme.txt", b"anyone may read this\n",
                 content_type="text/plain", acl="public-read")
        self.put(alpha, s3, "empty", b"")
        self.put(alpha, s3, "dir/empty-with-meta/", b"", metadata={"folder": "yes"})
        self.put(alpha, s3, "unicodé/ключ/日本語 🚀.txt", "ünïcødé body ✓\n".encode(),
                 content_type="text/plain; charset=utf-8", metadata={"lang": "multi"},
                 tags={"script": "mixed"})
        self.put(alpha, s3, "deleted.txt", b"gone")
        s3.delete_object(Bucket=alpha["name"], Key="deleted.txt")
        alpha["objects"] = [o for o in alpha["objects"] if o["key"] != "deleted.txt"]
        s3.copy_object(Bucket=alpha["name"], Key="copy-of-small.txt",
                       CopySource={"Bucket": alpha["name"], "Key": "small.txt"})
        self.record(alpha, s3, "copy-of-small.txt", b"hello, upgraded world\n",
                    {"k1": "v1", "k2": "v2"}, "private")
        self.multipart(alpha, s3, "multipart/crc32.bin",
                       [pattern("part-1", 5 * MIB),
                        rand("part-2", 64 * KIB) + pattern("part-2", MIB - 64 * KIB)],
                       tags={"upload": "multipart"})
        self.unfinished(alpha, s3, "multipart/to-complete.bin", rand("unfinished-1", 70 * KIB),
                        then="complete")
        self.unfinished(alpha, s3, "multipart/to-abort.bin", rand("unfinished-2", 10 * KIB),
                        then="abort")

        # store 2: on a shared credential with a size limit; public-read bucket ACL
        cred = self.make_credential("default", "upgrade-limited", 2)
        beta, s3b = self.make_store("default", "upgrade-beta", 3, cred["access_key_id"])
        s3b.put_bucket_acl(Bucket=beta["name"], ACL="public-read")
        beta["acl"] = "public-read"
        self.put(beta, s3b, "notes/one.txt", b"one\n", content_type="text/plain")
        self.put(beta, s3b, "notes/two.txt", b"two\n", content_type="text/plain",
                 tags={"n": "2"})
        self.put(beta, s3b, "blob-200k.bin", rand("beta-blob", 200 * KIB),
                 checksum="CRC32")

        # store 3: the other account
        gamma, s3g = self.make_store(OTHER_ACCOUNT, "upgrade-gamma", 5)
        self.put(gamma, s3g, "other/inline.json", b'{"account": "other"}',
                 content_type="application/json", metadata={"a": "b"})
        self.put(gamma, s3g, "other/blob.bin", rand("gamma-blob", 100 * KIB))

        for entry in self.manifest["stores"]:
            key = self.manifest["api_keys"][entry["account"]]
            with self.api(key) as api:
                st = api.get(f"/v2/objectstores/{entry['id']}/stats",
                             params={"region": REGION}).json()
            objects = sum(o["size"] for o in entry["objects"])
            pending = sum(p["size"] for u in entry["uploads"] for p in u["parts"])
            entry["used_bytes"] = objects + pending
            entry["num_objects"] = len(entry["objects"])
            assert st["size_kb_utilised"] == entry["used_bytes"] // 1000, (st, entry["name"])
            assert st["num_objects"] == entry["num_objects"], (st, entry["name"])


def git_commit(src: Path) -> str:
    return subprocess.run(["git", "-C", str(src), "rev-parse", "HEAD"], check=True,
                          capture_output=True, text=True).stdout.strip()


def run_old(src: Path, data_dir: Path, database_url: str | None) -> dict[str, Any]:
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    srv = ServerProcess(data_dir, database_url, api_key=DEFAULT_KEY,
                        extra_env={"PYTHONPATH": str(src)})
    probe = subprocess.run([sys.executable, "-c", "import objectstore as o; print(o.__file__)"],
                           env=srv.env(), check=True, capture_output=True, text=True)
    assert probe.stdout.strip().startswith(str(src)), probe.stdout
    srv.start()
    try:
        builder = Builder(srv)
        builder.build()
    finally:
        rc = srv.stop()
    assert rc == 0, srv.log.read_text()[-3000:]
    srv.log.unlink(missing_ok=True)
    builder.manifest["made_by"] = git_commit(src)
    return builder.manifest


def pack(data_dir: Path, out: Path, *, skip_db: bool = False) -> None:
    def keep(info: tarfile.TarInfo) -> tarfile.TarInfo | None:
        name = Path(info.name).name
        if skip_db and name.startswith("objectstore.db"):
            return None
        if name.endswith(".writelock"):
            return None
        info.uid = info.gid = 0
        info.uname = info.gname = ""
        return info

    with tarfile.open(out, "w:gz", compresslevel=9) as tar:
        for child in sorted(data_dir.iterdir()):
            tar.add(child, arcname=f"data/{child.name}", filter=keep)


def write_manifest(manifest: dict[str, Any], name: str) -> None:
    (FIXTURES / name).write_text(json.dumps(manifest, indent=1, ensure_ascii=False,
                                            sort_keys=True) + "\n")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--src", type=Path, required=True, help="the old release's src/ dir")
    ap.add_argument("--only", choices=["sqlite", "postgres"], default=None)
    args = ap.parse_args()
    src = args.src.resolve()
    FIXTURES.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="upgrade-fixture-"))
    try:
        if args.only in (None, "sqlite"):
            data = work / "sqlite" / "data"
            manifest = run_old(src, data, None)
            pack(data, FIXTURES / "prev-sqlite.tar.gz")
            write_manifest(manifest, "manifest-sqlite.json")
        if args.only in (None, "postgres"):
            cluster = PgCluster()
            cluster.start()
            try:
                url = cluster.new_database()
                data = work / "postgres" / "data"
                manifest = run_old(src, data, url)
                dump = subprocess.run([str(cluster.bin / "pg_dump"), "--no-owner", "--no-acl",
                                       url], check=True, capture_output=True).stdout
            finally:
                cluster.stop()
            with gzip.open(FIXTURES / "prev-postgres.sql.gz", "wb", compresslevel=9) as fh:
                fh.write(dump)
            pack(data, FIXTURES / "prev-postgres-data.tar.gz", skip_db=True)
            write_manifest(manifest, "manifest-postgres.json")
    finally:
        shutil.rmtree(work, ignore_errors=True)
    for p in sorted(FIXTURES.iterdir()):
        print(f"{p.stat().st_size:>10}  {p.relative_to(ROOT)}")
    os.sync()


if __name__ == "__main__":
    main()

"""Crash-consistency harness: drive writes from several clients, SIGKILL the server at random
moments, restart it and check that every acknowledged write survived intact.

Run long: ``python -m tests.support.crash --iterations 200`` (see README); a short run is part
of ``make test`` (tests/reliability/test_crash.py).
"""

from __future__ import annotations

import argparse
import hashlib
import random
import tempfile
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

import boto3
import httpx
from botocore.config import Config

from .proc import API_KEY, ServerProcess

BUCKET = "crash-bucket"
KEYS = [f"k/{i:03d}" for i in range(40)]
MP_KEYS = [f"mp/{i}" for i in range(3)]
PART = 5 * 1024 * 1024


def payload(key: str, version: int, size: int) -> bytes:
    seed = hashlib.sha256(f"{key}:{version}".encode()).digest()
    return (seed * (size // len(seed) + 1))[:size]


@dataclass
class KeyState:
    acked: int | None = None          # version acknowledged last (0 = deleted / never written)
    inflight: set[int] = field(default_factory=set)  # versions (or 0 for delete) not yet acked
    sizes: dict[int, int] = field(default_factory=dict)
    all_acked: set[int] = field(default_factory=set)  # every acknowledged PUT (versioned runs)


@dataclass
class Report:
    kills: int = 0
    objects_checked: int = 0
    acked_writes: int = 0
    stores_deleted: int = 0
    deletions_landed_unacked: int = 0  # store deletions cut by a kill after their commit
    failures: list[str] = field(default_factory=list)


class Harness:
    def __init__(self, work: Path, database_url: str | None = None, seed: int = 1,
                 versioned: bool = False, encrypted: bool = False) -> None:
        self.versioned = versioned  # on a versioned store every acknowledged PUT must survive
        self.encrypted = encrypted  # the store's default encryption is SSE-S3: every write
        # (single, multipart) is sealed, every read decrypts
        self.server = ServerProcess(work / "data", database_url)
        self.rng = random.Random(seed)
        self.state: dict[str, KeyState] = {k: KeyState(acked=0) for k in KEYS + MP_KEYS}
        self.lock = threading.Lock()
        self.version = 0
        self.report = Report()
        self.store_id = ""
        self.churn = 0
        self.deleted_stores: set[str] = set()   # acknowledged store deletions (names)
        self.created_stores: set[str] = set()   # acknowledged creations not yet deleted
        self.deleting_stores: set[str] = set()  # deletions sent, not (yet) acknowledged
        self.ak = self.sk = ""

    # -- set-up -----------------------------------------------------------------------------
    def setup(self) -> None:
        self.server.start()
        h = {"Authorization": f"bearer {API_KEY}"}
        r = httpx.post(f"{self.server.api_url}/v2/objectstores", headers=h,
                       json={"name": BUCKET, "region": "LON1"}, timeout=30)
        r.raise_for_status()
        store = r.json()
        self.store_id = store["id"]
        cred = httpx.get(f"{self.server.api_url}/v2/objectstore/credentials/"
                         f"{store['owner_info']['credential_id']}", headers=h, timeout=30).json()
        self.ak, self.sk = cred["access_key_id"], cred["secret_access_key_id"]
        if self.versioned:
            self.client().put_bucket_versioning(
                Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
        if self.encrypted:
            self.client().put_bucket_encryption(
                Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [{
                    "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}]})

    def client(self):  # type: ignore[no-untyped-def]
        return boto3.client(
            "s3", endpoint_url=self.server.s3_url, aws_access_key_id=self.ak,
            aws_secret_access_key=self.sk, region_name="LON1",
            config=Config(retries={"total_max_attempts": 1}, connect_timeout=5, read_timeout=30))

    def _next_version(self) -> int:
        with self.lock:
            self.version += 1
            return self.version

    # -- load -------------------------------------------------------------------------------
    def worker(self, stop: threading.Event, seed: float, index: int, workers: int) -> None:
        """Each worker owns its own keys, so the order of acknowledgements on a key is the
        order of its writes (with shared keys, ack order and commit order may differ)."""
        rng = random.Random(seed)
        keys = KEYS[index::workers]
        mp_keys = MP_KEYS[index::workers]
        s3 = self.client()
        while not stop.is_set():
            roll = rng.random()
            try:
                if roll < 0.05:
                    if mp_keys:
                        self._multipart(s3, rng, mp_keys)
                    continue
                if roll < 0.15 and index == 0:
                    self._store_churn(s3)
                    continue
                key = rng.choice(keys)
                if roll < 0.8:
                    v = self._next_version()
                    size = rng.choice([0, 1, 1000, 70_000, 300_000, 1_100_000])
                    self._begin(key, v, size)
                    s3.put_object(Bucket=BUCKET, Key=key, Body=payload(key, v, size),
                                  Metadata={"v": str(v)})
                    self._ack(key, v)
                else:
                    self._begin(key, 0, 0)
                    s3.delete_object(Bucket=BUCKET, Key=key)
                    self._ack(key, 0)
            except Exception:
                if stop.is_set():
                    return
                time.sleep(0.01)

    def _multipart(self, s3, rng: random.Random,  # type: ignore[no-untyped-def]
                   mp_keys: list[str]) -> None:
        key = rng.choice(mp_keys)
        v = self._next_version()
        size = PART + 1000
        data = payload(key, v, size)
        up = s3.create_multipart_upload(Bucket=BUCKET, Key=key, Metadata={"v": str(v)})
        p1 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=1,
                            Body=data[:PART])
        p2 = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=up["UploadId"], PartNumber=2,
                            Body=data[PART:])
        self._begin(key, v, size)
        s3.complete_multipart_upload(
            Bucket=BUCKET, Key=key, UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": p1["ETag"]},
                                       {"PartNumber": 2, "ETag": p2["ETag"]}]})
        self._ack(key, v)

    def _store_churn(self, s3) -> None:  # type: ignore[no-untyped-def]
        """Create a store, fill it, delete it through the API (its bytes must go too)."""
        h = {"Authorization": f"bearer {API_KEY}"}
        with self.lock:
            self.churn += 1
            name = f"churn-{self.churn}"
        r = httpx.post(f"{self.server.api_url}/v2/objectstores", headers=h,
                       json={"name": name, "region": "LON1", "access_key_id": self.ak},
                       timeout=30)
        r.raise_for_status()
        with self.lock:
            self.created_stores.add(name)
        for i in range(3):
            s3.put_object(Bucket=name, Key=f"o{i}", Body=b"c" * 20_000)
        with self.lock:  # from here the store may be gone at any moment: not yet acknowledged
            self.deleting_stores.add(name)
        d = httpx.delete(f"{self.server.api_url}/v2/objectstores/{r.json()['id']}",
                         headers=h, timeout=30)
        d.raise_for_status()
        with self.lock:
            self.created_stores.discard(name)
            self.deleting_stores.discard(name)
            self.deleted_stores.add(name)
            self.report.stores_deleted += 1

    def _begin(self, key: str, version: int, size: int) -> None:
        with self.lock:
            st = self.state[key]
            st.inflight.add(version)
            st.sizes[version] = size

    def _ack(self, key: str, version: int) -> None:
        with self.lock:
            st = self.state[key]
            st.inflight.discard(version)
            st.acked = version
            if version:
                st.all_acked.add(version)
            self.report.acked_writes += 1

    # -- one crash cycle --------------------------------------------------------------------
    def cycle(self, duration: float, workers: int = 4) -> None:
        stop = threading.Event()
        threads = [threading.Thread(target=self.worker,
                                    args=(stop, self.rng.random(), i, workers))
                   for i in range(workers)]
        for t in threads:
            t.start()
        time.sleep(duration)
        self.server.kill()
        stop.set()
        for t in threads:
            t.join(timeout=60)
        self.report.kills += 1
        self.server.start()
        self.check()

    def check(self) -> None:
        s3 = self.client()
        listed: dict[str, int] = {}
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=BUCKET):
            for o in page.get("Contents", []):
                listed[o["Key"]] = o["Size"]
        with self.lock:
            states = {k: (st.acked, set(st.inflight), dict(st.sizes))
                      for k, st in self.state.items()}
        for key, (acked, inflight, sizes) in states.items():
            allowed = {acked, *inflight}
            if key not in listed:
                if 0 not in allowed:
                    self._fail(f"{key}: acknowledged version {acked} is missing")
                self._settle(key, 0)
                continue
            obj = s3.get_object(Bucket=BUCKET, Key=key)
            body = obj["Body"].read()
            v = int(obj["Metadata"].get("v", "-1"))
            self.report.objects_checked += 1
            if self.encrypted and obj.get("ServerSideEncryption") != "AES256":
                self._fail(f"{key}: stored without encryption")
            if v not in allowed:
                self._fail(f"{key}: found version {v}, allowed {sorted(allowed)}")
                continue
            if body != payload(key, v, sizes.get(v, len(body))):
                self._fail(f"{key}: bytes of version {v} are wrong")
            elif not key.startswith("mp/") and \
                    obj["ETag"].strip('"') != hashlib.md5(body).hexdigest():  # noqa: S324
                self._fail(f"{key}: ETag does not match bytes")
            self._settle(key, v)
        if self.versioned:
            self._check_versions(s3)
        else:
            self._check_usage(s3, listed)
        self._check_stores()

    def _check_versions(self, s3) -> None:  # type: ignore[no-untyped-def]
        """Versioned store: every acknowledged PUT is still a version, every version reads
        back whole (no partial version), and usage equals the listed versions' bytes."""
        for up in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
        found: dict[str, set[int]] = {}
        total = count = 0
        for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
            for ver in page.get("Versions", []):
                key, vid = ver["Key"], ver["VersionId"]
                obj = s3.get_object(Bucket=BUCKET, Key=key, VersionId=vid)
                body = obj["Body"].read()
                v = int(obj["Metadata"].get("v", "-1"))
                with self.lock:
                    st = self.state[key]
                    known = v in st.all_acked or v in st.inflight or v in st.sizes
                    size = st.sizes.get(v, len(body))
                if not known:
                    self._fail(f"{key}: version {vid} holds unknown write {v}")
                elif body != payload(key, v, size) or len(body) != ver["Size"]:
                    self._fail(f"{key}: version {vid} (write {v}) is partial or wrong")
                found.setdefault(key, set()).add(v)
                total += ver["Size"]
                count += 1
                self.report.objects_checked += 1
        with self.lock:
            expected = {k: set(st.all_acked) for k, st in self.state.items()}
        for key, versions in expected.items():
            lost = versions - found.get(key, set())
            if lost:
                self._fail(f"{key}: acknowledged versions {sorted(lost)} are missing")
        h = {"Authorization": f"bearer {API_KEY}"}
        stats = httpx.get(f"{self.server.api_url}/v2/objectstores/{self.store_id}/stats",
                          headers=h, timeout=30).json()
        if stats["num_objects"] != count or stats["size_kb_utilised"] != total // 1000:
            self._fail(f"usage: {stats} != {count} versions, {total // 1000} kB listed")

    def _check_stores(self) -> None:
        h = {"Authorization": f"bearer {API_KEY}"}
        items = httpx.get(f"{self.server.api_url}/v2/objectstores", headers=h,
                          params={"per_page": 10000}, timeout=30).json()["items"]
        names = {i["name"]: i["id"] for i in items}
        with self.lock:
            deleted, created = set(self.deleted_stores), set(self.created_stores)
            deleting = set(self.deleting_stores)
        for name in deleted & names.keys():
            self._fail(f"store {name}: acknowledged deletion did not survive")
        for name in created - names.keys() - deleting:  # (a deletion in flight may have landed)
            self._fail(f"store {name}: acknowledged creation is missing")
        self.report.deletions_landed_unacked += len(deleting - names.keys())
        for name, store_id in names.items():  # stores whose deletion was in flight: finish it
            if name.startswith("churn-"):
                httpx.delete(f"{self.server.api_url}/v2/objectstores/{store_id}", headers=h,
                             timeout=30).raise_for_status()
        with self.lock:
            self.created_stores.clear()
            self.deleting_stores.clear()

    def _settle(self, key: str, version: int) -> None:
        with self.lock:
            st = self.state[key]
            st.acked, st.inflight = version, set()

    def _check_usage(self, s3, listed: dict[str, int]) -> None:  # type: ignore[no-untyped-def]
        for up in s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []):
            s3.abort_multipart_upload(Bucket=BUCKET, Key=up["Key"], UploadId=up["UploadId"])
        h = {"Authorization": f"bearer {API_KEY}"}
        stats = httpx.get(f"{self.server.api_url}/v2/objectstores/{self.store_id}/stats",
                          headers=h, timeout=30).json()
        if stats["num_objects"] != len(listed):
            self._fail(f"usage: num_objects {stats['num_objects']} != {len(listed)} listed")
        if stats["size_kb_utilised"] != sum(listed.values()) // 1000:
            self._fail(f"usage: {stats['size_kb_utilised']} kB != "
                       f"{sum(listed.values()) // 1000} kB listed")

    def check_no_leaks(self) -> None:
        """With the server stopped: GC with no age limit, then every blob file is named."""
        self.server.stop()
        out = self.server.run_cli("gc", "--orphan-age", "0", "--grace", "0")
        if out.returncode != 0:
            self._fail(f"gc failed: {out.stderr[-500:]}")
        fsck = self.server.run_cli("fsck", "--quiet")
        if fsck.returncode != 0:
            self._fail(f"fsck reported damage: {fsck.stdout[-1000:]}")
        blobs = {p.name for p in (self.server.data_dir / "blobs").rglob("*") if p.is_file()}
        tmp = list((self.server.data_dir / "tmp").iterdir())
        from sqlalchemy import create_engine, text

        url = self.server.database_url or f"sqlite:///{self.server.data_dir}/objectstore.db"
        url = url.replace("postgresql://", "postgresql+psycopg://")
        engine = create_engine(url)
        with engine.connect() as conn:
            refs: set[str] = set()
            for table in ("objects", "object_versions"):
                refs.update(r[0] for r in conn.execute(text(f"SELECT blob_id FROM {table}"))
                            if r[0])
                for (manifest,) in conn.execute(text(f"SELECT parts FROM {table} "  # noqa: S608
                                                     "WHERE parts IS NOT NULL")):
                    import json

                    parts = json.loads(manifest) if isinstance(manifest, str) else manifest
                    refs.update(p[0] for p in parts or [])
        engine.dispose()
        if blobs != refs:
            self._fail(f"blobs on disk {len(blobs)} != referenced {len(refs)} "
                       f"(leaked {len(blobs - refs)}, missing {len(refs - blobs)})")
        if tmp:
            self._fail(f"{len(tmp)} temp files left")

    def _fail(self, msg: str) -> None:
        self.report.failures.append(msg)


def run(iterations: int, work: Path, database_url: str | None = None, seed: int = 1,
        min_s: float = 0.3, max_s: float = 2.0, versioned: bool = False,
        encrypted: bool = False) -> Report:
    h = Harness(work, database_url, seed, versioned, encrypted)
    h.setup()
    try:
        for _ in range(iterations):
            h.cycle(h.rng.uniform(min_s, max_s))
        h.check_no_leaks()
    finally:
        h.server.kill()
    return h.report


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--iterations", type=int, default=100)
    ap.add_argument("--seed", type=int, default=int(time.time()))
    ap.add_argument("--database-url", default=None)
    ap.add_argument("--versioned", action="store_true", help="on a versioned store")
    ap.add_argument("--encrypted", action="store_true",
                    help="with SSE-S3 default encryption on the store")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="objectstore-crash-") as tmp:
        t0 = time.time()
        rep = run(args.iterations, Path(tmp), args.database_url, args.seed,
                  versioned=args.versioned, encrypted=args.encrypted)
    print(f"crash loop: seed {args.seed}, {rep.kills} kills survived, {rep.acked_writes} "
          f"acknowledged writes, {rep.stores_deleted} stores created+deleted, "
          f"{rep.objects_checked} object reads verified, {rep.deletions_landed_unacked} store "
          "deletion(s) committed but cut off before their answer, "
          f"{len(rep.failures)} failures, {time.time() - t0:.0f} s")
    for f in rep.failures:
        print("FAIL", f)
    raise SystemExit(1 if rep.failures else 0)


if __name__ == "__main__":
    main()

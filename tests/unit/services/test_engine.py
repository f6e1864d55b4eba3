"""The object engine on its own (no HTTP): versioning rules against a model, usage, blob
handling and reads. Runs on the embedded SQLite with a real blob store in a temp dir."""

from __future__ import annotations

import hashlib
import random
from collections.abc import AsyncIterator, Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import func, select

from objectstore.app import build_services
from objectstore.config import Settings
from objectstore.domain.errors import (
    DeleteMarker,
    InvalidVersion,
    NoSuchVersion,
    ObjectNotFound,
    PreconditionFailed,
    QuotaExceeded,
)
from objectstore.domain.models import ObjectStore
from objectstore.services.engine.values import Attributes, Conditions
from objectstore.services.engine.vseq import next_vseq
from objectstore.services.registry import Services
from objectstore.storage.sql.tables import object_versions, objects, objectstores
from tests.support.aio import in_own_loop


class FakePayload:
    """A body already verified: what the S3 plane's BodyPayload gives the engine."""

    def __init__(self, data: bytes, piece: int = 300_000) -> None:
        self.data, self.piece, self.received = data, piece, 0
        self._md5 = hashlib.md5()  # noqa: S324
        self.finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for i in range(0, len(self.data), self.piece):
            chunk = self.data[i:i + self.piece]
            self.received += len(chunk)
            yield chunk

    def update(self, data: bytes) -> None:
        self._md5.update(data)

    def finish(self, expected_length: int) -> None:
        assert self.received == expected_length
        self.finished = True

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    @property
    def checksums(self) -> dict[str, str]:
        return {}

    @property
    def size(self) -> int:
        return self.received


@pytest.fixture
def services(tmp_path: Path) -> Iterator[Services]:
    svc = build_services(Settings(data_dir=tmp_path / "data"))
    try:
        yield svc
    finally:
        svc.objects.writer.close()
        svc.engine.dispose()


def new_store(svc: Services, name: str = "engine-test", size_gb: int = 1) -> ObjectStore:
    acc, _key = svc.accounts.create(f"acc-{name}")
    return svc.stores.create(acc.id, "LON1", name, size_gb, None).store


def fresh(svc: Services, store: ObjectStore) -> ObjectStore:
    """The store as its row says now (versioning state, usage)."""
    return next(s for s in svc.stores.by_name(store.name) if s.id == store.id)


run = in_own_loop


def put(svc: Services, store: ObjectStore, key: str, data: bytes,
        cond: Conditions | None = None) -> Any:
    return run(svc.objects.put(store, key, Attributes(), FakePayload(data), len(data), cond))


def blob_files(root: Path) -> set[str]:
    return {p.name for p in (root / "blobs").rglob("*") if p.is_file()}


def test_vseq_sorts_newest_first_even_if_the_clock_steps_back() -> None:
    first = next_vseq(None, now_us=2_000_000)
    later = next_vseq(first, now_us=3_000_000)
    stepped_back = next_vseq(later, now_us=1_000_000)
    assert stepped_back < later < first


def test_unversioned_overwrite_replaces_in_place_and_dooms_the_old_blob(
        services: Services, tmp_path: Path) -> None:
    store = new_store(services)
    big = random.randbytes(200_000)  # larger than the inline limit: a blob file
    v1 = put(services, store, "k", big)
    assert v1.version_id == "null" and v1.blob_ids()
    v2 = put(services, store, "k", b"small now")
    assert v2.blob_ids() == [] and v2.data == b"small now"
    with services.engine.connect() as conn:
        assert conn.execute(select(func.count()).select_from(object_versions)).scalar() == 0
    services_gc_drain(services)
    assert v1.blob_ids()[0] not in blob_files(tmp_path / "data")
    assert fresh(services, store).used_bytes == len(b"small now")


def services_gc_drain(svc: Services) -> None:
    from objectstore.services.maintenance import GarbageCollector

    GarbageCollector(svc.engine, svc.blobs, svc.objects.gc_wakeup).drain_doomed()


def test_reads_whole_ranges_and_streams(services: Services) -> None:
    store = new_store(services)
    data = random.randbytes(3 * 1024 * 1024 + 17)  # streamed (> 256 KiB)
    version = put(services, store, "big", data)

    async def read(start: int, end: int) -> bytes:
        body = await services.objects.read(version, start, end)
        if body.stream is None:
            return body.data
        return b"".join([chunk async for chunk in body.stream])

    assert run(read(0, len(data) - 1)) == data
    assert run(read(10, 20)) == data[10:21]
    assert run(read(len(data) - 5, len(data) - 1)) == data[-5:]


def test_conditions_and_quota_leave_nothing_behind(services: Services, tmp_path: Path) -> None:
    store = new_store(services)
    put(services, store, "c", b"one")
    with pytest.raises(PreconditionFailed):
        put(services, store, "c", random.randbytes(100_000), Conditions(if_none_match="*"))
    with pytest.raises(ObjectNotFound):
        put(services, store, "missing", b"x", Conditions(if_match="*"))
    with services.engine.begin() as conn:  # fill the store to 10 bytes short of its limit
        conn.execute(objectstores.update().where(objectstores.c.id == store.id)
                     .values(used_bytes=10**9 - 10))
    with pytest.raises(QuotaExceeded):
        put(services, store, "too-big", random.randbytes(100_000))
    services_gc_drain(services)
    # the refused writes' blobs are gone (written, then removed when the commit failed)
    referenced = {b for k in ("c",) for b in services.objects.head_sync(store.id, k).blob_ids()}
    assert blob_files(tmp_path / "data") <= referenced


# -- versioning against a model ------------------------------------------------------------------

class Model:
    """What S3 documents: per key a list of versions, newest first; each version is
    (version id, bytes or None for a delete marker)."""

    def __init__(self) -> None:
        self.state: str | None = None
        self.keys: dict[str, list[tuple[str, bytes | None]]] = {}

    def write(self, key: str, vid: str, data: bytes | None) -> None:
        versions = self.keys.setdefault(key, [])
        if self.state is None:
            versions[:] = [(vid, data)] if data is not None else []
            if not versions:
                del self.keys[key]
            return
        if self.state == "Suspended":
            versions[:] = [v for v in versions if v[0] != "null"]
        versions.insert(0, (vid, data))

    def delete_version(self, key: str, vid: str) -> None:
        self.keys[key] = [v for v in self.keys.get(key, []) if v[0] != vid]
        if not self.keys[key]:
            del self.keys[key]

    def listing(self) -> list[tuple[str, str, bool, bool]]:
        return [(k, vid, i == 0, data is None)
                for k in sorted(self.keys) for i, (vid, data) in enumerate(self.keys[k])]

    def used(self) -> int:
        return sum(len(d) for vs in self.keys.values() for _, d in vs if d is not None)

    def count(self) -> int:
        return sum(1 for vs in self.keys.values() for _, d in vs if d is not None)


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_versioning_rules_match_the_model(services: Services, tmp_path: Path,
                                          seed: int) -> None:
    rnd = random.Random(seed)
    store = new_store(services, f"model-{seed}")
    model = Model()
    keys = ["a", "b", "dir/c"]
    for _step in range(150):
        op = rnd.random()
        key = rnd.choice(keys)
        if op < 0.07:
            state = rnd.choice(["Enabled", "Suspended"])
            services.stores.set_versioning(store.id, state)
            model.state = state
            store = fresh(services, store)
        elif op < 0.55:
            data = rnd.randbytes(rnd.choice([0, 10, 70_000, 150_000]))
            v = put(services, store, key, data)
            assert v.version_id == ("null" if model.state != "Enabled" else v.vseq)
            model.write(key, v.version_id, data)
        elif op < 0.75:
            result = run(services.objects.delete(store, key))
            if model.state is None:
                assert result.version_id is None
                model.keys.pop(key, None)
            else:
                assert result.delete_marker
                model.write(key, result.version_id, None)
        else:
            versions = model.keys.get(key, [])
            if versions and rnd.random() < 0.8:
                vid = rnd.choice(versions)[0]
                run(services.objects.delete(store, key, vid))
                model.delete_version(key, vid)
            else:
                with pytest.raises(NoSuchVersion):
                    run(services.objects.delete(store, key, next_vseq(None)))
        listed = services.objects.list_versions_sync(store.id, "", "", "", "", 1000)
        got = [(v.key, v.version_id, v.is_latest, v.delete_marker) for v in listed.versions]
        assert got == model.listing()
        now = fresh(services, store)
        assert (now.used_bytes, now.object_count) == (model.used(), model.count())
    # every version reads back its own bytes; markers answer as markers
    for key, versions in model.keys.items():
        for vid, data in versions:
            if data is None:
                with pytest.raises(DeleteMarker):
                    services.objects.head_sync(store.id, key, vid)
                continue
            v = services.objects.head_sync(store.id, key, vid)
            body = run(services.objects.read(v, 0, v.size - 1))
            got_bytes = body.data if body.stream is None else b"".join(
                run(_collect(body.stream)))
            assert got_bytes == data
    # usage equals the bytes of the versions the tables hold; no blob left unnamed
    with services.engine.connect() as conn:
        total = sum(conn.execute(select(func.coalesce(func.sum(t.c.size), 0))
                                 .where(t.c.store_id == store.id)).scalar() or 0
                    for t in (objects, object_versions))
    assert total == model.used()
    services_gc_drain(services)
    named = set()
    for key, versions in model.keys.items():
        for vid, data in versions:
            if data is not None:
                named.update(services.objects.head_sync(store.id, key, vid).blob_ids())
    assert blob_files(tmp_path / "data") == named


async def _collect(stream: AsyncIterator[bytes]) -> list[bytes]:
    return [chunk async for chunk in stream]


def test_malformed_version_ids_are_refused_before_any_change(services: Services) -> None:
    store = new_store(services)
    put(services, store, "k", b"x")
    with pytest.raises(InvalidVersion):
        run(services.objects.delete(store, "k", "../etc"))
    with pytest.raises(InvalidVersion):
        services.objects.head_sync(store.id, "k", "zz")
    assert services.objects.head_sync(store.id, "k").data == b"x"


def test_update_changes_one_version_only(services: Services) -> None:
    store = new_store(services)
    services.stores.set_versioning(store.id, "Enabled")
    store = fresh(services, store)
    v1 = put(services, store, "t", b"1")
    put(services, store, "t", b"2")
    run(services.objects.update(store, "t", v1.version_id, tags={"a": "b"}))
    assert services.objects.head_sync(store.id, "t", v1.version_id).tags == {"a": "b"}
    assert services.objects.head_sync(store.id, "t").tags == {}
    assert replace(v1, tags={"a": "b"}).version_id == v1.version_id

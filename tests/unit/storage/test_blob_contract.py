"""The BlobStore contract, run against both blob stores: the local file store and SeaweedFS
(a real master and three volume servers on loopback; small chunks so that chunk boundaries
are cheap to reach, plus one blob in the default 8 MiB chunks)."""

from __future__ import annotations

import asyncio
import errno
import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from objectstore.cli.devcluster import WeedCluster
from objectstore.config import SeaweedConfig
from objectstore.storage.blobs import BlobStore
from objectstore.storage.fs import store as fs_store
from objectstore.storage.fs.store import DIRECT_AFTER, DIRECT_UNIT, FsBlobStore
from objectstore.storage.seaweedfs.store import SeaweedBlobStore
from objectstore.storage.sql.engine import make_engine, migrate

CHUNK = 64 * 1024


@pytest.fixture(params=["file", "seaweedfs"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[BlobStore]:
    if request.param == "file":
        yield FsBlobStore(tmp_path / "fs")
        return
    weed: WeedCluster = request.getfixturevalue("weed")
    engine = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    sw = SeaweedBlobStore(engine, SeaweedConfig.parse(weed.url("contract", chunk_size=CHUNK)))
    try:
        yield sw
    finally:
        sw.close()
        engine.dispose()


def write(store: BlobStore, data: bytes, piece: int = 10_000) -> str:
    w = store.open_writer()
    for i in range(0, len(data), piece):
        w.write(data[i:i + piece])
    blob_id = w.commit()
    assert w.size == len(data)
    assert len(blob_id) <= 64  # fits the String(64) columns
    return blob_id


def read(store: BlobStore, blob_id: str, offset: int, length: int) -> bytes:
    r = store.open_reader(blob_id)
    try:
        return r.read_at(offset, length)
    finally:
        r.close()


def test_write_then_read_whole_and_ranges_at_chunk_boundaries(store: BlobStore) -> None:
    data = os.urandom(3 * CHUNK + 123)
    blob_id = write(store, data)
    assert read(store, blob_id, 0, len(data)) == data
    for offset, length in [(0, 1), (CHUNK - 1, 2), (CHUNK, CHUNK), (CHUNK - 5, CHUNK + 10),
                           (2 * CHUNK - 1, CHUNK + 2), (3 * CHUNK, 123), (len(data) - 1, 1),
                           (5, 0)]:
        assert read(store, blob_id, offset, length) == data[offset:offset + length]
    assert _run(store.read(blob_id, CHUNK - 3, 6)) == data[CHUNK - 3:CHUNK + 3]


def test_reading_past_the_end_raises(store: BlobStore) -> None:
    blob_id = write(store, b"x" * 1000)
    with pytest.raises(OSError):
        read(store, blob_id, 990, 20)


def test_exact_multiple_of_chunk_and_empty_blob(store: BlobStore) -> None:
    data = os.urandom(2 * CHUNK)
    blob_id = write(store, data, piece=CHUNK)
    assert read(store, blob_id, CHUNK, CHUNK) == data[CHUNK:]
    empty = write(store, b"")
    assert read(store, empty, 0, 0) == b""


def test_delete_makes_it_unreadable_and_is_idempotent(store: BlobStore) -> None:
    blob_id = write(store, os.urandom(CHUNK + 10))
    store.delete(blob_id)
    with pytest.raises(OSError):
        read(store, blob_id, 0, 1)
    store.delete(blob_id)  # again: no error
    assert blob_id not in {b for b, _ in store.iter_blob_ids()}


def test_open_reader_survives_deletion(store: BlobStore) -> None:
    data = os.urandom(2 * CHUNK + 7)
    blob_id = write(store, data)
    reader = store.open_reader(blob_id)
    try:
        store.delete(blob_id)
        assert reader.read_at(0, len(data)) == data
    finally:
        reader.close()


def test_aborted_write_leaves_nothing(store: BlobStore) -> None:
    before = {b for b, _ in store.iter_blob_ids()}
    w = store.open_writer()
    w.write(os.urandom(2 * CHUNK + 5))  # two chunks already uploaded
    w.abort()
    assert {b for b, _ in store.iter_blob_ids()} == before
    with pytest.raises(OSError):
        read(store, w.blob_id, 0, 1)


def test_gc_iteration_lists_every_blob_with_its_age(store: BlobStore) -> None:
    t0 = time.time()
    ids = {write(store, os.urandom(CHUNK + i)) for i in range(3)}
    listed = dict(store.iter_blob_ids())
    assert ids <= set(listed)
    for b in ids:
        assert t0 - 5 <= listed[b] <= time.time() + 5
    assert store.sweep_incomplete(older_than_s=0) >= 0


def test_default_8_mib_chunks(weed: WeedCluster, tmp_path: Path) -> None:
    engine = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    sw = SeaweedBlobStore(engine, SeaweedConfig.parse(weed.url("contract")))
    try:
        data = os.urandom(17 * 1024 * 1024)
        blob_id = write(sw, data, piece=1024 * 1024)
        assert [c.size for c in sw.chunks_of(blob_id)] == [8 << 20, 8 << 20, 1 << 20]
        sw.remember(blob_id, [])  # forget the cached list: read it back from the table
        sw._chunks.clear()
        m = 8 * 1024 * 1024
        assert read(sw, blob_id, m - 10, 20) == data[m - 10:m + 10]
        assert read(sw, blob_id, 0, len(data)) == data
    finally:
        sw.close()
        engine.dispose()


def test_reads_fail_over_to_another_replica(weed: WeedCluster, tmp_path: Path) -> None:
    """A chunk's first listed replica is unreachable: the read goes to the other one."""
    engine = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    migrate(engine)
    sw = SeaweedBlobStore(engine, SeaweedConfig.parse(weed.url("contract", chunk_size=CHUNK)))
    try:
        data = os.urandom(CHUNK + 1)
        blob_id = write(sw, data)
        for chunk in sw.chunks_of(blob_id):
            vid = chunk.fid.split(",")[0]
            urls = sw.client.locations(vid)
            assert len(urls) >= 2  # replication 001: at least two copies
            sw.client._locations[vid] = (time.monotonic(), ["127.0.0.1:1", *urls])
        assert read(sw, blob_id, 0, len(data)) == data
    finally:
        sw.close()
        engine.dispose()


def test_blob_store_setting_is_validated() -> None:
    from pydantic import ValidationError

    from objectstore.config import Settings

    assert Settings(blob_store="file").blob_store == "file"
    ok = Settings(blob_store="seaweedfs://m1:9333,m2:9333?replication=010&collection=x")
    assert SeaweedConfig.parse(ok.blob_store).masters == ("m1:9333", "m2:9333")
    for bad in ["s3://x", "seaweedfs://", "seaweedfs://m1", "seaweedfs://m:1?replication=1",
                "seaweedfs://m:1?colour=red"]:
        with pytest.raises(ValidationError):
            Settings(blob_store=bad)


def _run(coro: Any) -> Any:
    """A coroutine on a loop of its own, in a thread of its own (the browser suites' sync
    Playwright may leave an event loop running in this thread)."""
    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(1) as pool:
        return pool.submit(asyncio.run, coro).result()


@pytest.mark.parametrize("sizes", [
    [DIRECT_AFTER],                                    # exactly the cached part
    [DIRECT_AFTER + 1],                                # one byte past it
    [70_000] * 40 + [5],                               # odd pieces across several units
    [3, DIRECT_AFTER + 3 * DIRECT_UNIT + 4097, 11],    # big pieces, unaligned tail
])
def test_file_blobs_past_the_first_mib_written_direct(tmp_path: Path, sizes: list[int]) -> None:
    """Past its first MiB a file blob goes through an aligned stage with O_DIRECT: whatever
    the pieces, every byte reads back in place (the tail, unaligned, through the cache)."""
    store = FsBlobStore(tmp_path / "fs", direct=True)
    assert store.direct  # ext4 or xfs under the tests: O_DIRECT is available
    data = os.urandom(sum(sizes))
    w = store.open_writer()
    pos = 0
    for n in sizes:
        w.write(memoryview(data)[pos:pos + n])
        pos += n
    blob_id = w.commit()
    assert store.direct  # not given up on the way
    assert w.size == len(data)
    assert store.read_sync(blob_id, 0, len(data)) == data
    edge, n = DIRECT_AFTER - 5, min(4101, len(data) - DIRECT_AFTER + 5)
    assert store.read_sync(blob_id, edge, n) == data[edge:edge + n]


def test_file_blobs_where_o_direct_is_refused(tmp_path: Path,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    """On a file system that refuses O_DIRECT (EINVAL at open: some network and FUSE file
    systems, older tmpfs) the store writes through the cache from then on, and the blob
    is whole."""
    real_open = os.open

    def refusing_open(path: str, flags: int, *args: Any) -> int:
        if flags & os.O_DIRECT:
            raise OSError(errno.EINVAL, "Invalid argument")
        return real_open(path, flags, *args)

    monkeypatch.setattr(fs_store.os, "open", refusing_open)
    store = FsBlobStore(tmp_path / "fs", direct=True)
    data = os.urandom(DIRECT_AFTER + 3 * DIRECT_UNIT + 17)
    w = store.open_writer()
    for i in range(0, len(data), 300_000):
        w.write(data[i:i + 300_000])
    blob_id = w.commit()
    assert not store.direct
    assert store.read_sync(blob_id, 0, len(data)) == data


def test_aborted_direct_write_leaves_nothing(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path / "fs", direct=True)
    w = store.open_writer()
    w.write(os.urandom(DIRECT_AFTER + DIRECT_UNIT + 5))
    w.abort()
    assert list(store.iter_blob_ids()) == []

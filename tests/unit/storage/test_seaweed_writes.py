"""The SeaweedFS blob store's write path against a real master and volume servers: file ids
reserved in batches (``/dir/assign?count=N``, ids ``<fid>_1`` ..), what a refused upload or
an old reservation does to them, and each chunk's row written in one statement on
PostgreSQL (its own connections, ``synchronous_commit`` off on those only)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, select, text

from objectstore.cli.devcluster import WeedCluster
from objectstore.config import SeaweedConfig
from objectstore.storage.seaweedfs import client as client_mod
from objectstore.storage.seaweedfs.client import SeaweedError
from objectstore.storage.seaweedfs.store import SeaweedBlobStore
from objectstore.storage.seaweedfs.tables import blob_chunks
from objectstore.storage.sql.engine import make_engine, migrate
from tests.support.pg import PgCluster


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tmp_path / 'meta.db'}")
    else:
        cluster: PgCluster = request.getfixturevalue("pg_cluster")
        eng = make_engine(cluster.new_database())
    migrate(eng)
    try:
        yield eng
    finally:
        eng.dispose()


@pytest.fixture
def store(weed: WeedCluster, engine: Engine) -> Iterator[SeaweedBlobStore]:
    sw = SeaweedBlobStore(engine, SeaweedConfig.parse(weed.url("writes", chunk_size=65536)))
    try:
        yield sw
    finally:
        sw.close()


def _count_assigns(store: SeaweedBlobStore) -> list[str]:
    calls: list[str] = []
    real = store.client._master_get

    def counting(path: str) -> dict[str, Any]:
        if path.startswith("/dir/assign"):
            calls.append(path)
        return real(path)

    store.client._master_get = counting  # type: ignore[method-assign]
    return calls


def _write(store: SeaweedBlobStore, data: bytes) -> str:
    w = store.open_writer()
    w.write(data)
    return w.commit()


def _read(store: SeaweedBlobStore, blob_id: str, size: int) -> bytes:
    store._chunks.clear()  # from the table, not the writer's cached list
    return store.read_sync(blob_id, 0, size)


def test_small_blobs_share_reservations_and_read_back(store: SeaweedBlobStore) -> None:
    assigns = _count_assigns(store)
    blobs = {_write(store, data): data for data in (os.urandom(4096 + i) for i in range(40))}
    # 40 needles from ASSIGN_BATCH (32) ids a master call: two calls, not forty
    assert len(assigns) == 2, assigns
    fids = [c.fid for b in blobs for c in store.chunks_of(b)]
    assert len(set(fids)) == 40
    assert any("_" in f for f in fids)  # derived ids: <fid>_1, <fid>_2, ...
    for blob_id, data in blobs.items():
        assert _read(store, blob_id, len(data)) == data
    # a derived id deletes like any other: gone from the volume and from the table
    derived = next(b for b in blobs if "_" in store.chunks_of(b)[0].fid)
    fid = store.chunks_of(derived)[0].fid
    store.delete(derived)
    with pytest.raises(SeaweedError):
        store.client.read(fid, 0, 10)
    with store.engine.connect() as conn:
        assert conn.execute(select(blob_chunks).where(
            blob_chunks.c.blob_id == derived)).first() is None


def test_multi_chunk_blob_reads_back(store: SeaweedBlobStore) -> None:
    data = os.urandom(5 * 65536 + 123)
    blob_id = _write(store, data)
    assert [c.size for c in store.chunks_of(blob_id)] == [65536] * 5 + [123]
    assert _read(store, blob_id, len(data)) == data


def test_refused_upload_drops_the_reservation(store: SeaweedBlobStore,
                                              monkeypatch: pytest.MonkeyPatch) -> None:
    assigns = _count_assigns(store)
    _write(store, b"first")
    assert len(assigns) == 1
    real = store.client.upload
    refused: list[str] = []

    def refuse_once(a: Any, data: Any) -> None:
        if not refused:
            refused.append(a.fid)
            raise SeaweedError("volume is read only")  # as a full volume answers
        real(a, data)

    monkeypatch.setattr(store.client, "upload", refuse_once)
    data = os.urandom(3000)
    blob_id = _write(store, data)
    # the retry did not take the next id of the refused volume's reservation: a new one
    assert len(assigns) == 2
    assert store.chunks_of(blob_id)[0].fid != refused[0]
    assert _read(store, blob_id, len(data)) == data


def test_old_reservation_is_not_used(store: SeaweedBlobStore,
                                     monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(client_mod, "ASSIGN_TTL_S", 2.0)
    assigns = _count_assigns(store)
    _write(store, b"a")
    _write(store, b"b")
    assert len(assigns) == 1
    time.sleep(2.1)
    _write(store, b"c")
    assert len(assigns) == 2


@pytest.mark.postgres
def test_chunk_rows_on_postgresql(weed: WeedCluster, pg_cluster: PgCluster) -> None:
    """A chunk row written again (a retried upload) holds the new file id; the chunk rows'
    connections have synchronous_commit off and the engine's others keep it on; a chunk
    connection the server closed is replaced."""
    eng = make_engine(pg_cluster.new_database())
    migrate(eng)
    with eng.connect() as conn:  # the test cluster's own default is off: on for this one
        name = conn.execute(text("SELECT current_database()")).scalar()
        conn.execute(text(f'ALTER DATABASE "{name}" SET synchronous_commit TO on'))
        conn.commit()
    eng.dispose()
    sw = SeaweedBlobStore(eng, SeaweedConfig.parse(weed.url("writes")))
    try:
        sw.record_chunk("b1", 0, "1,aa", 10)
        sw.record_chunk("b1", 0, "2,bb", 11)
        sw.record_chunk("b1", 1, "3,cc", 12)
        with eng.connect() as conn:
            rows = conn.execute(select(blob_chunks.c.seq, blob_chunks.c.fid, blob_chunks.c.size)
                                .where(blob_chunks.c.blob_id == "b1")
                                .order_by(blob_chunks.c.seq)).all()
            assert [tuple(r) for r in rows] == [(0, "2,bb", 11), (1, "3,cc", 12)]
            assert conn.execute(text("SHOW synchronous_commit")).scalar() == "on"
            mine = sw.rows._idle[0]
            cur = mine.cursor()
            cur.execute("SHOW synchronous_commit")
            assert cur.fetchone()[0] == "off"
            cur.execute("SELECT pg_backend_pid()")
            pid = cur.fetchone()[0]
            cur.close()
            conn.execute(text("SELECT pg_terminate_backend(:p)"), {"p": pid})
            conn.commit()
        time.sleep(0.2)
        sw.record_chunk("b2", 0, "4,dd", 13)  # on a fresh connection
        with eng.connect() as conn:
            assert conn.execute(select(blob_chunks.c.fid).where(
                blob_chunks.c.blob_id == "b2")).scalar() == "4,dd"
    finally:
        sw.close()
        eng.dispose()


@pytest.mark.postgres
def test_chunk_rows_connections_are_bounded(weed: WeedCluster, pg_cluster: PgCluster) -> None:
    """Many writers at once share at most ``max_connections`` connections: opening one per
    writer (a PostgreSQL backend each) cost more than the rows themselves."""
    import threading

    eng = make_engine(pg_cluster.new_database())
    migrate(eng)
    sw = SeaweedBlobStore(eng, SeaweedConfig.parse(weed.url("writes")))
    sw.rows.max_connections = 3
    opened: list[int] = []
    real = sw.rows._connect

    def counting() -> Any:
        opened.append(1)
        return real()

    sw.rows._connect = counting  # type: ignore[method-assign]
    errors: list[BaseException] = []

    def writer(i: int) -> None:
        try:
            for seq in range(10):
                sw.record_chunk(f"t{i}", seq, f"{i},{seq:x}", seq)
        except BaseException as exc:  # noqa: BLE001 - reported below
            errors.append(exc)

    try:
        threads = [threading.Thread(target=writer, args=(i,)) for i in range(20)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert not errors
        assert 1 <= len(opened) <= 3
        with eng.connect() as conn:
            assert conn.execute(text("SELECT count(*) FROM blob_chunks")).scalar() == 200
    finally:
        sw.close()
        eng.dispose()

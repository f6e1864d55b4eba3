"""The point read of GET/HEAD decodes its raw row itself (services/engine/rows.HeadDecoder):
it must read every kind of version exactly as the Core-processed row does - timestamps
UTC-aware and equal, JSON columns (empty, null, nested) equal, booleans, binary, parts with
and without their own checksums - on SQLite and on PostgreSQL (its async reads too)."""

from __future__ import annotations

import tempfile
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy import Engine, insert

from objectstore.domain.models import ObjectVersion
from objectstore.services.engine import metadata as md
from objectstore.services.engine.rows import (
    HEAD_COLUMNS,
    head_decoder,
    row_values,
    version_from_tuple,
)
from objectstore.storage.sql import async_reads
from objectstore.storage.sql.engine import make_engine
from objectstore.storage.sql.tables import metadata, objects
from tests.support.aio import in_own_loop

WHEN = datetime(2026, 12, 6, 16, 5, 6, 123456, tzinfo=UTC)


def versions() -> list[ObjectVersion]:
    base = {"store_id": "s1", "size": 4096, "etag": '"0123456789abcdef0123456789abcdef"',
            "last_modified": WHEN, "content_type": "application/octet-stream"}
    return [
        ObjectVersion(key="inline", blob_id="", data=b"x" * 4096, vseq="v1",
                      checksums={"CRC64NVME": "AAAAAAAAAAA="}, checksum_type="FULL_OBJECT",
                      **base),
        ObjectVersion(key="blob", blob_id="ab" * 16, vseq="v2", blocks=b"\x01\x02\x03\x04",
                      headers={"content-encoding": "gzip", "cache-control": "max-age=1"},
                      user_meta={"a": "1", "ü": "ö"}, tags={"t": "v"}, acl="public-read",
                      owner="cred-1", storage_class="STANDARD_IA", **base),
        ObjectVersion(key="multipart", blob_id="", vseq="v3",
                      parts=(("cd" * 16, 5 * 1024 * 1024), ("ef" * 16, 17)),
                      part_checksums=({"CRC32": "AAAAAA=="}, {}),
                      checksums={"CRC32": "AAAAAA==-2"}, checksum_type="COMPOSITE", **base),
        ObjectVersion(key="old-multipart", blob_id="", vseq="v4",
                      parts=(("cd" * 16, 5 * 1024 * 1024), ("ef" * 16, 17)), **base),
        ObjectVersion(key="locked", blob_id="12" * 16, vseq="v5", version_id="v5",
                      lock_mode="COMPLIANCE", lock_until=WHEN + timedelta(days=3),
                      legal_hold=True,
                      grants=[{"grantee": "id=x", "permission": "READ"}],
                      sse={"mode": "SSE-S3", "key": "wrapped", "seg": 65536}, **base),
        ObjectVersion(key="marker", blob_id="", vseq="v6", version_id="v6",
                      delete_marker=True, **{**base, "size": 0, "etag": ""}),
        # written with another offset (the engine writes UTC): read as the processed row reads
        ObjectVersion(key="offset", blob_id="", data=b"", vseq="v7",
                      **{**base, "last_modified": WHEN.astimezone(timezone(timedelta(hours=2)))}),
    ]


def _fill(engine: Engine) -> None:
    metadata.create_all(engine)
    with engine.begin() as conn:
        for v in versions():
            conn.execute(insert(objects).values(store_id=v.store_id, key=v.key,
                                                **row_values(v)))


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Iterator[Engine]:
    if request.param == "sqlite":
        eng = make_engine(f"sqlite:///{tempfile.mkdtemp()}/m.db")
    else:
        eng = make_engine(request.getfixturevalue("pg_cluster").new_database())
    _fill(eng)
    yield eng
    eng.dispose()


def _same(a: ObjectVersion, b: ObjectVersion) -> None:
    assert a == b
    for field in ("last_modified", "lock_until"):  # equal instants, and both UTC-aware
        x, y = getattr(a, field), getattr(b, field)
        assert (x is None) == (y is None)
        if x is not None:
            assert x.utcoffset() == y.utcoffset() == timedelta(0), (field, x, y)


def test_raw_rows_decode_as_processed_rows(engine: Engine) -> None:
    decoder = head_decoder(engine.dialect)
    for v in versions():
        processed = md._HEAD.first_on(engine, store_id="s1", key=v.key)
        raw = md._HEAD.raw_first_on(engine, store_id="s1", key=v.key)
        assert processed is not None and raw is not None
        expected = version_from_tuple("s1", HEAD_COLUMNS, processed, is_latest=True)
        got = decoder.decode("s1", raw)
        _same(got, expected)
        if v.key != "offset":  # SQLite keeps a datetime's fields, not its offset
            _same(got, v)  # and what was written
        assert type(got.data) is type(v.data) and type(got.blocks) is type(v.blocks)
    assert md._HEAD.raw_first_on(engine, store_id="s1", key="none") is None


@pytest.mark.postgres
def test_async_raw_rows_decode_as_processed_rows(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    engine = make_engine(pg_cluster.new_database())
    try:
        _fill(engine)
        reads = async_reads.for_engine(engine)
        assert reads is not None
        decoder = head_decoder(engine.dialect)

        async def both(key: str) -> tuple[object, object]:
            try:
                return (await reads.first(md._HEAD, store_id="s1", key=key),
                        await reads.raw_first(md._HEAD, store_id="s1", key=key))
            finally:  # (each call is its own event loop: its connection closes with it)
                await reads.close()

        for v in versions():
            processed, raw = in_own_loop(both(v.key))
            assert isinstance(processed, tuple)
            _same(decoder.decode("s1", raw),
                  version_from_tuple("s1", HEAD_COLUMNS, processed, is_latest=True))
    finally:
        engine.dispose()

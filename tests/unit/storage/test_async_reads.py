"""PostgreSQL point reads on the event loop (storage/sql/async_reads.py): the same rows as the
threaded read, and a kept connection that died with the server is replaced unseen."""

from __future__ import annotations

import socket
from datetime import UTC, datetime

import pytest
from sqlalchemy import (
    JSON,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    bindparam,
    select,
    text,
)

from objectstore.storage.sql import async_reads
from objectstore.storage.sql.engine import make_engine
from objectstore.storage.sql.prepared import Prepared
from tests.support.aio import in_own_loop

pytestmark = pytest.mark.postgres

meta = MetaData()
things = Table("things", meta, Column("id", Integer, primary_key=True),
               Column("name", String(20)), Column("meta", JSON),
               Column("at", DateTime(timezone=True)))
BY_ID = Prepared(select(things.c.name, things.c.meta, things.c.at)
                 .where(things.c.id == bindparam("id")))
WHEN = datetime(2026, 12, 3, 12, 0, tzinfo=UTC)


@pytest.fixture
def engine(pg_cluster):  # type: ignore[no-untyped-def]
    eng = make_engine(pg_cluster.new_database())
    meta.create_all(eng)
    with eng.begin() as conn:
        conn.execute(things.insert(), [{"id": 1, "name": "one", "meta": {"a": [1, 2]}, "at": WHEN},
                                       {"id": 2, "name": "two", "meta": {}, "at": None}])
    yield eng
    eng.dispose()


def test_async_rows_are_the_threaded_rows(engine) -> None:  # type: ignore[no-untyped-def]
    reads = async_reads.for_engine(engine)
    assert reads is not None
    assert async_reads.for_engine(engine) is reads  # one set per engine

    async def main() -> list[object]:
        try:
            return [await reads.first(BY_ID, id=i) for i in (1, 2, 3)]
        finally:
            await reads.close()

    got = in_own_loop(main())
    assert got == [BY_ID.first_on(engine, id=i) for i in (1, 2, 3)]
    assert got[0] == ("one", {"a": [1, 2]}, WHEN)  # JSON and aware datetimes processed
    assert got[2] is None


def test_a_kept_connection_killed_by_the_server_is_replaced(engine) -> None:  # type: ignore[no-untyped-def]
    reads = async_reads.for_engine(engine)
    assert reads is not None

    async def main() -> tuple[object, object, int]:
        first = await reads.first(BY_ID, id=1)
        with engine.begin() as conn:  # as a restart or failover would
            killed = conn.execute(text(
                "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
                "WHERE datname = current_database() AND pid <> pg_backend_pid()")).scalar()
        try:
            return first, await reads.first(BY_ID, id=1), int(killed or 0)
        finally:
            await reads.close()

    first, again, killed = in_own_loop(main())
    assert killed >= 1  # the kept connection was among them
    assert first == again == ("one", {"a": [1, 2]}, WHEN)


def test_not_for_sqlite(tmp_path) -> None:  # type: ignore[no-untyped-def]
    assert async_reads.for_engine(make_engine(f"sqlite:///{tmp_path / 'x.db'}")) is None


def test_asyncpg_unless_the_url_needs_libpq(pg_cluster) -> None:  # type: ignore[no-untyped-def]
    """asyncpg reads where the URL holds only what it understands; a URL with any other libpq
    parameter (which asyncpg would send the server as a setting, failing every read) keeps
    psycopg's connections — with the same rows."""
    plain = pg_cluster.new_database()
    libpq = plain + ("&" if "?" in plain else "?") + "application_name=objectstore-test"
    rows = []
    for url, driver in ((plain, "_Asyncpg"), (libpq, "_Psycopg")):
        eng = make_engine(url)
        try:
            if url == plain:  # (the same database twice)
                meta.create_all(eng)
                with eng.begin() as conn:
                    conn.execute(things.insert(), [{"id": 1, "name": "one", "meta": {"a": [1]},
                                                    "at": WHEN}])
            reads = async_reads.AsyncReads(eng)
            assert type(reads.driver).__name__ == driver

            async def main(reads: async_reads.AsyncReads = reads) -> object:
                try:
                    return await reads.first(BY_ID, id=1)
                finally:
                    await reads.close()

            rows.append(in_own_loop(main()))
        finally:
            eng.dispose()
    assert rows == [("one", {"a": [1]}, WHEN)] * 2


@pytest.mark.parametrize("extra", ["", "application_name=objectstore-test"],
                         ids=["asyncpg", "psycopg"])
def test_an_unreachable_database_is_an_outage_and_a_bad_statement_is_not(
        pg_cluster, extra: str) -> None:  # type: ignore[no-untyped-def]
    """A read that cannot reach PostgreSQL raises ``DatabaseUnavailable`` (the planes answer
    503) with either driver; a statement the server refuses stays the driver's own error (a
    bug: 500)."""
    from sqlalchemy.engine import make_url

    from objectstore.services.availability import unavailable

    url = make_url(pg_cluster.new_database())
    with socket.socket() as s:  # a port nothing listens on
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    gone = url.set(host="127.0.0.1", port=port, query={**url.query, "connect_timeout": "2"})
    if extra:
        k, v = extra.split("=")
        gone = gone.update_query_dict({k: v})
    eng = make_engine(gone.render_as_string(hide_password=False))
    missing = Prepared(select(text("x FROM no_such_table")))
    try:
        reads = async_reads.AsyncReads(eng)

        async def main() -> BaseException:
            with pytest.raises(async_reads.DatabaseUnavailable) as info:
                await reads.first(BY_ID, id=1)
            return info.value

        err = in_own_loop(main())
        assert unavailable(err) == "ServiceUnavailable"
        assert err.__cause__ is not None  # the driver's own error, kept
    finally:
        eng.dispose()
    good = url if not extra else url.update_query_dict(dict([extra.split("=")]))
    eng = make_engine(good.render_as_string(hide_password=False))
    try:
        reads = async_reads.AsyncReads(eng)

        async def bad() -> BaseException:
            try:
                with pytest.raises(Exception) as info:
                    await reads.first(missing)
                return info.value
            finally:
                await reads.close()

        err = in_own_loop(bad())
        assert not isinstance(err, async_reads.DatabaseUnavailable)
        assert unavailable(err) is None
    finally:
        eng.dispose()

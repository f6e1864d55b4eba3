"""The GET/HEAD point read on PostgreSQL, alone: this process's CPU per read through
``storage/sql/async_reads.AsyncReads`` with each of its drivers (asyncpg for a plain URL,
psycopg's ``AsyncConnection`` for a URL with a libpq-only parameter), the objects table's
HEAD statement on a throwaway PostgreSQL. Run by hand:
``.venv/bin/python -m bench.pg_point_read [--reads 5000] [--rounds 3]``."""

from __future__ import annotations

import argparse
import resource
import shutil
import statistics
import tempfile
import time
from datetime import UTC, datetime
from pathlib import Path

import uvloop
from sqlalchemy import text

from objectstore.services.engine.metadata import _HEAD
from objectstore.storage.sql.async_reads import AsyncReads
from objectstore.storage.sql.engine import make_engine, migrate
from objectstore.storage.sql.tables import objects

from .pg_small_put import Postgres


def _cpu() -> float:
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


async def _reads(reads: AsyncReads, n: int) -> tuple[float, float]:
    """CPU and wall µs per read, ``n`` reads one after another."""
    await reads.raw_first(_HEAD, store_id="s", key="k0")  # connected, statement prepared
    t0, c0 = time.perf_counter(), _cpu()
    for i in range(n):
        row = await reads.raw_first(_HEAD, store_id="s", key=f"k{i % 100}")
        assert row is not None
    return 1e6 * (_cpu() - c0) / n, 1e6 * (time.perf_counter() - t0) / n


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(prog="python -m bench.pg_point_read", description=__doc__)
    ap.add_argument("--reads", type=int, default=5000)
    ap.add_argument("--rounds", type=int, default=3)
    args = ap.parse_args(argv)
    root = Path(tempfile.mkdtemp(prefix="objectstore-bench-pgread-"))
    pg = Postgres(root)
    try:
        url = pg.start()
        engine = make_engine(url)
        migrate(engine)
        with engine.begin() as conn:
            conn.execute(text("SET LOCAL session_replication_role = replica"))  # no FK checks
            conn.execute(objects.insert(), [{
                "store_id": "s", "key": f"k{i}", "blob_id": "", "size": 4096,
                "etag": "0" * 32, "last_modified": datetime.now(UTC),
                "content_type": "application/octet-stream", "headers": {}, "user_meta": {},
                "checksums": {"CRC32": "AAAAAA=="}, "acl": "private", "tags": {},
                "version_id": "null", "delete_marker": False, "vseq": f"{i:032d}",
                "data": bytes(4096)} for i in range(100)])
        engine.dispose()
        libpq = url + ("&" if "?" in url else "?") + "application_name=bench"
        figures: dict[str, list[tuple[float, float]]] = {"asyncpg": [], "psycopg": []}
        for _ in range(args.rounds):
            for name, u in (("asyncpg", url), ("psycopg", libpq)):
                eng = make_engine(u)
                reads = AsyncReads(eng)

                async def run(reads: AsyncReads = reads) -> tuple[float, float]:
                    try:
                        return await _reads(reads, args.reads)
                    finally:
                        await reads.close()

                figures[name].append(uvloop.run(run()))
                eng.dispose()
        for name, got in figures.items():
            print(f"{name:8s} CPU {statistics.median(c for c, _ in got):6.1f} µs/read, "
                  f"wall {statistics.median(w for _, w in got):6.1f} µs/read "
                  f"(median of {args.rounds} x {args.reads})")
    finally:
        pg.stop()
        shutil.rmtree(root, ignore_errors=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

"""Leadership: one holder per role, on SQLite (a lock file) and PostgreSQL (an advisory lock
on a dedicated connection); a released or dead holder lets another take over."""

from __future__ import annotations

import multiprocessing
from pathlib import Path

import pytest
from sqlalchemy import create_engine

from objectstore.services.leader import Leader
from objectstore.storage.sql.engine import make_engine


def _try_in_child(url: str, lock_dir: str, out: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    engine = make_engine(url)
    out.put(Leader(engine, "gc", Path(lock_dir)).try_acquire())


def engine_for(database_url: str | None, tmp_path: Path):  # type: ignore[no-untyped-def]
    return make_engine(database_url or f"sqlite:///{tmp_path}/objectstore.db")


def test_one_holder_per_role(database_url: str | None, tmp_path: Path) -> None:
    engine = engine_for(database_url, tmp_path)
    a = Leader(engine, "gc", tmp_path)
    b = Leader(engine, "gc", tmp_path)
    other_role = Leader(engine, "lifecycle", tmp_path)
    assert a.try_acquire() is True
    assert a.try_acquire() is True  # re-entrant for its holder
    assert b.try_acquire() is False
    assert other_role.try_acquire() is True
    assert a.holds() and not b.holds()
    a.release()
    assert b.try_acquire() is True and b.holds()
    b.release()
    other_role.release()
    engine.dispose()


def test_another_process_cannot_take_a_held_role(database_url: str | None,
                                                 tmp_path: Path) -> None:
    engine = engine_for(database_url, tmp_path)
    holder = Leader(engine, "gc", tmp_path)
    assert holder.try_acquire()
    url = engine.url.render_as_string(hide_password=False)
    ctx = multiprocessing.get_context("spawn")
    out = ctx.Queue()
    child = ctx.Process(target=_try_in_child, args=(url, str(tmp_path), out))
    child.start()
    child.join(60)
    assert out.get(timeout=5) is False
    holder.release()
    child = ctx.Process(target=_try_in_child, args=(url, str(tmp_path), out))
    child.start()
    child.join(60)
    assert out.get(timeout=5) is True
    engine.dispose()


def test_a_dead_connection_loses_the_role(pg_cluster, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    url = pg_cluster.new_database()
    engine = make_engine(url)
    a = Leader(engine, "gc", tmp_path)
    assert a.try_acquire()
    killer = create_engine(url.replace("postgresql://", "postgresql+psycopg://", 1)
                           if url.startswith("postgresql://") else url)
    with killer.connect() as conn:
        conn.exec_driver_sql(
            "SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'")
        conn.commit()
    assert a.holds() is False
    assert Leader(engine, "gc", tmp_path).try_acquire() is True
    killer.dispose()
    engine.dispose()


pytestmark = pytest.mark.timeout(120)

"""A short crash loop in `make test`; longer ones (``OBJECTSTORE_CRASH_LONG_ITERATIONS`` kills,
default 40, on SQLite and on PostgreSQL) are marked ``long`` and run by `make test-long`
(the longest: `python -m tests.support.crash --iterations 200`)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.support.crash import Harness, run
from tests.support.pg import PgCluster

LONG_ITERATIONS = int(os.environ.get("OBJECTSTORE_CRASH_LONG_ITERATIONS", "40"))


def test_acknowledged_writes_survive_sigkill(tmp_path: Path) -> None:
    report = run(iterations=4, work=tmp_path, seed=7, min_s=0.5, max_s=1.5)
    assert report.failures == []
    assert report.kills == 4
    assert report.acked_writes > 20
    assert report.objects_checked > 0
    assert report.stores_deleted > 0


def test_acknowledged_versions_survive_sigkill(tmp_path: Path) -> None:
    """On a versioned store: no acknowledged version lost, none partial, usage equal to the
    listed versions' bytes after every kill."""
    report = run(iterations=3, work=tmp_path, seed=11, min_s=0.5, max_s=1.5, versioned=True)
    assert report.failures == []
    assert report.kills == 3
    assert report.acked_writes > 20
    assert report.objects_checked > report.kills


@pytest.mark.long
@pytest.mark.timeout(3600)
@pytest.mark.parametrize("versioned", [False, True], ids=["unversioned", "versioned"])
@pytest.mark.parametrize("engine", ["sqlite", pytest.param("postgresql",
                                                           marks=pytest.mark.postgres)])
def test_long_crash_loop(tmp_path: Path, request: pytest.FixtureRequest, engine: str,
                         versioned: bool) -> None:
    """The crash loop with many kills: every acknowledged write (or version) survives each."""
    url = None
    if engine == "postgresql":
        pg: PgCluster = request.getfixturevalue("pg_cluster")
        url = pg.new_database()
    report = run(iterations=LONG_ITERATIONS, work=tmp_path, database_url=url, seed=13,
                 min_s=0.3, max_s=2.0, versioned=versioned)
    assert report.failures == []
    assert report.kills == LONG_ITERATIONS
    assert report.acked_writes > 5 * LONG_ITERATIONS
    assert report.objects_checked > LONG_ITERATIONS
    print(f"crash loop ({engine}, {'versioned' if versioned else 'unversioned'}): "
          f"{report.kills} kills, {report.acked_writes} acknowledged writes, "
          f"{report.objects_checked} reads verified, {report.stores_deleted} stores deleted")


def test_crash_checker_detects_a_lost_version(tmp_path: Path) -> None:
    h = Harness(tmp_path, seed=5, versioned=True)
    h.setup()
    try:
        s3 = h.client()
        s3.put_object(Bucket="crash-bucket", Key="k/001", Body=b"x", Metadata={"v": "1"})
        h.state["k/001"].all_acked.add(42)  # pretend write 42 was acknowledged too
        h.state["k/001"].sizes.update({1: 1, 42: 3})
        h.state["k/001"].all_acked.add(1)
        h.check()
    finally:
        h.server.kill()
    assert any("k/001" in f and "42" in f for f in h.report.failures)


def test_crash_checker_detects_a_lost_write(tmp_path: Path) -> None:
    """The checker itself must be able to fail: forge an acknowledged version."""
    h = Harness(tmp_path, seed=3)
    h.setup()
    try:
        s3 = h.client()
        s3.put_object(Bucket="crash-bucket", Key="k/000", Body=b"x", Metadata={"v": "1"})
        h.state["k/000"].acked = 99  # pretend version 99 was acknowledged
        h.state["k/000"].sizes[99] = 5
        h.check()
    finally:
        h.server.kill()
    assert any("k/000" in f for f in h.report.failures)

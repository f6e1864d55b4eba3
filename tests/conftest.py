"""Shared fixtures: a throwaway PostgreSQL for the session, and a real server per test."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from playwright.sync_api import Playwright, sync_playwright

from tests.support.pg import PgCluster
from tests.support.server import RunningServer, running_server

# Test clients make one attempt: a retry would hide a transient 5xx (issue 21). botocore reads
# AWS_MAX_ATTEMPTS as `total_max_attempts` in every boto3 client and in the aws CLI the tests
# start; a client built with its own Config(retries=...) sets total_max_attempts: 1 itself.
os.environ["AWS_MAX_ATTEMPTS"] = "1"
os.environ["AWS_RETRY_MODE"] = "standard"


@pytest.fixture(scope="session")
def pw_session() -> Iterator[Playwright]:
    """One sync Playwright from the first test that asks for it to the end of the run, shared
    by the console's and the website's browser tests: a second ``sync_playwright()`` while
    one is open fails ("using Playwright Sync API inside the asyncio loop"). (tests/browser
    opens and closes its own, before any other.) Tests after it that run a coroutine use
    ``tests.support.aio.in_own_loop``: this one leaves a loop running in the main thread."""
    with sync_playwright() as pw:
        yield pw


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[PgCluster]:
    cluster = PgCluster()
    cluster.start()
    try:
        yield cluster
    finally:
        cluster.stop()


# The PostgreSQL variant carries the ``postgres`` marker: `make test-sqlite` (-m "not postgres")
# deselects it.
@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest) -> str | None:
    """Each test that takes this runs on the embedded SQLite default and on PostgreSQL."""
    if request.param == "sqlite":
        return None
    cluster: PgCluster = request.getfixturevalue("pg_cluster")
    return cluster.new_database()


@pytest.fixture
def server(tmp_path: Path, database_url: str | None) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", database_url) as srv:
        yield srv


@pytest.fixture
def sqlite_server(tmp_path: Path) -> Iterator[RunningServer]:
    """A server on the embedded default only (for S3 client tests that do not touch SQL)."""
    with running_server(tmp_path / "data", None) as srv:
        yield srv

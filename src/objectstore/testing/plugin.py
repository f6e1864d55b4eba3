"""The pytest plugin (entry point ``objectstore``): a real server for the session, and a
fresh store (with its own credential) and a boto3 client on it for each test.

Everything heavy is imported inside the fixtures, so loading the plugin costs nothing in
test runs that do not use it.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from .server import LocalObjectStore, TestStore


@pytest.fixture(scope="session")
def objectstore_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalObjectStore]:
    """One server for the test session, on ephemeral loopback ports in a temp dir."""
    from .server import local_objectstore

    with local_objectstore(tmp_path_factory.mktemp("objectstore")) as server:
        yield server


@pytest.fixture
def objectstore_store(objectstore_server: LocalObjectStore) -> Iterator[TestStore]:
    """A new store for this test (deleted afterwards, objects and all)."""
    store = objectstore_server.new_store()
    yield store
    objectstore_server.delete_store(store)


@pytest.fixture
def objectstore_s3(objectstore_store: TestStore) -> Any:
    """A boto3 S3 client signed with the test store's credential."""
    return objectstore_store.boto3_client()

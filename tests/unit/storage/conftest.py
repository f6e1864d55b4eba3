"""A real SeaweedFS (master and three volume servers on loopback) for the blob store tests."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from objectstore.cli.devcluster import WeedCluster


@pytest.fixture(scope="module")
def weed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WeedCluster]:
    cluster = WeedCluster(tmp_path_factory.mktemp("weed"), volumes=3).start()
    try:
        yield cluster
    finally:
        cluster.stop()

"""Issue 21.1 and 21.4 on PostgreSQL + SeaweedFS: GETs and copies racing an overwrite, and the
orphan sweep against an upload in flight (the SQLite + filesystem versions are in
tests/reliability/test_races.py)."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from objectstore.cli.devcluster import WeedCluster
from objectstore.config import Settings
from tests.reliability.test_races import (
    _paused_put,
    _race,
    _store,
    copy_whole,
    get_whole,
    part_copy_whole,
)
from tests.support.pg import PgCluster
from tests.support.server import RunningServer, running_server

pytestmark = pytest.mark.postgres


@pytest.fixture
def weed_server(tmp_path: Path, pg_cluster: PgCluster, weed: WeedCluster
                ) -> Iterator[RunningServer]:
    grace = Settings.model_fields["blob_grace_seconds"].default
    with running_server(tmp_path / "data", pg_cluster.new_database(),
                        blob_store=weed.url("r" + uuid.uuid4().hex[:8]),
                        blob_grace_seconds=grace, orphan_sweep_age_seconds=1.0) as srv:
        yield srv


def test_gets_and_copies_racing_an_overwrite(weed_server: RunningServer) -> None:
    for name, reader in (("sw-get", get_whole), ("sw-copy", copy_whole),
                         ("sw-part-copy", part_copy_whole)):
        done, errors = _race(weed_server, name, reader)
        assert done > 5, name
        assert errors == [], f"{name}: {len(errors)} of {done + len(errors)} failed: " \
            f"{errors[:5]}"


def test_the_orphan_sweep_never_takes_an_upload_in_flight(weed_server: RunningServer) -> None:
    srv = weed_server
    _store_json, s3 = _store(srv, "sw-sweep")
    # more than one 8 MiB chunk before the pause: chunk rows exist while the client waits
    first, rest = b"a" * (9 * 1024 * 1024), b"b" * (1024 * 1024)
    url = s3.generate_presigned_url("put_object", Params={"Bucket": "sw-sweep", "Key": "slow"})
    pause = threading.Event()
    status: list[int] = []
    client = threading.Thread(target=lambda: status.append(_paused_put(url, first, rest,
                                                                       pause)))
    client.start()
    swept = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        swept += srv.apps.gc.sweep_orphans()
        time.sleep(0.2)
    pause.set()
    client.join(timeout=60)
    assert status == [200]
    assert swept == 0, "the sweep removed the blob being written"
    assert s3.get_object(Bucket="sw-sweep", Key="slow")["Body"].read() == first + rest

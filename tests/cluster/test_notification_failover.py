"""Event delivery across a gateway failover (issue 25), on the scaled-out layout (gateways
sharing only PostgreSQL and SeaweedFS): writers PUT through one gateway while the other is
SIGKILLed, then the roles swap — so the holder of the "events" role (one deliverer per
target in the whole deployment) dies mid-delivery twice. Every acknowledged write's
event must reach the webhook (duplicates allowed and reported)."""

from __future__ import annotations

import signal
import threading
import time
from collections import Counter
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from objectstore.cli.devcluster import WeedCluster
from tests.cluster.conftest import Cluster, new_cluster
from tests.support.pg import PgCluster
from tests.support.webhook import webhook_receiver

pytestmark = pytest.mark.postgres


@pytest.fixture
def cluster(tmp_path: Path, pg_cluster: PgCluster, weed: WeedCluster) -> Iterator[Cluster]:
    c = new_cluster(tmp_path, pg_cluster, weed)
    c.env["OBJECTSTORE_EVENT_RETRY_MAX_SECONDS"] = "1"
    try:
        yield c
    finally:
        c.stop()


def _writes(cluster: Cluster, gw_index: int, store: dict[str, Any], prefix: str,
            seconds: float, acked: set[tuple[str, str]], kill: Any) -> None:
    s3 = cluster.s3(cluster.gateways[gw_index], store)
    stop = time.monotonic() + seconds
    killed = False
    i = 0
    while time.monotonic() < stop:
        key = f"{prefix}/{i % 20:02d}"
        body = f"{prefix}:{i}".encode()
        try:
            r = s3.put_object(Bucket=store["name"], Key=key, Body=body)
            acked.add((key, r["ETag"].strip('"')))
        except Exception:  # noqa: BLE001 - not acknowledged
            pass
        i += 1
        if not killed and time.monotonic() > stop - seconds / 2:
            kill()
            killed = True


def _wait_for_events_holder(cluster: Cluster, timeout: float = 30) -> None:
    """Until some process holds the "events" role: PostgreSQL's advisory lock of
    services/leader.py (on the one gateway alive, when the test asks)."""
    deadline = time.monotonic() + timeout
    while not cluster.sql(
            "SELECT 1 FROM pg_locks, (SELECT hashtextextended(%s, 0) AS k) AS role"
            " WHERE locktype = 'advisory' AND granted"
            " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
            " AND classid::bigint = (role.k >> 32) & 4294967295"
            " AND objid::bigint = role.k & 4294967295", "objectstore-leader:events"):
        assert time.monotonic() < deadline, "no gateway took the events role"
        time.sleep(0.1)


def test_events_survive_the_leader_gateway_being_killed(cluster: Cluster) -> None:
    cluster.add_gateway()
    _wait_for_events_holder(cluster)  # the first gateway takes the "events" role
    cluster.add_gateway()
    with webhook_receiver() as hook:
        store = cluster.create_store(cluster.gateways[1])
        with cluster.api(cluster.gateways[1]) as api:
            r = api.post("/v2/objectstore/event-targets", json={
                "name": "failover", "type": "webhook", "endpoint": hook.url})
            assert r.status_code == 200, r.text
            arn = r.json()["arn"]
        cluster.s3(cluster.gateways[1], store).put_bucket_notification_configuration(
            Bucket=store["name"], NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
        acked: set[tuple[str, str]] = set()
        for victim, writer in ((0, 1), (1, 0)):
            gw = cluster.gateways[victim]

            def kill(gw: Any = gw) -> None:
                assert gw.proc is not None
                gw.proc.kill(signal.SIGKILL)

            t = threading.Thread(target=_writes, args=(cluster, writer, store,
                                                       f"round{victim}", 2.0, acked, kill))
            t.start()
            t.join()
            # the writer, the one gateway alive, took the role over: the next round kills it
            _wait_for_events_holder(cluster)
            gw.start()  # back, now a follower
        got = hook.wait_for(lambda g: acked <= {(r["s3"]["object"]["key"],
                                                 r["s3"]["object"]["eTag"]) for r in g},
                            timeout=120)
    ids = Counter((r["s3"]["object"]["key"], r["s3"]["object"]["sequencer"]) for r in got)
    print(f"notification failover: {len(acked)} acknowledged writes, {len(got)} events "
          f"received, {sum(n - 1 for n in ids.values())} duplicates")
    assert len(acked) > 20

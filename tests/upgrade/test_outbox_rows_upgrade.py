"""Upgrading a database whose outbox holds events of the first format (migration
a3c5e7f9b1d2: a row holds one rendered record; now a row holds a batch's events): events
left undelivered by the previous release are still delivered after the upgrade, with the
sequencer they had (their row id), each counted once in the backlog; new events get
sequencers above them. The old rows are made the way that release made them: the database
is taken back to its schema (e8a0c2e4b6d8) and the rows written as it wrote them."""

from __future__ import annotations

import time
from pathlib import Path

import boto3
import httpx
import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from botocore.config import Config as BotoConfig

from objectstore.storage.sql.engine import MIGRATIONS
from tests.support.proc import API_KEY, ServerProcess
from tests.support.webhook import webhook_receiver

OLD = "e8a0c2e4b6d8"


def _old_record(bucket: str, key: str) -> str:
    return ('{"eventVersion":"2.1","eventSource":"aws:s3","awsRegion":"LON1",'
            '"eventTime":"2026-12-05T10:00:00.000Z","eventName":"ObjectCreated:Put",'
            '"userIdentity":{"principalId":"old"},"requestParameters":{"sourceIPAddress":""},'
            '"responseElements":{"x-amz-request-id":"","x-amz-id-2":""},'
            '"s3":{"s3SchemaVersion":"1.0","configurationId":"c1","bucket":{"name":"'
            + bucket + '","ownerIdentity":{"principalId":"a"},"arn":"arn:aws:s3:::' + bucket
            + '"},"object":{"key":"' + key + '","size":3,"eTag":"e","sequencer":"?"}}}')


def test_first_format_outbox_rows_are_delivered_after_the_upgrade(tmp_path: Path) -> None:
    with webhook_receiver() as hook:
        hook.failing = True  # nothing delivered before the upgrade
        server = ServerProcess(tmp_path / "data")
        server.start()
        h = {"Authorization": f"bearer {API_KEY}"}
        try:
            with httpx.Client(base_url=server.api_url, headers=h, timeout=30) as api:
                store = api.post("/v2/objectstores",
                                 json={"name": "old-events", "region": "LON1"}).json()
                cred = api.get("/v2/objectstore/credentials/"
                               f"{store['owner_info']['credential_id']}").json()
                target = api.post("/v2/objectstore/event-targets", json={
                    "name": "hook", "type": "webhook", "endpoint": hook.url}).json()
            s3 = boto3.client("s3", endpoint_url=server.s3_url, region_name="LON1",
                              aws_access_key_id=cred["access_key_id"],
                              aws_secret_access_key=cred["secret_access_key_id"],
                              config=BotoConfig(retries={"total_max_attempts": 1}))
            s3.put_bucket_notification_configuration(
                Bucket="old-events", NotificationConfiguration={"QueueConfigurations": [{
                    "QueueArn": target["arn"], "Events": ["s3:ObjectCreated:*"]}]})
        finally:
            server.stop()

        url = f"sqlite:///{tmp_path / 'data' / 'objectstore.db'}"
        engine = sa.create_engine(url)
        cfg = Config()
        cfg.set_main_option("script_location", str(MIGRATIONS))
        with engine.begin() as conn:
            cfg.attributes["connection"] = conn
            command.downgrade(cfg, OLD)
            for rid, key in ((5, "old+one"), (9, "old+two")):
                conn.execute(sa.text(
                    "INSERT INTO event_outbox (id, target_id, store_id, key, record, "
                    "created_at) VALUES (:id, :t, :s, :k, :r, :c)"), {
                        "id": rid, "t": target["id"], "s": store["id"],
                        "k": key.replace("+", " "), "r": _old_record("old-events", key),
                        "c": time.time()})
        engine.dispose()

        hook.failing = False
        server = ServerProcess(tmp_path / "data")
        server.start()  # migrates to the head
        try:
            with httpx.Client(base_url=server.api_url, headers=h, timeout=30) as api:
                s3 = boto3.client("s3", endpoint_url=server.s3_url, region_name="LON1",
                                  aws_access_key_id=cred["access_key_id"],
                                  aws_secret_access_key=cred["secret_access_key_id"],
                                  config=BotoConfig(retries={"total_max_attempts": 1}))
                s3.put_object(Bucket="old-events", Key="new one", Body=b"new")
                got = hook.wait_count(3)
                by_key = {r["s3"]["object"]["key"]: r for r in got}
                assert set(by_key) == {"old+one", "old+two", "new+one"}
                assert by_key["old+one"]["s3"]["object"]["sequencer"] == "0000000000000005"
                assert by_key["old+two"]["s3"]["object"]["sequencer"] == "0000000000000009"
                assert by_key["old+one"]["userIdentity"] == {"principalId": "old"}
                assert by_key["new+one"]["s3"]["object"]["sequencer"] > "0000000000000009"
                assert by_key["new+one"]["s3"]["object"]["size"] == 3
                deadline = time.monotonic() + 20
                while True:
                    t = api.get(f"/v2/objectstore/event-targets/{target['id']}").json()
                    if t["backlog"] == 0 and t["delivered"] == 3:
                        break
                    assert time.monotonic() < deadline, t
                    time.sleep(0.2)
        finally:
            server.stop()

"""Upgrading a previous release's database adds bucket event notifications (migration
e8a0c2e4b6d8): the server starts on it, the two new tables are there and empty, and an old
store's writes reach a webhook target made after the upgrade (with the old objects'
deletions announced too)."""

from __future__ import annotations

import httpx
import pytest
import sqlalchemy as sa

from tests.support.webhook import webhook_receiver
from tests.upgrade.test_upgrade import (  # noqa: F401 - fixtures
    Upgrade,
    alembic_heads,
    db_revision,
    postgres_upgrade,
    running,
    s3_for,
    sqlite_upgrade,
)

REVISION = "e8a0c2e4b6d8"


def _count(up: Upgrade, table: str) -> int:
    url = up.database_url or f"sqlite:///{up.data_dir / 'objectstore.db'}"
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))
    try:
        with engine.connect() as conn:
            return int(conn.execute(sa.text(f"SELECT count(*) FROM {table}")).scalar_one())  # noqa: S608
    finally:
        engine.dispose()


def check_notifications(up: Upgrade) -> None:
    assert db_revision(up) != REVISION  # made by the previous release
    store = next(s for s in up.manifest["stores"] if s["account"] == "default")
    key = up.manifest["api_keys"]["default"]
    with webhook_receiver() as hook, running(up) as srv:
        assert db_revision(up) in alembic_heads()
        assert _count(up, "event_targets") == 0 and _count(up, "event_outbox") == 0
        with httpx.Client(base_url=srv.api_url, timeout=30,
                          headers={"Authorization": f"bearer {key}"}) as api:
            r = api.post("/v2/objectstore/event-targets", json={
                "name": "after-upgrade", "type": "webhook", "endpoint": hook.url,
                "region": store.get("region", "LON1")})
            assert r.status_code == 200, r.text
            arn = r.json()["arn"]
        s3 = s3_for(srv, store)
        bucket = store["name"]
        s3.put_bucket_notification_configuration(Bucket=bucket, NotificationConfiguration={
            "QueueConfigurations": [{"QueueArn": arn, "Events": ["s3:ObjectCreated:*",
                                                                 "s3:ObjectRemoved:*"]}]})
        old = store["objects"][0]["key"]
        s3.put_object(Bucket=bucket, Key="after-upgrade/new", Body=b"new")
        s3.delete_object(Bucket=bucket, Key=old)
        hook.wait_count(2)
        names = sorted(n for n, _k in hook.names())
        assert names[0] == "ObjectCreated:Put" and names[1].startswith("ObjectRemoved:")


def test_sqlite_upgrade_adds_event_notifications(sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_notifications(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_adds_event_notifications(
        postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_notifications(postgres_upgrade)

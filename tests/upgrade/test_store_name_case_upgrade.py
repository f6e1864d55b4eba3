"""Upgrading a database where an earlier release let two stores in whose names differ only by
case (migration c5e7a9b1d3f5, issue 20.8).

The previous release's fixture gets a second store, of another account, named like one of the
first account's but in capitals (``UPGRADE-ALPHA`` beside ``upgrade-alpha``: S3 CreateBucket
accepted that). What happens, by decision: the server starts, both stores are kept with their
data and owners, each reachable by its exact name (renaming a tenant's bucket under it would
break its clients; refusing to start would take every tenant down); the later one is marked
(``case_clash`` = its id) so it fits the case-insensitive unique index, and no new store may
take a third spelling of the name.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa
from botocore.exceptions import ClientError

from tests.support.clients import REGION, error_code
from tests.upgrade.test_upgrade import (  # noqa: F401 - fixtures
    Upgrade,
    alembic_heads,
    api,
    db_revision,
    postgres_upgrade,
    running,
    s3_for,
    sqlite_upgrade,
)


def _engine(up: Upgrade) -> sa.Engine:
    url = up.database_url or f"sqlite:///{up.data_dir / 'objectstore.db'}"
    return sa.create_engine(url.replace("postgresql://", "postgresql+psycopg://"))


def _add_clash(up: Upgrade, victim: dict[str, Any], other: dict[str, Any]) -> str:
    """Insert, as the old release would have, ``other``'s account's store named like
    ``victim`` in capitals (same region, its own credential)."""
    clash_id = "00000000-0000-4000-8000-00000000c1a5"
    engine = _engine(up)
    try:
        with engine.begin() as conn:
            row = dict(conn.execute(sa.text("SELECT * FROM objectstores WHERE id = :id"),
                                    {"id": other["id"]}).one()._mapping)
            row.update(id=clash_id, name=victim["name"].upper(), used_bytes=0,
                       object_count=0, owns_credential=False,
                       created_at=datetime.now(UTC).replace(tzinfo=None))
            cols = ", ".join(row)
            conn.execute(sa.text(f"INSERT INTO objectstores ({cols}) VALUES "  # noqa: S608
                                 f"({', '.join(':' + c for c in row)})"), row)
    finally:
        engine.dispose()
    return clash_id


def _case_clash(up: Upgrade) -> dict[str, str]:
    engine = _engine(up)
    try:
        with engine.connect() as conn:
            return {r[0]: r[1] for r in conn.execute(
                sa.text("SELECT name, case_clash FROM objectstores"))}
    finally:
        engine.dispose()


def check_case_pair(up: Upgrade) -> None:
    m = up.manifest
    victim = next(s for s in m["stores"] if s["account"] == "default")
    other = next(s for s in m["stores"] if s["account"] != "default")
    clash_id = _add_clash(up, victim, other)
    upper = victim["name"].upper()
    with running(up) as srv:
        assert db_revision(up) in alembic_heads()
        marks = _case_clash(up)
        assert marks[upper] == clash_id and marks[victim["name"]] == "", marks
        assert set(marks.values()) == {"", clash_id}, marks
        # both stores are there, each its own account's
        with api(srv, m["api_keys"][other["account"]]) as c:
            r = c.get("/v2/objectstores", params={"region": REGION, "per_page": 1000})
            assert upper in {s["name"] for s in r.json()["items"]}, r.text
            # no third spelling
            r = c.post("/v2/objectstores", json={"name": victim["name"].title(),
                                                 "region": REGION, "max_size_gb": 1})
            assert r.status_code == 409, r.text
        with api(srv, m["api_keys"]["default"]) as c:
            r = c.get("/v2/objectstores", params={"region": REGION, "per_page": 1000})
            names = {s["name"] for s in r.json()["items"]}
            assert victim["name"] in names and upper not in names, names
        # each name reaches its own store: the victim's objects are intact and not the other's
        s3v, s3o = s3_for(srv, victim), s3_for(srv, other)
        for obj in victim["objects"]:
            # read to the end: an unread body keeps its response in flight, and the server's
            # stop would wait its graceful-shutdown timeout (30 s) for it
            body = s3v.get_object(Bucket=victim["name"], Key=obj["key"])["Body"].read()
            assert hashlib.sha256(body).hexdigest() == obj["sha256"], obj["key"]
        s3o.put_object(Bucket=upper, Key="mine", Body=b"other tenant")
        assert s3o.get_object(Bucket=upper, Key="mine")["Body"].read() == b"other tenant"
        assert [o["Key"] for o in s3o.list_objects_v2(Bucket=upper).get("Contents", [])] \
            == ["mine"]
        with pytest.raises(ClientError) as err:
            s3o.get_object(Bucket=victim["name"], Key=victim["objects"][0]["key"])
        assert error_code(err.value) == "AccessDenied"
        with pytest.raises(ClientError) as err:
            s3v.get_object(Bucket=victim["name"], Key="mine")
        assert error_code(err.value) == "NoSuchKey"
    with running(up):  # and again after a restart
        assert _case_clash(up)[upper] == clash_id


def test_sqlite_upgrade_with_names_that_differ_only_by_case(
        sqlite_upgrade: Upgrade) -> None:  # noqa: F811
    check_case_pair(sqlite_upgrade)


@pytest.mark.postgres
def test_postgres_upgrade_with_names_that_differ_only_by_case(
        postgres_upgrade: Upgrade) -> None:  # noqa: F811
    check_case_pair(postgres_upgrade)

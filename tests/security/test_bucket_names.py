"""Issue 20.8: bucket names that differ only by case.

S3 CreateBucket accepted ``B-MAIN`` next to another tenant's ``b-main``. Now S3 CreateBucket
follows AWS's naming rules (``InvalidBucketName``), the management API keeps Civo's wider
rules ("bucketA" is its documented example) but no two stores of a region differ only by case
(in the database too: a unique index on ``lower(name)``), and virtual-hosted lookups (host
names are case-insensitive) find a mixed-case store.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError

from objectstore.storage.sql.tables import objectstores
from tests.security.canary import Canaries
from tests.security.helpers import REGION, S3Raw, Store, create_store, uniq
from tests.support.server import RunningServer, running_server


@pytest.mark.parametrize("name", [
    "B-MAIN", "Bucket-abc", "ab", "a" * 64, "a..b", "-abc", "abc-", "192.168.5.4",
    "xn--abc", "sthree-abc", "amzn-s3-demo-abc", "abc-s3alias", "abc--ol-s3", "abc.mrap",
    "abc--x-s3", "abc--table-s3", "abc_def"])
def test_s3_create_bucket_follows_aws_naming_rules(store: Store, canaries: Canaries,
                                                   name: str) -> None:
    r = store.raw().send("PUT", f"/{name}")
    assert r.status == 400 and r.code == "InvalidBucketName", (name, r)


def test_s3_create_bucket_beside_another_tenants_name_in_other_case(
        security_server: RunningServer, store: Store, canaries: Canaries) -> None:
    victim = canaries.victim.store
    attacker = store.raw()
    # the victim's name in upper case: AWS's rules refuse it outright
    r = attacker.send("PUT", f"/{victim.name.upper()}")
    assert r.status == 400 and r.code == "InvalidBucketName", r
    # a victim store whose name has capitals (the management API allows them)
    mixed = create_store(security_server, uniq("Mixed"), api_key=canaries.victim.api_key)
    r = attacker.send("PUT", f"/{mixed.name.lower()}")
    assert r.status == 409 and r.code == "BucketAlreadyExists", r
    # the management API: any other spelling of a taken name is taken
    for name in (victim.name.upper(), mixed.name.lower(), mixed.name.swapcase()):
        with security_server.api() as api:
            r2 = api.post("/v2/objectstores", json={"name": name, "region": REGION})
        assert r2.status_code == 409, (name, r2.text)
        assert r2.json()["code"] == "database_objectstore_exists", r2.text
    # the owner re-creating its own bucket in another case: BucketAlreadyOwnedByYou
    own = S3Raw(security_server.s3_url, mixed.access_key, mixed.secret_key)
    r = own.send("PUT", f"/{mixed.name.lower()}")
    assert r.status == 409 and r.code == "BucketAlreadyOwnedByYou", r


def test_management_api_keeps_civo_names(security_server: RunningServer,
                                         canaries: Canaries) -> None:
    name = uniq("bucketA")
    st = create_store(security_server, name)
    assert st.name == name
    r = st.raw().send("PUT", f"/{name}/k", body=b"v")
    assert r.status == 200, r
    r = st.raw().send("GET", f"/{name}/k")
    assert r.status == 200 and r.body == b"v", r


def test_database_refuses_names_that_differ_only_by_case(store: Store,
                                                        canaries: Canaries) -> None:
    """Below the service: the unique index itself (a writer that skipped the check)."""
    engine = store.srv.services.stores.engine
    with engine.begin() as conn:
        row = dict(conn.execute(sa.select(objectstores).where(
            objectstores.c.id == store.id)).one()._mapping)
    row.update(id=uniq("id")[:36], name=store.name.upper())
    with pytest.raises(IntegrityError), engine.begin() as conn:
        conn.execute(objectstores.insert().values(**row))


@dataclass
class _HostRaw(S3Raw):
    host: str = ""

    @property
    def hostport(self) -> str:
        return self.host


@pytest.fixture(scope="module")
def vhost(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningServer]:
    with running_server(Path(tmp_path_factory.mktemp("vhost")), None,
                        s3_domain="s3.localhost", fsync=False) as srv:
        yield srv


def test_virtual_hosted_lookup_is_case_insensitive(vhost: RunningServer) -> None:
    st = create_store(vhost, uniq("MixedCase"))
    port = vhost.s3_url.rsplit(":", 1)[1]
    path = S3Raw(vhost.s3_url, st.access_key, st.secret_key)
    assert path.send("PUT", f"/{st.name}/k", body=b"hosted").status == 200
    for host in (st.name.lower(), st.name, st.name.upper()):
        raw = _HostRaw(vhost.s3_url, st.access_key, st.secret_key,
                       host=f"{host}.s3.localhost:{port}")
        r = raw.send("GET", "/k")
        assert r.status == 200 and r.body == b"hosted", (host, r)
    # another account cannot take the lower-case spelling to catch those requests
    _row, other_key = vhost.services.accounts.create(uniq("acct"))
    with vhost.api(other_key) as api:
        r2 = api.post("/v2/objectstores", json={"name": st.name.lower(), "region": REGION})
    assert r2.status_code == 409, r2.text

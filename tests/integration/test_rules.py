"""The store's rules on the data path: quota, exact usage, suspension, key replacement,
ownership, deletion. Each test fails if its rule breaks."""

from __future__ import annotations

import socket
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from botocore.exceptions import ClientError
from sqlalchemy import select, update

from objectstore.domain.models import GB
from objectstore.storage.sql.tables import credentials, objectstores
from tests.support.leftovers import assert_no_leftovers
from tests.support.server import RunningServer

from .conftest import (
    REGION,
    Store,
    boto_client,
    create_store,
    error_code,
    parse_error,
    raw_exchange,
    sign_v4,
    status_of,
    uniq,
)


def set_used(srv: RunningServer, *, store_id: str | None = None, cred_id: str | None = None,
             used: int) -> None:
    with srv.services.engine.begin() as conn:
        if store_id:
            conn.execute(update(objectstores).where(objectstores.c.id == store_id)
                         .values(used_bytes=used))
        if cred_id:
            conn.execute(update(credentials).where(credentials.c.id == cred_id)
                         .values(used_bytes=used))


def used_bytes(srv: RunningServer, store: Store) -> tuple[int, int, int]:
    """(store used bytes, store object count, owner credential used bytes) from SQL."""
    with srv.services.engine.connect() as conn:
        s = conn.execute(select(objectstores.c.used_bytes, objectstores.c.object_count)
                         .where(objectstores.c.id == store.id)).one()
        c = conn.execute(select(credentials.c.used_bytes)
                         .where(credentials.c.id == store.credential_id)).scalar_one()
    return int(s[0]), int(s[1]), int(c)


def _assert_empty(store: Store) -> None:
    assert store.stats()["num_objects"] == 0 and store.stats()["size_kb_utilised"] == 0
    assert used_bytes(store.srv, store) == (0, 0, 0)


def wait_for(fn: Any, timeout: float = 2.5) -> Any:
    """Retry ``fn`` until it stops raising AssertionError (the credential cache may hold
    an entry for up to ~1 s)."""
    deadline = time.monotonic() + timeout
    while True:
        try:
            return fn()
        except AssertionError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.1)


def client_error(fn: Any) -> ClientError:
    try:
        fn()
    except ClientError as exc:
        return exc
    raise AssertionError("the request succeeded")


# -- quota ------------------------------------------------------------------------------------

def test_quota_refuses_declared_size_before_body(server: RunningServer) -> None:
    store = create_store(server, max_size_gb=1)
    url = f"{store.s3_url}/{store.name}/huge"
    headers = sign_v4("PUT", url, store.access_key, store.secret_key, unsigned=True,
                      headers={"Content-Length": str(GB + 1)})
    headers["Content-Length"] = str(GB + 1)
    # Only the headers are sent: the answer must come without waiting for 1 GiB.
    started = time.monotonic()
    status, resp_headers, body = raw_exchange(store.s3_url, "PUT", f"/{store.name}/huge",
                                              headers, timeout=10)
    assert time.monotonic() - started < 5
    assert status == 403, body
    assert b"<Code>QuotaExceeded</Code>" in body
    assert resp_headers.get("connection") == "close"
    # The same with Expect: 100-continue (the server must not ask for the body).
    headers = sign_v4("PUT", url, store.access_key, store.secret_key, unsigned=True,
                      headers={"Content-Length": str(GB + 1), "Expect": "100-continue"})
    headers["Content-Length"] = str(GB + 1)
    status, _, body = raw_exchange(store.s3_url, "PUT", f"/{store.name}/huge", headers)
    assert status == 403 and b"QuotaExceeded" in body
    # Exactly 1 GiB fits: the server asks for the body. The client then hangs up: nothing is
    # stored and no usage leaks.
    headers = sign_v4("PUT", url, store.access_key, store.secret_key, unsigned=True,
                      headers={"Content-Length": str(GB), "Expect": "100-continue"})
    headers["Content-Length"] = str(GB)
    headers["Host"] = store.host_port
    with socket.create_connection(("127.0.0.1", int(store.host_port.split(":")[1])), 10) as s:
        s.sendall(f"PUT /{store.name}/huge HTTP/1.1\r\n".encode()
                  + "".join(f"{k}: {v}\r\n" for k, v in headers.items()).encode() + b"\r\n"
                  + b"\0" * 1000)
        assert s.recv(64).startswith(b"HTTP/1.1 100 ")
    wait_for(lambda: _assert_empty(store))
    # (boto3 itself cannot show this: with urllib3 2 it reads a file body to the end even
    # when botocore decided not to send it after a final answer to Expect: 100-continue.)
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="small", Body=b"fits")
    assert s3.get_object(Bucket=store.name, Key="small")["Body"].read() == b"fits"


def test_quota_small_writes_near_the_limit(server: RunningServer) -> None:
    store = create_store(server, max_size_gb=1)
    s3 = store.boto()
    set_used(server, store_id=store.id, used=GB - 100)
    s3.put_object(Bucket=store.name, Key="fits", Body=b"x" * 100)  # exactly at the limit
    assert used_bytes(server, store)[0] == GB
    err = client_error(lambda: s3.put_object(Bucket=store.name, Key="over", Body=b"y"))
    assert error_code(err) == "QuotaExceeded" and status_of(err) == 403
    assert status_of(client_error(lambda: s3.head_object(Bucket=store.name, Key="over"))) == 404
    # Overwrites count the difference: same size fits, one byte more does not.
    s3.put_object(Bucket=store.name, Key="fits", Body=b"z" * 100)
    err = client_error(lambda: s3.put_object(Bucket=store.name, Key="fits", Body=b"z" * 101))
    assert error_code(err) == "QuotaExceeded"
    assert s3.get_object(Bucket=store.name, Key="fits")["Body"].read() == b"z" * 100
    # Shrinking frees room.
    s3.put_object(Bucket=store.name, Key="fits", Body=b"z" * 40)
    s3.put_object(Bucket=store.name, Key="over", Body=b"y" * 60)
    assert used_bytes(server, store)[0] == GB
    s3.delete_object(Bucket=store.name, Key="over")
    assert used_bytes(server, store)[0] == GB - 60


def test_credential_size_cap(sqlite_server: RunningServer) -> None:
    with sqlite_server.api() as api:
        r = api.post("/v2/objectstore/credentials",
                     json={"name": uniq("capped"), "max_size_gb": 1, "region": REGION})
        assert r.status_code == 200, r.text
        cred = r.json()
    a = create_store(sqlite_server, access_key_id=cred["access_key_id"])
    b = create_store(sqlite_server, access_key_id=cred["access_key_id"])
    assert a.credential_id == b.credential_id == cred["id"]
    s3 = a.boto()
    s3.put_object(Bucket=a.name, Key="k", Body=b"x" * 1000)
    s3.put_object(Bucket=b.name, Key="k", Body=b"x" * 1000)
    assert used_bytes(sqlite_server, a)[2] == 2000
    # The cap spans the credential's stores: fill it through SQL, then each store refuses.
    set_used(sqlite_server, cred_id=cred["id"], used=GB - 10)
    sqlite_server.services.credentials.invalidate()
    for st in (a, b):
        err = client_error(lambda st=st: s3.put_object(Bucket=st.name, Key="n", Body=b"y" * 11))
        assert error_code(err) == "QuotaExceeded", st.name
    s3.put_object(Bucket=b.name, Key="n", Body=b"y" * 10)
    assert used_bytes(sqlite_server, b)[2] == GB
    # A declared size over the cap is refused before the body, too.
    url = f"{a.s3_url}/{a.name}/big"
    headers = sign_v4("PUT", url, a.access_key, a.secret_key, unsigned=True,
                      headers={"Content-Length": str(2 * GB)})
    headers["Content-Length"] = str(2 * GB)
    status, _, body = raw_exchange(a.s3_url, "PUT", f"/{a.name}/big", headers)
    assert status == 403 and b"QuotaExceeded" in body


def test_usage_exact_after_overwrites_and_deletes(dual_store: Store) -> None:
    store, srv = dual_store, dual_store.srv
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="a", Body=b"a" * 5000)
    s3.put_object(Bucket=store.name, Key="a", Body=b"a" * 12000)   # overwrite: +7000
    s3.put_object(Bucket=store.name, Key="b", Body=b"b" * 7000)
    assert used_bytes(srv, store) == (19000, 2, 19000)
    assert store.stats() == {"size_kb_utilised": 19, "max_size_kb": 500 * GB // 1000,
                             "num_objects": 2}
    s3.delete_object(Bucket=store.name, Key="a")
    s3.delete_object(Bucket=store.name, Key="a")  # idempotent, no double credit
    assert used_bytes(srv, store) == (7000, 1, 7000)
    # Refused writes (bad digest, failed precondition) leave usage alone.
    client_error(lambda: s3.put_object(Bucket=store.name, Key="c", Body=b"c" * 3000,
                                       ChecksumCRC32="AAAAAA=="))
    client_error(lambda: s3.put_object(Bucket=store.name, Key="b", Body=b"b" * 9000,
                                       IfNoneMatch="*"))
    assert used_bytes(srv, store) == (7000, 1, 7000)
    s3.delete_objects(Bucket=store.name, Delete={"Objects": [{"Key": "b"}, {"Key": "zz"}]})
    assert used_bytes(srv, store) == (0, 0, 0)
    assert store.stats()["num_objects"] == 0 and store.stats()["size_kb_utilised"] == 0


# Regression (PostgreSQL): the object commit once read the current row without a lock, then
# INSERTed or UPDATEd. Two concurrent first PUTs of one key both INSERTed (the loser got
# UniqueViolation -> 500); two concurrent overwrites computed their usage delta from the same
# old size (usage drifted), both queued the same old blob (UniqueViolation in doomed_blobs ->
# 500) and the blob replaced in between was never queued for GC (a leak). Writers of one key
# are now serialised (a transaction-scoped advisory lock). SQLite serialises all writers.
def test_usage_under_concurrent_writers(dual_store: Store) -> None:
    from concurrent.futures import ThreadPoolExecutor

    store, srv = dual_store, dual_store.srv
    s3 = store.boto(max_pool_connections=8)
    failures: list[str] = []

    def write(key: str, size: int) -> None:
        try:
            s3.put_object(Bucket=store.name, Key=key, Body=b"x" * size)
        except ClientError as exc:
            failures.append(error_code(exc))

    def usage_exact() -> tuple[tuple[int, int, int], int, int]:
        objs = s3.list_objects_v2(Bucket=store.name)["Contents"]
        total = sum(o["Size"] for o in objs)
        return used_bytes(srv, store), total, len(objs)

    # Overwrites racing each other (every other one a blob, over the inline limit: each
    # overwrite of a blob object queues the replaced blob for GC).
    for i in range(5):
        write(f"k{i}", 500)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: write(f"k{i % 5}", 1000 + i * 37 + (i % 2) * 70_000),
                      range(40)))
    stored, total, count = usage_exact()
    assert not failures, (
        f"concurrent overwrites failed with {sorted(set(failures))} ({len(failures)} of 40; "
        "e.g. PostgreSQL: both writers doom the same replaced blob -> UniqueViolation)")
    assert count == 5
    assert stored == (total, 5, total), (
        "usage drifted under concurrent overwrites "
        f"(stored (store bytes, objects, credential bytes) = {stored}, real total {total})")
    # First writes of the same new keys racing each other.
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda i: write(f"n{i % 4}", 2000 + i), range(32)))
    assert not failures, (
        f"concurrent first PUTs of one key failed "
        f"with {sorted(set(failures))} ({len(failures)} of 32; e.g. a UniqueViolation)")
    stored, total, count = usage_exact()
    assert count == 9 and stored == (total, 9, total), (stored, total, count)
    # every replaced blob was queued for GC: none is left once the queue is drained
    srv.apps.gc.drain_doomed()
    assert_no_leftovers(srv.services.settings.data_dir, srv.services.settings.database_url)


# -- credentials ------------------------------------------------------------------------------

def test_suspension(store: Store) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"v")
    with store.srv.api() as api:
        r = api.patch(f"/v2/objectstore/credentials/{store.credential_id}",
                      json={"suspended": True, "region": REGION})
        assert r.status_code == 200 and r.json()["suspended"] is True, r.text

    def refused() -> None:
        err = client_error(lambda: s3.get_object(Bucket=store.name, Key="k"))
        assert error_code(err) in ("AccessDenied", "InvalidAccessKeyId"), err.response
        assert status_of(err) == 403

    wait_for(refused, timeout=2.0)
    err = client_error(lambda: s3.put_object(Bucket=store.name, Key="k2", Body=b"x"))
    assert status_of(err) == 403
    assert store.stats()["num_objects"] == 1
    with store.srv.api() as api:
        r = api.patch(f"/v2/objectstore/credentials/{store.credential_id}",
                      json={"suspended": False, "region": REGION})
        assert r.status_code == 200 and r.json()["suspended"] is False, r.text
    wait_for(lambda: s3.get_object(Bucket=store.name, Key="k")["Body"].read() == b"v")
    assert s3.get_object(Bucket=store.name, Key="k")["Body"].read() == b"v"


def test_suspension_seen_by_another_process(store: Store) -> None:
    """A change made behind the S3 plane's back (another gateway process, SQL) takes effect
    within the cache lifetime (about a second), never later."""
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"v")
    with store.srv.services.engine.begin() as conn:
        conn.execute(update(credentials).where(credentials.c.id == store.credential_id)
                     .values(suspended=True))
    started = time.monotonic()

    def refused() -> None:
        err = client_error(lambda: s3.list_objects_v2(Bucket=store.name))
        assert status_of(err) == 403

    wait_for(refused, timeout=2.5)
    assert time.monotonic() - started < 2.5


def test_secret_and_access_key_replacement(store: Store) -> None:
    old = store.boto()
    old.put_object(Bucket=store.name, Key="k", Body=b"v")
    new_secret = "N3wSecretKeyValue0123456789abcdefABCDEF"
    with store.srv.api() as api:
        r = api.put(f"/v2/objectstore/credentials/{store.credential_id}",
                    json={"secret_access_key_id": new_secret, "region": REGION})
        assert r.status_code == 200, r.text
    err = client_error(lambda: old.get_object(Bucket=store.name, Key="k"))
    assert error_code(err) == "SignatureDoesNotMatch" and status_of(err) == 403
    renewed = boto_client(store.s3_url, store.access_key, new_secret)
    assert renewed.get_object(Bucket=store.name, Key="k")["Body"].read() == b"v"
    new_key = uniq("KEY").upper().replace("-", "")
    with store.srv.api() as api:
        r = api.put(f"/v2/objectstore/credentials/{store.credential_id}",
                    json={"access_key_id": new_key, "region": REGION})
        assert r.status_code == 200, r.text
    err = client_error(lambda: renewed.get_object(Bucket=store.name, Key="k"))
    assert error_code(err) == "InvalidAccessKeyId" and status_of(err) == 403
    rekeyed = boto_client(store.s3_url, new_key, new_secret)
    assert rekeyed.get_object(Bucket=store.name, Key="k")["Body"].read() == b"v"
    # SigV2 (Civo's s3cmd export) sees the change too.
    v2 = boto_client(store.s3_url, store.access_key, new_secret, signature_version="s3")
    err = client_error(lambda: v2.get_object(Bucket=store.name, Key="k"))
    assert error_code(err) == "InvalidAccessKeyId"


def test_other_account_is_denied(store: Store) -> None:
    srv = store.srv
    _, key = srv.services.accounts.create(uniq("acct"))
    foreign = create_store(srv, api_key=key)
    theirs = foreign.boto()
    for call in (
        lambda: theirs.list_objects_v2(Bucket=store.name),
        lambda: theirs.put_object(Bucket=store.name, Key="x", Body=b"x"),
        lambda: theirs.get_object(Bucket=store.name, Key="x"),
        lambda: theirs.delete_bucket(Bucket=store.name),
        lambda: theirs.put_bucket_acl(Bucket=store.name, ACL="public-read"),
    ):
        err = client_error(call)
        assert error_code(err) == "AccessDenied" and status_of(err) == 403, err.response
    # A second credential of the *same* account that does not own the store is denied too.
    with srv.api() as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("c"), "region": REGION})
        sibling = r.json()
    sib = boto_client(store.s3_url, sibling["access_key_id"], sibling["secret_access_key_id"])
    assert error_code(client_error(lambda: sib.list_objects_v2(Bucket=store.name))) \
        == "AccessDenied"
    assert [b["Name"] for b in theirs.list_buckets()["Buckets"]] == [foreign.name]
    assert store.stats()["num_objects"] == 0


def test_unknown_access_key(store: Store) -> None:
    s3 = boto_client(store.s3_url, "NOSUCHKEY0000000000", "whatever-secret-1234")
    err = client_error(lambda: s3.list_objects_v2(Bucket=store.name))
    assert error_code(err) == "InvalidAccessKeyId" and status_of(err) == 403


# -- lifecycle --------------------------------------------------------------------------------

def test_store_deletion_via_api(dual_store: Store) -> None:
    store, srv = dual_store, dual_store.srv
    s3 = store.boto()
    big = srv.services.settings.inline_max_bytes + 1  # kept in a blob file
    for i in range(3):
        s3.put_object(Bucket=store.name, Key=f"k{i}", Body=(b"%d" % i) * big)
    s3.put_object(Bucket=store.name, Key="small", Body=b"inline")  # kept in its row
    s3.put_object_acl(Bucket=store.name, Key="k0", ACL="public-read")
    blob_paths = [Path(srv.services.blobs.path_of(srv.services.objects.head_sync(store.id,
                                                                           f"k{i}").blob_id))
                  for i in range(3)]
    assert all(p.exists() for p in blob_paths)
    public_url = f"{store.s3_url}/{store.name}/k0"
    assert httpx.get(public_url).status_code == 200
    # A second credential keeps working to see NoSuchBucket (the store's own one goes).
    with srv.api() as api:
        r = api.delete(f"/v2/objectstores/{store.id}", params={"region": REGION})
        assert r.status_code == 200 and r.json() == {"result": "success"}, r.text
    anon = httpx.get(public_url)
    assert anon.status_code in (403, 404) and parse_error(anon)["Code"] in (
        "NoSuchBucket", "AccessDenied")
    err = client_error(lambda: s3.get_object(Bucket=store.name, Key="k1"))
    assert status_of(err) in (403, 404)  # its own credential went with it
    srv.apps.gc.drain_doomed()
    assert not any(p.exists() for p in blob_paths), blob_paths
    from sqlalchemy import func, select

    from objectstore.storage.sql.tables import objects

    with srv.services.engine.connect() as conn:
        left = conn.execute(select(func.count()).select_from(objects)
                            .where(objects.c.store_id == store.id)).scalar_one()
    assert left == 0, "the store's rows (and the inline bytes in them) must be gone"


def test_store_deletion_via_api_shared_credential(store: Store) -> None:
    """With a credential that outlives the store, the store is NoSuchBucket at once."""
    srv = store.srv
    other = create_store(srv, access_key_id=store.access_key)
    s3 = store.boto()
    s3.put_object(Bucket=other.name, Key="k", Body=b"v")
    with srv.api() as api:
        r = api.delete(f"/v2/objectstores/{other.id}", params={"region": REGION})
        assert r.status_code == 200, r.text
    for call in (lambda: s3.get_object(Bucket=other.name, Key="k"),
                 lambda: s3.put_object(Bucket=other.name, Key="k", Body=b"v"),
                 lambda: s3.list_objects_v2(Bucket=other.name)):
        err = client_error(call)
        assert error_code(err) == "NoSuchBucket" and status_of(err) == 404
    # Re-created with the same name: empty, not the old bytes.
    again = create_store(srv, other.name, access_key_id=store.access_key)
    assert s3.list_objects_v2(Bucket=again.name)["KeyCount"] == 0
    assert status_of(client_error(lambda: s3.get_object(Bucket=again.name, Key="k"))) == 404


def test_store_created_via_api_usable_at_once(sqlite_server: RunningServer) -> None:
    for _ in range(3):
        store = create_store(sqlite_server)
        s3 = store.boto()
        s3.put_object(Bucket=store.name, Key="now", Body=b"at once")
        assert s3.get_object(Bucket=store.name, Key="now")["Body"].read() == b"at once"


@pytest.mark.parametrize("sigv", ["s3v4", "s3"])
def test_any_region_in_signature_scope(store: Store, sigv: str) -> None:
    for region in ("LON1", "lon1", "us-east-1", "eu-west-2"):
        s3 = boto_client(store.s3_url, store.access_key, store.secret_key, region=region,
                         signature_version=sigv)
        s3.put_object(Bucket=store.name, Key=f"r/{region}", Body=region.encode())
        assert s3.get_object(Bucket=store.name, Key=f"r/{region}")["Body"].read() \
            == region.encode()

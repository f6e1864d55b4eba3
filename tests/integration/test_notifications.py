"""Bucket event notifications (issue 25) from outside: event targets made through the
management API, PutBucketNotificationConfiguration with boto3, and a real webhook receiver on
127.0.0.1 that gets AWS's S3 event records — every event name, filters, key encoding, the
order of one key's events, a target that answers 503 for a while (nothing lost)."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator
from typing import Any
from urllib.parse import unquote_plus

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.support.clients import REGION, error_code, status_of
from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store, uniq
from tests.support.webhook import Receiver, webhook_receiver


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with webhook_receiver() as rec:
        yield rec


@pytest.fixture
def fast_server(tmp_path: Any, database_url: str | None) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", database_url, event_retry_max_seconds=1.0,
                        lifecycle_day_seconds=1) as srv:
        yield srv


def make_target(store: Store, url: str, **extra: Any) -> dict[str, Any]:
    with store.api() as api:
        r = api.post("/v2/objectstore/event-targets", json={
            "name": uniq("hook"), "type": "webhook", "endpoint": url, "region": REGION,
            **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def configure(store: Store, arn: str, events: list[str], prefix: str = "",
              suffix: str = "", topic: bool = False) -> None:
    rules = [{"Name": n, "Value": v} for n, v in (("prefix", prefix), ("suffix", suffix)) if v]
    conf: dict[str, Any] = {"Id": "c1", "Events": events}
    if rules:
        conf["Filter"] = {"Key": {"FilterRules": rules}}
    if topic:
        conf["TopicArn"] = arn
        doc = {"TopicConfigurations": [conf]}
    else:
        conf["QueueArn"] = arn
        doc = {"QueueConfigurations": [conf]}
    store.boto().put_bucket_notification_configuration(Bucket=store.name,
                                                        NotificationConfiguration=doc)


def test_configuration_round_trip_and_unknown_arn(fast_server: RunningServer,
                                                  hook: Receiver) -> None:
    store = create_store(fast_server)
    target = make_target(store, hook.url, auth_token="s3cret")
    assert target["arn"] == f"arn:objectstore:sqs:{REGION}:{target['id']}:webhook"
    assert "s3cret" not in str(target) and target["auth_token_set"] is True
    s3 = store.boto()
    configure(store, target["arn"], ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"],
              prefix="img/", suffix=".jpg")
    got = s3.get_bucket_notification_configuration(Bucket=store.name)
    [q] = got["QueueConfigurations"]
    assert q["QueueArn"] == target["arn"] and q["Id"] == "c1"
    assert q["Events"] == ["s3:ObjectCreated:*", "s3:ObjectRemoved:Delete"]
    assert {(r["Name"].lower(), r["Value"]) for r in q["Filter"]["Key"]["FilterRules"]} == {
        ("prefix", "img/"), ("suffix", ".jpg")}
    # an ARN that names no target of this account (or another region's): AWS's refusal
    bad = target["arn"].replace(target["id"], "00000000-0000-4000-8000-000000000000")
    for arn in (bad, target["arn"].replace(REGION, "NYC1"), "arn:aws:sqs:us-east-1:1:q"):
        with pytest.raises(ClientError) as exc:
            configure(store, arn, ["s3:ObjectCreated:*"])
        assert status_of(exc.value) == 400 and error_code(exc.value) == "InvalidArgument"
        assert "Unable to validate the following destination configurations" in str(exc.value)
    with pytest.raises(ClientError) as exc:
        configure(store, target["arn"], ["s3:ObjectExploded:*"])
    assert error_code(exc.value) == "InvalidArgument"
    # the target is in use: deleting it answers 409; after the configuration is emptied, 200
    with store.api() as api:
        r = api.delete(f"/v2/objectstore/event-targets/{target['id']}")
        assert r.status_code == 409, r.text
        assert r.json()["code"] == "database_objectstore_event_target_in_use"
        s3.put_bucket_notification_configuration(Bucket=store.name,
                                                 NotificationConfiguration={})
        assert "QueueConfigurations" not in s3.get_bucket_notification_configuration(
            Bucket=store.name)
        assert api.delete(f"/v2/objectstore/event-targets/{target['id']}").status_code == 200
        assert api.get(f"/v2/objectstore/event-targets/{target['id']}").status_code == 404


def test_every_event_name_reaches_a_webhook(fast_server: RunningServer, hook: Receiver
                                            ) -> None:
    store = create_store(fast_server)
    target = make_target(store, hook.url, auth_token="t0ken")
    configure(store, target["arn"], ["s3:ObjectCreated:*", "s3:ObjectRemoved:*",
                                     "s3:ObjectTagging:*", "s3:ObjectAcl:Put"], topic=True)
    s3 = store.boto()
    b = store.name
    s3.put_object(Bucket=b, Key="put", Body=b"hello")
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "put"})
    up = s3.create_multipart_upload(Bucket=b, Key="mpu")
    part = s3.upload_part(Bucket=b, Key="mpu", UploadId=up["UploadId"], PartNumber=1,
                          Body=b"x" * 10)
    s3.complete_multipart_upload(Bucket=b, Key="mpu", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": [{"PartNumber": 1,
                                                             "ETag": part["ETag"]}]})
    post = s3.generate_presigned_post(b, "post")
    r = httpx.post(post["url"], data=post["fields"], files={"file": ("f", b"form")})
    assert r.status_code in (200, 204), r.text
    s3.put_object_tagging(Bucket=b, Key="put", Tagging={"TagSet": [{"Key": "a",
                                                                    "Value": "1"}]})
    s3.delete_object_tagging(Bucket=b, Key="put")
    s3.put_object_acl(Bucket=b, Key="put", ACL="public-read")
    s3.delete_object(Bucket=b, Key="copy")
    s3.put_bucket_versioning(Bucket=b, VersioningConfiguration={"Status": "Enabled"})
    s3.delete_object(Bucket=b, Key="mpu")  # versioned: a delete marker
    want = [("ObjectCreated:Put", "put"), ("ObjectCreated:Copy", "copy"),
            ("ObjectCreated:CompleteMultipartUpload", "mpu"), ("ObjectCreated:Post", "post"),
            ("ObjectTagging:Put", "put"), ("ObjectTagging:Delete", "put"),
            ("ObjectAcl:Put", "put"), ("ObjectRemoved:Delete", "copy"),
            ("ObjectRemoved:DeleteMarkerCreated", "mpu")]
    got = hook.wait_count(len(want))
    assert sorted(hook.names()) == sorted(want)
    assert set(hook.auth) == {"Bearer t0ken"}
    by_name = {(r["eventName"], r["s3"]["object"]["key"]): r for r in got}
    put = by_name[("ObjectCreated:Put", "put")]
    assert put["eventVersion"] == "2.1" and put["eventSource"] == "aws:s3"
    assert put["awsRegion"] == REGION and put["eventTime"].endswith("Z")
    assert put["s3"]["bucket"]["name"] == b
    assert put["s3"]["bucket"]["arn"] == f"arn:aws:s3:::{b}"
    assert put["s3"]["configurationId"] == "c1"
    assert put["s3"]["object"]["size"] == 5
    assert put["s3"]["object"]["eTag"] == "5d41402abc4b2a76b9719d911017c592"
    assert "versionId" not in put["s3"]["object"]  # an unversioned store
    marker = by_name[("ObjectRemoved:DeleteMarkerCreated", "mpu")]["s3"]["object"]
    assert marker["versionId"] and "size" not in marker
    # one key's events carry growing sequencers
    seqs = [r["s3"]["object"]["sequencer"] for r in got if r["s3"]["object"]["key"] == "put"]
    assert len(seqs) == 4 and seqs == sorted(seqs) and len(set(seqs)) == 4
    # the counts move when the deliverer acknowledges its round, just after the webhook has
    # the events: wait for that (on a loaded machine it came after the test's first read)
    t, _ = _poll_target(store, target["id"],
                        lambda t: t["delivered"] >= len(want) and t["backlog"] == 0)
    assert t["delivered"] >= len(want) and t["backlog"] == 0
    # per-target series on /metrics (for the operator's scrape: tenants' target names)
    metrics = httpx.get(f"{fast_server.api_url}/metrics", timeout=10,
                        headers={"Authorization": f"Bearer {fast_server.api_key}"}).text
    labels = f'target="{target["id"]}",type="webhook"'
    for series in ("objectstore_event_backlog", "objectstore_events_delivered_total",
                   "objectstore_events_retried_total", "objectstore_events_failed_total"):
        assert any(line.startswith(series + "{") and labels in line
                   for line in metrics.splitlines()), series
    assert labels not in httpx.get(f"{fast_server.api_url}/metrics", timeout=10).text


def test_filters_and_key_encoding(fast_server: RunningServer, hook: Receiver) -> None:
    store = create_store(fast_server)
    target = make_target(store, hook.url)
    configure(store, target["arn"], ["s3:ObjectCreated:Put"], prefix="in/", suffix=".jpg")
    s3 = store.boto()
    keys = ["in/red flower.jpg", "in/a+b=c&d/é ü.jpg", "out/x.jpg", "in/x.png", "in/ok.jpg"]
    for k in keys:
        s3.put_object(Bucket=store.name, Key=k, Body=b"1")
    s3.copy_object(Bucket=store.name, Key="in/copied.jpg",
                   CopySource={"Bucket": store.name, "Key": "in/ok.jpg"})  # not wanted: Copy
    s3.put_object(Bucket=store.name, Key="in/last.jpg", Body=b"1")
    got = hook.wait_for(lambda g: any(r["s3"]["object"]["key"] == "in/last.jpg" for r in g))
    raw = [r["s3"]["object"]["key"] for r in got]
    assert "in/red+flower.jpg" in raw  # URL-encoded as AWS does: a space is +
    assert "in/a%2Bb%3Dc%26d/%C3%A9+%C3%BC.jpg" in raw
    assert sorted(unquote_plus(k) for k in raw) == sorted(
        ["in/red flower.jpg", "in/a+b=c&d/é ü.jpg", "in/ok.jpg", "in/last.jpg"])


def test_a_target_down_for_a_while_loses_nothing(fast_server: RunningServer,
                                                 hook: Receiver) -> None:
    store = create_store(fast_server)
    target = make_target(store, hook.url)
    configure(store, target["arn"], ["s3:ObjectCreated:*"])
    s3 = store.boto()
    hook.failing = True
    n = 40
    for i in range(n):
        s3.put_object(Bucket=store.name, Key=f"k{i % 5}", Body=str(i).encode())
    hook.wait_for(lambda _g: hook.refused >= 3, timeout=20)
    # the deliverer counts a refused round just after the webhook answered it: poll
    t, _ = _poll_target(store, target["id"], lambda t: t["retried"] >= 1)
    assert t["backlog"] == n and t["retried"] >= 1 and "503" in t["last_error"]
    hook.failing = False
    got = hook.wait_count(n, timeout=30)
    assert len(got) == n
    # each key's events in the order they were written (their bodies' sizes say which)
    for k in range(5):
        seqs = [r["s3"]["object"]["sequencer"] for r in got
                if r["s3"]["object"]["key"] == f"k{k}"]
        assert seqs == sorted(seqs) and len(seqs) == n // 5
    with store.api() as api:
        t = api.get(f"/v2/objectstore/event-targets/{target['id']}").json()
    assert t["backlog"] == 0 and t["delivered"] == n


def test_concurrent_writers_one_key_in_sequencer_order(fast_server: RunningServer,
                                                       hook: Receiver) -> None:
    store = create_store(fast_server)
    target = make_target(store, hook.url)
    configure(store, target["arn"], ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"])
    etags: list[str] = []
    lock = threading.Lock()

    def writer(w: int) -> None:
        s3 = store.boto()
        for i in range(15):
            r = s3.put_object(Bucket=store.name, Key="hot", Body=f"{w}-{i}".encode())
            with lock:
                etags.append(r["ETag"].strip('"'))

    threads = [threading.Thread(target=writer, args=(w,)) for w in range(4)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = hook.wait_count(60)
    seqs = [r["s3"]["object"]["sequencer"] for r in got]
    assert seqs == sorted(seqs), "one key's events left out of sequencer order"
    assert sorted(r["s3"]["object"]["eTag"] for r in got) == sorted(etags)


def test_targets_are_refused_where_they_must_not_point(fast_server: RunningServer) -> None:
    store = create_store(fast_server)
    s3_port = fast_server.s3_url.rsplit(":", 1)[1]
    with store.api() as api:
        for body, status in (
                ({"type": "webhook", "endpoint": "http://169.254.169.254/latest"}, 422),
                ({"type": "webhook", "endpoint": "http://[fe80::1]:80/x"}, 422),
                ({"type": "webhook", "endpoint": f"http://127.0.0.1:{s3_port}/b"}, 422),
                ({"type": "webhook", "endpoint": "ftp://example.com/"}, 400),
                ({"type": "carrier-pigeon", "endpoint": "http://127.0.0.1:1/"}, 400),
                ({"type": "nats", "endpoint": "nats://127.0.0.1:4222"}, 400),  # no subject
                ({"type": "webhook", "endpoint": "http://no-such-host.invalid/"}, 422)):
            r = api.post("/v2/objectstore/event-targets", json={"name": "t", **body})
            assert r.status_code == status, (body, r.text)
            assert r.json()["reason"], r.text


def test_operator_deny_and_allow_lists(tmp_path: Any) -> None:
    with running_server(tmp_path / "d1", None, event_targets_deny="127.0.0.0/8") as srv:
        store = create_store(srv)
        with store.api() as api:
            r = api.post("/v2/objectstore/event-targets", json={
                "name": "t", "type": "webhook", "endpoint": "http://127.0.0.1:8080/"})
            assert r.status_code == 422, r.text
    with running_server(tmp_path / "d2", None, event_targets_allow="10.0.0.0/8") as srv:
        store = create_store(srv)
        with store.api() as api:
            r = api.post("/v2/objectstore/event-targets", json={
                "name": "t", "type": "webhook", "endpoint": "http://127.0.0.1:8080/"})
            assert r.status_code == 422, r.text
            r = api.post("/v2/objectstore/event-targets", json={
                "name": "t", "type": "webhook", "endpoint": "http://10.1.2.3:8080/"})
            assert r.status_code == 200, r.text


def test_secrets_are_sealed_at_rest(fast_server: RunningServer) -> None:
    store = create_store(fast_server)
    with store.api() as api:
        r = api.post("/v2/objectstore/event-targets", json={
            "name": "t", "type": "amqp", "endpoint": "amqp://user:hunter2pw@127.0.0.1:5672/",
            "exchange": "ex", "routing_key": "rk"})
        assert r.status_code == 200, r.text
        assert r.json()["endpoint"] == "amqp://user:***@127.0.0.1:5672/"
        r = api.post("/v2/objectstore/event-targets", json={
            "name": "t", "type": "webhook", "endpoint": "http://127.0.0.1:1/",
            "auth_token": "tok-zebra-42"})
        assert r.status_code == 200, r.text
        listed = api.get("/v2/objectstore/event-targets").text
    assert "hunter2pw" not in listed and "tok-zebra-42" not in listed
    db = (fast_server.services.settings.data_dir / "objectstore.db")
    if db.exists():
        raw = db.read_bytes() + b"".join(p.read_bytes() for p in db.parent.glob("*.db-wal"))
        assert b"hunter2pw" not in raw and b"tok-zebra-42" not in raw


def test_lifecycle_expirations_are_announced(fast_server: RunningServer, hook: Receiver
                                             ) -> None:
    """The lifecycle worker's expirations: LifecycleExpiration:Delete on an unversioned
    store, LifecycleExpiration:DeleteMarkerCreated on a versioned one (a lifecycle day is 1 s
    on this server)."""
    plain, versioned = create_store(fast_server), create_store(fast_server)
    target = make_target(plain, hook.url)
    for store in (plain, versioned):
        s3 = store.boto()
        if store is versioned:
            s3.put_bucket_versioning(Bucket=store.name,
                                     VersioningConfiguration={"Status": "Enabled"})
        configure(store, target["arn"], ["s3:LifecycleExpiration:*"])
        s3.put_object(Bucket=store.name, Key="tmp/old", Body=b"x")
        s3.put_bucket_lifecycle_configuration(Bucket=store.name, LifecycleConfiguration={
            "Rules": [{"ID": "tmp", "Status": "Enabled", "Filter": {"Prefix": "tmp/"},
                       "Expiration": {"Days": 1}}]})
    got = hook.wait_count(2, timeout=30)
    assert sorted((r["eventName"], r["s3"]["bucket"]["name"]) for r in got) == sorted([
        ("LifecycleExpiration:Delete", plain.name),
        ("LifecycleExpiration:DeleteMarkerCreated", versioned.name)])


def _poll_target(store: Any, target_id: str, done: Callable[[dict[str, Any]], bool]
                 ) -> tuple[dict[str, Any], set[str]]:
    """Poll the target (at most 20 s) until ``done`` holds for it: its last state, and every
    ``last_error`` seen on the way."""
    deadline = time.monotonic() + 20
    seen: set[str] = set()
    with store.api() as api:
        while True:
            t = api.get(f"/v2/objectstore/event-targets/{target_id}").json()
            seen.add(t["last_error"])
            if done(t) or time.monotonic() > deadline:
                return t, seen
            time.sleep(0.05)


def _until_dropped(store: Any, target_id: str, dropped: int
                   ) -> tuple[dict[str, Any], set[str]]:
    """Until ``dropped`` events count as failed (a later failed attempt's ``last_error``
    replaces the backlog limit's: every one seen is returned)."""
    return _poll_target(store, target_id, lambda t: t["failed"] >= dropped)


def test_the_backlog_limit_drops_the_oldest_and_says_so(tmp_path: Any, hook: Receiver,
                                                        caplog: pytest.LogCaptureFixture
                                                        ) -> None:
    """Past OBJECTSTORE_EVENT_BACKLOG_LIMIT undelivered events, the oldest are dropped: the
    target's backlog stays at the limit, each dropped event counts as failed, last_error says
    so, and the newest events are the ones delivered once the target is back."""
    with running_server(tmp_path / "data", None, event_backlog_limit=5,
                        event_retry_max_seconds=1.0) as srv:
        store = create_store(srv)
        target = make_target(store, hook.url)
        configure(store, target["arn"], ["s3:ObjectCreated:*"])
        hook.failing = True
        s3 = store.boto()
        for i in range(12):
            s3.put_object(Bucket=store.name, Key=f"k{i:02d}", Body=b"x")
        t, seen = _until_dropped(store, target["id"], 7)
        assert t["backlog"] == 5 and t["failed"] == 7, t
        # last_error says so until the next failed attempt's replaces it; the log says so too
        assert any("backlog limit (5) reached" in e for e in seen) or any(
            "backlog over the limit (5)" in r.getMessage() for r in caplog.records), seen
        hook.failing = False
        got = hook.wait_count(5)
        assert sorted(r["s3"]["object"]["key"] for r in got) == [f"k{i:02d}"
                                                                 for i in range(7, 12)]


def test_a_target_own_backlog_limit_drops_its_oldest_and_says_so(
        tmp_path: Any, hook: Receiver, caplog: pytest.LogCaptureFixture) -> None:
    """A target's own ``backlog_limit`` (below the server's, large here) is the one applied:
    its backlog comes down to it, the dropped events count as failed, last_error says so; a
    target without one, down as long, keeps every event (the server's limit)."""
    with running_server(tmp_path / "data", None, event_backlog_limit=10_000,
                        event_retry_max_seconds=1.0) as srv:
        store = create_store(srv)
        limited = make_target(store, hook.url, backlog_limit=5)
        assert limited["backlog_limit"] == 5
        other = make_target(store, hook.url)
        with store.api() as api:
            r = api.post("/v2/objectstore/event-targets", json={
                "name": uniq("hook"), "type": "webhook", "endpoint": hook.url,
                "region": REGION, "backlog_limit": 10_001})
        assert r.status_code in (400, 422) and "backlog_limit" in r.text, r.text
        s3 = store.boto()
        s3.put_bucket_notification_configuration(
            Bucket=store.name, NotificationConfiguration={"QueueConfigurations": [
                {"Id": "a", "QueueArn": limited["arn"], "Events": ["s3:ObjectCreated:*"]},
                {"Id": "b", "QueueArn": other["arn"], "Events": ["s3:ObjectCreated:*"]}]})
        hook.failing = True
        for i in range(12):
            s3.put_object(Bucket=store.name, Key=f"k{i:02d}", Body=b"x")
        t, seen = _until_dropped(store, limited["id"], 7)
        with store.api() as api:
            o = api.get(f"/v2/objectstore/event-targets/{other['id']}").json()
        assert t["backlog"] == 5 and t["failed"] == 7 and t["backlog_limit"] == 5, t
        assert o["backlog"] == 12 and o["failed"] == 0, o
        assert any("backlog limit (5) reached" in e for e in seen) or any(
            "backlog over the limit (5)" in r.getMessage() for r in caplog.records), seen
        hook.failing = False
        got = hook.wait_count(5 + 12)
        keys = sorted(r["s3"]["object"]["key"] for r in got)
        assert keys == sorted([f"k{i:02d}" for i in range(7, 12)]
                              + [f"k{i:02d}" for i in range(12)]), keys


def test_sequencers_keep_growing_after_the_outbox_empties(fast_server: RunningServer,
                                                          hook: Receiver) -> None:
    """A key's sequencer grows even when every earlier event was delivered (its outbox row
    deleted): ids are never reused (SQLite's plain rowid would start again at 1)."""
    store = create_store(fast_server)
    target = make_target(store, hook.url)
    configure(store, target["arn"], ["s3:ObjectCreated:*"])
    s3 = store.boto()
    for i in range(3):
        s3.put_object(Bucket=store.name, Key="again", Body=str(i).encode())
        hook.wait_count(i + 1)  # delivered: the outbox is empty again
        time.sleep(0.3)  # (and its row deleted)
    seqs = [r["s3"]["object"]["sequencer"] for r in hook.records]
    assert len(seqs) == 3 and seqs == sorted(seqs) and len(set(seqs)) == 3, seqs


def test_a_delete_of_a_missing_key_is_announced_as_s3_does(fast_server: RunningServer,
                                                           hook: Receiver) -> None:
    """S3 answers a DELETE of a key that is not there with 204 and still announces
    ObjectRemoved:Delete (no size, no eTag): a consumer sees every delete it was told of,
    the one of an object and the one of nothing. (DeleteObjects, the same per key.)"""
    store = create_store(fast_server)
    target = make_target(store, hook.url)
    configure(store, target["arn"], ["s3:ObjectRemoved:*"])
    s3 = store.boto()
    s3.delete_object(Bucket=store.name, Key="never-there")
    s3.delete_objects(Bucket=store.name, Delete={"Objects": [{"Key": "nor-this"}]})
    got = hook.wait_for(lambda g: {r["s3"]["object"]["key"] for r in g}
                        >= {"never-there", "nor-this"})
    for r in got:
        assert r["eventName"] == "ObjectRemoved:Delete"
        assert "eTag" not in r["s3"]["object"] and "size" not in r["s3"]["object"]
        assert "versionId" not in r["s3"]["object"]

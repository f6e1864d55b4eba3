"""Updating an event target (issue 25 follow-up): ``PUT`` (or ``PATCH``)
``/v2/objectstore/event-targets/{id}`` on a real server, with real webhook receivers on
127.0.0.1 and events from real S3 writes (boto3). A target that a store's notification
configuration names cannot be deleted, so its endpoint, secrets and options are changed in
place: the next delivery goes to the new endpoint (no restart), the backlog is kept, a token
left out is kept, a new one replaces it, an empty one clears it; the SSRF guard applies to a
new endpoint as on create; type and region cannot change; another account's target is 404."""

from __future__ import annotations

import json
import re
import threading
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import httpx
import pytest
from sqlalchemy import select

from objectstore.client import ApiError, ObjectStoreClient
from objectstore.storage.sql.tables import event_targets
from tests.api.conftest import Tenant, assert_error, uniq
from tests.support.stores import Store, create_store
from tests.support.webhook import Receiver, webhook_receiver

TARGETS = "/v2/objectstore/event-targets"


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, Receiver, Receiver]]:
    with webhook_receiver() as a, webhook_receiver() as b, webhook_receiver() as c:
        yield a, b, c


def _target(t: Tenant, url: str, **extra: Any) -> dict[str, Any]:
    r = t.api.post(TARGETS, json={"name": uniq("hook"), "type": "webhook", "endpoint": url,
                                  "region": "LON1", **extra})
    assert r.status_code == 200, r.text
    return dict(r.json())


def _notified_store(t: Tenant, arn: str) -> Store:
    store = create_store(t.srv, api_key=t.key)
    store.boto().put_bucket_notification_configuration(
        Bucket=store.name, NotificationConfiguration={"QueueConfigurations": [{
            "Id": "all", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return store


def _keys(rec: Receiver) -> list[str]:
    return [key for _name, key in rec.names()]


def _stored_row(t: Tenant, target_id: str) -> dict[str, Any]:
    with t.srv.services.engine.connect() as conn:
        row = conn.execute(select(event_targets).where(event_targets.c.id == target_id)).one()
    return dict(row._mapping)


def _until(check: Any, timeout: float = 15.0) -> None:
    deadline = time.monotonic() + timeout
    while not check():
        assert time.monotonic() < deadline, "timed out"
        time.sleep(0.05)


def test_update_moves_delivery_to_the_new_endpoint_and_keeps_or_rotates_the_token(
        tenant: Tenant, hooks: tuple[Receiver, Receiver, Receiver]) -> None:
    a, b, c = hooks
    target = _target(tenant, a.url, auth_token="tok-one")
    url = f"{TARGETS}/{target['id']}"
    store = _notified_store(tenant, target["arn"])
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k1", Body=b"1")
    a.wait_count(1)
    assert a.auth == ["Bearer tok-one"]

    # a new endpoint, no auth_token: the token is kept (and never shown)
    r = tenant.api.put(url, json={"endpoint": b.url})
    assert r.status_code == 200, r.text
    got = r.json()
    assert got["endpoint"] == b.url and got["auth_token_set"] is True
    assert got["id"] == target["id"] and got["arn"] == target["arn"]
    assert got["name"] == target["name"] and "tok-one" not in r.text
    assert tenant.api.get(url).json()["endpoint"] == b.url
    s3.put_object(Bucket=store.name, Key="k2", Body=b"2")
    b.wait_count(1)
    assert _keys(b) == ["k2"] and b.auth == ["Bearer tok-one"]
    assert _keys(a) == ["k1"]  # the old endpoint gets nothing more

    # a new token replaces it; the sealed row holds neither token in clear
    r = tenant.api.put(url, json={"auth_token": "tok-two"})
    assert r.status_code == 200 and r.json()["auth_token_set"] is True, r.text
    assert "tok-two" not in r.text
    row = _stored_row(tenant, target["id"])
    assert not any("tok-" in str(v) for v in row.values()), row
    s3.put_object(Bucket=store.name, Key="k3", Body=b"3")
    b.wait_count(2)
    assert b.auth == ["Bearer tok-one", "Bearer tok-two"]

    # an explicit empty token clears it
    r = tenant.api.patch(url, json={"auth_token": ""})
    assert r.status_code == 200 and r.json()["auth_token_set"] is False, r.text
    s3.put_object(Bucket=store.name, Key="k4", Body=b"4")
    b.wait_count(3)
    assert b.auth[-1] is None

    # the endpoint goes down: events wait in the backlog; moved, the backlog follows (no
    # restart, and without waiting out the retry backoff)
    b.failing = True
    for key in ("k5", "k6"):
        s3.put_object(Bucket=store.name, Key=key, Body=b"x")
    _until(lambda: tenant.api.get(url).json()["retried"] >= 2)
    assert tenant.api.get(url).json()["backlog"] == 2
    r = tenant.api.put(url, json={"endpoint": c.url, "auth_token": "tok-three"})
    assert r.status_code == 200, r.text
    c.wait_count(2, timeout=10)
    assert sorted(_keys(c)) == ["k5", "k6"] and set(c.auth) == {"Bearer tok-three"}
    _until(lambda: tenant.api.get(url).json()["backlog"] == 0)
    assert _keys(b) == ["k2", "k3", "k4"]


def test_update_options_name_and_partial_bodies(tenant: Tenant) -> None:
    target = _target(tenant, "http://127.0.0.1:9/hook", auth_token="keep-me")
    url = f"{TARGETS}/{target['id']}"
    r = tenant.api.put(url, json={"name": "renamed", "batch_size": 10, "backlog_limit": 50})
    assert r.status_code == 200, r.text
    got = r.json()
    assert (got["name"], got["batch_size"], got["backlog_limit"]) == ("renamed", 10, 50)
    assert got["endpoint"] == "http://127.0.0.1:9/hook" and got["auth_token_set"] is True
    # form-encoded, one field: the rest stays
    r = tenant.api.put(url, data={"batch_size": "20"})
    assert r.status_code == 200, r.text
    assert (r.json()["name"], r.json()["batch_size"], r.json()["backlog_limit"]) == (
        "renamed", 20, 50)
    # an empty body changes nothing; the same type and region are accepted
    assert tenant.api.put(url, json={}).json() == tenant.api.get(url).json()
    r = tenant.api.put(url, json={"type": "webhook", "region": "lon1"})
    assert r.status_code == 200, r.text
    # backlog_limit 0 removes the target's own limit (the server's applies)
    r = tenant.api.put(url, json={"backlog_limit": 0})
    assert r.status_code == 200 and "backlog_limit" not in r.json(), r.text
    assert tenant.api.get(url).json()["auth_token_set"] is True
    # invalid values: 400 naming the field, nothing changed
    before = tenant.api.get(url).json()
    for body, field in (({"batch_size": 0}, "batch_size"), ({"batch_size": 101}, "batch_size"),
                        ({"backlog_limit": 100_001}, "backlog_limit"),
                        ({"backlog_limit": "lots"}, "backlog_limit"),
                        ({"name": "x" * 256, "batch_size": 3}, "name"),
                        ({"endpoint": "ftp://127.0.0.1/x"}, "endpoint"),
                        ({"auth_token": "a\nb"}, "auth_token")):
        r = tenant.api.put(url, json=body)
        assert r.status_code in (400, 422), (body, r.text)
        assert field in assert_error(r, r.status_code)["reason"] + r.json()["code"], (body,
                                                                                     r.text)
    assert tenant.api.get(url).json() == before


def test_update_keeps_a_password_in_the_endpoint_unless_given_or_emptied(
        tenant: Tenant) -> None:
    r = tenant.api.post(TARGETS, json={"name": "q", "type": "redis", "region": "LON1",
                                       "endpoint": "redis://:pw-one@127.0.0.1:6379/0",
                                       "key": "ev"})
    assert r.status_code == 200, r.text
    target = r.json()
    url = f"{TARGETS}/{target['id']}"
    targets = tenant.srv.services.targets
    assert targets is not None

    def opened() -> str:
        return targets.spec(targets.get(tenant.account.id, target["id"])).endpoint

    # the endpoint as shown (*** for the password), another database: the password is kept
    r = tenant.api.put(url, json={"endpoint": "redis://:***@127.0.0.1:6379/3"})
    assert r.status_code == 200, r.text
    assert r.json()["endpoint"] == "redis://:***@127.0.0.1:6379/3" and "pw-one" not in r.text
    assert opened() == "redis://:pw-one@127.0.0.1:6379/3"
    # left out of the URL: kept too
    assert tenant.api.put(url, json={"endpoint": "redis://127.0.0.1:6379/4"}).status_code == 200
    assert opened() == "redis://:pw-one@127.0.0.1:6379/4"
    # a new one replaces it; an explicit empty one clears it
    r = tenant.api.put(url, json={"endpoint": "redis://:pw-two@127.0.0.1:6379/4"})
    assert r.status_code == 200 and "pw-two" not in r.text, r.text
    assert opened() == "redis://:pw-two@127.0.0.1:6379/4"
    assert not any("pw-" in str(v) for v in _stored_row(tenant, target["id"]).values())
    r = tenant.api.put(url, json={"endpoint": "redis://:@127.0.0.1:6379/4"})
    assert r.status_code == 200, r.text
    assert r.json()["endpoint"] == "redis://127.0.0.1:6379/4"
    assert opened() == "redis://127.0.0.1:6379/4"
    # *** with no password to keep is refused
    r = tenant.api.put(url, json={"endpoint": "redis://:***@127.0.0.1:6379/4"})
    assert_error(r, 400, "parameter_endpoint_invalid")
    # a required option cannot be emptied; the format can change
    assert_error(tenant.api.put(url, json={"key": ""}), 400, "parameter_key_invalid")
    r = tenant.api.put(url, json={"format": "stream"})
    assert r.status_code == 200 and r.json()["format"] == "stream", r.text
    # auth_token is for webhooks only
    assert_error(tenant.api.put(url, json={"auth_token": "t"}), 400,
                 "parameter_auth_token_invalid")


def test_refused_updates_leave_the_target_unchanged(tenant: Tenant, other: Tenant) -> None:
    target = _target(tenant, "http://127.0.0.1:9/hook", auth_token="secret", batch_size=2)
    url = f"{TARGETS}/{target['id']}"
    before = tenant.api.get(url).json()
    row = _stored_row(tenant, target["id"])
    api_port = tenant.srv.api_url.rsplit(":", 1)[1]
    s3_port = tenant.srv.s3_url.rsplit(":", 1)[1]
    # the SSRF guard, as on create: metadata/link-local addresses, this server's own ports
    for endpoint in ("http://169.254.169.254/latest/meta-data", "http://[fe80::1]/x",
                     f"http://127.0.0.1:{api_port}/v2/objectstores",
                     f"http://localhost:{s3_port}/bucket"):
        r = tenant.api.put(url, json={"endpoint": endpoint, "name": "moved", "batch_size": 9})
        body = assert_error(r, 422, "objectstore_event_target_endpoint_refused")
        assert "endpoint" in body["reason"], body
    # type and region are part of the ARN: 422 with a reason
    body = assert_error(tenant.api.put(url, json={"type": "amqp", "name": "moved"}), 422,
                        "objectstore_event_target_invalid")
    assert "type" in body["reason"] and "arn" in body["reason"].lower(), body
    body = assert_error(tenant.api.put(url, json={"region": "NYC1", "name": "moved"}), 422,
                        "objectstore_event_target_invalid")
    assert "region" in body["reason"], body
    body = assert_error(tenant.api.put(url, params={"region": "FRA1"},
                                       json={"name": "moved"}), 422,
                        "objectstore_event_target_invalid")
    assert "region" in body["reason"], body
    assert_error(tenant.api.put(url, json={"region": "nowhere"}), 404,
                 "database_region_not_found")
    # unknown ids and another account's target: 404
    for bad in ("00000000-0000-4000-8000-000000000000", "not-a-uuid"):
        assert_error(tenant.api.put(f"{TARGETS}/{bad}", json={"name": "x"}), 404,
                     "database_objectstore_event_target_not_found")
    for method in ("PUT", "PATCH"):
        r = other.api.request(method, url, json={"endpoint": "http://127.0.0.1:9/stolen",
                                                 "auth_token": "theirs"})
        assert_error(r, 404, "database_objectstore_event_target_not_found")
    assert tenant.api.get(url).json() == before
    assert _stored_row(tenant, target["id"]) == row  # secrets included


def test_sdk_update_event_target(tenant: Tenant, other: Tenant) -> None:
    with ObjectStoreClient(tenant.srv.api_url, tenant.key, region="LON1") as c:
        made = c.create_event_target("sdk", "webhook", "http://127.0.0.1:9/a",
                                     auth_token="sdk-token")
        got = c.update_event_target(made.id, endpoint="http://127.0.0.1:9/b", batch_size=4,
                                    backlog_limit=30)
        assert (got.endpoint, got.batch_size, got.backlog_limit) == (
            "http://127.0.0.1:9/b", 4, 30)
        assert got.auth_token_set and got.arn == made.arn
        assert not c.update_event_target(made.id, auth_token="").auth_token_set
        assert c.update_event_target(made.id, backlog_limit=0).backlog_limit is None
        with pytest.raises(ApiError) as exc:
            c.update_event_target(made.id, type="nats")
        assert exc.value.status == 422 and "type" in exc.value.reason
        with pytest.raises(ApiError) as exc:
            c.update_event_target(made.id, endpoint="http://169.254.169.254/")
        assert exc.value.status == 422
        assert c.get_event_target(made.id).endpoint == "http://127.0.0.1:9/b"
    with ObjectStoreClient(other.srv.api_url, other.key) as c2, pytest.raises(ApiError) as exc:
        c2.update_event_target(made.id, name="mine-now")
    assert exc.value.status == 404


def test_cli_event_target_update_and_list(tenant: Tenant) -> None:
    run = tenant.cli
    made = json.loads(run("event-target", "create", "cli-up", "--type", "webhook",
                          "--endpoint", "http://127.0.0.1:9/one", "--auth-token", "cli-tok",
                          "-o", "json"))
    out = run("event-target", "update", made["id"], "--endpoint", "http://127.0.0.1:9/two",
              "--batch-size", "7", "--backlog-limit", "40")
    assert "http://127.0.0.1:9/two" in out and "cli-tok" not in out
    assert re.search(r"Batch size\s*: 7", out) and re.search(r"Backlog limit\s*: 40", out)
    assert re.search(r"Auth token\s*: set", out), out
    # list shows each target's own backlog limit and batch size
    lines = run("event-target", "list").splitlines()
    header = lines[0].split()
    assert header[:7] == ["ID", "NAME", "TYPE", "ENDPOINT", "BACKLOG", "LIMIT", "BATCH"]
    row = next(line.split() for line in lines if made["id"] in line)
    assert row[4:7] == ["0", "40", "7"], lines
    cleared = json.loads(run("event-target", "update", made["id"], "--no-auth-token",
                             "--backlog-limit", "0", "-o", "json"))
    assert cleared["auth_token_set"] is False and "backlog_limit" not in cleared
    row = next(line.split() for line in run("event-target", "list").splitlines()
               if made["id"] in line)
    assert row[5:7] == ["-", "7"]
    assert "nothing_to_update" in run("event-target", "update", made["id"], code=1)
    out = run("event-target", "update", made["id"], "--endpoint", "http://169.254.169.254/",
              code=1)
    assert "objectstore_event_target_endpoint_refused" in out
    out = run("event-target", "update", "00000000-0000-4000-8000-000000000000", "--name",
              "x", code=1)
    assert "not_found" in out
    assert json.loads(run("event-target", "show", made["id"], "-o", "json"))["endpoint"] == (
        "http://127.0.0.1:9/two")


def test_concurrent_updates_of_different_fields_all_land(tenant: Tenant) -> None:
    """Each update rewrites the whole row (the secrets are sealed together): two at once must
    not lose either's fields (the row's version is checked when it is written)."""
    target = _target(tenant, "http://127.0.0.1:9/hook", auth_token="t0")
    url = f"{TARGETS}/{target['id']}"
    for rnd in range(1, 6):
        bodies = [{"name": f"name-{rnd}"}, {"batch_size": rnd}, {"backlog_limit": 10 + rnd},
                  {"endpoint": f"http://127.0.0.1:9/hook-{rnd}"}, {"auth_token": f"t{rnd}"}]
        barrier = threading.Barrier(len(bodies))

        def put(body: dict[str, Any], barrier: threading.Barrier = barrier) -> int:
            with httpx.Client(base_url=tenant.srv.api_url, timeout=30,
                              headers={"Authorization": f"bearer {tenant.key}"}) as c:
                barrier.wait()
                return c.put(url, json=body).status_code

        with ThreadPoolExecutor(len(bodies)) as pool:
            assert list(pool.map(put, bodies)) == [200] * len(bodies)
        got = tenant.api.get(url).json()
        assert (got["name"], got["batch_size"], got["backlog_limit"], got["endpoint"]) == (
            f"name-{rnd}", rnd, 10 + rnd, f"http://127.0.0.1:9/hook-{rnd}"), got
        targets = tenant.srv.services.targets
        assert targets is not None
        spec = targets.spec(targets.get(tenant.account.id, target["id"]))
        assert spec.secret == f"t{rnd}" and spec.endpoint == got["endpoint"]

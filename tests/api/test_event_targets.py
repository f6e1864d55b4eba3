"""Event targets (issue 25) through the Python SDK and the CLI, against a real server: made,
listed, shown, refused, deleted; secrets never come back; another account cannot see them."""

from __future__ import annotations

import json

import pytest

from objectstore.client import ApiError, ObjectStoreClient
from tests.api.conftest import Tenant


def test_sdk_event_targets(tenant: Tenant, other: Tenant) -> None:
    with ObjectStoreClient(tenant.srv.api_url, tenant.key, region="LON1") as c:
        hook = c.create_event_target("hook", "webhook", "https://127.0.0.1:9/x",
                                     auth_token="secret-token-1", batch_size=10)
        assert hook.arn == f"arn:objectstore:sqs:LON1:{hook.id}:webhook"
        assert hook.auth_token_set and hook.batch_size == 10 and hook.exchange is None
        q = c.create_event_target("q", "amqp", "amqp://u:pw-2@127.0.0.1:5672/",
                                  exchange="ex", routing_key="rk")
        assert q.endpoint == "amqp://u:***@127.0.0.1:5672/"
        assert {t.id for t in c.list_event_targets()} == {hook.id, q.id}
        got = c.get_event_target(hook.id)
        assert (got.backlog, got.delivered, got.retried, got.failed) == (0, 0, 0, 0)
        assert "secret-token-1" not in repr(c.list_event_targets())
        with pytest.raises(ApiError) as exc:
            c.create_event_target("bad", "webhook", "http://169.254.169.254/")
        assert exc.value.status == 422
        with pytest.raises(ApiError) as exc:
            c.create_event_target("bad", "nats", "nats://127.0.0.1:4222")
        assert exc.value.status == 400 and "subject" in exc.value.reason
    with ObjectStoreClient(other.srv.api_url, other.key) as c2:  # another account
        assert c2.list_event_targets() == []
        with pytest.raises(ApiError) as exc:
            c2.get_event_target(hook.id)
        assert exc.value.status == 404
        with pytest.raises(ApiError):
            c2.delete_event_target(hook.id)
    with ObjectStoreClient(tenant.srv.api_url, tenant.key) as c:
        c.delete_event_target(hook.id)
        c.delete_event_target(q.id)
        assert c.list_event_targets() == []


def test_a_target_backlog_limit_is_checked_kept_and_shown(tenant: Tenant) -> None:
    """``backlog_limit`` (any target type): an integer from 1 to the server's
    OBJECTSTORE_EVENT_BACKLOG_LIMIT (100,000 here, the default); anything else is refused
    naming the field; the value is stored and shown with the target."""
    targets = "/v2/objectstore/event-targets"
    base = {"name": "limited", "type": "webhook", "endpoint": "http://127.0.0.1:9/hook",
            "region": "LON1"}
    for bad in (0, -1, "lots", True, 100_001, 10**12):
        r = tenant.api.post(targets, json={**base, "backlog_limit": bad})
        assert r.status_code in (400, 422), (bad, r.text)
        assert "backlog_limit" in r.text, (bad, r.text)
    assert tenant.api.get(targets).json() == []  # nothing was made
    r = tenant.api.post(targets, json={**base, "backlog_limit": 5})
    assert r.status_code == 200, r.text
    made = r.json()
    assert made["backlog_limit"] == 5
    got = tenant.api.get(f"{targets}/{made['id']}").json()
    assert got["backlog_limit"] == 5 and got["backlog"] == 0
    assert [t["backlog_limit"] for t in tenant.api.get(targets).json()] == [5]
    # the ceiling itself is allowed; any type takes it; missing: not shown (the server's)
    r = tenant.api.post(targets, data={"name": "nats", "type": "nats", "region": "LON1",
                                       "endpoint": "nats://127.0.0.1:4222",
                                       "subject": "ev", "backlog_limit": "100000"})
    assert r.status_code == 200 and r.json()["backlog_limit"] == 100_000, r.text
    plain = tenant.api.post(targets, json={**base, "name": "plain"}).json()
    assert "backlog_limit" not in plain
    with ObjectStoreClient(tenant.srv.api_url, tenant.key, region="LON1") as c:
        sdk = c.create_event_target("sdk", "redis", "redis://127.0.0.1:6379/0", key="k",
                                    backlog_limit=7)
        assert sdk.backlog_limit == 7 and c.get_event_target(sdk.id).backlog_limit == 7
        assert c.get_event_target(plain["id"]).backlog_limit is None
        with pytest.raises(ApiError) as exc:
            c.create_event_target("sdk", "webhook", "http://127.0.0.1:9/x",
                                  backlog_limit=100_001)
        assert exc.value.status in (400, 422) and "backlog_limit" in exc.value.reason


def test_cli_event_targets(tenant: Tenant) -> None:
    run = tenant.cli
    made = json.loads(run("event-target", "create", "cli-hook", "--type", "webhook",
                          "--endpoint", "http://127.0.0.1:9/hook", "--auth-token", "tok-cli",
                          "-o", "json"))
    assert made["arn"].endswith(f":{made['id']}:webhook") and "tok-cli" not in str(made)
    listed = run("event-target", "list")
    assert made["id"] in listed and "BACKLOG" in listed
    shown = run("event-target", "show", made["id"])
    assert "Auth token" in shown and "set" in shown and made["arn"] in shown
    out = run("event-target", "create", "x", "--type", "redis", "--endpoint",
              "redis://127.0.0.1:6379/0", code=1)
    assert "key" in out
    limited = json.loads(run("event-target", "create", "cli-limited", "--type", "webhook",
                             "--endpoint", "http://127.0.0.1:9/hook", "--backlog-limit",
                             "50", "-o", "json"))
    assert limited["backlog_limit"] == 50
    assert "Backlog limit" in run("event-target", "show", limited["id"])
    out = run("event-target", "create", "x", "--type", "webhook", "--endpoint",
              "http://127.0.0.1:9/hook", "--backlog-limit", "100001", code=1)
    assert "backlog_limit" in out
    out = run("event-target", "create", "x", "--type", "webhook", "--endpoint",
              "http://127.0.0.1:9/hook", "--backlog-limit", "0", code=2)
    assert "backlog-limit" in out
    assert f"deleted event target {made['id']}" in run("event-target", "delete", made["id"])

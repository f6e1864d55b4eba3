"""Event targets (issue 25) through the Python SDK and the CLI, against a real server: made,
listed, shown, refused, deleted; secrets never come back; another account cannot see them."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner

from objectstore.cli.main import main
from objectstore.client import ApiError, ObjectStoreClient
from tests.api.conftest import Tenant

CLEAN_ENV: dict[str, str | None] = {"OBJECTSTORE_API_URL": None, "OBJECTSTORE_API_KEY": None,
                                    "OBJECTSTORE_REGION": None,
                                    "OBJECTSTORE_EVENT_AUTH_TOKEN": None}


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


def test_cli_event_targets(tenant: Tenant) -> None:
    def run(*args: str, code: int = 0) -> str:
        runner = CliRunner(env=CLEAN_ENV)
        argv = [*args, "--api-url", tenant.srv.api_url, "--api-key", tenant.key]
        result = runner.invoke(main, argv, catch_exceptions=False)
        assert result.exit_code == code, (argv, result.output)
        return result.output

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
    assert f"deleted event target {made['id']}" in run("event-target", "delete", made["id"])

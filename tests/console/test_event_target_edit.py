"""Editing an event target in the console (issue 25 follow-up): the Event targets page's Edit
form (CSRF like every form), a refused change shown as a readable error with nothing changed,
the next event delivered to the new endpoint with the token kept; the targets table and a
store's Notifications section show each target's backlog limit and a webhook's batch size.
One test without a browser (forms over httpx), one in Chromium (Playwright)."""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from playwright.sync_api import expect

from objectstore.domain.models import Account
from tests.support.server import RunningServer
from tests.support.webhook import Receiver, webhook_receiver

from .conftest import Console
from .helpers import ConsoleClient, new_store, owner_s3
from .test_look import PHONE, no_sideways_overflow


@pytest.fixture
def hooks() -> Iterator[tuple[Receiver, Receiver]]:
    with webhook_receiver() as a, webhook_receiver() as b:
        yield a, b


@pytest.fixture
def other_account(console_srv: RunningServer) -> tuple[Account, str]:
    return console_srv.services.accounts.create(f"acct-{uuid.uuid4().hex[:10]}")


def _notify(srv: RunningServer, account: Account, arn: str, name: str) -> tuple[Any, str]:
    sw = new_store(srv, account, name)
    s3 = owner_s3(srv, sw)
    s3.put_bucket_notification_configuration(
        Bucket=sw.store.name, NotificationConfiguration={"QueueConfigurations": [{
            "Id": "edit-conf", "QueueArn": arn, "Events": ["s3:ObjectCreated:*"]}]})
    return s3, sw.store.name


def test_edit_form_changes_the_target_and_refusals_change_nothing(
        mine: tuple[ConsoleClient, Account], console_srv: RunningServer,
        hooks: tuple[Receiver, Receiver], other_account: tuple[Account, str]) -> None:
    c, account = mine
    a, b = hooks
    made = c.follow(c.post("/event-targets", {"name": "edited", "type": "webhook",
                                              "region": "LON1", "endpoint": a.url,
                                              "auth_token": "console-tok"}))
    arn = re.search(r"arn:objectstore:sqs:LON1:([0-9a-f-]{36}):webhook", made.text)
    assert arn, made.text
    target_id = arn.group(1)
    targets = console_srv.services.targets
    assert targets is not None
    s3, bucket = _notify(console_srv, account, arn.group(0), "edited")
    s3.put_object(Bucket=bucket, Key="before", Body=b"x")
    a.wait_count(1)

    page = c.get(f"/event-targets/{target_id}")
    assert page.status_code == 200
    text = html.unescape(page.text)
    assert 'name="csrf"' in text and f'value="{a.url}"' in text
    assert "console-tok" not in text and "set (not shown)" in text
    back = f"/console/event-targets/{target_id}"  # the form's hidden field
    assert f'name="back" value="{back}"' in text
    form = {"name": "edited", "endpoint": a.url, "batch_size": "", "backlog_limit": "",
            "back": back}

    # without the CSRF token: refused, nothing changed
    r = c.http.post(f"/console/event-targets/{target_id}",
                    data={**form, "endpoint": b.url})
    assert r.status_code == 403
    assert targets.get(account.id, target_id).endpoint == a.url

    # a refused endpoint: back on the edit page with the reason, nothing changed
    before = targets.get(account.id, target_id)
    r = c.post(f"/event-targets/{target_id}", {**form, "endpoint": "http://169.254.169.254/x",
                                               "name": "renamed", "batch_size": "5"})
    assert r.status_code == 303 and r.headers["location"] == back
    shown = html.unescape(c.http.get(r.headers["location"]).text)
    assert re.search(r'role="alert">[^<]*169\.254\.169\.254[^<]*link-local', shown), shown
    assert targets.get(account.id, target_id) == before
    r = c.post(f"/event-targets/{target_id}", {**form, "batch_size": "500"})
    assert "batch_size must be an integer from 1 to 100" in html.unescape(c.follow(r).text)
    assert targets.get(account.id, target_id) == before

    # another account's target: not found, not changed
    intruder = ConsoleClient(console_srv)
    assert intruder.sign_in(other_account[1]).status_code == 303
    assert intruder.get(f"/event-targets/{target_id}").status_code == 404
    r = intruder.post(f"/event-targets/{target_id}", {**form, "endpoint": b.url})
    assert r.status_code in (303, 404)
    intruder.close()
    assert targets.get(account.id, target_id) == before

    # saved: the next event goes to the new endpoint with the kept token
    r = c.post(f"/event-targets/{target_id}", {**form, "endpoint": b.url, "batch_size": "5",
                                               "backlog_limit": "40"})
    assert "Event target edited saved" in c.follow(r).text
    s3.put_object(Bucket=bucket, Key="after", Body=b"x")
    b.wait_count(1)
    assert [k for _n, k in b.names()] == ["after"] and b.auth == ["Bearer console-tok"]
    assert [k for _n, k in a.names()] == ["before"]

    # the list and the store's Notifications section show the limit and the batch size
    listed = html.unescape(c.get("/event-targets").text)
    row = listed[listed.index('<th scope="row">edited</th>'):]
    row = row[:row.index("</tr>")]
    assert "batch 5" in row and re.search(r'data-label="Backlog">\d+<br>.*limit 40', row), row
    sw_id = next(w.store.id for w in console_srv.services.stores.list(
        account.id, "LON1", 1, 100).items if w.store.name == bucket)
    section = html.unescape(c.get(f"/stores/{sw_id}").text)
    section = section[section.index('id="notifications-h"'):]
    section = section[:section.index("</section>")]
    assert "edited (webhook)" in section and "batch 5" in section and "limit 40" in section

    # the token removed through the form
    r = c.post(f"/event-targets/{target_id}", {**form, "endpoint": b.url, "batch_size": "5",
                                               "backlog_limit": "", "remove_auth_token": "1"})
    assert "saved" in c.follow(r).text
    now = targets.get(account.id, target_id)
    assert not now.auth_token_set and "backlog_limit" not in now.options
    assert now.options["batch_size"] == 5
    server_limit = targets.backlog_limit
    listed = html.unescape(c.get("/event-targets").text)
    assert f"limit {server_limit}" in listed


def test_edit_a_target_in_the_browser(console: Console, tenant: tuple[Account, str],
                                      hooks: tuple[Receiver, Receiver]) -> None:
    a, b = hooks
    console.sign_in(tenant[1])
    page = console.page
    page.goto(console.url("/event-targets"))
    page.get_by_label("Name", exact=True).fill("browser-edit")
    page.get_by_label("Type", exact=True).select_option("webhook")
    page.get_by_label(re.compile(r"^Endpoint")).fill(a.url)
    page.get_by_label(re.compile(r"^Webhook auth token")).fill("browser-tok")
    page.get_by_role("button", name="Create event target").click()
    expect(page.get_by_role("status")).to_contain_text("Event target browser-edit created")
    row = page.locator("#event-targets tbody tr").filter(has_text="browser-edit")
    arn = re.search(r"arn:objectstore:sqs:\w+:[0-9a-f-]{36}:webhook", row.inner_text())
    assert arn, row.inner_text()
    s3, bucket = _notify(console.srv, tenant[0], arn.group(0), "browser-edit")

    # a refused endpoint: the reason shown readably on the edit page, nothing saved
    page.get_by_role("link", name="Edit event target browser-edit").click()
    page.get_by_role("heading", name="Edit browser-edit").wait_for()
    expect(page.get_by_label(re.compile(r"^Endpoint"))).to_have_value(a.url)
    expect(page.locator("#target-token-state")).to_have_text("set (not shown)")
    console.shot("desktop-target-edit")
    page.set_viewport_size(PHONE)  # the form fits a phone too
    no_sideways_overflow(page)
    page.set_viewport_size({"width": 1200, "height": 900})
    page.get_by_label(re.compile(r"^Endpoint")).fill("http://169.254.169.254/latest")
    page.get_by_role("button", name="Save event target").click()
    alert = page.get_by_role("alert")
    expect(alert).to_contain_text("169.254.169.254")
    expect(alert).to_contain_text("link-local")
    page.get_by_role("heading", name="Edit browser-edit").wait_for()
    expect(page.get_by_label(re.compile(r"^Endpoint"))).to_have_value(a.url)

    # a new endpoint and batch size saved; the token field left empty keeps the token
    page.get_by_label(re.compile(r"^Endpoint")).fill(b.url)
    page.get_by_label("Records per POST", exact=True).fill("3")
    page.get_by_role("button", name="Save event target").click()
    expect(page.get_by_role("status")).to_contain_text("Event target browser-edit saved")
    row = page.locator("#event-targets tbody tr").filter(has_text="browser-edit")
    expect(row).to_contain_text(b.url)
    expect(row).to_contain_text("batch 3")
    expect(row).to_contain_text(re.compile(r"limit \d+"))
    expect(page.locator("main")).not_to_contain_text("browser-tok")
    s3.put_object(Bucket=bucket, Key="moved", Body=b"x")
    b.wait_count(1)
    assert b.auth == ["Bearer browser-tok"] and len(a.records) == 0

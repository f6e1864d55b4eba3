"""The console's event targets page and a store's Notifications section (issue 25), without a
browser: a target made and refused through the form, named in a store's notification
configuration over S3, its counts shown on the store's page once events were delivered to a
real webhook receiver, deleted (refused while a store names it)."""

from __future__ import annotations

import html
import re
import time
from collections.abc import Iterator

import pytest

from objectstore.domain.models import Account
from tests.support.server import RunningServer
from tests.support.webhook import Receiver, webhook_receiver

from .helpers import ConsoleClient, new_store, owner_s3


@pytest.fixture
def hook() -> Iterator[Receiver]:
    with webhook_receiver() as rec:
        yield rec


def test_event_targets_page_and_store_notifications(
        mine: tuple[ConsoleClient, Account], console_srv: RunningServer, hook: Receiver) -> None:
    c, account = mine
    page = c.get("/event-targets")
    assert page.status_code == 200 and "No event targets yet" in page.text
    refused = c.post("/event-targets", {"name": "meta", "type": "webhook",
                                        "endpoint": "http://169.254.169.254/latest"})
    assert refused.status_code in (400, 422) or "169.254" in c.follow(refused).text
    made = c.follow(c.post("/event-targets", {"name": "thumbs", "type": "webhook",
                                              "region": "LON1", "endpoint": hook.url,
                                              "auth_token": "console-secret-77"}))
    assert "Event target thumbs created" in made.text
    assert "console-secret-77" not in made.text
    arn = re.search(r"arn:objectstore:sqs:LON1:[0-9a-f-]{36}:webhook", made.text)
    assert arn, made.text
    sw = new_store(console_srv, account, "notified")
    s3 = owner_s3(console_srv, sw)
    store_page = c.get(f"/stores/{sw.store.id}")
    assert "No notifications" in store_page.text
    s3.put_bucket_notification_configuration(
        Bucket=sw.store.name, NotificationConfiguration={"QueueConfigurations": [{
            "Id": "thumbs-conf", "QueueArn": arn.group(0), "Events": ["s3:ObjectCreated:*"]}]})
    for i in range(3):
        s3.put_object(Bucket=sw.store.name, Key=f"img/{i}.jpg", Body=b"x")
    hook.wait_count(3)
    deadline = time.monotonic() + 10
    while True:  # the counts are committed just after the receiver answered
        text = html.unescape(c.get(f"/stores/{sw.store.id}").text)
        section = text[text.index('id="notifications-h"'):]
        section = section[:section.index("</section>")]
        cells = re.findall(r'<td class="num"[^>]*>(?:<strong class="bad">)?(\d+)', section)
        if cells[:2] == ["0", "3"] or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert "thumbs-conf" in section and "thumbs (webhook)" in section
    assert cells == ["0", "3", "0", "0"], section  # backlog, delivered, retried, failed
    listed = c.get("/event-targets").text
    assert "thumbs" in listed and arn.group(0) in listed
    target_id = arn.group(0).split(":")[4]
    in_use = c.post(f"/event-targets/{target_id}/delete")
    assert in_use.status_code == 409 or "remove it there first" in c.follow(in_use).text
    s3.put_bucket_notification_configuration(Bucket=sw.store.name,
                                             NotificationConfiguration={})
    gone = c.follow(c.post(f"/event-targets/{target_id}/delete"))
    assert "Event target thumbs deleted" in gone.text


def test_a_target_backlog_limit_through_the_form(mine: tuple[ConsoleClient, Account]) -> None:
    """The form's backlog limit: above the server's (100,000 by default) refused naming it;
    a valid one kept and shown on the target's row."""
    c, _account = mine
    refused = c.post("/event-targets", {"name": "too-big", "type": "webhook",
                                        "endpoint": "http://127.0.0.1:9/hook",
                                        "backlog_limit": "100001"})
    assert refused.status_code in (400, 422) or "backlog_limit" in c.follow(refused).text
    assert "too-big" not in c.get("/event-targets").text
    made = c.follow(c.post("/event-targets", {"name": "capped", "type": "webhook",
                                              "endpoint": "http://127.0.0.1:9/hook",
                                              "backlog_limit": "25"}))
    assert "Event target capped created" in made.text
    page = html.unescape(c.get("/event-targets").text)
    assert 'name="backlog_limit"' in page
    row = page[page.index("<th scope=\"row\">capped</th>"):]
    row = row[:row.index("</tr>")]
    assert re.search(r'data-label="Backlog">0\b.*limit 25', row, re.S), row

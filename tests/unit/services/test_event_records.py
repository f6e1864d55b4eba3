"""The outbox's S3 event records (issue 25): an event stored in its compact form renders to
exactly the readable dict version's JSON, for keys that need escaping and encoding, every
kind of event, versioned or not, with its sequencer ((row id << 12) + its index); a row
stored in the first format (one rendered record with a sequencer slot) still reads back;
event names per change."""

from __future__ import annotations

import json
from datetime import UTC, datetime

import pytest

from objectstore.domain.models import ObjectStore, ObjectVersion
from objectstore.services.events.outbox import (
    CREATED,
    MARKER,
    REMOVED,
    UPDATED,
    compact,
    encode_key,
    event_name,
    expand,
    messages,
    record,
    row_values,
)

STORE = ObjectStore("sid", "acct", "LON1", "bucket-ü", 1, "cred", True, 0, 0, "private",
                    datetime.now(UTC))


@pytest.mark.parametrize("key", ["a", "dir/red flower.jpg", 'q"\\x', "é ü+&=?#%/~*", "\u2028"])
@pytest.mark.parametrize("name", ["ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated",
                                  "LifecycleExpiration:Delete", "ObjectTagging:Delete"])
@pytest.mark.parametrize("version_id", ["null", "3FFFA1B2C3D4E5F6deadbeef"])
def test_a_stored_event_renders_as_the_records_json(key: str, name: str,
                                                    version_id: str) -> None:
    now = datetime(2026, 12, 6, 15, 4, 5, 123456, tzinfo=UTC)
    v = ObjectVersion(store_id="sid", key=key, blob_id="", size=7, etag='"abc"',
                      last_modified=now, content_type="x", version_id=version_id)
    ms = int(now.timestamp() * 1000)
    events = [compact(name, v, 'cfg"1', "cred", ms), compact(name, v, 'cfg"1', "cred", ms)]
    row = row_values("t1", STORE, events, now.timestamp())
    assert row["events"] == 2 and row["key"] == key
    sent = expand(42, row["key"], row["record"])
    assert [(e.row, e.place, e.key) for e in sent] == [(42, 0, key), (42, 1, key)]
    for i, ev in enumerate(sent):
        assert ev.text == json.dumps(record(STORE, name, v, 'cfg"1', now, (42 << 12) + i),
                                     separators=(",", ":"))
    one = json.loads(messages(sent[:1]))["Records"][0]
    obj = one["s3"]["object"]
    assert obj["sequencer"] == "000000000002A000" and obj["key"] == encode_key(key)
    assert one["eventTime"] == "2026-12-06T15:04:05.123Z"
    assert ("size" in obj) == name.startswith(("ObjectCreated", "ObjectTagging"))
    assert ("versionId" in obj) == (version_id != "null")
    two = json.loads(messages(sent))["Records"]
    assert [r["s3"]["object"]["sequencer"] for r in two] == ["000000000002A000",
                                                             "000000000002A001"]
    assert [e.key for e in expand(42, key, row["record"], skip={0})] == [key]


def test_a_row_of_the_first_format_reads_back_with_its_id_as_sequencer() -> None:
    """What the previous release stored: one rendered record, the sequencer a slot."""
    stored = ('{"eventVersion":"2.1","eventSource":"aws:s3","eventName":"ObjectCreated:Put",'
              '"s3":{"object":{"key":"a+b","size":1,"sequencer":"?"}}}')
    (ev,) = expand(7, "a b", stored)
    assert (ev.row, ev.place, ev.key) == (7, 0, "a b")
    assert json.loads(ev.text)["s3"]["object"] == {"key": "a+b", "size": 1,
                                                   "sequencer": "0000000000000007"}
    assert expand(7, "a b", stored, skip={0}) == []


def test_keys_are_encoded_as_aws_does() -> None:
    assert encode_key("red flower.jpg") == "red+flower.jpg"
    assert encode_key("a/b+c=d&é") == "a/b%2Bc%3Dd%26%C3%A9"


def test_event_names() -> None:
    assert event_name(CREATED, "Copy") == "ObjectCreated:Copy"
    assert event_name(CREATED, "CompleteMultipartUpload") == \
        "ObjectCreated:CompleteMultipartUpload"
    assert event_name(REMOVED, "Delete") == "ObjectRemoved:Delete"
    assert event_name(MARKER, "Delete") == "ObjectRemoved:DeleteMarkerCreated"
    assert event_name(REMOVED, "LifecycleExpiration") == "LifecycleExpiration:Delete"
    assert event_name(MARKER, "LifecycleExpiration") == \
        "LifecycleExpiration:DeleteMarkerCreated"
    assert event_name(UPDATED, "ObjectTagging:Put") == "ObjectTagging:Put"
    assert event_name(UPDATED, "ObjectAcl:Put") == "ObjectAcl:Put"
    assert event_name(UPDATED, "Copy") == "ObjectCreated:Copy"  # a copy onto itself
    assert event_name(UPDATED, "Retention") is None

"""The outbox's S3 event records (issue 25): the fast string-built record is exactly the
readable dict version's JSON, for keys that need escaping and encoding, every kind of event,
versioned or not; the sequencer slot is filled in when sent; event names per change."""

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
    encode_key,
    event_name,
    message,
    messages,
    record,
    record_text,
)

STORE = ObjectStore("sid", "acct", "LON1", "bucket-ü", 1, "cred", True, 0, 0, "private",
                    datetime.now(UTC))


@pytest.mark.parametrize("key", ["a", "dir/red flower.jpg", 'q"\\x', "é ü+&=?#%/~*", "\u2028"])
@pytest.mark.parametrize("name", ["ObjectCreated:Put", "ObjectRemoved:DeleteMarkerCreated",
                                  "LifecycleExpiration:Delete", "ObjectTagging:Delete"])
@pytest.mark.parametrize("version_id", ["null", "3FFFA1B2C3D4E5F6deadbeef"])
def test_record_text_is_the_records_json(key: str, name: str, version_id: str) -> None:
    now = datetime(2026, 12, 6, 15, 4, 5, 123456, tzinfo=UTC)
    v = ObjectVersion(store_id="sid", key=key, blob_id="", size=7, etag='"abc"',
                      last_modified=now, content_type="x", version_id=version_id)
    text = record_text(STORE, name, v, 'cfg"1', now)
    assert text == json.dumps(record(STORE, name, v, 'cfg"1', now), separators=(",", ":"))
    sent = json.loads(message(text, 42))
    obj = sent["Records"][0]["s3"]["object"]
    assert obj["sequencer"] == "000000000000002A" and obj["key"] == encode_key(key)
    assert sent["Records"][0]["eventTime"] == "2026-12-06T15:04:05.123Z"
    assert ("size" in obj) == name.startswith(("ObjectCreated", "ObjectTagging"))
    assert ("versionId" in obj) == (version_id != "null")
    two = json.loads(messages([(1, key, text), (2, key, text)]))["Records"]
    assert [r["s3"]["object"]["sequencer"] for r in two] == ["0000000000000001",
                                                             "0000000000000002"]


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

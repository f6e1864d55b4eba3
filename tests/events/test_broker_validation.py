"""validate(spec) for AMQP, NATS and Redis targets (issue 25): a readable reason for each
malformed target, nothing for good ones; the senders refuse malformed specs the same way; the
endpoint helpers keep passwords out of what is shown."""

from __future__ import annotations

from typing import Any

import pytest

from objectstore.services.events.senders.amqp import AmqpSender
from objectstore.services.events.senders.base import TargetSpec
from objectstore.services.events.senders.endpoints import (
    credentials,
    scrub,
    split_secret,
    with_password,
    without_credentials,
)
from objectstore.services.events.senders.nats import NatsSender
from objectstore.services.events.senders.redis import RedisSender
from objectstore.services.events.senders.validation import validate


def spec(type_: str, endpoint: str, secret: str | None = None, **options: Any) -> TargetSpec:
    return TargetSpec("t", type_, endpoint, options, secret)


GOOD = [
    spec("amqp", "amqp://guest:guest@rabbit.example:5672/", exchange="events",
         routing_key="s3.put"),
    spec("amqp", "amqps://app@rabbit.example/prod%2Fvhost", "pw", exchange="events"),
    spec("amqp", "amqp://rabbit.example", routing_key="queue-name"),  # default exchange
    spec("nats", "nats://nats.example:4222", subject="objectstore.events"),
    spec("nats", "tls://user:pw@nats.example", subject="a.b-c_d.e"),
    spec("redis", "redis://redis.example:6379/0", key="events"),
    spec("redis", "rediss://:pw@redis.example/3", key="s3:events", format="stream"),
    spec("redis", "redis://redis.example", key="events", format="list"),
]

BAD = [
    (spec("amqp", "http://rabbit.example", exchange="e"), "scheme must be amqp:// or amqps://"),
    (spec("amqp", "amqp://", exchange="e"), "a host is required"),
    (spec("amqp", "amqp://rabbit.example:99999", exchange="e"), "not a valid URL"),
    (spec("amqp", "amqp://rabbit.example"), "an exchange, or a routing_key"),
    (spec("amqp", "amqp://rabbit.example", exchange=""), "an exchange, or a routing_key"),
    (spec("amqp", "amqp://rabbit.example", exchange=5), "exchange: a string is required"),
    (spec("amqp", "amqp://rabbit.example", exchange="x" * 256), "at most 255 bytes"),
    (spec("amqp", "amqp://rabbit.example", exchange="e\n"), "no control characters"),
    (spec("amqp", "amqp://rabbit.example/a/b", exchange="e"), "one virtual host"),
    (spec("amqp", "amqp://rabbit.example/?cafile=/etc/shadow", exchange="e"),
     "no query string"),
    (spec("amqp", "amqp://rabbit.example", "pw", exchange="e"), "needs the user name"),
    (spec("nats", "https://nats.example", subject="s"), "scheme must be nats:// or tls://"),
    (spec("nats", "nats://nats.example"), "'subject' is required"),
    (spec("nats", "nats://nats.example", subject="a.*"), "wildcards"),
    (spec("nats", "nats://nats.example", subject="a.>"), "wildcards"),
    (spec("nats", "nats://nats.example", subject="a..b"), "non-empty tokens"),
    (spec("nats", "nats://nats.example", subject="a b"), "white space"),
    (spec("nats", "nats://nats.example/path", subject="s"), "no path"),
    (spec("redis", "unix:///run/redis.sock", key="k"), "scheme must be redis:// or rediss://"),
    (spec("redis", "redis://redis.example/x", key="k"), "database number"),
    (spec("redis", "redis://redis.example", format="list"), "'key' is required"),
    (spec("redis", "redis://redis.example", key=""), "must not be empty"),
    (spec("redis", "redis://redis.example", key="k", format="hash"),
     "expected \"list\" (RPUSH) or \"stream\" (XADD)"),
    (spec("redis", "redis://redis.example/0?ssl_keyfile=/etc/key", key="k"),
     "no query string"),
    (spec("redis", "redis://redis .example", key="k"), "no white space"),
    (spec("kafka", "kafka://k", topic="t"), "unknown target type 'kafka'"),
]


@pytest.mark.parametrize("good", GOOD, ids=lambda s: s.endpoint)
def test_good_targets_pass(good: TargetSpec) -> None:
    validate(good)


@pytest.mark.parametrize(("bad", "reason"), BAD, ids=[r for _, r in BAD])
def test_bad_targets_say_why(bad: TargetSpec, reason: str) -> None:
    with pytest.raises(ValueError) as info:
        validate(bad)
    assert reason in str(info.value)


def test_senders_refuse_malformed_specs() -> None:
    for cls, bad in [(AmqpSender, spec("amqp", "amqp://h")),
                     (NatsSender, spec("nats", "nats://h", subject="a.*")),
                     (RedisSender, spec("redis", "redis://h", key="k", format="set"))]:
        with pytest.raises(ValueError):
            cls(bad)


def test_endpoint_credentials() -> None:
    url = "amqp://app:p%40ss%2Fw@rabbit.example:5672/vh"
    assert credentials(url) == credentials("amqp://app@rabbit.example/vh", "p@ss/w")
    assert credentials(url).user == "app" and credentials(url).password == "p@ss/w"
    assert credentials(url, "other").password == "other"
    assert without_credentials(url) == "amqp://rabbit.example:5672/vh"
    assert split_secret(url) == ("amqp://app@rabbit.example:5672/vh", "p@ss/w")
    assert split_secret("redis://redis.example/0") == ("redis://redis.example/0", None)
    assert with_password("redis://redis.example/0", "a:b@c") == "redis://:a%3Ab%40c@redis.example/0"
    assert with_password(url, None) == url
    assert credentials(with_password("amqp://app@h/", "a:b@c")).password == "a:b@c"
    assert scrub("failed for amqp://app:p%40ss%2Fw@h and p@ss/w", "p@ss/w") == \
        "failed for amqp://app:***@h and ***"

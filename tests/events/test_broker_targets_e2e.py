"""Bucket event notifications to real brokers through the real server (issue 25): event
targets of type amqp, nats and redis made through the management API, the bucket configured
with boto3, and boto3 PUT/DELETE: RabbitMQ, NATS (JetStream) and Redis consumers get AWS's S3
event records; a broker down while objects are written loses nothing."""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import aio_pika
import nats
import pytest
import redis.asyncio
from nats.js.api import StreamConfig

from tests.support.aio import in_own_loop
from tests.support.brokers import broker_url, private_broker
from tests.support.clients import REGION
from tests.support.server import RunningServer, running_server
from tests.support.stores import Store, create_store, uniq

KEY = "photos/café ü+1.jpg"
KEY_IN_EVENT = "photos/caf%C3%A9+%C3%BC%2B1.jpg"  # URL-encoded as AWS does


@pytest.fixture
def fast_server(tmp_path: Path) -> Iterator[RunningServer]:
    with running_server(tmp_path / "data", None, event_retry_max_seconds=1.0) as srv:
        yield srv


def make_target(store: Store, type_: str, endpoint: str, **options: Any) -> dict[str, Any]:
    with store.api() as api:
        r = api.post("/v2/objectstore/event-targets", json={
            "name": uniq(type_), "type": type_, "endpoint": endpoint, "region": REGION,
            **options})
    assert r.status_code == 200, r.text
    return dict(r.json())


def target_state(store: Store, target: dict[str, Any]) -> dict[str, Any]:
    with store.api() as api:
        return dict(api.get(f"/v2/objectstore/event-targets/{target['id']}").json())


def configure(store: Store, targets: list[dict[str, Any]]) -> None:
    store.boto().put_bucket_notification_configuration(
        Bucket=store.name, NotificationConfiguration={"QueueConfigurations": [
            {"Id": t["type"] + "-" + t["id"][:8], "QueueArn": t["arn"],
             "Events": ["s3:ObjectCreated:*", "s3:ObjectRemoved:*"]} for t in targets]})


def poll(fetch: Callable[[], list[bytes]], count: int, timeout: float = 30) -> list[bytes]:
    deadline = time.monotonic() + timeout
    while True:
        got = fetch()
        if len(got) >= count or time.monotonic() > deadline:
            return got
        time.sleep(0.1)


def check_records(messages: list[bytes], store: Store, config_id: str) -> list[dict[str, Any]]:
    """Each message is one S3 event record in AWS's structure: a PUT then a DELETE of KEY."""
    records = []
    for m in messages:
        doc = json.loads(m)
        assert len(doc["Records"]) == 1
        records.append(doc["Records"][0])
    assert [r["eventName"] for r in records] == ["ObjectCreated:Put", "ObjectRemoved:Delete"]
    for r in records:
        assert r["eventVersion"] == "2.1" and r["eventSource"] == "aws:s3"
        assert r["awsRegion"] == REGION
        assert r["s3"]["bucket"]["name"] == store.name
        assert r["s3"]["configurationId"] == config_id
        assert r["s3"]["object"]["key"] == KEY_IN_EVENT
    put = records[0]["s3"]["object"]
    assert put["size"] == 5 and put["eTag"] == hashlib.md5(b"hello").hexdigest()  # noqa: S324
    seqs = [r["s3"]["object"]["sequencer"] for r in records]
    assert seqs == sorted(seqs) and len(set(seqs)) == 2
    return records


def test_amqp_nats_and_redis_targets_receive_s3_events(fast_server: RunningServer) -> None:
    amqp_url, nats_url, redis_url = broker_url("amqp"), broker_url("nats"), broker_url("redis")
    exchange, queue_name = uniq("objectstore-events"), uniq("q")
    subject, stream = f"s3.events.{uniq('b')}", uniq("EVENTS").replace("-", "_")
    list_key, stream_key = uniq("s3:list"), uniq("s3:stream")

    async def setup() -> None:
        conn = await aio_pika.connect(amqp_url)
        ch = await conn.channel()
        ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, durable=True)
        queue = await ch.declare_queue(queue_name, durable=True)
        await queue.bind(ex, "s3.#")
        await conn.close()
        nc = await nats.connect(nats_url)
        await nc.jsm().add_stream(StreamConfig(name=stream, subjects=[subject]))
        await nc.close()

    async def amqp_messages() -> list[aio_pika.abc.AbstractIncomingMessage]:
        conn = await aio_pika.connect(amqp_url)
        queue = await (await conn.channel()).declare_queue(queue_name, durable=True)
        got = []
        while (msg := await queue.get(timeout=5, fail=False)) is not None:
            got.append(msg)
            await msg.ack()
        await conn.close()
        return got

    async def nats_messages() -> list[bytes]:
        nc = await nats.connect(nats_url)
        info = await nc.jsm().stream_info(stream)
        got = [(await nc.jsm().get_msg(stream, seq)).data or b""
               for seq in range(1, info.state.last_seq + 1)]
        await nc.close()
        return got

    async def redis_messages() -> tuple[list[bytes], list[bytes]]:
        r = redis.asyncio.Redis.from_url(redis_url)
        listed = list(await r.lrange(list_key, 0, -1))
        streamed = [fields[b"event"] for _id, fields in await r.xrange(stream_key)]
        await r.aclose()
        return listed, streamed

    async def cleanup() -> None:
        conn = await aio_pika.connect(amqp_url)
        ch = await conn.channel()
        await ch.queue_delete(queue_name)
        await ch.exchange_delete(exchange)
        await conn.close()
        nc = await nats.connect(nats_url)
        await nc.jsm().delete_stream(stream)
        await nc.close()
        r = redis.asyncio.Redis.from_url(redis_url)
        await r.delete(list_key, stream_key)
        await r.aclose()

    in_own_loop(setup())
    try:
        store = create_store(fast_server)
        targets = [
            make_target(store, "amqp", amqp_url, exchange=exchange, routing_key="s3.events"),
            make_target(store, "nats", nats_url, subject=subject),
            make_target(store, "redis", redis_url, key=list_key),
            make_target(store, "redis", redis_url, key=stream_key, format="stream"),
        ]
        assert targets[0]["endpoint"] == amqp_url.replace("guest:guest", "guest:***")
        configure(store, targets)
        s3 = store.boto()
        s3.put_object(Bucket=store.name, Key=KEY, Body=b"hello")
        s3.delete_object(Bucket=store.name, Key=KEY)

        amqp_got: list[Any] = []

        def amqp_bodies() -> list[bytes]:
            amqp_got.extend(in_own_loop(amqp_messages()))
            return [m.body for m in amqp_got]

        poll(amqp_bodies, 2)
        nats_got = poll(lambda: in_own_loop(nats_messages()), 2)
        list_got = poll(lambda: in_own_loop(redis_messages())[0], 2)
        stream_got = poll(lambda: in_own_loop(redis_messages())[1], 2)

        ids = [t["type"] + "-" + t["id"][:8] for t in targets]
        assert all(m.content_type == "application/json" and m.delivery_mode == 2
                   and m.routing_key == "s3.events" for m in amqp_got)
        records = [check_records([m.body for m in amqp_got], store, ids[0]),
                   check_records(nats_got, store, ids[1]),
                   check_records(list_got, store, ids[2]),
                   check_records(stream_got, store, ids[3])]
        # the same events to every target (each target's outbox rows number them apart)
        def same(r: dict[str, Any]) -> str:
            r = json.loads(json.dumps(r))
            del r["s3"]["object"]["sequencer"], r["s3"]["configurationId"]
            return json.dumps(r, sort_keys=True)

        assert len({tuple(same(r) for r in rs) for rs in records}) == 1
        for t in targets:
            assert poll(lambda t=t: [b""] * (target_state(store, t)["backlog"] == 0), 1)
            assert target_state(store, t)["delivered"] == 2
    finally:
        in_own_loop(cleanup())


def test_a_broker_down_while_objects_are_written_loses_nothing(fast_server: RunningServer,
                                                               tmp_path: Path) -> None:
    with private_broker("redis", tmp_path) as server:
        store = create_store(fast_server)
        target = make_target(store, "redis", server.url, key="events")
        configure(store, [target])
        server.stop()
        s3 = store.boto()
        n = 12
        for i in range(n):
            s3.put_object(Bucket=store.name, Key=f"k{i % 3}", Body=str(i).encode())

        def backlog_waits() -> list[bytes]:
            state = target_state(store, target)
            return [b""] * (state["backlog"] == n and state["retried"] >= 1)

        assert poll(backlog_waits, 1, timeout=20), target_state(store, target)
        state = target_state(store, target)
        assert "Redis" in state["last_error"] and state["delivered"] == 0, state
        server.start()

        async def listed() -> list[bytes]:
            r = redis.asyncio.Redis.from_url(server.url)
            try:
                return list(await r.lrange("events", 0, -1))
            finally:
                await r.aclose()

        got = poll(lambda: in_own_loop(listed()), n)
        records = [json.loads(m)["Records"][0] for m in got]
        assert len(records) == n
        assert sorted(int(r["s3"]["object"]["size"]) for r in records) == sorted(
            len(str(i)) for i in range(n))
        for k in range(3):  # each key's events in the order they were written
            seqs = [r["s3"]["object"]["sequencer"] for r in records
                    if r["s3"]["object"]["key"] == f"k{k}"]
            assert seqs == sorted(seqs) and len(seqs) == n // 3
        # the outbox rows go once the sends are confirmed (a moment after the last arrives)
        assert poll(lambda: [b""] * (target_state(store, target)["backlog"] == 0), 1)
        assert target_state(store, target)["delivered"] == n


def test_broker_targets_are_checked_when_made(fast_server: RunningServer) -> None:
    store = create_store(fast_server)
    with store.api() as api:
        for body in ({"type": "redis", "endpoint": "redis://127.0.0.1:27379/0", "key": "k",
                      "format": "hash"},
                     {"type": "amqp", "endpoint": "amqp://127.0.0.1:27672/"},
                     {"type": "nats", "endpoint": "nats://127.0.0.1:27422", "subject": "a.*"},
                     {"type": "redis", "endpoint": "redis://127.0.0.1:27379/0?ssl_keyfile=/x",
                      "key": "k"}):
            r = api.post("/v2/objectstore/event-targets", json={"name": "t", **body})
            assert r.status_code in (400, 422), (body, r.text)
            assert r.json()["reason"], r.text



def test_amqp_events_wait_until_a_queue_is_bound(fast_server: RunningServer) -> None:
    """Published mandatory: with no queue bound the broker returns the message, so the event
    stays in the outbox (last_error says why) instead of being dropped; once a consumer binds
    its queue, it arrives."""
    amqp_url = broker_url("amqp")
    exchange, queue_name = uniq("objectstore-events"), uniq("q")

    async def declare_exchange() -> None:
        conn = await aio_pika.connect(amqp_url)
        await (await conn.channel()).declare_exchange(exchange, aio_pika.ExchangeType.DIRECT,
                                                      durable=True)
        await conn.close()

    async def bind_and_read(timeout: float) -> list[bytes]:
        conn = await aio_pika.connect(amqp_url)
        ch = await conn.channel()
        queue = await ch.declare_queue(queue_name, durable=True)
        await queue.bind(exchange, "uploads")
        got = []
        deadline = time.monotonic() + timeout
        while not got and time.monotonic() < deadline:
            while (msg := await queue.get(timeout=5, fail=False)) is not None:
                got.append(msg.body)
                await msg.ack()
            await asyncio.sleep(0.1)
        await ch.queue_delete(queue_name)
        await ch.exchange_delete(exchange)
        await conn.close()
        return got

    in_own_loop(declare_exchange())
    store = create_store(fast_server)
    target = make_target(store, "amqp", amqp_url, exchange=exchange, routing_key="uploads")
    configure(store, [target])
    store.boto().put_object(Bucket=store.name, Key=KEY, Body=b"hello")

    def waiting() -> list[bytes]:
        state = target_state(store, target)
        return [b""] * (state["backlog"] == 1 and "unroutable" in state["last_error"])

    assert poll(waiting, 1, timeout=20), target_state(store, target)
    [body] = in_own_loop(bind_and_read(timeout=20))
    assert json.loads(body)["Records"][0]["s3"]["object"]["key"] == KEY_IN_EVENT

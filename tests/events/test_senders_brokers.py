"""The AMQP, NATS and Redis senders against real brokers (issue 25): a real consumer gets each
message byte for byte; a broker stopped or hung makes ``send`` raise ``DeliveryError`` within
its timeout (no hang); once the broker is back the same sender object delivers again; refusals
a retry cannot fix are ``permanent``. The shared brokers come from scripts/ensure-brokers.sh
(tests/support/brokers.py); outages use private instances or a proxy."""

from __future__ import annotations

import asyncio
import json
import time
import uuid
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import aio_pika
import httpx
import nats
import pytest
import redis.asyncio
from nats.js.api import DiscardPolicy, StreamConfig

from objectstore.services.events.senders.amqp import AmqpSender
from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.nats import NatsSender
from objectstore.services.events.senders.redis import RedisSender
from tests.support.aio import in_own_loop
from tests.support.brokers import TcpProxy, broker_url, private_broker, rabbitmqctl
from tests.support.pg import free_port

TIMEOUT = 2.0  # the senders' timeout in these tests
# An S3 event as the deliverer sends it: UTF-8 JSON, a URL-encoded key with non-ASCII in it.
BODY = json.dumps({"Records": [{"eventVersion": "2.1", "eventSource": "aws:s3",
                                "eventName": "ObjectCreated:Put",
                                "s3": {"bucket": {"name": "b"},
                                       "object": {"key": "caf%C3%A9/%E2%9C%93+x.txt",
                                                  "size": 3, "eTag": "abc"}},
                                "note": "déjà vu ✓"}]},
                  ensure_ascii=False).encode()


def run(coro: Awaitable[Any]) -> Any:
    """The coroutine on an event loop of its own (one per scenario: a sender lives on the
    loop it was first used on, as in a deliverer)."""
    async def main() -> Any:
        try:
            return await coro
        finally:
            await asyncio.sleep(0.05)  # the clients' close callbacks finish on this loop

    return in_own_loop(main())


def unique(prefix: str) -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


async def fails_within(send: Callable[[], Awaitable[None]], bound: float) -> DeliveryError:
    """``send()`` raises DeliveryError, and does so within ``bound`` seconds."""
    started = time.monotonic()
    with pytest.raises(DeliveryError) as info:
        await asyncio.wait_for(send(), bound + 5)  # a hang shows as TimeoutError, not a pass
    elapsed = time.monotonic() - started
    assert elapsed < bound, f"took {elapsed:.1f}s (bound {bound}s)"
    return info.value


# -- AMQP -----------------------------------------------------------------------------------

async def _amqp_queue(url: str, exchange: str, routing_key: str) -> tuple[Any, Any]:
    conn = await aio_pika.connect(url)
    ch = await conn.channel()
    ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.TOPIC, auto_delete=True)
    queue = await ch.declare_queue(unique("q"), exclusive=True)
    await queue.bind(ex, routing_key)
    return conn, queue


def test_amqp_delivers_persistent_json_with_publisher_confirms() -> None:
    url = broker_url("amqp")

    async def main() -> None:
        exchange = unique("objectstore-events")
        conn, queue = await _amqp_queue(url, exchange, "s3.#")
        sender = AmqpSender(TargetSpec("t", "amqp", url, {"exchange": exchange,
                                                           "routing_key": "s3.events"}),
                            timeout=TIMEOUT)
        try:
            for i in range(3):
                await sender.send(BODY + str(i).encode(), key="café/✓ x.txt")
            for i in range(3):
                msg = await queue.get(timeout=5)
                assert msg.body == BODY + str(i).encode()
                assert msg.content_type == "application/json"
                assert msg.delivery_mode == aio_pika.DeliveryMode.PERSISTENT
                assert msg.routing_key == "s3.events"
                await msg.ack()
        finally:
            await sender.close()
            await sender.close()  # idempotent
            await conn.close()

    run(main())


def test_amqp_default_exchange_delivers_to_the_named_queue() -> None:
    url = broker_url("amqp")

    async def main() -> None:
        conn = await aio_pika.connect(url)
        ch = await conn.channel()
        queue = await ch.declare_queue(unique("q"), exclusive=True)
        sender = AmqpSender(TargetSpec("t", "amqp", url, {"routing_key": queue.name}),
                            timeout=TIMEOUT)
        try:
            await sender.send(BODY, key="k")
            assert (await queue.get(timeout=5)).body == BODY
        finally:
            await sender.close()
            await conn.close()

    run(main())


def test_amqp_refusals() -> None:
    """A missing exchange and a refused login are permanent; a message no queue is bound for
    is retried (it waits in the outbox rather than being dropped by the broker); the
    password never shows in the reason."""
    url = broker_url("amqp")

    async def main() -> None:
        exchange = unique("objectstore-events")
        conn, _queue = await _amqp_queue(url, exchange, "s3.#")
        try:
            cases = [
                (url, {"exchange": unique("missing")}, True, "NOT_FOUND"),
                (url.replace("guest:guest", "guest:wrong-pw"), {"exchange": exchange}, True,
                 "ACCESS_REFUSED"),
                (url, {"exchange": exchange, "routing_key": "other.key"}, False, "unroutable"),
                (url, {"routing_key": unique("no-such-queue")}, False, "unroutable"),
            ]
            for endpoint, options, permanent, words in cases:
                sender = AmqpSender(TargetSpec("t", "amqp", endpoint, options), timeout=TIMEOUT)
                err = await fails_within(lambda s=sender: s.send(BODY, key="k"), TIMEOUT)
                assert err.permanent is permanent, (options, err)
                assert words in str(err)
                assert "wrong-pw" not in str(err)
                await sender.close()
        finally:
            await conn.close()

    run(main())


def test_amqp_broker_stopped_then_back() -> None:
    """The broker's app stopped (connections closed, port shut): DeliveryError at once; started
    again: the same sender reconnects and delivers to the durable queue."""
    url = broker_url("amqp")
    exchange, queue_name = unique("objectstore-events"), unique("q")

    async def setup() -> None:
        conn = await aio_pika.connect(url)
        ch = await conn.channel()
        ex = await ch.declare_exchange(exchange, aio_pika.ExchangeType.DIRECT, durable=True)
        queue = await ch.declare_queue(queue_name, durable=True)
        await queue.bind(ex, "k")
        await conn.close()

    async def drain() -> list[bytes]:
        conn = await aio_pika.connect(url)
        ch = await conn.channel()
        queue = await ch.declare_queue(queue_name, durable=True)
        got = []
        while (msg := await queue.get(timeout=5, fail=False)) is not None:
            got.append(msg.body)
            await msg.ack()
        await queue.delete(if_unused=False, if_empty=False)
        await ch.exchange_delete(exchange)
        await conn.close()
        return got

    async def main() -> None:
        sender = AmqpSender(TargetSpec("t", "amqp", url, {"exchange": exchange,
                                                           "routing_key": "k"}),
                            timeout=TIMEOUT)
        await sender.send(b"before", key="k")
        await asyncio.to_thread(rabbitmqctl, "stop_app")
        try:
            err = await fails_within(lambda: sender.send(b"lost", key="k"), TIMEOUT + 1)
            assert not err.permanent
        finally:
            await asyncio.to_thread(rabbitmqctl, "start_app")
        await sender.send(b"after", key="k")  # the same sender connects again by itself
        await sender.close()

    run(setup())
    run(main())
    assert run(drain()) == [b"before", b"after"]


def test_amqp_hung_broker_times_out_then_recovers() -> None:
    url = broker_url("amqp")
    port = int(url.rsplit(":", 1)[1].split("/")[0])

    async def main() -> None:
        exchange = unique("objectstore-events")
        conn, queue = await _amqp_queue(url, exchange, "#")
        proxy = TcpProxy(port)
        await proxy.start()
        proxied = url.replace(f":{port}/", f":{proxy.port}/")
        sender = AmqpSender(TargetSpec("t", "amqp", proxied, {"exchange": exchange,
                                                               "routing_key": "k"}),
                            timeout=TIMEOUT)
        try:
            await sender.send(b"1", key="k")
            proxy.blackhole()  # connected, but no confirm ever comes
            err = await fails_within(lambda: sender.send(b"2", key="k"), TIMEOUT + 1.5)
            assert "within" in str(err) and not err.permanent
            # and a new connection gets no handshake either
            await fails_within(lambda: sender.send(b"3", key="k"), TIMEOUT + 1.5)
            proxy.forward()
            await sender.send(b"4", key="k")
            got = []
            while (msg := await queue.get(timeout=1, fail=False)) is not None:
                got.append(msg.body)
            # Nothing of "2" and "3" got through the dead line; "1" and "4" did.
            assert got == [b"1", b"4"]
        finally:
            await sender.close()
            await proxy.close()
            await conn.close()

    run(main())


# -- NATS -----------------------------------------------------------------------------------

def test_nats_core_publish_reaches_a_subscriber() -> None:
    url = broker_url("nats")

    async def main() -> None:
        subject = f"objectstore.events.{uuid.uuid4().hex}"
        nc = await nats.connect(url)
        sub = await nc.subscribe(subject)
        await nc.flush()
        sender = NatsSender(TargetSpec("t", "nats", url, {"subject": subject}), timeout=TIMEOUT)
        try:
            await sender.send(BODY, key="k")
            await sender.send(b"second", key="k")
            assert (await sub.next_msg(timeout=5)).data == BODY
            assert (await sub.next_msg(timeout=5)).data == b"second"
        finally:
            await sender.close()
            await nc.close()

    run(main())


def test_nats_jetstream_publish_is_acknowledged_by_the_stream() -> None:
    """A subject bound to a stream goes through JetStream: stored, and a refusal by the stream
    (full, discard new) is a DeliveryError — a core publish would have "succeeded"."""
    url = broker_url("nats")

    async def main() -> None:
        stream = unique("EVENTS").replace("-", "_")
        subject = f"objectstore.js.{uuid.uuid4().hex}"
        nc = await nats.connect(url)
        jsm = nc.jsm()
        await jsm.add_stream(StreamConfig(name=stream, subjects=[subject], max_msgs=2,
                                          discard=DiscardPolicy.NEW))
        sender = NatsSender(TargetSpec("t", "nats", url, {"subject": subject}), timeout=TIMEOUT)
        try:
            await sender.send(BODY, key="k")
            await sender.send(b"second", key="k")
            assert (await jsm.get_msg(stream, 1)).data == BODY
            assert (await jsm.get_msg(stream, 2)).data == b"second"
            err = await fails_within(lambda: sender.send(b"third", key="k"), TIMEOUT + 1)
            assert not err.permanent and stream in str(err)
            # the stream removed: the next attempt may fail, the one after delivers by core
            # publish to a subscriber
            await jsm.delete_stream(stream)
            sub = await nc.subscribe(subject)
            await nc.flush()
            try:
                await sender.send(b"fourth", key="k")
            except DeliveryError:
                await sender.send(b"fourth", key="k")
            assert (await sub.next_msg(timeout=5)).data == b"fourth"
        finally:
            await sender.close()
            with_stream = await jsm.streams_info()
            if any(s.config.name == stream for s in with_stream):
                await jsm.delete_stream(stream)
            await nc.close()

    run(main())


def test_nats_server_stopped_hung_and_back(tmp_path: Path) -> None:
    with private_broker("nats", tmp_path) as server:
        subject = "objectstore.events"
        sender = NatsSender(TargetSpec("t", "nats", server.url, {"subject": subject}),
                            timeout=TIMEOUT)

        async def deliver(body: bytes) -> None:
            nc = await nats.connect(server.url)
            sub = await nc.subscribe(subject)
            await nc.flush()
            await sender.send(body, key="k")
            assert (await sub.next_msg(timeout=5)).data == body
            await nc.close()

        async def main() -> None:
            await deliver(b"one")
            await asyncio.to_thread(server.stop)
            err = await fails_within(lambda: sender.send(b"x", key="k"), 1.0)  # refused
            assert not err.permanent
            await asyncio.to_thread(server.start)
            await deliver(b"two")
            server.freeze()
            try:
                err = await fails_within(lambda: sender.send(b"x", key="k"), TIMEOUT + 1)
                assert "within" in str(err) and not err.permanent
            finally:
                server.thaw()
            await deliver(b"three")
            await sender.close()

        run(main())


NATS_AUTH = """
authorization {
  users = [
    {user: "events", password: "s3cr@t/pw",
     permissions: {publish: ["allowed.>", "_INBOX.>", "$JS.API.>"], subscribe: ["_INBOX.>"]}}
    {user: "reader", password: "reader-pw"}
  ]
}
"""


def test_nats_credentials_and_refusals(tmp_path: Path) -> None:
    """User and password in the URL (percent-encoded) or as the secret; a wrong password and a
    subject the user may not publish to are permanent failures, not silent successes."""
    with private_broker("nats", tmp_path, NATS_AUTH) as server:
        host = server.url.removeprefix("nats://")

        async def main() -> None:
            nc = await nats.connect(f"nats://reader:reader-pw@{host}")
            sub = await nc.subscribe("allowed.>")
            await nc.flush()
            for spec in [
                TargetSpec("t", "nats", f"nats://events:s3cr%40t%2Fpw@{host}",
                           {"subject": "allowed.a"}),
                TargetSpec("t", "nats", f"nats://events@{host}", {"subject": "allowed.b"},
                           secret="s3cr@t/pw"),
            ]:
                sender = NatsSender(spec, timeout=TIMEOUT)
                await sender.send(BODY, key="k")
                msg = await sub.next_msg(timeout=5)
                assert (msg.subject, msg.data) == (spec.options["subject"], BODY)
                await sender.close()
            for spec, words in [
                (TargetSpec("t", "nats", f"nats://events:wrong@{host}",
                            {"subject": "allowed.a"}), "authorization"),
                (TargetSpec("t", "nats", f"nats://events:s3cr%40t%2Fpw@{host}",
                            {"subject": "denied.a"}), "permissions violation"),
            ]:
                sender = NatsSender(spec, timeout=TIMEOUT)
                err = await fails_within(lambda s=sender: s.send(BODY, key="k"), TIMEOUT)
                assert err.permanent, err
                assert words in str(err).lower()
                assert "s3cr" not in str(err) and "wrong" not in str(err)
                await sender.close()
            await nc.close()

        run(main())


# -- Redis ----------------------------------------------------------------------------------

def test_redis_list_and_stream() -> None:
    url = broker_url("redis")

    async def main() -> None:
        r = redis.asyncio.Redis.from_url(url)
        lkey, skey = unique("objectstore:events:list"), unique("objectstore:events:stream")
        senders = [RedisSender(TargetSpec("t", "redis", url, {"key": lkey}), timeout=TIMEOUT),
                   RedisSender(TargetSpec("t", "redis", url, {"key": skey, "format": "stream"}),
                               timeout=TIMEOUT)]
        try:
            for s in senders:
                await s.send(BODY, key="k")
                await s.send(b"second", key="k")
            assert await r.lrange(lkey, 0, -1) == [BODY, b"second"]
            entries = await r.xrange(skey)
            assert [fields for _id, fields in entries] == [{b"event": BODY},
                                                           {b"event": b"second"}]
            # a key that holds another type: permanent
            wrong = RedisSender(TargetSpec("t", "redis", url, {"key": lkey, "format": "stream"}),
                                timeout=TIMEOUT)
            err = await fails_within(lambda: wrong.send(BODY, key="k"), TIMEOUT)
            assert err.permanent and "WRONGTYPE" in str(err)
            await wrong.close()
        finally:
            for s in senders:
                await s.close()
            await r.delete(lkey, skey)
            await r.aclose()

    run(main())


def test_redis_server_stopped_hung_and_back(tmp_path: Path) -> None:
    with private_broker("redis", tmp_path) as server:
        sender = RedisSender(TargetSpec("t", "redis", server.url, {"key": "events"}),
                             timeout=TIMEOUT)

        async def contents() -> list[bytes]:
            r = redis.asyncio.Redis.from_url(server.url)
            try:
                return list(await r.lrange("events", 0, -1))
            finally:
                await r.aclose()

        async def main() -> None:
            await sender.send(b"one", key="k")
            await asyncio.to_thread(server.stop)  # no persistence: the list starts empty again
            err = await fails_within(lambda: sender.send(b"x", key="k"), 1.0)  # refused
            assert not err.permanent
            await asyncio.to_thread(server.start)
            await sender.send(b"two", key="k")
            assert await contents() == [b"two"]
            server.freeze()
            try:
                err = await fails_within(lambda: sender.send(b"x", key="k"), TIMEOUT + 1)
                assert "within" in str(err) and not err.permanent
            finally:
                server.thaw()
            await sender.send(b"three", key="k")
            assert (await contents())[-1] == b"three"
            await sender.close()

        run(main())


def test_redis_credentials_and_refusals(tmp_path: Path) -> None:
    with private_broker("redis", tmp_path, "--requirepass p@ss/word --databases 4") as server:
        host = server.url.removeprefix("redis://").removesuffix("/0")

        async def main() -> None:
            for spec in [
                TargetSpec("t", "redis", f"redis://:p%40ss%2Fword@{host}/2", {"key": "a"}),
                TargetSpec("t", "redis", f"redis://{host}/2", {"key": "b"}, secret="p@ss/word"),
            ]:
                sender = RedisSender(spec, timeout=TIMEOUT)
                await sender.send(BODY, key="k")
                await sender.close()
            r = redis.asyncio.Redis(host="127.0.0.1", port=server.port, db=2,
                                    password="p@ss/word")
            assert await r.lrange("a", 0, -1) == [BODY]
            assert await r.lrange("b", 0, -1) == [BODY]
            await r.aclose()
            for endpoint in [f"redis://{host}/0", f"redis://:wrong@{host}/0",
                             f"redis://:p%40ss%2Fword@{host}/9"]:
                sender = RedisSender(TargetSpec("t", "redis", endpoint, {"key": "a"}),
                                     timeout=TIMEOUT)
                err = await fails_within(lambda s=sender: s.send(BODY, key="k"), TIMEOUT)
                assert err.permanent, (endpoint, err)
                assert "p@ss" not in str(err) and "p%40ss" not in str(err)
                await sender.close()

        run(main())


# -- all three ------------------------------------------------------------------------------

def test_a_sender_used_on_a_new_event_loop_connects_again(tmp_path: Path) -> None:
    """A sender moved to another event loop opens a new connection there (a client left on
    a loop that no longer runs may report success without sending anything) and has the old
    one closed on its own loop."""
    amqp_url, redis_url = broker_url("amqp"), broker_url("redis")
    queue_name, key, target = unique("q"), unique("objectstore:events"), unique("t")

    async def declare() -> None:
        conn = await aio_pika.connect(amqp_url)
        await (await conn.channel()).declare_queue(queue_name, auto_delete=False)
        await conn.close()

    async def our_redis_clients() -> int:
        r = redis.asyncio.Redis.from_url(redis_url)
        clients = await r.client_list()
        await r.aclose()
        return sum(c["name"] == f"objectstore-events-{target}" for c in clients)

    async def received() -> tuple[list[bytes], list[bytes]]:
        conn = await aio_pika.connect(amqp_url)
        queue = await (await conn.channel()).declare_queue(queue_name, auto_delete=False)
        got = []
        while (msg := await queue.get(timeout=5, fail=False)) is not None:
            got.append(msg.body)
            await msg.ack()
        await queue.delete(if_unused=False, if_empty=False)
        await conn.close()
        r = redis.asyncio.Redis.from_url(redis_url)
        listed = list(await r.lrange(key, 0, -1))
        await r.delete(key)
        await r.aclose()
        return got, listed

    def nats_connections(monitor: int) -> int:
        return int(httpx.get(f"http://127.0.0.1:{monitor}/connz").json()["num_connections"])

    def scenario(server: Any, monitor: int) -> None:
        amqp = AmqpSender(TargetSpec(target, "amqp", amqp_url, {"routing_key": queue_name}),
                          timeout=TIMEOUT)
        red = RedisSender(TargetSpec(target, "redis", redis_url, {"key": key}),
                          timeout=TIMEOUT)
        nat = NatsSender(TargetSpec(target, "nats", server.url, {"subject": "s"}),
                         timeout=TIMEOUT)
        loop_a, loop_b = asyncio.new_event_loop(), asyncio.new_event_loop()
        try:
            loop_a.run_until_complete(declare())

            async def send_all(body: bytes) -> None:
                await amqp.send(body, key="k")
                await red.send(body, key="k")
                await nat.send(body, key="k")

            loop_a.run_until_complete(send_all(b"loop a"))
            loop_b.run_until_complete(send_all(b"loop b"))
            assert nats_connections(monitor) == 2
            assert loop_b.run_until_complete(our_redis_clients()) == 2
            loop_a.run_until_complete(asyncio.sleep(0.3))  # loop A closes its connections
            assert nats_connections(monitor) == 1
            assert loop_b.run_until_complete(our_redis_clients()) == 1
            # Back on loop A with the server gone: the connection left on loop B (which is not
            # running now) must not be used.
            server.stop()
            with pytest.raises(DeliveryError):
                loop_a.run_until_complete(nat.send(b"x", key="k"))
            server.start()
            loop_a.run_until_complete(nat.send(b"back", key="k"))
            for sender in (amqp, red, nat):
                loop_a.run_until_complete(sender.close())
            assert loop_a.run_until_complete(received()) == ([b"loop a", b"loop b"],
                                                             [b"loop a", b"loop b"])
        finally:
            for loop in (loop_a, loop_b):
                loop.run_until_complete(asyncio.sleep(0.05))
                loop.close()

    monitor = free_port()
    with private_broker("nats", tmp_path, f"http_port: {monitor}\n") as server, \
            ThreadPoolExecutor(1) as pool:
        pool.submit(scenario, server, monitor).result()


def test_concurrent_sends(tmp_path: Path) -> None:
    """The deliverer sends up to 16 keys' events at once through one sender: all arrive; with
    the broker hung, every one of them fails within the timeout (not one timeout after the
    other)."""
    amqp_url = broker_url("amqp")
    amqp_port = int(amqp_url.rsplit(":", 1)[1].split("/")[0])
    n = 16

    async def together(send: Callable[[bytes], Awaitable[None]]) -> None:
        await asyncio.gather(*(send(f"event {i}".encode()) for i in range(n)))

    async def all_fail(send: Callable[[bytes], Awaitable[None]]) -> None:
        started = time.monotonic()
        results = await asyncio.wait_for(asyncio.gather(
            *(send(b"x") for _ in range(n)), return_exceptions=True), TIMEOUT * n)
        assert all(isinstance(r, DeliveryError) for r in results), results
        assert time.monotonic() - started < TIMEOUT + 1.5

    expected = {f"event {i}".encode() for i in range(n)}

    async def amqp() -> None:
        conn = await aio_pika.connect(amqp_url)
        queue = await (await conn.channel()).declare_queue(unique("q"), exclusive=True)
        proxy = TcpProxy(amqp_port)
        await proxy.start()
        sender = AmqpSender(TargetSpec("t", "amqp", amqp_url.replace(
            f":{amqp_port}/", f":{proxy.port}/"), {"routing_key": queue.name}), timeout=TIMEOUT)
        try:
            await together(lambda b: sender.send(b, key="k"))
            got = {(await queue.get(timeout=5)).body for _ in range(n)}
            assert got == expected
            proxy.blackhole()
            await all_fail(lambda b: sender.send(b, key="k"))
            proxy.forward()
            await sender.send(b"back", key="k")
        finally:
            await sender.close()
            await proxy.close()
            await conn.close()

    run(amqp())

    with private_broker("nats", tmp_path) as server:
        async def nats_case() -> None:
            nc = await nats.connect(server.url)
            sub = await nc.subscribe("s")
            await nc.flush()
            sender = NatsSender(TargetSpec("t", "nats", server.url, {"subject": "s"}),
                                timeout=TIMEOUT)
            await together(lambda b: sender.send(b, key="k"))
            assert {(await sub.next_msg(timeout=5)).data for _ in range(n)} == expected
            await nc.close()
            server.freeze()
            try:
                await all_fail(lambda b: sender.send(b, key="k"))
            finally:
                server.thaw()
            await sender.send(b"back", key="k")
            await sender.close()

        run(nats_case())

    with private_broker("redis", tmp_path) as server:
        async def redis_case() -> None:
            sender = RedisSender(TargetSpec("t", "redis", server.url, {"key": "k"}),
                                 timeout=TIMEOUT)
            await together(lambda b: sender.send(b, key="k"))
            r = redis.asyncio.Redis.from_url(server.url)
            assert set(await r.lrange("k", 0, -1)) == expected
            await r.aclose()
            server.freeze()
            try:
                await all_fail(lambda b: sender.send(b, key="k"))
            finally:
                server.thaw()
            await sender.send(b"back", key="k")
            await sender.close()

        run(redis_case())

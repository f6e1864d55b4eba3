"""The webhook sender over a real socket against receivers that answer in each HTTP/1.1
framing (length, chunked, to the end of the connection, after a 1xx), and against ones that
answer garbage or nothing: a 2xx acknowledges, anything else is a DeliveryError."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from objectstore.services.events.deliverer import PARALLEL, EventDeliverer
from objectstore.services.events.outbox import Outgoing
from objectstore.services.events.senders import webhook
from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.webhook import WebhookSender
from tests.support.aio import in_own_loop
from tests.support.tls import make_cert

ANSWERS = {
    "length": b"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok",
    "no-content": b"HTTP/1.1 204 No Content\r\n\r\n",
    "chunked-body": b"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nok\r\n0\r\n\r\n",
    "to-close": b"HTTP/1.0 200 OK\r\n\r\nuntil the end",
    "informational": b"HTTP/1.1 100 Continue\r\n\r\nHTTP/1.1 202 Accepted\r\n"
                     b"Content-Length: 0\r\n\r\n",
    "refused": b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n",
    "busy": b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n",
    "garbage": b"SMTP ready\r\n\r\n",
}


async def _send_all(sender: WebhookSender, sends: int) -> list[object]:
    """Send ``sends`` numbered events for one key: "ok" or the DeliveryError, for each."""
    results: list[object] = []
    for i in range(sends):
        try:
            await sender.send(b'{"n":%d}' % i, key="k")
            results.append("ok")
        except DeliveryError as exc:
            results.append(exc)
    return results


async def _request_head(reader: asyncio.StreamReader) -> tuple[bytes, int]:
    """A request's head as the webhook receives it, and its Content-Length."""
    head = await reader.readuntil(b"\r\n\r\n")
    length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                      if line.lower().startswith(b"content-length")))
    return head, length


async def _exchange(answer: bytes, sends: int = 2) -> tuple[list[object], list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head, length = await _request_head(reader)
                seen.append(head + await reader.readexactly(length))
                writer.write(answer)
                await writer.drain()
                if answer.startswith(b"HTTP/1.0"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(TargetSpec("t", "webhook", f"http://127.0.0.1:{port}/hook?x=1",
                                      secret="s3cret"))
    results = await _send_all(sender, sends)
    await sender.close()
    server.close()
    return results, seen


@pytest.mark.parametrize("kind", ["length", "no-content", "chunked-body", "to-close",
                                  "informational"])
def test_a_2xx_in_any_framing_acknowledges(kind: str) -> None:
    results, seen = in_own_loop(_exchange(ANSWERS[kind]))
    assert results == ["ok", "ok"], results
    assert seen[0].startswith(b"POST /hook?x=1 HTTP/1.1\r\n")
    assert b"authorization: Bearer s3cret" in seen[0].lower().replace(b"bearer", b"Bearer")
    assert seen[0].endswith(b'{"n":0}') and seen[1].endswith(b'{"n":1}')


@pytest.mark.parametrize(("kind", "permanent"), [("refused", True), ("busy", False)])
def test_other_statuses_are_delivery_errors(kind: str, permanent: bool) -> None:
    results, _ = in_own_loop(_exchange(ANSWERS[kind], sends=1))
    assert isinstance(results[0], DeliveryError) and results[0].permanent is permanent


def test_a_non_http_answer_is_a_delivery_error() -> None:
    results, _ = in_own_loop(_exchange(ANSWERS["garbage"], sends=1))
    assert isinstance(results[0], DeliveryError), results


async def _silent(sends: int) -> tuple[list[object], float, int]:
    """A receiver that reads the requests and never answers: each send times out."""
    conns: list[asyncio.StreamWriter] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conns.append(writer)
        with contextlib.suppress(ConnectionError):
            while await reader.read(65536):
                pass

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(TargetSpec("t", "webhook", f"http://127.0.0.1:{port}/"))
    t0 = time.monotonic()
    results = await _send_all(sender, sends)
    took = time.monotonic() - t0
    await sender.close()
    for w in conns:
        w.close()
    server.close()
    return results, took, len(conns)


def test_a_webhook_that_never_answers_times_out(monkeypatch: pytest.MonkeyPatch) -> None:
    """No send waits past its timeout (a connection that timed out is not used again)."""
    monkeypatch.setattr(webhook, "TIMEOUT_S", 0.3)
    results, took, conns = in_own_loop(_silent(2))
    assert all(isinstance(r, DeliveryError) and "TimeoutError" in str(r) for r in results), \
        results
    assert 0.6 <= took < 3.0, took
    assert conns == 2


# -- runs of messages (send_many: the deliverer's lanes) ------------------------------------

OK = b"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"


async def _run(answer: Callable[[int, int], bytes | None], bodies: int
               ) -> tuple[tuple[int, DeliveryError | None], list[bytes], int, bool]:
    """``send_many`` of ``bodies`` numbered messages to a receiver that answers the n-th
    request it reads (0-based, over all connections; ``i`` its index on its connection)
    with ``answer(n, i)`` (None: close without answering). Returns the result, the bodies
    the receiver read in order, how many connections it saw, and whether a request ever
    arrived before the answer to the one before had gone (pipelining)."""
    seen: list[bytes] = []
    conns = 0
    pipelined = False

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        nonlocal conns, pipelined
        conns += 1
        try:
            for i in itertools.count():
                head, length = await _request_head(reader)
                body = await reader.readexactly(length)
                await asyncio.sleep(0.001)  # (time for a pipelined request to arrive)
                pipelined = pipelined or bool(reader._buffer)  # type: ignore[attr-defined]
                reply = answer(len(seen), i)
                seen.append(body)
                if reply is None:
                    break
                writer.write(reply)
                await writer.drain()
                if b"close" in reply.lower() or reply.startswith(b"HTTP/1.0"):
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    server = await asyncio.start_server(handle, "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    sender = WebhookSender(TargetSpec("t", "webhook", f"http://127.0.0.1:{port}/"))
    result = await sender.send_many([b'{"n":%d}' % i for i in range(bodies)])
    await sender.close()
    server.close()
    return result, seen, conns, pipelined


def _numbers(seen: list[bytes]) -> list[int]:
    return [int(b[5:-1]) for b in seen]


def test_a_run_goes_in_order_over_one_kept_connection_without_pipelining() -> None:
    (sent, error), seen, conns, pipelined = in_own_loop(_run(lambda n, i: OK, 40))
    assert (sent, error) == (40, None)
    assert _numbers(seen) == list(range(40)) and conns == 1 and not pipelined


def test_a_run_stops_at_the_first_answer_that_is_not_a_2xx() -> None:
    busy = b"HTTP/1.1 503 Service Unavailable\r\nContent-Length: 0\r\n\r\n"
    (sent, error), seen, _, _ = in_own_loop(_run(lambda n, i: busy if n == 4 else OK, 10))
    assert sent == 4 and isinstance(error, DeliveryError) and not error.permanent
    assert _numbers(seen) == [0, 1, 2, 3, 4]  # nothing after the refused one


@pytest.mark.parametrize("kind", ["connection-close", "to-close"])
def test_a_run_carries_on_when_the_webhook_ends_its_connections(kind: str) -> None:
    """Answers that end the connection (``Connection: close`` every third, or HTTP/1.0
    bodies to the end of the connection): each acknowledged message counts once and the run
    goes on over new connections — none is sent twice, none left out."""
    ends = (b"HTTP/1.1 200 OK\r\nConnection: close\r\nContent-Length: 0\r\n\r\n"
            if kind == "connection-close" else ANSWERS["to-close"])
    (sent, error), seen, conns, _ = in_own_loop(
        _run(lambda n, i: ends if kind == "to-close" or i == 2 else OK, 12))
    assert (sent, error) == (12, None)
    assert _numbers(seen) == list(range(12))
    assert conns == (12 if kind == "to-close" else 4)


def test_a_connection_dropped_mid_run_is_replaced_once() -> None:
    """The webhook drops a kept-alive connection without answering (an idle timeout racing
    the next request): that message goes again on a new connection and the run completes;
    dropped again there, the run fails at it."""
    (sent, error), seen, conns, _ = in_own_loop(
        _run(lambda n, i: None if (n, i) == (3, 3) else OK, 8))
    assert (sent, error) == (8, None)
    assert _numbers(seen) == [0, 1, 2, 3, 3, 4, 5, 6, 7] and conns == 2
    (sent, error), seen, _, _ = in_own_loop(_run(lambda n, i: None if n >= 3 else OK, 8))
    assert sent == 3 and isinstance(error, DeliveryError) and "EOFError" in str(error)
    assert _numbers(seen) == [0, 1, 2, 3, 3]


def test_lanes_over_a_real_webhook_keep_each_keys_order_and_stop_at_a_failed_key() -> None:
    """The deliverer's lanes with the webhook's runs: every event of the keys that did not
    fail arrives once, each key's in sequencer order; the failing key's first event is
    the only one of its that was tried, and its lane's later messages wait."""
    async def scenario() -> tuple[list[Outgoing], list[tuple[str, int]]]:
        got: list[tuple[str, int]] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head, length = await _request_head(reader)
                    records = json.loads(await reader.readexactly(length))["Records"]
                    key, seq = records[0]["s3"]["object"]["key"], records[0]["seq"]
                    got.append((key, seq))
                    writer.write(ANSWERS["busy"] if key == "k3" else OK)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = WebhookSender(TargetSpec("t", "webhook", f"http://127.0.0.1:{port}/"))
        events = [Outgoing(1, n, f"k{n % 20}",
                           json.dumps({"s3": {"object": {"key": f"k{n % 20}"}}, "seq": n}))
                  for n in range(200)]
        deliverer = object.__new__(EventDeliverer)  # (_deliver uses none of its state)
        done, _failures, _error = await deliverer._deliver(sender, events, 1)
        await sender.close()
        server.close()
        return done, got

    done, got = in_own_loop(scenario())
    assert [(k, s) for k, s in got if k == "k3"] == [("k3", 3)]
    lane_of_k3 = hash("k3") % PARALLEL  # (str hashes differ by process: worked out here)
    expected = [n for n in range(200) if hash(f"k{n % 20}") % PARALLEL != lane_of_k3 or n < 3]
    assert sorted(e.place for e in done) == expected
    assert sorted(s for k, s in got if k != "k3") == expected  # each once
    for key in {k for k, _ in got}:
        seqs = [s for k, s in got if k == key]
        assert seqs == sorted(seqs)


def test_a_run_over_https_goes_through_tls(tmp_path: Path) -> None:
    """Over https every request goes through the TLS transport (the socket-level write that
    plain TCP gets would send them in clear text, which a TLS receiver cannot read)."""
    cert, key = make_cert(tmp_path)

    async def scenario() -> tuple[tuple[int, DeliveryError | None], list[bytes], bool]:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head, length = await _request_head(reader)
                    seen.append(await reader.readexactly(length))
                    writer.write(OK)
                    await writer.drain()
            except (asyncio.IncompleteReadError, ConnectionError, ssl.SSLError):
                pass
            writer.close()

        server_tls = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        server_tls.load_cert_chain(cert, key)
        server = await asyncio.start_server(handle, "127.0.0.1", 0, ssl=server_tls)
        port = server.sockets[0].getsockname()[1]
        sender = WebhookSender(TargetSpec("t", "webhook", f"https://127.0.0.1:{port}/"))
        sender.tls = ssl.create_default_context(cafile=str(cert))
        result = await sender.send_many([b'{"n":%d}' % i for i in range(5)])
        raw = any(c.fd >= 0 for c in sender._idle)
        await sender.close()
        server.close()
        return result, seen, raw

    (sent, error), seen, raw = in_own_loop(scenario())
    assert (sent, error) == (5, None), error
    assert _numbers(seen) == list(range(5)) and not raw


def test_a_webhook_that_answers_before_reading_the_body_gets_each_request_whole() -> None:
    """A receiver that acknowledges each request as soon as it has its head, then reads the
    (large) body slowly: the next request is written only after what is left of this one, so
    every body arrives whole and in order (the socket-level write must not overtake what the
    transport still holds)."""
    size = 1 << 24

    async def scenario() -> tuple[tuple[int, DeliveryError | None], list[bytes]]:
        seen: list[bytes] = []

        async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            try:
                while True:
                    head, length = await _request_head(reader)
                    assert head.startswith(b"POST / HTTP/1.1\r\n"), head[:40]
                    body = b""
                    while len(body) < length // 2:  # (room in the socket for more)
                        body += await reader.read(min(1 << 20, length // 2 - len(body)))
                    writer.write(OK)  # before the rest of the body
                    while len(body) < length:
                        body += await reader.read(min(1 << 20, length - len(body)))
                        await asyncio.sleep(0.001)
                    seen.append(body)
            except (asyncio.IncompleteReadError, ConnectionError):
                pass
            writer.close()

        server = await asyncio.start_server(handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        sender = WebhookSender(TargetSpec("t", "webhook", f"http://127.0.0.1:{port}/"))
        bodies = [bytes([65 + i]) * size for i in range(4)]
        result = await sender.send_many(bodies)
        for _ in range(400):  # the last body may still be on its way
            if len(seen) == 4:
                break
            await asyncio.sleep(0.01)
        await sender.close()
        server.close()
        return result, seen

    (sent, error), seen = in_own_loop(scenario())
    assert (sent, error) == (4, None), error
    assert [(len(b), set(b)) for b in seen] == [(size, {65 + i}) for i in range(4)]

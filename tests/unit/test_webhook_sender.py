"""The webhook sender over a real socket against receivers that answer in each HTTP/1.1
framing (length, chunked, to the end of the connection, after a 1xx), and against ones that
answer garbage or nothing: a 2xx acknowledges, anything else is a DeliveryError."""

from __future__ import annotations

import asyncio
import contextlib
import time

import pytest

from objectstore.services.events.senders import webhook
from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.webhook import WebhookSender
from tests.support.aio import in_own_loop

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


async def _exchange(answer: bytes, sends: int = 2) -> tuple[list[object], list[bytes]]:
    seen: list[bytes] = []

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                length = int(next(line.split(b":")[1] for line in head.split(b"\r\n")
                                  if line.lower().startswith(b"content-length")))
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

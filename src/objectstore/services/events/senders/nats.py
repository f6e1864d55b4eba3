"""NATS target: each event is published to the target's ``subject``.

- When the server runs JetStream and a stream captures the subject, the event is published
  through JetStream (expecting that stream) and ``send`` returns on its PubAck: the message
  is stored.
- Otherwise it is a core NATS publish followed by a flush (PING/PONG): ``send`` returns once
  the server has it. Core NATS keeps nothing: a subscriber not connected then misses it — bind
  the subject to a stream when that matters.

Which of the two is found when connecting and again every minute (a stream made later is
used from then on; one deleted makes the next publish fail and the lookup run again).

Failures (all ``DeliveryError``): not reachable, connection lost, no flush or PubAck within the
timeout, the stream refused the message (full, with discard-new): retried. Authorization
refused (bad credentials), a permissions violation on the subject, a message larger than the
server's max_payload: ``permanent``. (A core publish's permissions violation comes back
asynchronously: it is caught when it arrives within two PING/PONG round trips, which it did in
every try here; JetStream publishes are acknowledged and have no such gap.)

One connection, opened at the first ``send`` without the client's own reconnect loop and shared
by concurrent sends; any failure drops it and the next ``send`` connects again."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
from collections import deque
from urllib.parse import urlsplit, urlunsplit

import nats
import nats.errors
import nats.js.errors
from nats.aio.client import Client

from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.endpoints import (
    credentials,
    scrub,
    split_netloc,
    without_credentials,
)
from objectstore.services.events.senders.loops import LoopBound
from objectstore.services.events.senders.validation import validate_nats

DEFAULT_TIMEOUT = 10.0
STREAM_RECHECK_SECONDS = 60.0

_PERMANENT: tuple[type[BaseException], ...] = (
    nats.errors.AuthorizationError,
    nats.errors.MaxPayloadError,
)


class NatsSender(LoopBound["_Open"]):
    def __init__(self, spec: TargetSpec, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        validate_nats(spec)
        parts = urlsplit(spec.endpoint)
        _, _, hostport = split_netloc(parts.netloc)
        self._server = urlunsplit(parts._replace(netloc=hostport))
        creds = credentials(spec.endpoint, spec.secret)
        # nats://user:pass@host, or nats://token@host (a token alone in the user name place).
        self._user = creds.user if creds.user and creds.password is not None else None
        self._password = creds.password if self._user else None
        self._token = None if self._user else (creds.password or creds.user)
        self._where = without_credentials(spec.endpoint)
        self._subject: str = spec.options["subject"]
        super().__init__(timeout)
        self._name = f"objectstore events {spec.id}"

    async def send(self, body: bytes, *, key: str) -> None:
        self._bind_loop()
        opened: _Open | None = None
        try:
            # The bound covers waiting for another send's connect too.
            async with asyncio.timeout(self._timeout):
                opened = await self._connected()
                if opened.stream is not None:
                    await self._publish_jetstream(opened, body)
                else:
                    await self._publish_core(opened, body)
        except TimeoutError:
            await self._drop(opened)
            raise DeliveryError(f"NATS {self._where}: no acknowledgement within "
                                f"{self._timeout:g}s") from None
        except DeliveryError:
            raise
        except Exception as exc:
            error = self._error(exc, opened)
            await self._drop(opened)
            raise error from exc

    async def _close_open(self, opened: _Open | None) -> None:
        await _close_quietly(opened, self._timeout)

    async def _publish_core(self, opened: _Open, body: bytes) -> None:
        mark = opened.error_count
        await opened.nc.publish(self._subject, body)
        # The server answers a publish it does not permit with an -ERR that the client hands
        # to the error callback, not to publish; nats-server 2.9 sends it now and then after
        # the PONG of the flush that follows (8 in 60 tries here), never seen after a second
        # round trip (0 in 300): two flushes, then look.
        await opened.nc.flush(timeout=math.ceil(self._timeout))
        await opened.nc.flush(timeout=math.ceil(self._timeout))
        denied = [e for n, e in opened.errors
                  if n > mark and "permissions violation" in str(e).lower()]
        if denied:
            raise DeliveryError(f"NATS {self._where}: {denied[0]}", permanent=True)

    async def _publish_jetstream(self, opened: _Open, body: bytes) -> None:
        js = opened.nc.jetstream(timeout=self._timeout)
        try:
            await js.publish(self._subject, body, timeout=self._timeout, stream=opened.stream)
        except (nats.errors.NoRespondersError, nats.js.errors.Error) as exc:
            # The stream is gone or no longer the one (or it refused the message): look
            # again before the next attempt.
            opened.stream_checked = 0.0
            raise DeliveryError(f"NATS {self._where}: JetStream stream {opened.stream!r}: "
                                f"{self._describe(exc)}") from exc

    async def _connected(self) -> _Open:
        """The open connection, shared by concurrent sends; the first to find none opens
        it (and looks up the stream) while the others wait."""
        async with self._lock:
            opened = self._open
            if opened is None or not opened.nc.is_connected:
                self._open = None
                await _close_quietly(opened, self._timeout)
                opened = _Open()
                try:
                    opened.nc = await nats.connect(
                        servers=[self._server],
                        name=self._name,
                        user=self._user,
                        password=self._password,
                        token=self._token,
                        connect_timeout=max(1, math.ceil(self._timeout)),
                        allow_reconnect=False,
                        # The initial connect walks the server list until every server has
                        # failed more than max_reconnect_attempts times (0 would mean
                        # forever): one retry, at once, then NoServersError.
                        max_reconnect_attempts=1,
                        reconnect_time_wait=0,
                        error_cb=opened.on_error,
                        disconnected_cb=_ignore,
                        closed_cb=_ignore,
                    )
                except Exception as exc:
                    raise self._error(exc, opened) from exc
                self._open = opened
            if time.monotonic() - opened.stream_checked >= STREAM_RECHECK_SECONDS:
                try:
                    opened.stream = await self._find_stream(opened.nc)
                except BaseException:  # a server that does not answer: connect again
                    self._open = None
                    await _close_quietly(opened, self._timeout)
                    raise
                opened.stream_checked = time.monotonic()
            return opened

    async def _find_stream(self, nc: Client) -> str | None:
        """The JetStream stream that captures the subject, or None (no JetStream on the
        server or for the account, or no stream for the subject)."""
        try:
            return await nc.jsm(timeout=self._timeout).find_stream_name_by_subject(
                self._subject)
        except (nats.js.errors.NotFoundError, nats.js.errors.ServiceUnavailableError,
                nats.errors.NoRespondersError):
            return None
        except nats.js.errors.APIError as exc:
            # e.g. 503 "JetStream not enabled for account"
            if exc.code == 503 or exc.err_code == 10039:
                return None
            raise

    async def _drop(self, opened: _Open | None) -> None:
        """Forget ``opened`` if it is still the current connection, and close it: the next
        send connects again."""
        if opened is None:
            return
        if self._open is opened:
            self._open = None
        await _close_quietly(opened, self._timeout)

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return scrub(f"{type(exc).__name__}: {text}", self._password, self._token)

    def _error(self, exc: BaseException, opened: _Open | None) -> DeliveryError:
        if isinstance(exc, DeliveryError):
            return exc
        errors = [e for _, e in opened.errors] if opened is not None else []
        # A refused login comes as AuthorizationError once connected, as a plain Error
        # quoting the server's -ERR while connecting.
        if isinstance(exc, _PERMANENT) or "authorization violation" in str(exc).lower() or any(
                isinstance(e, nats.errors.AuthorizationError) for e in errors):
            return DeliveryError(f"NATS {self._where}: {self._describe(exc)}", permanent=True)
        if isinstance(exc, nats.errors.NoServersError):
            last = errors[-1] if errors else exc
            return DeliveryError(f"NATS {self._where}: not reachable ({self._describe(last)})")
        return DeliveryError(f"NATS {self._where}: {self._describe(exc)}")


async def _ignore() -> None:
    return None


class _Open:
    """One connection and what was learnt on it: the errors the server sent (the last 100,
    numbered) and the stream that captures the subject."""

    nc: Client

    def __init__(self) -> None:
        self.errors: deque[tuple[int, Exception]] = deque(maxlen=100)
        self.error_count = 0
        self.stream: str | None = None
        self.stream_checked = 0.0

    async def on_error(self, exc: Exception) -> None:
        self.error_count += 1
        self.errors.append((self.error_count, exc))


async def _close_quietly(opened: _Open | None, timeout: float) -> None:
    """Close, bounded and ignoring failures: a server that stopped answering must not hold
    up the caller."""
    if opened is None or not hasattr(opened, "nc") or opened.nc.is_closed:
        return
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(min(1.0, timeout)):
            await opened.nc.close()

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
server's max_payload: ``permanent``. The connection is opened at the first ``send`` without the
client's own reconnect loop; any failure drops it and the next ``send`` connects again."""

from __future__ import annotations

import asyncio
import contextlib
import math
import time
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
from objectstore.services.events.senders.validation import validate_nats

DEFAULT_TIMEOUT = 10.0
STREAM_RECHECK_SECONDS = 60.0

_PERMANENT: tuple[type[BaseException], ...] = (
    nats.errors.AuthorizationError,
    nats.errors.MaxPayloadError,
)


class NatsSender:
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
        self._timeout = timeout
        self._name = f"objectstore events {spec.id}"
        self._nc: Client | None = None
        self._stream: str | None = None
        self._stream_checked = 0.0
        self._errors: list[Exception] = []
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, body: bytes, *, key: str) -> None:
        self._bind_loop()
        async with self._lock:
            try:
                async with asyncio.timeout(self._timeout):
                    nc = await self._connected()
                    if self._stream is not None:
                        await self._publish_jetstream(nc, body)
                    else:
                        await self._publish_core(nc, body)
            except TimeoutError:
                await self._drop()
                raise DeliveryError(f"NATS {self._where}: no acknowledgement within "
                                    f"{self._timeout:g}s") from None
            except DeliveryError:
                raise
            except Exception as exc:
                await self._drop()
                raise self._error(exc) from exc

    def _bind_loop(self) -> None:
        """A connection belongs to the event loop it was opened on: on another loop (a
        deliverer restarted on a new loop) it is forgotten, not used — a client on a dead
        loop may report success without sending anything — and a new one is opened."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            self._loop = loop
            self._lock = asyncio.Lock()
            self._nc = None
            self._stream = None

    async def close(self) -> None:
        self._bind_loop()
        async with self._lock:
            await self._drop()

    async def _publish_core(self, nc: Client, body: bytes) -> None:
        self._errors.clear()
        await nc.publish(self._subject, body)
        await nc.flush(timeout=math.ceil(self._timeout))
        # The server answers a permissions violation with -ERR before the PONG of the flush,
        # and the client hands it to the error callback, not to publish.
        denied = [e for e in self._errors if "permissions violation" in str(e).lower()]
        if denied:
            raise DeliveryError(f"NATS {self._where}: {denied[0]}", permanent=True)

    async def _publish_jetstream(self, nc: Client, body: bytes) -> None:
        js = nc.jetstream(timeout=self._timeout)
        try:
            await js.publish(self._subject, body, timeout=self._timeout, stream=self._stream)
        except (nats.errors.NoRespondersError, nats.js.errors.Error) as exc:
            # The stream is gone or no longer the one (or it refused the message): look
            # again before the next attempt.
            self._stream_checked = 0.0
            raise DeliveryError(f"NATS {self._where}: JetStream stream {self._stream!r}: "
                                f"{self._describe(exc)}") from exc

    async def _connected(self) -> Client:
        nc = self._nc
        if nc is None or not nc.is_connected:
            await self._drop()
            self._errors.clear()
            self._nc = nc = await nats.connect(
                servers=[self._server],
                name=self._name,
                user=self._user,
                password=self._password,
                token=self._token,
                connect_timeout=max(1, math.ceil(self._timeout)),
                allow_reconnect=False,
                # The initial connect walks the server list until every server has failed
                # more than max_reconnect_attempts times (0 would mean forever): one retry,
                # at once, then NoServersError.
                max_reconnect_attempts=1,
                reconnect_time_wait=0,
                error_cb=self._on_error,
                disconnected_cb=_ignore,
                closed_cb=_ignore,
            )
            self._stream_checked = 0.0
        if time.monotonic() - self._stream_checked >= STREAM_RECHECK_SECONDS:
            self._stream = await self._find_stream(nc)
            self._stream_checked = time.monotonic()
        return nc

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

    async def _on_error(self, exc: Exception) -> None:
        self._errors.append(exc)

    async def _drop(self) -> None:
        nc, self._nc = self._nc, None
        self._stream = None
        if nc is None or nc.is_closed:
            return
        with contextlib.suppress(Exception, TimeoutError):
            async with asyncio.timeout(min(1.0, self._timeout)):
                await nc.close()

    def _describe(self, exc: BaseException) -> str:
        text = str(exc) or type(exc).__name__
        return scrub(f"{type(exc).__name__}: {text}", self._password, self._token)

    def _error(self, exc: BaseException) -> DeliveryError:
        # A refused login comes as AuthorizationError once connected, as a plain Error
        # quoting the server's -ERR while connecting.
        if isinstance(exc, _PERMANENT) or "authorization violation" in str(exc).lower() or any(
                isinstance(e, nats.errors.AuthorizationError) for e in self._errors):
            return DeliveryError(f"NATS {self._where}: {self._describe(exc)}", permanent=True)
        if isinstance(exc, nats.errors.NoServersError):
            last = self._errors[-1] if self._errors else exc
            return DeliveryError(f"NATS {self._where}: not reachable ({self._describe(last)})")
        return DeliveryError(f"NATS {self._where}: {self._describe(exc)}")


async def _ignore() -> None:
    return None

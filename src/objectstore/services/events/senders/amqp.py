"""AMQP 0-9-1 target (RabbitMQ): each event is published to the target's ``exchange`` with its
``routing_key`` (no exchange: the default one, straight to the queue the routing key names),
persistent (delivery mode 2), ``content_type`` application/json, with the
``mandatory`` flag, on a channel in publisher-confirm mode; ``send`` returns once the broker
has confirmed it (for a durable queue: written to disk).

Failures (all ``DeliveryError``):
- not reachable, connection lost, no confirm within the timeout, the broker nacked: retried;
- unroutable (no queue bound for the routing key: the broker returns the message): retried,
  so events wait in the outbox until a consumer binds its queue instead of being dropped;
- login refused, no access to the virtual host or the exchange, the exchange does not exist:
  ``permanent`` — configuration a retry cannot fix (the deliverer still keeps the event).

The exchange is not declared here (its type and durability are the consumer's choice): it
must exist. The connection is opened at the first ``send``, checked with a passive declare of
the exchange, kept open, and dropped on any failure; the next ``send`` reconnects."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import aio_pika
import aiormq.exceptions
from aio_pika.abc import AbstractChannel, AbstractConnection, AbstractExchange

from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.endpoints import (
    credentials,
    scrub,
    with_password,
    without_credentials,
)
from objectstore.services.events.senders.validation import validate_amqp

log = logging.getLogger(__name__)

DEFAULT_TIMEOUT = 10.0

# Connection and channel closes that mean "this configuration cannot work" (AMQP reply codes
# 403 ACCESS_REFUSED, 404 NOT_FOUND, 530 NOT_ALLOWED and the login failures).
_PERMANENT: tuple[type[BaseException], ...] = (
    aiormq.exceptions.AuthenticationError,
    aiormq.exceptions.ProbableAuthenticationError,
    aiormq.exceptions.ConnectionNotAllowed,
    aiormq.exceptions.ChannelAccessRefused,
    aiormq.exceptions.ChannelNotFoundEntity,
)


class AmqpSender:
    def __init__(self, spec: TargetSpec, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        validate_amqp(spec)
        self._url = with_password(spec.endpoint, spec.secret)
        self._password = credentials(spec.endpoint, spec.secret).password
        self._where = without_credentials(spec.endpoint)
        self._exchange_name: str = spec.options.get("exchange") or ""
        self._routing_key: str = spec.options.get("routing_key") or ""
        self._timeout = timeout
        self._name = f"objectstore events {spec.id}"
        self._connection: AbstractConnection | None = None
        self._channel: AbstractChannel | None = None
        self._exchange: AbstractExchange | None = None
        self._lock = asyncio.Lock()
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, body: bytes, *, key: str) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id="objectstore",
        )
        self._bind_loop()
        async with self._lock:
            try:
                async with asyncio.timeout(self._timeout):
                    exchange = await self._connected()
                    await exchange.publish(message, routing_key=self._routing_key,
                                           mandatory=True)
            except TimeoutError:
                await self._drop()
                raise DeliveryError(f"AMQP {self._where}: no publisher confirm within "
                                    f"{self._timeout:g}s") from None
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
            self._connection = None
            self._channel = None
            self._exchange = None

    async def close(self) -> None:
        self._bind_loop()
        async with self._lock:
            await self._drop()

    async def _connected(self) -> AbstractExchange:
        if (self._exchange is not None and self._channel is not None
                and not self._channel.is_closed and self._connection is not None
                and not self._connection.is_closed):
            return self._exchange
        await self._drop()
        self._connection = await aio_pika.connect(
            self._url, timeout=self._timeout,
            client_properties={"connection_name": self._name})
        self._channel = await self._connection.channel(publisher_confirms=True,
                                                       on_return_raises=True)
        if self._exchange_name:
            # Passive: fails with NOT_FOUND (permanent) rather than creating an exchange of a
            # type the consumer did not choose.
            self._exchange = await self._channel.get_exchange(self._exchange_name, ensure=True)
        else:
            self._exchange = self._channel.default_exchange
        return self._exchange

    async def _drop(self) -> None:
        connection, self._connection = self._connection, None
        self._channel = self._exchange = None
        if connection is None:
            return
        # A broker that stopped answering must not hold up the caller: the close is bounded
        # and its failure ignored (the socket is closed either way).
        with contextlib.suppress(Exception, TimeoutError):
            async with asyncio.timeout(min(1.0, self._timeout)):
                await connection.close()

    def _error(self, exc: BaseException) -> DeliveryError:
        cause = scrub(f"{type(exc).__name__}: {exc}", self._password)
        if isinstance(exc, aio_pika.exceptions.PublishError):
            if not self._exchange_name:
                return DeliveryError(f"AMQP {self._where}: unroutable: no queue named "
                                     f"{self._routing_key!r}")
            return DeliveryError(f"AMQP {self._where}: unroutable: no queue is bound to "
                                 f"exchange {self._exchange_name!r} for routing key "
                                 f"{self._routing_key!r}")
        if (isinstance(exc, aiormq.exceptions.InvalidFrameError)
                and "Connection.Close" in str(exc)):
            # aiormq keeps no reply code here; RabbitMQ does this for an unknown virtual
            # host (530) but also while shutting down (320), so it stays retryable.
            return DeliveryError(f"AMQP {self._where}: the broker closed the connection while "
                                 "opening it (does the virtual host exist, may the user "
                                 "use it?)")
        if isinstance(exc, _PERMANENT):
            return DeliveryError(f"AMQP {self._where}: {cause}", permanent=True)
        return DeliveryError(f"AMQP {self._where}: {cause}")

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
must exist. One connection and channel, opened at the first ``send`` (the exchange checked with
a passive declare), shared by concurrent sends (the deliverer sends different keys at once),
dropped on a failure that may have broken it; the next ``send`` reconnects. Each ``send`` is
bounded by the timeout, waiting for another's connect included."""

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
from objectstore.services.events.senders.loops import LoopBound
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


class AmqpSender(LoopBound["_Open"]):
    def __init__(self, spec: TargetSpec, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        validate_amqp(spec)
        self._url = with_password(spec.endpoint, spec.secret)
        self._password = credentials(spec.endpoint, spec.secret).password
        self._where = without_credentials(spec.endpoint)
        self._exchange_name: str = spec.options.get("exchange") or ""
        self._routing_key: str = spec.options.get("routing_key") or ""
        super().__init__(timeout)
        self._name = f"objectstore events {spec.id}"

    async def send(self, body: bytes, *, key: str) -> None:
        message = aio_pika.Message(
            body,
            content_type="application/json",
            delivery_mode=aio_pika.DeliveryMode.PERSISTENT,
            app_id="objectstore",
        )
        self._bind_loop()
        opened: _Open | None = None
        try:
            # The bound covers waiting for another send's connect too.
            async with asyncio.timeout(self._timeout):
                opened = await self._connected()
                await opened.exchange.publish(message, routing_key=self._routing_key,
                                              mandatory=True)
        except TimeoutError:
            await self._drop(opened)
            raise DeliveryError(f"AMQP {self._where}: no publisher confirm within "
                                f"{self._timeout:g}s") from None
        except Exception as exc:
            # Returned (unroutable) and nacked messages leave the channel usable.
            if not isinstance(exc, aio_pika.exceptions.PublishError
                              | aio_pika.exceptions.DeliveryError):
                await self._drop(opened)
            raise self._error(exc) from exc

    async def _close_open(self, opened: _Open | None) -> None:
        await _close_quietly(opened, self._timeout)

    async def _connected(self) -> _Open:
        """The open connection, shared by concurrent sends; the first to find none opens
        it while the others wait."""
        async with self._lock:
            opened = self._open
            if opened is not None and opened.usable():
                return opened
            self._open = None
            await _close_quietly(opened, self._timeout)
            connection = await aio_pika.connect(
                self._url, timeout=self._timeout,
                client_properties={"connection_name": self._name})
            try:
                channel = await connection.channel(publisher_confirms=True,
                                                   on_return_raises=True)
                if self._exchange_name:
                    # Passive: fails with NOT_FOUND (permanent) rather than creating an
                    # exchange of a type the consumer did not choose.
                    exchange = await channel.get_exchange(self._exchange_name, ensure=True)
                else:
                    exchange = channel.default_exchange
            except BaseException:
                await _close_quietly(_Open(connection, None, None), self._timeout)
                raise
            self._open = _Open(connection, channel, exchange)
            return self._open

    async def _drop(self, opened: _Open | None) -> None:
        """Forget ``opened`` if it is still the current connection, and close it: the next
        send connects again."""
        if opened is None:
            return
        if self._open is opened:
            self._open = None
        await _close_quietly(opened, self._timeout)

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


class _Open:
    def __init__(self, connection: AbstractConnection, channel: AbstractChannel | None,
                 exchange: AbstractExchange | None) -> None:
        self.connection = connection
        self.channel = channel
        self._exchange = exchange

    @property
    def exchange(self) -> AbstractExchange:
        assert self._exchange is not None
        return self._exchange

    def usable(self) -> bool:
        return (not self.connection.is_closed and self.channel is not None
                and not self.channel.is_closed)


async def _close_quietly(opened: _Open | None, timeout: float) -> None:
    """Close, bounded and ignoring failures: a broker that stopped answering must not hold
    up the caller (the socket is closed either way)."""
    if opened is None:
        return
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(min(1.0, timeout)):
            await opened.connection.close()

"""Redis target: each event goes to the target's ``key``, by ``format``:

- ``list`` (the default): ``RPUSH key <event JSON>`` — consumers BLPOP/LPOP in order;
- ``stream``: ``XADD key * event <event JSON>`` — one entry with the JSON in the field
  ``event``, for consumer groups (XREADGROUP).

``send`` returns on Redis's reply (the command was applied; how durable that is depends on the
server's appendonly/fsync settings). Failures (all ``DeliveryError``): not reachable,
connection lost, no reply within the timeout, out of memory, read-only replica, still loading:
retried. Authentication refused (NOAUTH, WRONGPASS), no ACL permission (NOPERM), the key
holding another type (WRONGTYPE), a database number the server does not have: ``permanent``.
One connection, opened at the first ``send``, without the client's own retries (the deliverer
retries with backoff), shared by concurrent sends (their commands queue on it, each bounded by
the timeout); a failure other than an error reply drops it and the next ``send`` connects
again."""

from __future__ import annotations

import asyncio
import contextlib

import redis.asyncio
import redis.exceptions
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff

from objectstore.services.events.senders.base import DeliveryError, TargetSpec
from objectstore.services.events.senders.endpoints import (
    credentials,
    scrub,
    with_password,
    without_credentials,
)
from objectstore.services.events.senders.loops import close_on_own_loop
from objectstore.services.events.senders.validation import validate_redis

DEFAULT_TIMEOUT = 10.0
STREAM_FIELD = "event"

# Error replies a retry cannot fix, as redis-py words them (it drops a leading "ERR ").
_PERMANENT_REPLIES = ("WRONGTYPE", "NOPERM", "NOAUTH", "WRONGPASS", "DB index",
                      "invalid DB index", "unknown command")


class RedisSender:
    def __init__(self, spec: TargetSpec, *, timeout: float = DEFAULT_TIMEOUT) -> None:
        validate_redis(spec)
        self._url = with_password(spec.endpoint, spec.secret)
        self._password = credentials(spec.endpoint, spec.secret).password
        self._where = without_credentials(spec.endpoint)
        self._key: str = spec.options["key"]
        self._format: str = spec.options.get("format") or "list"
        self._timeout = timeout
        self._name = f"objectstore-events-{spec.id}"
        self._client: redis.asyncio.Redis | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    async def send(self, body: bytes, *, key: str) -> None:
        self._bind_loop()
        client = self._connected()  # one connection: concurrent sends queue on it
        try:
            async with asyncio.timeout(self._timeout):
                if self._format == "stream":
                    await client.xadd(self._key, {STREAM_FIELD: body})
                else:
                    await client.rpush(self._key, body)
        except TimeoutError:
            await self._drop(client)
            raise DeliveryError(f"Redis {self._where}: no reply within "
                                f"{self._timeout:g}s") from None
        except Exception as exc:
            if not isinstance(exc, redis.exceptions.ResponseError):  # the connection is fine
                await self._drop(client)
            raise self._error(exc) from exc

    def _bind_loop(self) -> None:
        """A new event loop means a new connection (see ``loops``)."""
        loop = asyncio.get_running_loop()
        if loop is not self._loop:
            old_loop, old, self._loop = self._loop, self._client, loop
            self._client = None
            if old is not None:
                close_on_own_loop(old_loop, lambda: _close_quietly(old, self._timeout))

    async def close(self) -> None:
        self._bind_loop()
        client, self._client = self._client, None
        await _close_quietly(client, self._timeout)

    def _connected(self) -> redis.asyncio.Redis:
        if self._client is None:
            # Connects lazily, at the first command.
            self._client = redis.asyncio.Redis.from_url(
                self._url,
                single_connection_client=True,
                socket_timeout=self._timeout,
                socket_connect_timeout=self._timeout,
                retry=Retry(NoBackoff(), 0),
                health_check_interval=0,
                client_name=self._name,
            )
        return self._client

    async def _drop(self, client: redis.asyncio.Redis) -> None:
        """Forget ``client`` if it is still the current one, and close it: the next send
        connects again."""
        if self._client is client:
            self._client = None
        await _close_quietly(client, self._timeout)

    def _error(self, exc: BaseException) -> DeliveryError:
        cause = scrub(f"{type(exc).__name__}: {exc}", self._password)
        permanent = isinstance(exc, redis.exceptions.AuthenticationError
                               | redis.exceptions.AuthorizationError
                               | redis.exceptions.NoPermissionError) or (
            isinstance(exc, redis.exceptions.ResponseError)
            and str(exc).startswith(_PERMANENT_REPLIES))
        return DeliveryError(f"Redis {self._where}: {cause}", permanent=permanent)


async def _close_quietly(client: redis.asyncio.Redis | None, timeout: float) -> None:
    """Close, bounded and ignoring failures (a server that stopped answering must not hold
    up the caller)."""
    if client is None:
        return
    with contextlib.suppress(Exception, TimeoutError):
        async with asyncio.timeout(min(1.0, timeout)):
            await client.aclose()

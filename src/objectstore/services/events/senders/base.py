"""What every event target's sender is: one open connection to a webhook, an AMQP broker, a
NATS server or Redis, that delivers one message at a time and says plainly whether it got
there. The deliverer (``services/events``) retries with backoff on ``DeliveryError`` and
acknowledges the outbox rows only once ``send`` has returned."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol


class DeliveryError(Exception):
    """The message was not delivered (target down, refused, timed out): retry later.
    ``permanent`` marks failures a retry cannot fix (e.g. a 4xx from a webhook other than
    408/429); the deliverer still keeps the event but may count it as failed."""

    def __init__(self, reason: str, *, permanent: bool = False) -> None:
        super().__init__(reason)
        self.permanent = permanent


@dataclass(frozen=True)
class TargetSpec:
    """A target as stored: ``type`` in {"webhook", "amqp", "nats", "redis"}; ``endpoint`` the
    URL; ``options`` the type's other fields (exchange, routing_key, subject, key, format);
    ``secret`` the decrypted secret (webhook auth_token, or None: credentials in the endpoint
    URL are part of ``endpoint``)."""

    id: str
    type: str
    endpoint: str
    options: dict[str, Any] = field(default_factory=dict)
    secret: str | None = None


class Sender(Protocol):
    """One target's connection, used from the event loop by one deliverer task."""

    async def send(self, body: bytes, *, key: str) -> None:
        """Deliver one message (``body``: the S3 event JSON; ``key``: the object key, for
        targets that route or partition by it). Returns once the target has confirmed it
        (webhook 2xx, AMQP publisher confirm, NATS flush, Redis reply); raises
        ``DeliveryError`` otherwise. Must not hang: bounded by its own timeout."""
        ...

    async def close(self) -> None:
        """Release the connection (idempotent)."""
        ...

    # A sender may also have ``async def send_many(bodies: Sequence[bytes]) -> tuple[int,
    # DeliveryError | None]``, ``send_run``'s work in one call (the webhook's, cheaper per
    # message).


async def send_run(sender: Sender, bodies: Sequence[bytes], keys: Sequence[str]
                   ) -> tuple[int, DeliveryError | None]:
    """Send ``bodies`` (``keys[i]``: the object key of ``bodies[i]``) in order, each once the
    one before was confirmed, stopping at the first that was not: how many were, and why
    it stopped (None: all were). With the sender's ``send_many`` when it has one, else one
    ``send`` after another. Anything else a sender raises stops the run like a retryable
    ``DeliveryError`` (a sender's bug: retried too)."""
    many = getattr(sender, "send_many", None)
    if many is not None:
        try:
            result: tuple[int, DeliveryError | None] = await many(bodies)
        except Exception as exc:  # noqa: BLE001 - see above
            return 0, DeliveryError(f"{type(exc).__name__}: {exc}")
        return result
    for i, body in enumerate(bodies):
        try:
            await sender.send(body, key=keys[i])
        except DeliveryError as exc:
            return i, exc
        except Exception as exc:  # noqa: BLE001 - see above
            return i, DeliveryError(f"{type(exc).__name__}: {exc}")
    return len(bodies), None

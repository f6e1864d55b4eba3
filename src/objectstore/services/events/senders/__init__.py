"""One sender per target type (webhook, amqp, nats, redis); ``base`` says what a sender is.
``open_sender`` imports a type's module only when a target of that type is opened (their
client libraries are not loaded otherwise)."""

from __future__ import annotations

import importlib

from .base import DeliveryError, Sender, TargetSpec, send_run

MODULES = {"webhook": ("webhook", "WebhookSender"), "amqp": ("amqp", "AmqpSender"),
           "nats": ("nats", "NatsSender"), "redis": ("redis", "RedisSender")}


def open_sender(spec: TargetSpec) -> Sender:
    """The sender for ``spec.type``; ValueError for an unknown type, DeliveryError when its
    module cannot be loaded."""
    try:
        module, cls = MODULES[spec.type]
    except KeyError:
        raise ValueError(f"unknown event target type {spec.type!r}") from None
    try:
        mod = importlib.import_module(f"{__name__}.{module}")
    except ImportError as exc:
        raise DeliveryError(f"the {spec.type} sender cannot be loaded: {exc}") from exc
    sender: Sender = getattr(mod, cls)(spec)
    return sender


__all__ = ["DeliveryError", "Sender", "TargetSpec", "open_sender", "send_run"]

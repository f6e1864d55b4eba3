"""/v2/objectstore/keys: the built-in KMS key service's keys of the calling account (SSE-KMS).
Key material never leaves the server."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ...services.keys import KeyService
from ..handler import Call


def _keys(call: Call) -> KeyService:
    keys = call.services.objects.sse.keys
    assert keys is not None
    return keys


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(call.params.region).code


def list_keys(call: Call) -> list[dict[str, Any]]:
    region = _region(call)
    return [k.public(region) for k in _keys(call).list(call.account.id)]


def create_key(call: Call) -> dict[str, Any]:
    alias = call.params.string("alias") or call.params.string("name")
    if not alias:
        raise InvalidInput("alias is required", "alias")
    key = _keys(call).create(call.account.id, alias, call.params.string("description") or "")
    return key.public(_region(call))


def get_key(call: Call) -> dict[str, Any]:
    return _keys(call).find(call.account.id, call.path["id"]).public(_region(call))


def update_key(call: Call) -> dict[str, Any]:
    enabled = call.params.boolean("enabled")
    keys = _keys(call)
    key = keys.find(call.account.id, call.path["id"])
    if enabled is not None:
        key = keys.set_enabled(call.account.id, key.id, enabled)
    return key.public(_region(call))

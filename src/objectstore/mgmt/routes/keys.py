"""/v2/objectstore/keys: the built-in KMS key service's keys of the calling account (SSE-KMS).
Key material never leaves the server."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ...services.keys import KeyService
from .. import models
from ..handler import Call
from ..params import BODY_REGION, REGION, Body, Flag, PathId, Text
from ..spec import operation

KEY_ID = PathId("keyId", "A KMS key id, key ARN, alias name (alias/...) or alias ARN")
ALIAS = Text("alias", "The key's alias (with or without alias/): 1-250 letters, digits, '/', "
             "'_' or '-', not starting with aws/")
NAME = Text("name", "Alias of alias (used when alias is missing)")
DESCRIPTION = Text("description", "Free text (up to 1000 characters kept)")
ENABLED = Flag("enabled", "false disables the key (SSE-KMS writes and reads with it are "
               "refused), true enables it again; missing leaves it")
CREATE = Body("CreateKey", ALIAS, NAME, DESCRIPTION, BODY_REGION)
UPDATE = Body("UpdateKey", ENABLED, BODY_REGION)


def _keys(call: Call) -> KeyService:
    keys = call.services.objects.sse.keys
    assert keys is not None
    return keys


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(REGION.read(call.params)).code


@operation("listKeys", "The account's KMS keys (SSE-KMS)", models.KmsKeyList,
           "Keys (never their material)", errors=(404,))
def list_keys(call: Call) -> list[dict[str, Any]]:
    region = _region(call)
    return [k.public(region) for k in _keys(call).list(call.account.id)]


@operation("createKey", "Create a named KMS key", models.KmsKey, "The new key", body=CREATE,
           errors=(404, 409))
def create_key(call: Call) -> dict[str, Any]:
    alias = ALIAS.read(call.params) or NAME.read(call.params)
    if not alias:
        raise InvalidInput("alias is required", "alias")
    key = _keys(call).create(call.account.id, alias, DESCRIPTION.read(call.params) or "")
    return key.public(_region(call))


@operation("getKey", "A KMS key by id, ARN or alias", models.KmsKey, "The key", path=KEY_ID,
           errors=(404,))
def get_key(call: Call) -> dict[str, Any]:
    return _keys(call).find(call.account.id, KEY_ID.read(call.path)).public(_region(call))


@operation("updateKey", "Enable or disable a KMS key", models.KmsKey, "The key", path=KEY_ID,
           body=UPDATE, errors=(404,))
def update_key(call: Call) -> dict[str, Any]:
    enabled = ENABLED.read(call.params)
    keys = _keys(call)
    key = keys.find(call.account.id, KEY_ID.read(call.path))
    if enabled is not None:
        key = keys.set_enabled(call.account.id, key.id, enabled)
    return key.public(_region(call))

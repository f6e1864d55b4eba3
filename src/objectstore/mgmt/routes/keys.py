"""/v2/objectstore/keys: the built-in KMS key service's keys of the calling account (SSE-KMS).
Key material never leaves the server."""

from __future__ import annotations

from ... import api_models as wire
from ...domain.errors import InvalidInput
from ...services.keys import KeyService
from ..handler import Call
from ..params import REGION, Body, PathId
from ..render import build, kms_key_json
from ..spec import operation

KEY_ID = PathId("keyId", "A KMS key id, key ARN, alias name (alias/...) or alias ARN")
CREATE = Body(wire.CreateKey)
UPDATE = Body(wire.UpdateKey)


def _keys(call: Call) -> KeyService:
    keys = call.services.objects.sse.keys
    assert keys is not None
    return keys


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(REGION.read(call.params)).code


@operation("listKeys", "The account's KMS keys (SSE-KMS)", wire.KmsKeyList,
           "Keys (never their material)", errors=(404,))
def list_keys(call: Call) -> wire.KmsKeyList:
    region = _region(call)
    return build(wire.KmsKeyList,
                 root=[kms_key_json(k.public(region)) for k in _keys(call).list(call.account.id)])


@operation("createKey", "Create a named KMS key", wire.KmsKey, "The new key", body=CREATE,
           errors=(404, 409))
def create_key(call: Call) -> wire.KmsKey:
    body = call.body(wire.CreateKey)
    alias = body.alias or body.name
    if not alias:
        raise InvalidInput("alias is required", "alias")
    region = _region(call)  # (an unknown region: 404 before the key is made)
    key = _keys(call).create(call.account.id, alias, body.description or "")
    return kms_key_json(key.public(region))


@operation("getKey", "A KMS key by id, ARN or alias", wire.KmsKey, "The key", path=KEY_ID,
           errors=(404,))
def get_key(call: Call) -> wire.KmsKey:
    key = _keys(call).find(call.account.id, KEY_ID.read(call.path))
    return kms_key_json(key.public(_region(call)))


@operation("updateKey", "Enable or disable a KMS key", wire.KmsKey, "The key", path=KEY_ID,
           body=UPDATE, errors=(404,))
def update_key(call: Call) -> wire.KmsKey:
    body = call.body(wire.UpdateKey)
    keys = _keys(call)
    key = keys.find(call.account.id, KEY_ID.read(call.path))
    if body.enabled is not None:
        key = keys.set_enabled(call.account.id, key.id, body.enabled)
    return kms_key_json(key.public(_region(call)))

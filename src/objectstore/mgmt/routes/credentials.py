"""/v2/objectstore/credentials: list, create, get, update (PUT and PATCH), delete."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ...services.credentials import CredentialUpdate
from ..handler import Call
from ..render import credential_json, page_json


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(call.params.region).code


def list_credentials(call: Call) -> dict[str, Any]:
    page, per_page = call.params.paging()
    result = call.services.credentials.list(call.account.id, _region(call), page, per_page)
    return page_json(result, [credential_json(c) for c in result.items])


def create_credential(call: Call) -> dict[str, Any]:
    p = call.params
    name = p.string("name")
    if not name:
        raise InvalidInput("name is required", "name")
    max_size = p.integer("max_size_gb", allow_zero=True) or None
    cred = call.services.credentials.create(
        call.account.id, _region(call), name, p.string("access_key_id"),
        p.string("secret_access_key_id"), max_size,
    )
    return credential_json(cred)


def get_credential(call: Call) -> dict[str, Any]:
    return credential_json(
        call.services.credentials.get(call.account.id, call.path["id"], _region(call))
    )


def update_credential(call: Call) -> dict[str, Any]:
    p = call.params
    change = CredentialUpdate(
        name=p.string("name"),
        access_key_id=p.string("access_key_id"),
        secret_access_key=p.string("secret_access_key_id"),
        max_size_gb=p.integer("max_size_gb", allow_zero=True),
        suspended=p.boolean("suspended"),
    )
    cred = call.services.credentials.update(call.account.id, call.path["id"], _region(call),
                                            change)
    return credential_json(cred)


def delete_credential(call: Call) -> dict[str, Any]:
    call.services.credentials.delete(call.account.id, call.path["id"], _region(call))
    return {"result": "success"}

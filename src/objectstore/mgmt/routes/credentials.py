"""/v2/objectstore/credentials: list, create, get, update (PUT and PATCH), delete."""

from __future__ import annotations

from ... import api_models as wire
from ...services.credentials import CredentialUpdate
from ..handler import Call, cached_listing
from ..params import PAGING, REGION, Body, PathId
from ..render import DELETED, credential_json, credential_page
from ..spec import operation

CREDENTIAL_ID = PathId("credentialId", "Credential id (a UUID; anything else is 404)")

CREATE = Body(wire.CreateCredential, required=True)
UPDATE = Body(wire.UpdateCredential)

_BY_ID = {"id": "$response.body#/id"}
LINKS = {
    "GetCredential": {"operationId": "getCredential", "parameters": _BY_ID},
    "UpdateCredential": {"operationId": "updateCredential", "parameters": _BY_ID},
    "DeleteCredential": {"operationId": "deleteCredential", "parameters": _BY_ID},
}


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(REGION.read(call.params)).code


@operation("listCredentials", "List the account's credentials", wire.CredentialPage,
           "One page of credentials", query=(REGION, PAGING), errors=(404,))
@cached_listing
def list_credentials(call: Call) -> wire.CredentialPage:
    page, per_page = PAGING.read(call.params)
    return credential_page(call.services.credentials.list(call.account.id, _region(call),
                                                          page, per_page))


@operation("createCredential", "Create an S3 credential", wire.Credential,
           "The new credential, with its secret", body=CREATE, errors=(404, 409), links=LINKS)
def create_credential(call: Call) -> wire.Credential:
    body = call.body(wire.CreateCredential)
    assert body.name is not None  # a required field
    cred = call.services.credentials.create(
        call.account.id, _region(call), body.name, body.access_key_id,
        body.secret_access_key_id, body.max_size_gb or None)
    return credential_json(cred)


@operation("getCredential", "Show a credential (with its secret)", wire.Credential,
           "The credential", path=CREDENTIAL_ID, errors=(404,))
def get_credential(call: Call) -> wire.Credential:
    return credential_json(call.services.credentials.get(
        call.account.id, CREDENTIAL_ID.read(call.path), _region(call)))


@operation("updateCredential", "Rename, rotate keys, cap or suspend a credential",
           wire.Credential, "The updated credential", path=CREDENTIAL_ID, body=UPDATE,
           errors=(404, 409))
def update_credential(call: Call) -> wire.Credential:
    body = call.body(wire.UpdateCredential)
    change = CredentialUpdate(
        name=body.name,
        access_key_id=body.access_key_id,
        secret_access_key=body.secret_access_key_id,
        max_size_gb=body.max_size_gb,
        suspended=body.suspended,
    )
    cred = call.services.credentials.update(call.account.id, CREDENTIAL_ID.read(call.path),
                                            _region(call), change)
    return credential_json(cred)


@operation("deleteCredential", "Delete a credential (refused while it owns a store)",
           wire.Deleted, "Deleted", path=CREDENTIAL_ID, errors=(404, 409))
def delete_credential(call: Call) -> wire.Deleted:
    call.services.credentials.delete(call.account.id, CREDENTIAL_ID.read(call.path),
                                     _region(call))
    return DELETED

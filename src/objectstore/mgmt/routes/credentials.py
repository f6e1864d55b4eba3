"""/v2/objectstore/credentials: list, create, get, update (PUT and PATCH), delete."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ...services.credentials import CredentialUpdate
from .. import models
from ..handler import Call, cached_listing
from ..params import BODY_REGION, PAGING, REGION, Body, Flag, Integer, PathId, Text
from ..render import credential_json, page_json
from ..spec import operation

CREDENTIAL_ID = PathId("credentialId", "Credential id (a UUID; anything else is 404)")

_KEY = "^[A-Za-z0-9_-]{3,128}$"
_PRINTABLE = "^[\\x21-\\x7e]{8,128}$"
NAME = Text("name", min_length=1, max_length=255)
NEW_KEY = Text("access_key_id", "null or missing: 20 generated upper-case alphanumerics",
               nullable=True, pattern=_KEY)
NEW_SECRET = Text("secret_access_key_id", "null or missing: 40 generated alphanumerics",
                  nullable=True, pattern=_PRINTABLE)
NEW_CAP = Integer("max_size_gb", "Usage cap in GB; 0 or missing means no cap")
KEY = Text("access_key_id", "Rotate the access key; null or the current key leaves it "
           "unchanged", nullable=True, pattern=_KEY)
SECRET = Text("secret_access_key_id", "Rotate the secret; null leaves it", nullable=True,
              pattern=_PRINTABLE)
CAP = Integer("max_size_gb", "Usage cap in GB; 0 removes the cap")
SUSPENDED = Flag("suspended", "A suspended credential is refused by the S3 API (also accepts "
                 "true/false/1/0/yes/no/on/off strings)")

CREATE = Body("CreateCredential", NAME, BODY_REGION, NEW_KEY, NEW_SECRET, NEW_CAP,
              required=True, required_fields=("name",))
UPDATE = Body("UpdateCredential", NAME, BODY_REGION, KEY, SECRET, CAP, SUSPENDED)

_BY_ID = {"id": "$response.body#/id"}
LINKS = {
    "GetCredential": {"operationId": "getCredential", "parameters": _BY_ID},
    "UpdateCredential": {"operationId": "updateCredential", "parameters": _BY_ID},
    "DeleteCredential": {"operationId": "deleteCredential", "parameters": _BY_ID},
}


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(REGION.read(call.params)).code


@operation("listCredentials", "List the account's credentials", models.CredentialPage,
           "One page of credentials", query=(REGION, PAGING), errors=(404,))
@cached_listing
def list_credentials(call: Call) -> dict[str, Any]:
    page, per_page = PAGING.read(call.params)
    result = call.services.credentials.list(call.account.id, _region(call), page, per_page)
    return page_json(result, [credential_json(c) for c in result.items])


@operation("createCredential", "Create an S3 credential", models.Credential,
           "The new credential, with its secret", body=CREATE, errors=(404, 409), links=LINKS)
def create_credential(call: Call) -> dict[str, Any]:
    p = call.params
    name = NAME.read(p)
    if not name:
        raise InvalidInput("name is required", "name")
    max_size = NEW_CAP.read(p) or None
    cred = call.services.credentials.create(
        call.account.id, _region(call), name, NEW_KEY.read(p), NEW_SECRET.read(p), max_size,
    )
    return credential_json(cred)


@operation("getCredential", "Show a credential (with its secret)", models.Credential,
           "The credential", path=CREDENTIAL_ID, errors=(404,))
def get_credential(call: Call) -> dict[str, Any]:
    return credential_json(call.services.credentials.get(
        call.account.id, CREDENTIAL_ID.read(call.path), _region(call)))


@operation("updateCredential", "Rename, rotate keys, cap or suspend a credential",
           models.Credential, "The updated credential", path=CREDENTIAL_ID, body=UPDATE,
           errors=(404, 409))
def update_credential(call: Call) -> dict[str, Any]:
    p = call.params
    change = CredentialUpdate(
        name=NAME.read(p),
        access_key_id=KEY.read(p),
        secret_access_key=SECRET.read(p),
        max_size_gb=CAP.read(p),
        suspended=SUSPENDED.read(p),
    )
    cred = call.services.credentials.update(call.account.id, CREDENTIAL_ID.read(call.path),
                                            _region(call), change)
    return credential_json(cred)


@operation("deleteCredential", "Delete a credential (refused while it owns a store)",
           models.Deleted, "Deleted", path=CREDENTIAL_ID, errors=(404, 409))
def delete_credential(call: Call) -> dict[str, Any]:
    call.services.credentials.delete(call.account.id, CREDENTIAL_ID.read(call.path),
                                     _region(call))
    return {"result": "success"}

"""/v2/objectstores: list, create, get, update (PUT and PATCH), delete, stats."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from .. import models
from ..handler import Call, cached_listing
from ..params import BODY_REGION, PAGING, REGION, Body, Integer, PathId, Text
from ..render import page_json, store_json
from ..spec import operation

STORE_ID = PathId("storeId", "Object store id (a UUID; anything else is 404)")

NAME = Text("name", "Bucket name: 3-63 letters, digits, '-' and '.', starting and ending with "
            "a letter or digit, no '..', not an IPv4 address; unique within the region",
            pattern="^[a-zA-Z0-9][a-zA-Z0-9.-]{1,61}[a-zA-Z0-9]$")
# a size given on create must be positive; only a missing one means the default
NEW_SIZE = Integer("max_size_gb", "Size in GB (default 500)", minimum=1)
NEW_SIZE_ALIAS = Integer("size", "Alias of max_size_gb (Civo's page calls it size)", minimum=1)
NEW_OWNER = Text("access_key_id", "Owner: an existing credential of the account in the region; "
                 "null or missing creates a new credential owned by (and deleted with) the "
                 "store", nullable=True)
SIZE = Integer("max_size_gb", "New size in GB; 0 or missing leaves it unchanged")
SIZE_ALIAS = Integer("size", "Alias of max_size_gb")
OWNER = Text("access_key_id", "Move the store to another credential of the account; null "
             "leaves the owner unchanged", nullable=True)

CREATE = Body("CreateObjectStore", NAME, BODY_REGION, NEW_SIZE, NEW_SIZE_ALIAS, NEW_OWNER,
              required=True, required_fields=("name",))
UPDATE = Body("UpdateObjectStore", BODY_REGION, SIZE, SIZE_ALIAS, OWNER)

_BY_ID = {"id": "$response.body#/id"}
LINKS = {
    "GetObjectStore": {"operationId": "getObjectStore", "parameters": _BY_ID},
    "UpdateObjectStore": {"operationId": "updateObjectStore", "parameters": _BY_ID},
    "ObjectStoreStats": {"operationId": "getObjectStoreStats", "parameters": _BY_ID},
    "DeleteObjectStore": {"operationId": "deleteObjectStore", "parameters": _BY_ID},
    "GetOwnerCredential": {"operationId": "getCredential",
                           "parameters": {"id": "$response.body#/owner_info/credential_id"}},
}


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(REGION.read(call.params)).code


@operation("listObjectStores", "List the account's object stores", models.ObjectStorePage,
           "One page of object stores", query=(REGION, PAGING), errors=(404,))
@cached_listing
def list_stores(call: Call) -> dict[str, Any]:
    page, per_page = PAGING.read(call.params)
    result = call.services.stores.list(call.account.id, _region(call), page, per_page)
    items = [store_json(s, call.services.endpoint_for(s.store.name)) for s in result.items]
    return page_json(result, items)


@operation("createObjectStore", "Create an object store", models.ObjectStore,
           "The new store (status ready)", body=CREATE, errors=(403, 404, 409), links=LINKS)
def create_store(call: Call) -> dict[str, Any]:
    p = call.params
    region = _region(call)
    name = NAME.read(p)
    if name is None:
        raise InvalidInput("name is required", "name")
    size = NEW_SIZE.read(p)
    if size is None:
        size = NEW_SIZE_ALIAS.read(p)
    sw = call.services.stores.create(call.account.id, region, name, size, NEW_OWNER.read(p))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


@operation("getObjectStore", "Show an object store", models.ObjectStore, "The store",
           path=STORE_ID, errors=(404,))
def get_store(call: Call) -> dict[str, Any]:
    sw = call.services.stores.get(call.account.id, STORE_ID.read(call.path), _region(call))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


@operation("updateObjectStore", "Resize an object store or move it to another credential",
           models.ObjectStore, "The updated store", path=STORE_ID, body=UPDATE,
           errors=(403, 404))
def update_store(call: Call) -> dict[str, Any]:
    p = call.params
    size = SIZE.read(p)
    if size is None:
        size = SIZE_ALIAS.read(p)
    sw = call.services.stores.update(call.account.id, STORE_ID.read(call.path), _region(call),
                                     size, OWNER.read(p))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


@operation("deleteObjectStore",
           "Delete an object store and its objects (and its own credential)", models.Deleted,
           "Deleted", path=STORE_ID, errors=(404, 409))
def delete_store(call: Call) -> dict[str, Any]:
    call.services.stores.delete(call.account.id, STORE_ID.read(call.path), _region(call))
    call.services.objects.wake_gc()
    return {"result": "success"}


@operation("getObjectStoreStats", "Usage of an object store", models.Stats,
           "Usage in decimal kilobytes", path=STORE_ID, errors=(404,))
def store_stats(call: Call) -> dict[str, Any]:
    st = call.services.stores.stats(call.account.id, STORE_ID.read(call.path), _region(call))
    return {"size_kb_utilised": st.size_kb_utilised, "max_size_kb": st.max_size_kb,
            "num_objects": st.num_objects}

"""/v2/objectstores: list, create, get, update (PUT and PATCH), delete, stats."""

from __future__ import annotations

from ... import api_models as wire
from ...domain.models import StoreWithOwner
from ..handler import Call, cached_listing
from ..params import PAGING, REGION, Body, PathId
from ..render import DELETED, stats_json, store_json, store_page
from ..spec import operation

STORE_ID = PathId("storeId", "Object store id (a UUID; anything else is 404)")

CREATE = Body(wire.CreateObjectStore, required=True)
UPDATE = Body(wire.UpdateObjectStore)

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


def _store(call: Call, sw: StoreWithOwner) -> wire.ObjectStore:
    return store_json(sw, call.services.endpoint_for(sw.store.name))


@operation("listObjectStores", "List the account's object stores", wire.ObjectStorePage,
           "One page of object stores", query=(REGION, PAGING), errors=(404,))
@cached_listing
def list_stores(call: Call) -> wire.ObjectStorePage:
    page, per_page = PAGING.read(call.params)
    result = call.services.stores.list(call.account.id, _region(call), page, per_page)
    return store_page(result, tuple(_store(call, s) for s in result.items))


@operation("createObjectStore", "Create an object store", wire.ObjectStore,
           "The new store (status ready)", body=CREATE, errors=(403, 404, 409), links=LINKS)
def create_store(call: Call) -> wire.ObjectStore:
    region = _region(call)  # an unknown region first, as before the body
    body = call.body(wire.CreateObjectStore)
    sw = call.services.stores.create(call.account.id, region, body.name, body.size_gb,
                                     body.access_key_id)
    return _store(call, sw)


@operation("getObjectStore", "Show an object store", wire.ObjectStore, "The store",
           path=STORE_ID, errors=(404,))
def get_store(call: Call) -> wire.ObjectStore:
    return _store(call, call.services.stores.get(call.account.id, STORE_ID.read(call.path),
                                                 _region(call)))


@operation("updateObjectStore", "Resize an object store or move it to another credential",
           wire.ObjectStore, "The updated store", path=STORE_ID, body=UPDATE,
           errors=(403, 404))
def update_store(call: Call) -> wire.ObjectStore:
    body = call.body(wire.UpdateObjectStore)
    sw = call.services.stores.update(call.account.id, STORE_ID.read(call.path), _region(call),
                                     body.size_gb, body.access_key_id)
    return _store(call, sw)


@operation("deleteObjectStore",
           "Delete an object store and its objects (and its own credential)", wire.Deleted,
           "Deleted", path=STORE_ID, errors=(404, 409))
def delete_store(call: Call) -> wire.Deleted:
    call.services.stores.delete(call.account.id, STORE_ID.read(call.path), _region(call))
    call.services.objects.wake_gc()
    return DELETED


@operation("getObjectStoreStats", "Usage of an object store", wire.Stats,
           "Usage in decimal kilobytes", path=STORE_ID, errors=(404,))
def store_stats(call: Call) -> wire.Stats:
    return stats_json(call.services.stores.stats(call.account.id, STORE_ID.read(call.path),
                                                 _region(call)))

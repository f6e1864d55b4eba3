"""/v2/objectstores: list, create, get, update (PUT and PATCH), delete, stats."""

from __future__ import annotations

from typing import Any

from ...domain.errors import InvalidInput
from ..handler import Call
from ..render import page_json, store_json


def _region(call: Call) -> str:
    return call.services.regions.for_object_stores(call.params.region).code


def list_stores(call: Call) -> dict[str, Any]:
    page, per_page = call.params.paging()
    result = call.services.stores.list(call.account.id, _region(call), page, per_page)
    items = [store_json(s, call.services.endpoint_for(s.store.name)) for s in result.items]
    return page_json(result, items)


def create_store(call: Call) -> dict[str, Any]:
    p = call.params
    region = _region(call)
    name = p.string("name")
    if name is None:
        raise InvalidInput("name is required", "name")
    # a size given on create must be positive; only a missing one means the default
    size = p.integer("max_size_gb", allow_zero=False)
    if size is None:
        size = p.integer("size", allow_zero=False)
    sw = call.services.stores.create(call.account.id, region, name, size,
                                     p.string("access_key_id"))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


def get_store(call: Call) -> dict[str, Any]:
    sw = call.services.stores.get(call.account.id, call.path["id"], _region(call))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


def update_store(call: Call) -> dict[str, Any]:
    p = call.params
    size = p.integer("max_size_gb", allow_zero=True)
    if size is None:
        size = p.integer("size", allow_zero=True)
    sw = call.services.stores.update(call.account.id, call.path["id"], _region(call), size,
                                     p.string("access_key_id"))
    return store_json(sw, call.services.endpoint_for(sw.store.name))


def delete_store(call: Call) -> dict[str, Any]:
    call.services.stores.delete(call.account.id, call.path["id"], _region(call))
    call.services.objects.wake_gc()
    return {"result": "success"}


def store_stats(call: Call) -> dict[str, Any]:
    st = call.services.stores.stats(call.account.id, call.path["id"], _region(call))
    return {"size_kb_utilised": st.size_kb_utilised, "max_size_kb": st.max_size_kb,
            "num_objects": st.num_objects}

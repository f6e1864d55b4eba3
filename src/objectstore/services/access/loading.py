"""Reading a store's access documents from ``bucket_configs`` (cached there)."""

from __future__ import annotations

from ...domain.models import ObjectStore
from ..bucket_configs import BucketConfigService
from .authorize import BucketAccess, bucket_access_from

ACCESS_DOCUMENTS = ("policy", "public-access-block", "ownership", "acl-grants")


async def load_bucket_access(configs: BucketConfigService, store: ObjectStore) -> BucketAccess:
    found = await configs.documents_async(store.id)
    return found.derived("access", lambda docs: bucket_access_from(
        store, *(docs.get(name) for name in ACCESS_DOCUMENTS)))

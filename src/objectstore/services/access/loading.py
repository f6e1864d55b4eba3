"""Reading a store's access documents from ``bucket_configs`` (cached there)."""

from __future__ import annotations

from ...domain.models import ObjectStore
from ..bucket_configs import BucketConfigService
from .authorize import BucketAccess, bucket_access_from

ACCESS_DOCUMENTS = ("policy", "public-access-block", "ownership", "acl-grants")


async def load_bucket_access(configs: BucketConfigService, store: ObjectStore) -> BucketAccess:
    docs = [await configs.get_async(store.id, name) for name in ACCESS_DOCUMENTS]
    return bucket_access_from(store, *docs)

"""Authorization: the one place that decides whether a caller may do an operation, with the
policy language, ACLs and CORS rules it reads."""

from .authorize import (
    Access,
    BucketAccess,
    PublicAccessBlock,
    RequestContext,
    authorize,
    bucket_access_from,
    needs_object,
    object_owner,
    owner_on_write,
    reads_object,
)
from .loading import load_bucket_access

__all__ = ["Access", "BucketAccess", "PublicAccessBlock", "RequestContext", "authorize",
           "bucket_access_from", "load_bucket_access", "needs_object", "object_owner",
           "owner_on_write", "reads_object"]

"""Authorization: the one place that decides whether a caller may do an operation, with the
policy language, ACLs and CORS rules it reads, and the checks of the ACL a request sets
against ownership controls and the public access block (``acl_checks``)."""

from .acl_checks import (
    AclIntent,
    authorize_each,
    check_acl,
    check_acls_enabled,
    check_public_acl,
)
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

__all__ = ["Access", "AclIntent", "BucketAccess", "PublicAccessBlock", "RequestContext",
           "authorize", "authorize_each", "bucket_access_from", "check_acl",
           "check_acls_enabled", "check_public_acl", "load_bucket_access", "needs_object",
           "object_owner", "owner_on_write", "reads_object"]

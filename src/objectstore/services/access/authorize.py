"""``authorize(principal, access, store, obj)``: called once per request by each plane's
pipeline (copy sources included) before any handler runs.

Today's rules: a credential reaches the stores it owns; anonymous callers may list a
``public-read`` store and read its objects, and read an object whose own ACL is
``public-read``. Bucket policies, ACL grants and public-access blocks plug in here.
"""

from __future__ import annotations

from enum import Enum

from ...domain.errors import AccessDenied
from ...domain.models import Credential, ObjectStore, ObjectVersion

PUBLIC_READ = "public-read"


class Access(Enum):
    """What an operation needs (each S3 operation rule names one)."""

    READ = "read"     # object bytes/metadata: anonymous allowed on public-read objects
    LIST = "list"     # bucket listings: anonymous allowed on public-read buckets
    WRITE = "write"   # object writes and deletes
    OWNER = "owner"   # configuration and ACL/tag reads: never anonymous


def needs_object(principal: Credential | None, access: Access, store: ObjectStore) -> bool:
    """Whether the decision depends on the object's own ACL (anonymous reads of a private
    store's objects), so the caller should pass ``obj``."""
    return principal is None and access is Access.READ and store.acl != PUBLIC_READ


def authorize(principal: Credential | None, access: Access, store: ObjectStore | None,
              obj: ObjectVersion | None = None) -> None:
    """Raise ``AccessDenied`` unless ``principal`` may do an operation needing ``access``
    on ``store`` (None: the service itself, e.g. ListBuckets) and ``obj``."""
    if principal is not None:
        if principal.suspended:
            raise AccessDenied("Access Denied")
        if store is None or store.credential_id == principal.id:
            return
        raise AccessDenied("Access Denied")
    if store is None:
        raise AccessDenied("Access Denied")
    if access is Access.LIST and store.acl == PUBLIC_READ:
        return
    if access is Access.READ and (store.acl == PUBLIC_READ
                                  or (obj is not None and obj.acl == PUBLIC_READ)):
        return
    raise AccessDenied("Access Denied")

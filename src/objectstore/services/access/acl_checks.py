"""The ACL a request sets, against the store's access documents: ownership controls that
disable ACLs (``BucketOwnerEnforced``) and a public access block that refuses public ACLs
(``BlockPublicAcls``). Pure functions; each plane extracts the request's ACL (headers, an
XML body, a form field) and calls them after ``authorize``."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from ...domain.errors import AccessDenied, AclsDisabled
from ...domain.models import Credential, ObjectStore
from ...domain.operations import Op
from . import acl as acls
from .authorize import Access, BucketAccess, RequestContext, authorize


@dataclass(frozen=True)
class AclIntent:
    """The ACL a request asks for: a canned ACL, or explicit grants (the canned name is
    then ``private``)."""

    canned: str
    grants: list[acls.Grant] | None = None


def check_acls_enabled(bucket: BucketAccess, intent: AclIntent,
                       owner_credential_id: str | None = None) -> None:
    """BucketOwnerEnforced: ACLs are disabled; a request may only send
    ``bucket-owner-full-control`` or its equivalent as grants (full control to the owner
    ``owner_credential_id`` alone), as on S3: any other ACL, ``private`` included, is
    refused (``AclsDisabled``: 400 AccessControlListNotSupported)."""
    if not bucket.acls_disabled:
        return
    grants = intent.grants
    if grants is None and intent.canned == "bucket-owner-full-control":
        return
    if grants is not None and owner_credential_id is not None \
            and acls.canned_equivalent(grants, owner_credential_id) == "private":
        return
    raise AclsDisabled("The bucket does not allow ACLs")


def check_public_acl(bucket: BucketAccess, intent: AclIntent) -> None:
    """BlockPublicAcls: a request that would set a public ACL is refused."""
    if bucket.block.block_public_acls and acls.is_public(intent.canned, intent.grants):
        raise AccessDenied("Access Denied: this store's public access block "
                           "(BlockPublicAcls) refuses public ACLs")


def check_acl(bucket: BucketAccess, intent: AclIntent, owner_credential_id: str | None
              ) -> None:
    """Both: the ACL a write sets is allowed by ownership controls and the public access
    block."""
    check_acls_enabled(bucket, intent, owner_credential_id)
    check_public_acl(bucket, intent)


def authorize_each(principal: Credential | None, store: ObjectStore, bucket: BucketAccess,
                   op: Op, targets: Iterable[tuple[str, str | None]],
                   keys: Callable[[], Mapping[str, str]]) -> None:
    """A request on several keys (DeleteObjects) under a policy: each (key, version) is
    decided as an ``op`` of its own, with the request's condition keys (``keys()``) and its
    version's; one the policy denies refuses the whole request."""
    if bucket.policy is None:
        return
    base = keys()
    for key, version in targets:
        keys_for = dict(base)
        if version:
            keys_for["s3:versionid"] = version
        authorize(principal, Access.WRITE, store, None,
                  RequestContext(op, key, version or None, keys_for), bucket)

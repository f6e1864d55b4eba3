"""``authorize(principal, access, store, obj, request, bucket)``: the one authorization
decision, called once per request by each plane's pipeline (copy sources included) before
any handler runs.

The order is AWS's: an explicit Deny in the store's policy wins (over the owner too, except
for the owner's own Get/Put/DeleteBucketPolicy, so a policy can never lock its owner out);
then the owner may do anything; then an Allow from the policy, or from the ACL of the store
(bucket operations: READ lists, WRITE puts and deletes) or of the object (object reads and
ACL operations) unless ownership controls disable ACLs; else ``AccessDenied``. A store's
READ grant lists it, it does not read its objects (as on S3).

Objects have owners: the store's owner, or (``ObjectWriter``, ``BucketOwnerPreferred``
without ``bucket-owner-full-control``, or no ownership controls) the credential of another
account that wrote them (``owner_on_write``). On an object another credential owns, the
store's owner and its policy's Allows have no say (the policy's Denys do): that object's
owner and its ACL decide, as on S3 ("a bucket policy applies to the objects the bucket owner
owns"). ``BucketOwnerEnforced`` makes the store's owner own every object.

A public-access block makes public ACL grants and public policies count for nothing
(``IgnorePublicAcls``, ``RestrictPublicBuckets``).
The documents that decide who gets in (the policy, the store's ACL, public access block and
ownership controls) are changed, and the policy read, only from the store's own account,
whatever the policy grants others (``actions.OWNER_ACCOUNT_ONLY``; AWS answers 405
``MethodNotAllowed`` for the policy).

A rule of this server: a policy Allow gives write access to a credential of another
account (or to anonymous callers) only if the statement names that caller explicitly (not
only ``*``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from ...domain.errors import AccessDenied, NotOwnerAccount
from ...domain.models import Credential, ObjectStore, ObjectVersion
from ...domain.operations import Op
from . import acl as acls
from .actions import (
    OWNER_ACCOUNT_ONLY,
    OWNER_ALWAYS,
    POLICY_OPS,
    READ,
    ActionInfo,
    info_for,
    is_write,
)
from .evaluate import Decision, Request, evaluate
from .policy import Policy, PolicyError, cached_policy
from .principals import principal_names

PUBLIC_READ = "public-read"
BUCKET_OWNER_ENFORCED = "BucketOwnerEnforced"
BUCKET_OWNER_PREFERRED = "BucketOwnerPreferred"
OWNERSHIP_VALUES = ("BucketOwnerEnforced", "BucketOwnerPreferred", "ObjectWriter")


class Access(Enum):
    """What an operation needs (each S3 operation rule names one); the fallback meaning of
    operations the action table (``actions.OPERATIONS``) does not list."""

    READ = "read"     # object bytes/metadata
    LIST = "list"     # bucket listings
    WRITE = "write"   # object writes and deletes
    OWNER = "owner"   # configuration and ACL/tag reads


@dataclass(frozen=True)
class PublicAccessBlock:
    block_public_acls: bool = False
    ignore_public_acls: bool = False
    block_public_policy: bool = False
    restrict_public_buckets: bool = False

    FIELDS = ("BlockPublicAcls", "IgnorePublicAcls", "BlockPublicPolicy",
              "RestrictPublicBuckets")

    def to_json(self) -> dict[str, bool]:
        return dict(zip(self.FIELDS, (self.block_public_acls, self.ignore_public_acls,
                                      self.block_public_policy,
                                      self.restrict_public_buckets), strict=True))

    @classmethod
    def from_json(cls, doc: Any) -> PublicAccessBlock:
        if not isinstance(doc, dict):
            return cls()
        return cls(*(bool(doc.get(f, False)) for f in cls.FIELDS))


@dataclass(frozen=True)
class BucketAccess:
    """A store's access documents: policy, public-access block, ownership, explicit ACL."""

    policy: Policy | None = None
    block: PublicAccessBlock = field(default_factory=PublicAccessBlock)
    ownership: str | None = None
    grants: list[acls.Grant] | None = None

    @property
    def acls_disabled(self) -> bool:
        return self.ownership == BUCKET_OWNER_ENFORCED


NO_DOCUMENTS = BucketAccess()


def bucket_access_from(store: ObjectStore, policy: Any, block: Any, ownership: Any,
                       grants: Any) -> BucketAccess:
    """Build from the stored documents (``bucket_configs``)."""
    parsed: Policy | None = None
    if isinstance(policy, dict) and isinstance(policy.get("text"), str):
        try:
            parsed = cached_policy(policy["text"], store.name)
        except PolicyError:  # validated when stored; never fail open
            parsed = cached_policy(
                '{"Version":"2012-10-17","Statement":[{"Effect":"Deny","Principal":"*",'
                f'"Action":"*","Resource":"arn:aws:s3:::{store.name}"}}]}}', store.name)
    own = ownership.get("ObjectOwnership") if isinstance(ownership, dict) else None
    return BucketAccess(parsed, PublicAccessBlock.from_json(block),
                        own if isinstance(own, str) else None, acls.grants_from_json(grants))


@dataclass(frozen=True)
class RequestContext:
    """The request as access rules see it: the operation, key and version, and the
    condition keys the request supplies (lower-case names: ``aws:sourceip``, ``s3:prefix``,
    ``s3:requestobjecttag/<k>``, ...)."""

    op: Op
    key: str | None = None
    version_id: str | None = None
    keys: Mapping[str, str] = field(default_factory=dict)


def _default_request(access: Access) -> RequestContext:
    return RequestContext({Access.READ: Op.GetObject, Access.LIST: Op.ListObjects,
                           Access.WRITE: Op.PutObject, Access.OWNER: Op.GetBucketAcl}[access])


def _info(access: Access, request: RequestContext) -> ActionInfo:
    return info_for(request.op, access.value)


def _store_grants(store: ObjectStore, bucket: BucketAccess) -> list[acls.Grant]:
    return bucket.grants if bucket.grants is not None else acls.canned_grants(
        store.acl, store.credential_id)


def needs_object(principal: Credential | None, access: Access, store: ObjectStore,
                 request: RequestContext | None = None,
                 bucket: BucketAccess = NO_DOCUMENTS) -> bool:
    """Whether the decision depends on the object itself (its owner and ACL, or its tags
    for ``s3:ExistingObjectTag`` conditions), so the caller should read it and pass
    ``obj``. When ``reads_object`` too, a missing object's error is the answer once the
    caller is allowed (the operation would only read it again)."""
    request = request or _default_request(access)
    if bucket.policy is not None and bucket.policy.reads_object_tags:
        return True
    return reads_object(access, request) and not bucket.acls_disabled


def reads_object(access: Access, request: RequestContext) -> bool:
    """Whether the operation is decided on the object's owner and ACL (reads, ACLs)."""
    info = _info(access, request)
    return info.on_object and info.acl is not None


def object_owner(store: ObjectStore, bucket: BucketAccess, obj: ObjectVersion) -> str:
    """The credential that owns ``obj``: the store's owner unless another credential wrote
    it for itself (and ownership controls do not enforce the store's owner)."""
    if obj.owner is None or bucket.acls_disabled:
        return store.credential_id
    return obj.owner


def owner_on_write(principal: Credential | None, store: ObjectStore, bucket: BucketAccess,
                   acl: str) -> str | None:
    """The owner a new object version written by ``principal`` with canned ``acl`` gets
    (None: the store's owner): a credential of another account owns what it writes, except
    under ``BucketOwnerEnforced``, or ``BucketOwnerPreferred`` when it sends
    ``bucket-owner-full-control``. Anonymous writes are the store owner's."""
    if principal is None or principal.account_id == store.account_id or bucket.acls_disabled:
        return None
    if bucket.ownership == BUCKET_OWNER_PREFERRED and acl == "bucket-owner-full-control":
        return None
    return principal.id


def _store_permits(store: ObjectStore, bucket: BucketAccess, permission: str,
                   principal: Credential | None) -> bool:
    return acls.permits(_store_grants(store, bucket), permission,
                        credential_id=principal.id if principal else None,
                        account_id=principal.account_id if principal else None,
                        ignore_public=bucket.block.ignore_public_acls)


def resource_arn(store: ObjectStore, key: str | None) -> str:
    return f"arn:aws:s3:::{store.name}" + (f"/{key}" if key is not None else "")


def authorize(principal: Credential | None, access: Access, store: ObjectStore | None,
              obj: ObjectVersion | None = None, request: RequestContext | None = None,
              bucket: BucketAccess = NO_DOCUMENTS) -> None:
    """Raise ``AccessDenied`` unless ``principal`` (None: anonymous) may do ``request``'s
    operation on ``store`` (None: the service itself, e.g. ListBuckets, CreateBucket) and
    ``obj`` (the object, when ``needs_object`` said so). An operation of the store's own
    account (``actions.OWNER_ACCOUNT_ONLY``) that the rules would allow a caller from outside
    it is refused all the same: ``NotOwnerAccount`` (405) for the policy's, else
    ``AccessDenied``."""
    _decide(principal, access, store, obj, request, bucket)
    op = (request or _default_request(access)).op
    if store is None or op not in OWNER_ACCOUNT_ONLY:
        return
    if principal is None or principal.account_id != store.account_id:
        if op in POLICY_OPS:
            raise NotOwnerAccount("The specified method is not allowed against this "
                                  "resource.")
        raise AccessDenied("Access Denied")


def _decide(principal: Credential | None, access: Access, store: ObjectStore | None,
            obj: ObjectVersion | None, request: RequestContext | None,
            bucket: BucketAccess) -> None:
    if principal is not None and principal.suspended:
        raise AccessDenied("Access Denied")
    if store is None:
        if principal is None:
            raise AccessDenied("Access Denied")
        return
    request = request or _default_request(access)
    info = _info(access, request)
    owner = principal is not None and principal.id == store.credential_id
    # An object another credential owns: that credential is its owner here, and the store's
    # policy may deny but not allow (S3: the bucket owner cannot grant on what it does not own)
    foreign = (info.on_object and obj is not None and not bucket.acls_disabled
               and object_owner(store, bucket, obj) != store.credential_id)
    if foreign:
        assert obj is not None
        owner = principal is not None and principal.id == obj.owner
    if bucket.policy is not None:
        context = dict(request.keys)
        context["s3:resourceaccount"] = store.account_id
        if obj is not None:
            for k, v in obj.tags.items():
                context[f"s3:existingobjecttag/{k.lower()}"] = v
        outcome = evaluate(bucket.policy, Request(
            info.name(request.version_id), resource_arn(store, request.key),
            principal_names(principal), context))
        if outcome.decision is Decision.DENY and not (owner and request.op in OWNER_ALWAYS):
            raise AccessDenied("Access Denied")
        if owner:
            return
        if outcome.decision is Decision.ALLOW and not foreign:
            same_account = principal is not None and principal.account_id == store.account_id
            restricted = bucket.block.restrict_public_buckets and bucket.policy.public
            if (same_account or outcome.explicit
                    or not is_write(info.name(request.version_id))) and \
                    not (restricted and not same_account):
                return
    elif owner:
        return
    if info.acl is None or bucket.acls_disabled:
        raise AccessDenied("Access Denied")
    if info.on_object:
        if obj is not None:
            if acls.permits(
                    acls.effective(obj.acl, obj.grants, object_owner(store, bucket, obj),
                                   store.credential_id), info.acl,
                    credential_id=principal.id if principal else None,
                    account_id=principal.account_id if principal else None,
                    ignore_public=bucket.block.ignore_public_acls):
                return
            raise AccessDenied("Access Denied")
        # No such object (or version): a caller that may list the store learns that (404),
        # any other gets AccessDenied, as on S3.
        if info.acl == READ and _store_permits(store, bucket, READ, principal):
            return
        raise AccessDenied("Access Denied")
    if _store_permits(store, bucket, info.acl, principal):
        return
    raise AccessDenied("Access Denied")

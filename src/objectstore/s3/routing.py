"""The operation table: every S3 request resolves to one named operation, or NotImplemented.

Rules are tried in order on (method, target, sub-resources present, headers). A request with a
sub-resource that no rule names answers 501 NotImplemented, never a wrong operation. Each rule
also declares the steps its operation needs around the authorization decision (``Step``: a
POST form read first, a copy source authorized too, ...), which the pipeline runs.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache

from ..domain.operations import Op
from ..services.access import Access


class Target(Enum):
    SERVICE = "service"
    BUCKET = "bucket"
    OBJECT = "object"


# Query keys that select an operation. Other keys (prefix, max-keys, ...) are parameters.
SUBRESOURCES = frozenset({
    "accelerate", "acl", "analytics", "attributes", "cors", "delete", "encryption",
    "intelligent-tiering", "inventory", "legal-hold", "lifecycle", "location", "logging",
    "metrics", "notification", "object-lock", "ownershipControls", "partNumber", "policy",
    "policyStatus", "publicAccessBlock", "replication", "requestPayment", "restore",
    "retention", "select", "tagging", "torrent", "uploadId", "uploads", "versioning",
    "versions", "website", "list-type",
})

# Sub-resources every rule tolerates (they do not change which operation is meant).
_ALWAYS_OK = frozenset({"versionId"})


class Step(Enum):
    """What an operation needs done around its authorization decision, declared by its rule
    and run by the pipeline (``s3/app.py``) in this order (whatever order a rule lists
    them in)."""

    NO_STORE = "no-store"        # decided on the service alone: no store is resolved
    FORM = "form"                # before the decision: a POST form's fields, signer and key
    ACL = "acl"                  # the ACL the request sets, against ownership controls and
    #                              the public access block (headers, or the form's field)
    DELETE_KEYS = "delete-keys"  # a DeleteObjects body's keys, each decided (under a policy)
    BYPASS = "bypass"            # x-amz-bypass-governance-retention: a permission of its own
    COPY_SOURCE = "copy-source"  # x-amz-copy-source: resolved and authorized for reading


STEP_ORDER = tuple(Step)
BEFORE_DECISION = frozenset({Step.FORM})


@dataclass(frozen=True)
class Rule:
    op: Op
    method: str
    target: Target
    access: Access
    needs: frozenset[str] = frozenset()  # sub-resources that select the operation
    allows: frozenset[str] = frozenset()
    header: str | None = None  # a header that must be present
    steps: tuple[Step, ...] = ()  # in pipeline order
    before: tuple[Step, ...] = field(init=False)  # the steps before the decision
    after: tuple[Step, ...] = field(init=False)   # and after it

    def __post_init__(self) -> None:
        steps = tuple(sorted(set(self.steps), key=STEP_ORDER.index))
        object.__setattr__(self, "steps", steps)
        object.__setattr__(self, "before", tuple(s for s in steps if s in BEFORE_DECISION))
        object.__setattr__(self, "after", tuple(
            s for s in steps if s not in BEFORE_DECISION and s is not Step.NO_STORE))


def _r(op: Op, method: str, target: Target, access: Access, needs: str = "",
       allows: str = "", header: str | None = None, steps: tuple[Step, ...] = ()) -> Rule:
    return Rule(op, method, target, access, frozenset(needs.split()), frozenset(allows.split()),
                header, steps)


S, B, O = Target.SERVICE, Target.BUCKET, Target.OBJECT  # noqa: E741
R, L, W, A = Access.READ, Access.LIST, Access.WRITE, Access.OWNER
NO_STORE, FORM, ACL = Step.NO_STORE, Step.FORM, Step.ACL
DELETE_KEYS, BYPASS, COPY_SOURCE = Step.DELETE_KEYS, Step.BYPASS, Step.COPY_SOURCE

RULES: tuple[Rule, ...] = (
    _r(Op.ListBuckets, "GET", S, A, steps=(NO_STORE,)),
    # bucket
    _r(Op.GetBucketLocation, "GET", B, A, "location"),
    _r(Op.GetBucketVersioning, "GET", B, A, "versioning"),
    _r(Op.PutBucketVersioning, "PUT", B, A, "versioning"),
    _r(Op.GetBucketAcl, "GET", B, A, "acl"),
    _r(Op.PutBucketAcl, "PUT", B, A, "acl"),
    _r(Op.GetBucketPolicy, "GET", B, A, "policy"),
    _r(Op.PutBucketPolicy, "PUT", B, A, "policy"),
    _r(Op.DeleteBucketPolicy, "DELETE", B, A, "policy"),
    _r(Op.GetBucketPolicyStatus, "GET", B, A, "policyStatus"),
    _r(Op.GetBucketCors, "GET", B, A, "cors"),
    _r(Op.PutBucketCors, "PUT", B, A, "cors"),
    _r(Op.DeleteBucketCors, "DELETE", B, A, "cors"),
    _r(Op.PutBucketTagging, "PUT", B, A, "tagging"),
    _r(Op.DeleteBucketTagging, "DELETE", B, A, "tagging"),
    _r(Op.GetPublicAccessBlock, "GET", B, A, "publicAccessBlock"),
    _r(Op.PutPublicAccessBlock, "PUT", B, A, "publicAccessBlock"),
    _r(Op.DeletePublicAccessBlock, "DELETE", B, A, "publicAccessBlock"),
    _r(Op.GetBucketOwnershipControls, "GET", B, A, "ownershipControls"),
    _r(Op.PutBucketOwnershipControls, "PUT", B, A, "ownershipControls"),
    _r(Op.DeleteBucketOwnershipControls, "DELETE", B, A, "ownershipControls"),
    _r(Op.GetBucketLifecycleConfiguration, "GET", B, A, "lifecycle"),
    _r(Op.GetBucketTagging, "GET", B, A, "tagging"),
    _r(Op.GetBucketEncryption, "GET", B, A, "encryption"),
    _r(Op.PutBucketEncryption, "PUT", B, A, "encryption"),
    _r(Op.DeleteBucketEncryption, "DELETE", B, A, "encryption"),
    _r(Op.GetObjectLockConfiguration, "GET", B, A, "object-lock"),
    _r(Op.PutObjectLockConfiguration, "PUT", B, A, "object-lock"),
    _r(Op.PutBucketLifecycleConfiguration, "PUT", B, A, "lifecycle"),
    _r(Op.DeleteBucketLifecycle, "DELETE", B, A, "lifecycle"),
    _r(Op.GetBucketWebsite, "GET", B, A, "website"),
    _r(Op.PutBucketWebsite, "PUT", B, A, "website"),
    _r(Op.DeleteBucketWebsite, "DELETE", B, A, "website"),
    _r(Op.GetBucketNotificationConfiguration, "GET", B, A, "notification"),
    _r(Op.PutBucketNotificationConfiguration, "PUT", B, A, "notification"),
    _r(Op.ListMultipartUploads, "GET", B, L, "uploads"),
    _r(Op.ListObjectVersions, "GET", B, L, "versions"),
    _r(Op.ListObjectsV2, "GET", B, L, "list-type"),
    _r(Op.ListObjects, "GET", B, L),
    _r(Op.HeadBucket, "HEAD", B, L),
    _r(Op.CreateBucket, "PUT", B, A, steps=(NO_STORE,)),
    _r(Op.DeleteBucket, "DELETE", B, A),
    _r(Op.DeleteObjects, "POST", B, W, "delete", steps=(DELETE_KEYS, BYPASS)),
    _r(Op.PostObject, "POST", B, W, steps=(FORM, ACL)),  # a browser form upload (s3/post.py)
    # object
    _r(Op.UploadPartCopy, "PUT", O, W, "partNumber uploadId", header="x-amz-copy-source",
       steps=(COPY_SOURCE,)),
    _r(Op.UploadPart, "PUT", O, W, "partNumber uploadId"),
    _r(Op.PutObjectAcl, "PUT", O, W, "acl"),
    _r(Op.PutObjectTagging, "PUT", O, W, "tagging"),
    _r(Op.PutObjectRetention, "PUT", O, W, "retention", steps=(BYPASS,)),
    _r(Op.PutObjectLegalHold, "PUT", O, W, "legal-hold"),
    _r(Op.CopyObject, "PUT", O, W, header="x-amz-copy-source", steps=(ACL, COPY_SOURCE)),
    _r(Op.PutObject, "PUT", O, W, steps=(ACL,)),
    _r(Op.GetObjectAcl, "GET", O, A, "acl"),
    _r(Op.GetObjectTagging, "GET", O, A, "tagging"),
    _r(Op.GetObjectAttributes, "GET", O, A, "attributes"),
    _r(Op.GetObjectRetention, "GET", O, A, "retention"),
    _r(Op.GetObjectLegalHold, "GET", O, A, "legal-hold"),
    _r(Op.ListParts, "GET", O, W, "uploadId"),
    _r(Op.GetObject, "GET", O, R, allows="partNumber"),
    _r(Op.HeadObject, "HEAD", O, R, allows="partNumber"),
    _r(Op.AbortMultipartUpload, "DELETE", O, W, "uploadId"),
    _r(Op.DeleteObjectTagging, "DELETE", O, W, "tagging"),
    _r(Op.DeleteObject, "DELETE", O, W, steps=(BYPASS,)),
    _r(Op.CreateMultipartUpload, "POST", O, W, "uploads", steps=(ACL,)),
    _r(Op.CompleteMultipartUpload, "POST", O, W, "uploadId"),
)


_HEADERS = frozenset(r.header for r in RULES if r.header)
_SELECTORS = SUBRESOURCES | _ALWAYS_OK


def resolve(method: str, target: Target, query_keys: Iterable[str], headers: Mapping[str, str]
            ) -> Rule | None:
    present = frozenset(k for k in query_keys if k in _SELECTORS)
    return _resolve(method, target, present, frozenset(h for h in _HEADERS if h in headers))


@lru_cache(maxsize=1024)  # bounded: keys are sub-resource names and a header flag
def _resolve(method: str, target: Target, present: frozenset[str], headers: frozenset[str]
             ) -> Rule | None:
    method = "GET" if method == "HEAD" and target is Target.SERVICE else method
    for rule in RULES:
        if rule.method != method or rule.target is not target:
            continue
        if not rule.needs <= present:
            continue
        if present - rule.needs - rule.allows - _ALWAYS_OK:
            continue
        if rule.header and rule.header not in headers:
            continue
        return rule
    return None

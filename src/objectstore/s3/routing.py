"""The operation table: every S3 request resolves to one named operation, or NotImplemented.

Rules are tried in order on (method, target, sub-resources present, headers). A request with a
sub-resource that no rule names answers 501 NotImplemented, never a wrong operation.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from enum import Enum
from functools import lru_cache

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


@dataclass(frozen=True)
class Rule:
    op: str
    method: str
    target: Target
    access: Access
    needs: frozenset[str] = frozenset()
    allows: frozenset[str] = frozenset()
    header: str | None = None  # a header that must be present


def _r(op: str, method: str, target: Target, access: Access, needs: str = "",
       allows: str = "", header: str | None = None) -> Rule:
    return Rule(op, method, target, access, frozenset(needs.split()), frozenset(allows.split()),
                header)


S, B, O = Target.SERVICE, Target.BUCKET, Target.OBJECT  # noqa: E741
R, L, W, A = Access.READ, Access.LIST, Access.WRITE, Access.OWNER

RULES: tuple[Rule, ...] = (
    _r("ListBuckets", "GET", S, A),
    # bucket
    _r("GetBucketLocation", "GET", B, A, "location"),
    _r("GetBucketVersioning", "GET", B, A, "versioning"),
    _r("PutBucketVersioning", "PUT", B, A, "versioning"),
    _r("GetBucketAcl", "GET", B, A, "acl"),
    _r("PutBucketAcl", "PUT", B, A, "acl"),
    _r("GetBucketPolicy", "GET", B, A, "policy"),
    _r("PutBucketPolicy", "PUT", B, A, "policy"),
    _r("DeleteBucketPolicy", "DELETE", B, A, "policy"),
    _r("GetBucketPolicyStatus", "GET", B, A, "policyStatus"),
    _r("GetBucketCors", "GET", B, A, "cors"),
    _r("PutBucketCors", "PUT", B, A, "cors"),
    _r("DeleteBucketCors", "DELETE", B, A, "cors"),
    _r("PutBucketTagging", "PUT", B, A, "tagging"),
    _r("DeleteBucketTagging", "DELETE", B, A, "tagging"),
    _r("GetPublicAccessBlock", "GET", B, A, "publicAccessBlock"),
    _r("PutPublicAccessBlock", "PUT", B, A, "publicAccessBlock"),
    _r("DeletePublicAccessBlock", "DELETE", B, A, "publicAccessBlock"),
    _r("GetBucketOwnershipControls", "GET", B, A, "ownershipControls"),
    _r("PutBucketOwnershipControls", "PUT", B, A, "ownershipControls"),
    _r("DeleteBucketOwnershipControls", "DELETE", B, A, "ownershipControls"),
    _r("GetBucketLifecycleConfiguration", "GET", B, A, "lifecycle"),
    _r("GetBucketTagging", "GET", B, A, "tagging"),
    _r("GetBucketEncryption", "GET", B, A, "encryption"),
    _r("PutBucketEncryption", "PUT", B, A, "encryption"),
    _r("DeleteBucketEncryption", "DELETE", B, A, "encryption"),
    _r("GetObjectLockConfiguration", "GET", B, A, "object-lock"),
    _r("PutObjectLockConfiguration", "PUT", B, A, "object-lock"),
    _r("PutBucketLifecycleConfiguration", "PUT", B, A, "lifecycle"),
    _r("DeleteBucketLifecycle", "DELETE", B, A, "lifecycle"),
    _r("GetBucketWebsite", "GET", B, A, "website"),
    _r("PutBucketWebsite", "PUT", B, A, "website"),
    _r("DeleteBucketWebsite", "DELETE", B, A, "website"),
    _r("GetBucketNotificationConfiguration", "GET", B, A, "notification"),
    _r("PutBucketNotificationConfiguration", "PUT", B, A, "notification"),
    _r("ListMultipartUploads", "GET", B, L, "uploads"),
    _r("ListObjectVersions", "GET", B, L, "versions"),
    _r("ListObjectsV2", "GET", B, L, "list-type"),
    _r("ListObjects", "GET", B, L),
    _r("HeadBucket", "HEAD", B, L),
    _r("CreateBucket", "PUT", B, A),
    _r("DeleteBucket", "DELETE", B, A),
    _r("DeleteObjects", "POST", B, W, "delete"),
    _r("PostObject", "POST", B, W),  # a browser form upload (s3/post.py)
    # object
    _r("UploadPartCopy", "PUT", O, W, "partNumber uploadId", header="x-amz-copy-source"),
    _r("UploadPart", "PUT", O, W, "partNumber uploadId"),
    _r("PutObjectAcl", "PUT", O, W, "acl"),
    _r("PutObjectTagging", "PUT", O, W, "tagging"),
    _r("PutObjectRetention", "PUT", O, W, "retention"),
    _r("PutObjectLegalHold", "PUT", O, W, "legal-hold"),
    _r("CopyObject", "PUT", O, W, header="x-amz-copy-source"),
    _r("PutObject", "PUT", O, W),
    _r("GetObjectAcl", "GET", O, A, "acl"),
    _r("GetObjectTagging", "GET", O, A, "tagging"),
    _r("GetObjectAttributes", "GET", O, A, "attributes"),
    _r("GetObjectRetention", "GET", O, A, "retention"),
    _r("GetObjectLegalHold", "GET", O, A, "legal-hold"),
    _r("ListParts", "GET", O, W, "uploadId"),
    _r("GetObject", "GET", O, R, allows="partNumber"),
    _r("HeadObject", "HEAD", O, R, allows="partNumber"),
    _r("AbortMultipartUpload", "DELETE", O, W, "uploadId"),
    _r("DeleteObjectTagging", "DELETE", O, W, "tagging"),
    _r("DeleteObject", "DELETE", O, W),
    _r("CreateMultipartUpload", "POST", O, W, "uploads"),
    _r("CompleteMultipartUpload", "POST", O, W, "uploadId"),
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

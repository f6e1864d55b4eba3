"""S3 operation names: one enum, so a misspelt name is a type error (mypy) and a missing
member an AttributeError at import.

A ``StrEnum``: each member is its name as a ``str`` (``Op.GetObject == "GetObject"``), so
metrics labels, access logs, policy actions and the access tables keep their strings. The
S3 plane's operation table (``s3/routing.py``) names every operation; ``services/access``
says what each one means to the access rules.
"""

from __future__ import annotations

from enum import StrEnum


class Op(StrEnum):
    """An S3 operation (as AWS names it), or a permission the access rules check by itself."""

    ListBuckets = "ListBuckets"
    # bucket
    GetBucketLocation = "GetBucketLocation"
    GetBucketVersioning = "GetBucketVersioning"
    PutBucketVersioning = "PutBucketVersioning"
    GetBucketAcl = "GetBucketAcl"
    PutBucketAcl = "PutBucketAcl"
    GetBucketPolicy = "GetBucketPolicy"
    PutBucketPolicy = "PutBucketPolicy"
    DeleteBucketPolicy = "DeleteBucketPolicy"
    GetBucketPolicyStatus = "GetBucketPolicyStatus"
    GetBucketCors = "GetBucketCors"
    PutBucketCors = "PutBucketCors"
    DeleteBucketCors = "DeleteBucketCors"
    PutBucketTagging = "PutBucketTagging"
    DeleteBucketTagging = "DeleteBucketTagging"
    GetPublicAccessBlock = "GetPublicAccessBlock"
    PutPublicAccessBlock = "PutPublicAccessBlock"
    DeletePublicAccessBlock = "DeletePublicAccessBlock"
    GetBucketOwnershipControls = "GetBucketOwnershipControls"
    PutBucketOwnershipControls = "PutBucketOwnershipControls"
    DeleteBucketOwnershipControls = "DeleteBucketOwnershipControls"
    GetBucketLifecycleConfiguration = "GetBucketLifecycleConfiguration"
    GetBucketTagging = "GetBucketTagging"
    GetBucketEncryption = "GetBucketEncryption"
    PutBucketEncryption = "PutBucketEncryption"
    DeleteBucketEncryption = "DeleteBucketEncryption"
    GetObjectLockConfiguration = "GetObjectLockConfiguration"
    PutObjectLockConfiguration = "PutObjectLockConfiguration"
    PutBucketLifecycleConfiguration = "PutBucketLifecycleConfiguration"
    DeleteBucketLifecycle = "DeleteBucketLifecycle"
    GetBucketWebsite = "GetBucketWebsite"
    PutBucketWebsite = "PutBucketWebsite"
    DeleteBucketWebsite = "DeleteBucketWebsite"
    GetBucketNotificationConfiguration = "GetBucketNotificationConfiguration"
    PutBucketNotificationConfiguration = "PutBucketNotificationConfiguration"
    ListMultipartUploads = "ListMultipartUploads"
    ListObjectVersions = "ListObjectVersions"
    ListObjectsV2 = "ListObjectsV2"
    ListObjects = "ListObjects"
    HeadBucket = "HeadBucket"
    CreateBucket = "CreateBucket"
    DeleteBucket = "DeleteBucket"
    DeleteObjects = "DeleteObjects"
    PostObject = "PostObject"
    # object
    UploadPartCopy = "UploadPartCopy"
    UploadPart = "UploadPart"
    PutObjectAcl = "PutObjectAcl"
    PutObjectTagging = "PutObjectTagging"
    PutObjectRetention = "PutObjectRetention"
    PutObjectLegalHold = "PutObjectLegalHold"
    CopyObject = "CopyObject"
    PutObject = "PutObject"
    GetObjectAcl = "GetObjectAcl"
    GetObjectTagging = "GetObjectTagging"
    GetObjectAttributes = "GetObjectAttributes"
    GetObjectRetention = "GetObjectRetention"
    GetObjectLegalHold = "GetObjectLegalHold"
    ListParts = "ListParts"
    GetObject = "GetObject"
    HeadObject = "HeadObject"
    AbortMultipartUpload = "AbortMultipartUpload"
    DeleteObjectTagging = "DeleteObjectTagging"
    DeleteObject = "DeleteObject"
    CreateMultipartUpload = "CreateMultipartUpload"
    CompleteMultipartUpload = "CompleteMultipartUpload"
    # not an S3 operation: the permission a request with x-amz-bypass-governance-retention
    # needs besides its own
    BypassGovernanceRetention = "BypassGovernanceRetention"


__all__ = ["Op"]

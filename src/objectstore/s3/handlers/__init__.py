"""Operation name -> handler. Every operation in the routing table without an entry here
answers 501 NotImplemented."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from ..context import S3Context, S3Response
from . import (
    bucket,
    copy,
    lifecycle,
    listing,
    multipart,
    object_lock,
    object_read,
    object_write,
    tagging,
)

Handler = Callable[[S3Context], Awaitable[S3Response]]

HANDLERS: dict[str, Handler] = {
    "ListBuckets": bucket.list_buckets,
    "CreateBucket": bucket.create_bucket,
    "HeadBucket": bucket.head_bucket,
    "DeleteBucket": bucket.delete_bucket,
    "GetBucketLocation": bucket.get_bucket_location,
    "GetBucketVersioning": bucket.get_bucket_versioning,
    "PutBucketVersioning": bucket.put_bucket_versioning,
    "GetBucketAcl": bucket.get_bucket_acl,
    "PutBucketAcl": bucket.put_bucket_acl,
    "GetBucketPolicy": bucket.get_bucket_policy,
    "GetBucketCors": bucket.get_bucket_cors,
    "GetBucketLifecycleConfiguration": lifecycle.get_bucket_lifecycle,
    "PutBucketLifecycleConfiguration": lifecycle.put_bucket_lifecycle,
    "DeleteBucketLifecycle": lifecycle.delete_bucket_lifecycle,
    "GetBucketTagging": bucket.get_bucket_tagging,
    "GetBucketEncryption": bucket.get_bucket_encryption,
    "GetObjectLockConfiguration": object_lock.get_object_lock_configuration,
    "PutObjectLockConfiguration": object_lock.put_object_lock_configuration,
    "PutObjectRetention": object_lock.put_object_retention,
    "GetObjectRetention": object_lock.get_object_retention,
    "PutObjectLegalHold": object_lock.put_object_legal_hold,
    "GetObjectLegalHold": object_lock.get_object_legal_hold,
    "GetBucketWebsite": bucket.get_bucket_website,
    "ListObjects": listing.list_objects,
    "ListObjectsV2": listing.list_objects_v2,
    "ListObjectVersions": listing.list_object_versions,
    "PutObject": object_write.put_object,
    "DeleteObject": object_write.delete_object,
    "DeleteObjects": object_write.delete_objects,
    "PutObjectAcl": object_write.put_object_acl,
    "GetObject": object_read.get_object,
    "HeadObject": object_read.head_object,
    "GetObjectAcl": object_read.get_object_acl,
    "GetObjectAttributes": object_read.get_object_attributes,
    "GetObjectTagging": tagging.get_object_tagging,
    "PutObjectTagging": tagging.put_object_tagging,
    "DeleteObjectTagging": tagging.delete_object_tagging,
    "CopyObject": copy.copy_object,
    "UploadPartCopy": copy.upload_part_copy,
    "CreateMultipartUpload": multipart.create_multipart_upload,
    "UploadPart": multipart.upload_part,
    "CompleteMultipartUpload": multipart.complete_multipart_upload,
    "AbortMultipartUpload": multipart.abort_multipart_upload,
    "ListParts": multipart.list_parts,
    "ListMultipartUploads": multipart.list_multipart_uploads,
}

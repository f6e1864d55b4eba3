"""What each S3 operation means to the access rules: its IAM action (what bucket policies
name), and the ACL permission that grants it (on the bucket or on the object)."""

from __future__ import annotations

from dataclasses import dataclass

READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL = (
    "READ", "WRITE", "READ_ACP", "WRITE_ACP", "FULL_CONTROL")
PERMISSIONS = (READ, WRITE, READ_ACP, WRITE_ACP, FULL_CONTROL)


@dataclass(frozen=True)
class ActionInfo:
    action: str                  # e.g. "s3:GetObject"
    versioned: str | None = None  # the action when the request names a versionId
    acl: str | None = None       # ACL permission that grants it (None: owner / policy only)
    on_object: bool = False      # whether that permission is read from the object's ACL

    def name(self, version_id: str | None) -> str:
        return self.versioned if version_id is not None and self.versioned else self.action


def _a(action: str, acl: str | None = None, on_object: bool = False,
       versioned: str | None = None) -> ActionInfo:
    return ActionInfo(f"s3:{action}", f"s3:{versioned}" if versioned else None, acl, on_object)


OPERATIONS: dict[str, ActionInfo] = {
    "ListBuckets": _a("ListAllMyBuckets"),
    "CreateBucket": _a("CreateBucket"),
    "DeleteBucket": _a("DeleteBucket"),
    "HeadBucket": _a("ListBucket", READ),
    "ListObjects": _a("ListBucket", READ),
    "ListObjectsV2": _a("ListBucket", READ),
    "ListObjectVersions": _a("ListBucketVersions", READ),
    "ListMultipartUploads": _a("ListBucketMultipartUploads", READ),
    "GetBucketLocation": _a("GetBucketLocation"),
    "GetBucketVersioning": _a("GetBucketVersioning"),
    "PutBucketVersioning": _a("PutBucketVersioning"),
    "GetBucketAcl": _a("GetBucketAcl", READ_ACP),
    "PutBucketAcl": _a("PutBucketAcl", WRITE_ACP),
    "GetBucketPolicy": _a("GetBucketPolicy"),
    "PutBucketPolicy": _a("PutBucketPolicy"),
    "DeleteBucketPolicy": _a("DeleteBucketPolicy"),
    "GetBucketPolicyStatus": _a("GetBucketPolicyStatus"),
    "GetBucketCors": _a("GetBucketCORS"),
    "PutBucketCors": _a("PutBucketCORS"),
    "DeleteBucketCors": _a("PutBucketCORS"),
    "GetBucketTagging": _a("GetBucketTagging"),
    "PutBucketTagging": _a("PutBucketTagging"),
    "DeleteBucketTagging": _a("PutBucketTagging"),
    "GetPublicAccessBlock": _a("GetBucketPublicAccessBlock"),
    "PutPublicAccessBlock": _a("PutBucketPublicAccessBlock"),
    "DeletePublicAccessBlock": _a("PutBucketPublicAccessBlock"),
    "GetBucketOwnershipControls": _a("GetBucketOwnershipControls"),
    "PutBucketOwnershipControls": _a("PutBucketOwnershipControls"),
    "DeleteBucketOwnershipControls": _a("PutBucketOwnershipControls"),
    "GetBucketLifecycleConfiguration": _a("GetLifecycleConfiguration"),
    "PutBucketLifecycleConfiguration": _a("PutLifecycleConfiguration"),
    "DeleteBucketLifecycle": _a("PutLifecycleConfiguration"),
    "GetBucketEncryption": _a("GetEncryptionConfiguration"),
    "PutBucketEncryption": _a("PutEncryptionConfiguration"),
    "DeleteBucketEncryption": _a("PutEncryptionConfiguration"),
    "GetObjectLockConfiguration": _a("GetBucketObjectLockConfiguration"),
    "PutObjectLockConfiguration": _a("PutBucketObjectLockConfiguration"),
    "GetBucketWebsite": _a("GetBucketWebsite"),
    "PutBucketWebsite": _a("PutBucketWebsite"),
    "DeleteBucketWebsite": _a("DeleteBucketWebsite"),
    "GetBucketNotificationConfiguration": _a("GetBucketNotification"),
    "PutBucketNotificationConfiguration": _a("PutBucketNotification"),
    "DeleteObjects": _a("DeleteObject", WRITE),
    "PostObject": _a("PutObject", WRITE),
    "PutObject": _a("PutObject", WRITE),
    "CopyObject": _a("PutObject", WRITE),
    "UploadPart": _a("PutObject", WRITE),
    "UploadPartCopy": _a("PutObject", WRITE),
    "CreateMultipartUpload": _a("PutObject", WRITE),
    "CompleteMultipartUpload": _a("PutObject", WRITE),
    "AbortMultipartUpload": _a("AbortMultipartUpload", WRITE),
    "ListParts": _a("ListMultipartUploadParts", WRITE),
    "DeleteObject": _a("DeleteObject", WRITE, versioned="DeleteObjectVersion"),
    "GetObject": _a("GetObject", READ, True, "GetObjectVersion"),
    "HeadObject": _a("GetObject", READ, True, "GetObjectVersion"),
    "GetObjectAttributes": _a("GetObjectAttributes", READ, True, "GetObjectVersionAttributes"),
    "GetObjectAcl": _a("GetObjectAcl", READ_ACP, True, "GetObjectVersionAcl"),
    "PutObjectAcl": _a("PutObjectAcl", WRITE_ACP, True, "PutObjectVersionAcl"),
    "GetObjectTagging": _a("GetObjectTagging", versioned="GetObjectVersionTagging"),
    "PutObjectTagging": _a("PutObjectTagging", versioned="PutObjectVersionTagging"),
    "DeleteObjectTagging": _a("DeleteObjectTagging", versioned="DeleteObjectVersionTagging"),
    "GetObjectRetention": _a("GetObjectRetention"),
    "PutObjectRetention": _a("PutObjectRetention"),
    "GetObjectLegalHold": _a("GetObjectLegalHold"),
    "PutObjectLegalHold": _a("PutObjectLegalHold"),
    # not an S3 operation: the permission a request with x-amz-bypass-governance-retention
    # needs besides its own (see s3/app.py)
    "BypassGovernanceRetention": _a("BypassGovernanceRetention"),
}

# Every action a policy may name without a wildcard (lower case, as matching ignores case).
KNOWN_ACTIONS = frozenset(
    name.lower() for info in OPERATIONS.values()
    for name in (info.action, info.versioned) if name) | frozenset({
        "s3:bypassgovernanceretention", "s3:getobjectversionforreplication",
        "s3:putbucketnotification", "s3:getbucketnotification",
        "s3:putbucketlogging", "s3:getbucketlogging",
        "s3:putbucketrequestpayment", "s3:getbucketrequestpayment", "s3:restoreobject",
        "s3:putreplicationconfiguration", "s3:getreplicationconfiguration",
        "s3:deletebucketpolicy", "s3:getaccelerateconfiguration"})

# Operations the store's owner may always do, whatever its policy says (on AWS the bucket
# owner's root user can always read, replace and delete a policy that locked it out).
OWNER_ALWAYS = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})

# Operations only the store's own account may do (its owner, or another credential of that
# account the policy allows), whatever a policy or ACL grants anyone else: the documents that
# decide who gets in. On AWS, Get/Put/DeleteBucketPolicy from outside the bucket owner's
# account answer 405 MethodNotAllowed to a caller the policy allows (403 to one it does not);
# the bucket ACL, the public access block and the ownership controls are kept to the account
# here too (AccessDenied), so a policy naming another account (``s3:*``, a broad
# ``NotAction``) can never let it replace the policy, open the store to the public, or
# re-enable ACLs. Every other configuration operation follows the policy, as on AWS.
POLICY_OPS = frozenset({"GetBucketPolicy", "PutBucketPolicy", "DeleteBucketPolicy"})
OWNER_ACCOUNT_ONLY = POLICY_OPS | frozenset({
    "PutBucketAcl", "PutPublicAccessBlock", "DeletePublicAccessBlock",
    "PutBucketOwnershipControls", "DeleteBucketOwnershipControls"})


def info_for(op: str, fallback_access: str) -> ActionInfo:
    """The access meaning of ``op``; an operation not in the table (a newer one) needs the
    owner or a policy naming ``s3:<op>``, except plain reads and listings, which the ACL
    READ permission grants as before."""
    found = OPERATIONS.get(op)
    if found is not None:
        return found
    if fallback_access == "read":
        return ActionInfo(f"s3:{op}", None, READ, True)
    if fallback_access == "list":
        return ActionInfo(f"s3:{op}", None, READ, False)
    return ActionInfo(f"s3:{op}")


def is_write(action: str) -> bool:
    """Actions that change data or configuration (what a foreign account may be granted
    only when the policy names it)."""
    verb = action.split(":", 1)[-1].lower()
    return not verb.startswith(("get", "list", "head"))

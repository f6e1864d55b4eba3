"""What each S3 operation means to the access rules: its IAM action (what bucket policies
name), and the ACL permission that grants it (on the bucket or on the object)."""

from __future__ import annotations

from dataclasses import dataclass

from ...domain.operations import Op

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


OPERATIONS: dict[Op, ActionInfo] = {
    Op.ListBuckets: _a("ListAllMyBuckets"),
    Op.CreateBucket: _a("CreateBucket"),
    Op.DeleteBucket: _a("DeleteBucket"),
    Op.HeadBucket: _a("ListBucket", READ),
    Op.ListObjects: _a("ListBucket", READ),
    Op.ListObjectsV2: _a("ListBucket", READ),
    Op.ListObjectVersions: _a("ListBucketVersions", READ),
    Op.ListMultipartUploads: _a("ListBucketMultipartUploads", READ),
    Op.GetBucketLocation: _a("GetBucketLocation"),
    Op.GetBucketVersioning: _a("GetBucketVersioning"),
    Op.PutBucketVersioning: _a("PutBucketVersioning"),
    Op.GetBucketAcl: _a("GetBucketAcl", READ_ACP),
    Op.PutBucketAcl: _a("PutBucketAcl", WRITE_ACP),
    Op.GetBucketPolicy: _a("GetBucketPolicy"),
    Op.PutBucketPolicy: _a("PutBucketPolicy"),
    Op.DeleteBucketPolicy: _a("DeleteBucketPolicy"),
    Op.GetBucketPolicyStatus: _a("GetBucketPolicyStatus"),
    Op.GetBucketCors: _a("GetBucketCORS"),
    Op.PutBucketCors: _a("PutBucketCORS"),
    Op.DeleteBucketCors: _a("PutBucketCORS"),
    Op.GetBucketTagging: _a("GetBucketTagging"),
    Op.PutBucketTagging: _a("PutBucketTagging"),
    Op.DeleteBucketTagging: _a("PutBucketTagging"),
    Op.GetPublicAccessBlock: _a("GetBucketPublicAccessBlock"),
    Op.PutPublicAccessBlock: _a("PutBucketPublicAccessBlock"),
    Op.DeletePublicAccessBlock: _a("PutBucketPublicAccessBlock"),
    Op.GetBucketOwnershipControls: _a("GetBucketOwnershipControls"),
    Op.PutBucketOwnershipControls: _a("PutBucketOwnershipControls"),
    Op.DeleteBucketOwnershipControls: _a("PutBucketOwnershipControls"),
    Op.GetBucketLifecycleConfiguration: _a("GetLifecycleConfiguration"),
    Op.PutBucketLifecycleConfiguration: _a("PutLifecycleConfiguration"),
    Op.DeleteBucketLifecycle: _a("PutLifecycleConfiguration"),
    Op.GetBucketEncryption: _a("GetEncryptionConfiguration"),
    Op.PutBucketEncryption: _a("PutEncryptionConfiguration"),
    Op.DeleteBucketEncryption: _a("PutEncryptionConfiguration"),
    Op.GetObjectLockConfiguration: _a("GetBucketObjectLockConfiguration"),
    Op.PutObjectLockConfiguration: _a("PutBucketObjectLockConfiguration"),
    Op.GetBucketWebsite: _a("GetBucketWebsite"),
    Op.PutBucketWebsite: _a("PutBucketWebsite"),
    Op.DeleteBucketWebsite: _a("DeleteBucketWebsite"),
    Op.GetBucketNotificationConfiguration: _a("GetBucketNotification"),
    Op.PutBucketNotificationConfiguration: _a("PutBucketNotification"),
    Op.DeleteObjects: _a("DeleteObject", WRITE),
    Op.PostObject: _a("PutObject", WRITE),
    Op.PutObject: _a("PutObject", WRITE),
    Op.CopyObject: _a("PutObject", WRITE),
    Op.UploadPart: _a("PutObject", WRITE),
    Op.UploadPartCopy: _a("PutObject", WRITE),
    Op.CreateMultipartUpload: _a("PutObject", WRITE),
    Op.CompleteMultipartUpload: _a("PutObject", WRITE),
    Op.AbortMultipartUpload: _a("AbortMultipartUpload", WRITE),
    Op.ListParts: _a("ListMultipartUploadParts", WRITE),
    Op.DeleteObject: _a("DeleteObject", WRITE, versioned="DeleteObjectVersion"),
    Op.GetObject: _a("GetObject", READ, True, "GetObjectVersion"),
    Op.HeadObject: _a("GetObject", READ, True, "GetObjectVersion"),
    Op.GetObjectAttributes: _a("GetObjectAttributes", READ, True, "GetObjectVersionAttributes"),
    Op.GetObjectAcl: _a("GetObjectAcl", READ_ACP, True, "GetObjectVersionAcl"),
    Op.PutObjectAcl: _a("PutObjectAcl", WRITE_ACP, True, "PutObjectVersionAcl"),
    Op.GetObjectTagging: _a("GetObjectTagging", versioned="GetObjectVersionTagging"),
    Op.PutObjectTagging: _a("PutObjectTagging", versioned="PutObjectVersionTagging"),
    Op.DeleteObjectTagging: _a("DeleteObjectTagging", versioned="DeleteObjectVersionTagging"),
    Op.GetObjectRetention: _a("GetObjectRetention"),
    Op.PutObjectRetention: _a("PutObjectRetention"),
    Op.GetObjectLegalHold: _a("GetObjectLegalHold"),
    Op.PutObjectLegalHold: _a("PutObjectLegalHold"),
    # not an S3 operation: the permission a request with x-amz-bypass-governance-retention
    # needs besides its own (the S3 pipeline's bypass step)
    Op.BypassGovernanceRetention: _a("BypassGovernanceRetention"),
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
OWNER_ALWAYS = frozenset({Op.GetBucketPolicy, Op.PutBucketPolicy, Op.DeleteBucketPolicy})

# Operations only the store's own account may do (its owner, or another credential of that
# account the policy allows), whatever a policy or ACL grants anyone else: the documents that
# decide who gets in. On AWS, Get/Put/DeleteBucketPolicy from outside the bucket owner's
# account answer 405 MethodNotAllowed to a caller the policy allows (403 to one it does not);
# the bucket ACL, the public access block and the ownership controls are kept to the account
# here too (AccessDenied), so a policy naming another account (``s3:*``, a broad
# ``NotAction``) can never let it replace the policy, open the store to the public, or
# re-enable ACLs. Every other configuration operation follows the policy, as on AWS.
POLICY_OPS = frozenset({Op.GetBucketPolicy, Op.PutBucketPolicy, Op.DeleteBucketPolicy})
OWNER_ACCOUNT_ONLY = POLICY_OPS | frozenset({
    Op.PutBucketAcl, Op.PutPublicAccessBlock, Op.DeletePublicAccessBlock,
    Op.PutBucketOwnershipControls, Op.DeleteBucketOwnershipControls})


def info_for(op: Op, fallback_access: str) -> ActionInfo:
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

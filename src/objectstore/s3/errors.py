"""S3 errors: one exception type, one table of codes and statuses, one table from domain errors.

Every S3 error reply, from the pure protocol modules (sigv4, sigv2, chunked, checksums, body)
to the handlers, is an :class:`S3Error`; ``s3/app.py`` renders it with ``xml.error_document``.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import UTC
from email.utils import format_datetime

from ..domain import encryption as enc
from ..domain import errors as e
from ..services.availability import unavailable

# The HTTP status of each S3 error code this server sends (AWS's "List of error codes").
STATUS_BY_CODE: dict[str, int] = {
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "BadDigest": 400,
    "BadRequest": 400,
    "EntityTooLarge": 400,
    "EntityTooSmall": 400,
    "IncompleteBody": 400,
    "InvalidArgument": 400,
    "InvalidBucketName": 400,
    "InvalidDigest": 400,
    "InvalidLocationConstraint": 400,
    "InvalidPart": 400,
    "InvalidPartOrder": 400,
    "InvalidRequest": 400,
    "InvalidTag": 400,
    "InvalidURI": 400,
    "KeyTooLongError": 400,
    "MalformedACLError": 400,
    "MalformedTrailerError": 400,
    "MalformedXML": 400,
    "MaxMessageLengthExceeded": 400,
    "MetadataTooLarge": 400,
    "MissingSecurityHeader": 400,
    "RequestHeaderSectionTooLarge": 400,
    "RequestTimeout": 400,
    "XAmzContentSHA256Mismatch": 400,
    "AccessControlListNotSupported": 400,
    "InvalidBucketAclWithObjectOwnership": 400,
    "InvalidPolicyDocument": 400,
    "MalformedPOSTRequest": 400,
    "MalformedPolicy": 400,
    "MaxPostPreDataLengthExceeded": 400,
    "UnexpectedContent": 400,
    "UnresolvableGrantByEmailAddress": 400,
    "AccessForbidden": 403,
    "NoSuchBucketPolicy": 404,
    "NoSuchCORSConfiguration": 404,
    "NoSuchPublicAccessBlockConfiguration": 404,
    "OwnershipControlsNotFoundError": 404,
    "AccessDenied": 403,
    "InvalidAccessKeyId": 403,
    "QuotaExceeded": 403,
    "RequestTimeTooSkewed": 403,
    "SignatureDoesNotMatch": 403,
    "NoSuchBucket": 404,
    "NoSuchKey": 404,
    "NoSuchUpload": 404,
    "NoSuchVersion": 404,
    "NoSuchTagSet": 404,
    "MethodNotAllowed": 405,
    "BucketAlreadyExists": 409,
    "BucketAlreadyOwnedByYou": 409,
    "BucketNotEmpty": 409,
    "OperationAborted": 409,
    "MissingContentLength": 411,
    "PreconditionFailed": 412,
    "InvalidPartNumber": 416,
    "InvalidRange": 416,
    "InvalidBucketState": 409,
    "InternalError": 500,
    "NotImplemented": 501,
    "ServiceUnavailable": 503,
    "SlowDown": 503,
}


class S3Error(Exception):
    """An S3 error reply: ``code``, ``message``, HTTP ``status``, and ``extra`` elements for
    the error document (``StringToSign``/``CanonicalRequest`` on ``SignatureDoesNotMatch``,
    ``BucketName`` on ``NoSuchBucket``, as AWS sends them). Messages are fixed texts: never
    built from an exception."""

    def __init__(self, code: str, message: str, status: int = 400,
                 extra: Mapping[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.extra: dict[str, str] = dict(extra or {})
        self.headers: list[tuple[str, str]] = []  # response headers the reply carries

    def __repr__(self) -> str:
        return f"S3Error({self.code!r}, {self.message!r}, {self.status})"


def s3_error(code: str, message: str, *, details: Mapping[str, str] | None = None) -> S3Error:
    """An :class:`S3Error` with the status ``STATUS_BY_CODE`` gives ``code``."""
    return S3Error(code, message, STATUS_BY_CODE[code], details)


DOMAIN_TO_S3: dict[type[e.DomainError], tuple[str, int]] = {
    e.StoreNotFound: ("NoSuchBucket", 404),
    e.StoreExists: ("BucketAlreadyExists", 409),
    e.StoreNotEmpty: ("BucketNotEmpty", 409),
    e.ObjectNotFound: ("NoSuchKey", 404),
    e.PreconditionFailed: ("PreconditionFailed", 412),
    e.QuotaExceeded: ("QuotaExceeded", 403),
    e.UploadNotFound: ("NoSuchUpload", 404),
    e.InvalidInput: ("InvalidArgument", 400),
    e.CredentialNotFound: ("InvalidAccessKeyId", 403),
    e.RegionNotFound: ("InvalidLocationConstraint", 400),
    e.RegionFeatureNotSupported: ("InvalidLocationConstraint", 400),
    e.Conflict: ("OperationAborted", 409),
    e.SizeBelowUsage: ("InvalidArgument", 400),
    e.CredentialInUse: ("InvalidArgument", 400),
    e.NoSuchVersion: ("NoSuchVersion", 404),
    e.InvalidVersion: ("InvalidArgument", 400),
    e.KeyTooLong: ("KeyTooLongError", 400),
    e.AccessDenied: ("AccessDenied", 403),
    e.NotOwnerAccount: ("MethodNotAllowed", 405),
    e.AclsDisabled: ("AccessControlListNotSupported", 400),
    e.InvalidPart: ("InvalidPart", 400),
    e.InvalidPartOrder: ("InvalidPartOrder", 400),
    e.EntityTooSmall: ("EntityTooSmall", 400),
    e.MalformedRequest: ("MalformedXML", 400),
    e.UnsupportedFeature: ("NotImplemented", 501),
    e.StoreConflict: ("InvalidBucketState", 409),
    e.ObjectLocked: ("AccessDenied", 403),
    e.StoreLocked: ("InvalidBucketState", 409),
    e.LockNotEnabled: ("InvalidRequest", 400),
    # encryption (the engine and its key service), as S3 and its KMS answer them
    enc.KmsKeyNotFound: ("KMS.NotFoundException", 400),
    enc.KmsKeyDisabled: ("KMS.DisabledException", 400),
    enc.KmsKeyExists: ("InvalidArgument", 400),
    enc.EncryptionKeyRequired: ("InvalidRequest", 400),
    enc.EncryptionKeyMismatch: ("AccessDenied", 403),
    enc.EncryptionNotApplicable: ("InvalidRequest", 400),
    enc.MasterKeyMissing: ("InternalError", 500),
}


def from_domain(exc: e.DomainError) -> S3Error:
    code, status = DOMAIN_TO_S3.get(type(exc), ("InternalError", 500))
    if isinstance(exc, e.StoreExists):
        # CreateBucket on a name that exists: AWS says BucketAlreadyExists for other owners.
        return S3Error(code, "The requested bucket name is not available.", status)
    if isinstance(exc, e.DeleteMarker):
        # The latest version is a delete marker (404 NoSuchKey), or the request named a
        # marker (405 MethodNotAllowed); both say so in headers, as S3 does.
        err = (S3Error("MethodNotAllowed", exc.message, 405) if exc.addressed
               else S3Error("NoSuchKey", exc.message, 404))
        err.headers = [("x-amz-delete-marker", "true"), ("x-amz-version-id", exc.version_id)]
        if exc.addressed:
            err.headers.append(("Last-Modified", format_datetime(
                exc.last_modified.astimezone(UTC).replace(microsecond=0), usegmt=True)))
            err.headers.append(("Allow", "DELETE"))
        return err
    return S3Error(code, exc.message, status)


def from_unexpected(exc: Exception) -> S3Error:
    """The reply to an exception no table names: 503 when a backend cannot be reached right
    now (the database down, restarting or cut off, the blob store unreachable: the client
    retries), else 500 InternalError."""
    code = unavailable(exc)
    if code == "SlowDown":
        return S3Error(code, "Please reduce your request rate.", 503)
    if code == "ServiceUnavailable":
        return S3Error(code, "The service is unavailable. Please retry.", 503)
    return S3Error("InternalError", "We encountered an internal error. Please try again.", 500)


def no_such_bucket(name: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404,
                   {"BucketName": name})


def access_denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied", 403)

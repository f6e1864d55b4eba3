"""S3 errors: one exception type, one table from domain errors, one XML renderer."""

from __future__ import annotations

from ..domain import errors as e
from .auth_errors import S3AuthError


class S3Error(Exception):
    def __init__(self, code: str, message: str, status: int = 400,
                 extra: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.code, self.message, self.status = code, message, status
        self.extra = extra or {}


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
}


def from_domain(exc: e.DomainError) -> S3Error:
    code, status = DOMAIN_TO_S3.get(type(exc), ("InternalError", 500))
    if isinstance(exc, e.StoreExists):
        # CreateBucket on a name that exists: AWS says BucketAlreadyExists for other owners.
        return S3Error(code, "The requested bucket name is not available.", status)
    return S3Error(code, exc.message, status)


def from_auth(exc: S3AuthError) -> S3Error:
    return S3Error(exc.code, exc.message, exc.status)


def no_such_bucket(name: str) -> S3Error:
    return S3Error("NoSuchBucket", "The specified bucket does not exist", 404,
                   {"BucketName": name})


def access_denied() -> S3Error:
    return S3Error("AccessDenied", "Access Denied", 403)

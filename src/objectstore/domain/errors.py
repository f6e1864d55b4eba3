"""Domain errors. Each plane maps these to its wire format in one table."""

from __future__ import annotations

from datetime import datetime


class DomainError(Exception):
    """Base class: ``kind`` names the error for the planes' mapping tables."""

    kind = "internal"

    def __init__(self, message: str = "") -> None:
        super().__init__(message or self.__class__.__doc__ or self.kind)
        self.message = message or (self.__class__.__doc__ or self.kind).strip()


class Unauthenticated(DomainError):
    """The API key is missing or invalid."""

    kind = "unauthenticated"


class InvalidInput(DomainError):
    """A parameter is missing or malformed."""

    kind = "invalid_input"

    def __init__(self, message: str, field: str = "") -> None:
        super().__init__(message)
        self.field = field


class RegionNotFound(DomainError):
    """The region is not known."""

    kind = "region_not_found"


class RegionFeatureNotSupported(DomainError):
    """Object stores are not available in this region."""

    kind = "region_feature_not_supported"


class StoreNotFound(DomainError):
    """The object store does not exist."""

    kind = "store_not_found"


class StoreExists(DomainError):
    """An object store with this name already exists in the region."""

    kind = "store_exists"


class StoreNotEmpty(DomainError):
    """The object store is not empty."""

    kind = "store_not_empty"


class CredentialNotFound(DomainError):
    """The credential does not exist."""

    kind = "credential_not_found"


class CredentialExists(DomainError):
    """The access key is already in use."""

    kind = "credential_exists"


class CredentialInUse(DomainError):
    """The credential owns object stores and cannot be deleted."""

    kind = "credential_in_use"


class AccountNotFound(DomainError):
    """The account does not exist."""

    kind = "account_not_found"


class AccountExists(DomainError):
    """An account with this name already exists."""

    kind = "account_exists"


class QuotaExceeded(DomainError):
    """The request would exceed a quota."""

    kind = "quota_exceeded"


class SizeBelowUsage(DomainError):
    """The new size is smaller than the bytes already stored."""

    kind = "size_below_usage"


class ObjectNotFound(DomainError):
    """The object does not exist."""

    kind = "object_not_found"


class PreconditionFailed(DomainError):
    """A precondition did not hold."""

    kind = "precondition_failed"


class UploadNotFound(DomainError):
    """The multipart upload does not exist."""

    kind = "upload_not_found"


class Conflict(DomainError):
    """A concurrent change conflicted with this request."""

    kind = "conflict"


class NoSuchVersion(DomainError):
    """The specified version does not exist."""

    kind = "no_such_version"


class InvalidVersion(DomainError):
    """The version id is not one this server could have issued."""

    kind = "invalid_version"


class DeleteMarker(DomainError):
    """The addressed version is a delete marker: a read of the latest version finds no
    object (404); an operation on the marker itself is not allowed (405)."""

    kind = "delete_marker"

    def __init__(self, version_id: str, last_modified: datetime, *, addressed: bool) -> None:
        super().__init__("The specified method is not allowed against this resource."
                         if addressed else "The specified key does not exist.")
        self.version_id = version_id
        self.last_modified = last_modified
        self.addressed = addressed


class UnsupportedFeature(DomainError):
    """A request asks for something this server does not offer."""

    kind = "unsupported_feature"


class StoreConflict(DomainError):
    """The store's configuration does not allow this change."""

    kind = "store_conflict"


class InvalidPart(DomainError):
    """One or more of the specified parts could not be found."""

    kind = "invalid_part"


class InvalidPartOrder(DomainError):
    """The list of parts was not in ascending order."""

    kind = "invalid_part_order"


class EntityTooSmall(DomainError):
    """A part other than the last is smaller than the minimum part size."""

    kind = "entity_too_small"


class MalformedRequest(DomainError):
    """A request document is missing what it must hold."""

    kind = "malformed_request"


class AclsDisabled(DomainError):
    """The store's ownership controls disable ACLs (BucketOwnerEnforced)."""

    kind = "acls_disabled"


class AccessDenied(DomainError):
    """Access Denied"""

    kind = "access_denied"


class NotOwnerAccount(AccessDenied):
    """The operation is the store's own account's alone (S3: 405 MethodNotAllowed)."""

    kind = "access_denied"


class KeyTooLong(InvalidInput):
    """Your key is too long."""

    kind = "key_too_long"


class ObjectLocked(AccessDenied):
    """The object version is locked (retention or legal hold) and cannot be removed."""

    kind = "object_locked"


class StoreLocked(DomainError):
    """The object store holds locked object versions and cannot be deleted."""

    kind = "store_locked"


class LockNotEnabled(DomainError):
    """The object store has no object lock configuration."""

    kind = "lock_not_enabled"

"""The console's one table from domain errors to HTTP statuses (the message shown is the
error's own ``message``, the same ``reason`` the API gives)."""

from __future__ import annotations

from ..domain import errors as e
from ..domain import notifications as notif

STATUS: dict[str, int] = {
    e.Unauthenticated.kind: 401,
    e.InvalidInput.kind: 400,
    e.RegionNotFound.kind: 404,
    e.RegionFeatureNotSupported.kind: 400,
    e.StoreNotFound.kind: 404,
    e.StoreExists.kind: 409,
    e.StoreNotEmpty.kind: 409,
    e.CredentialNotFound.kind: 404,
    e.CredentialExists.kind: 409,
    e.CredentialInUse.kind: 409,
    e.AccountNotFound.kind: 404,
    e.AccountExists.kind: 409,
    e.QuotaExceeded.kind: 403,
    e.SizeBelowUsage.kind: 400,
    e.ObjectNotFound.kind: 404,
    e.PreconditionFailed.kind: 412,
    e.Conflict.kind: 409,
    e.StoreConflict.kind: 409,
    e.AccessDenied.kind: 403,
    e.ObjectLocked.kind: 403,
    e.NoSuchVersion.kind: 404,
    e.InvalidVersion.kind: 400,
    e.DeleteMarker.kind: 404,
    notif.TargetNotFound.kind: 404,
    notif.TargetInUse.kind: 409,
    notif.TargetInvalid.kind: 422,
    notif.EndpointRefused.kind: 422,
}


def status_of(exc: e.DomainError) -> int:
    return STATUS.get(exc.kind, 400 if isinstance(exc, e.InvalidInput) else 500)

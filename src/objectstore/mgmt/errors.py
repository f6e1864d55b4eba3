"""The management plane's one table from domain errors to Civo's JSON errors."""

from __future__ import annotations

from starlette.responses import JSONResponse

from ..domain import encryption as enc
from ..domain import errors as e
from ..domain import notifications as notif

# kind -> (HTTP status, Civo code)
CIVO_ERRORS: dict[type[e.DomainError], tuple[int, str]] = {
    e.Unauthenticated: (401, "database_account_not_found"),
    e.RegionNotFound: (404, "database_region_not_found"),
    e.RegionFeatureNotSupported: (400, "database_region_feature_not_supported"),
    e.StoreNotFound: (404, "database_objectstore_not_found"),
    e.StoreExists: (409, "database_objectstore_exists"),
    e.StoreNotEmpty: (409, "database_objectstore_not_empty"),
    e.CredentialNotFound: (404, "database_objectstore_credential_not_found"),
    e.CredentialExists: (409, "database_objectstore_credential_exists"),
    e.CredentialInUse: (409, "database_objectstore_credential_in_use"),
    e.AccountNotFound: (404, "database_account_not_found"),
    e.QuotaExceeded: (403, "objectstore_quota_exceeded"),
    e.SizeBelowUsage: (400, "objectstore_size_below_usage"),
    e.Conflict: (409, "conflict"),
    e.StoreLocked: (409, "database_objectstore_locked"),
    enc.KmsKeyNotFound: (404, "database_objectstore_key_not_found"),
    enc.KmsKeyExists: (409, "database_objectstore_key_exists"),
    enc.KmsKeyDisabled: (400, "objectstore_key_disabled"),
    notif.TargetNotFound: (404, "database_objectstore_event_target_not_found"),
    notif.TargetInUse: (409, "database_objectstore_event_target_in_use"),
    notif.EndpointRefused: (422, "objectstore_event_target_endpoint_refused"),
    notif.TargetInvalid: (422, "objectstore_event_target_invalid"),
}

# Civo codes answered outside the table above: code -> (HTTP status, when)
OTHER_ERRORS: dict[str, tuple[int, str]] = {
    "parameter_<name>_invalid": (400, "a parameter is invalid"),
    "parameter_invalid": (400, "the input is invalid"),
    "bad_request": (400, "the request is not well-formed HTTP/1.1 (answered before routing)"),
    "invalid_json": (400, "the body is not a JSON object"),
    "invalid_request_body": (400, "the body is neither JSON nor form-encoded, or bad gzip"),
    "request_timeout": (408, "the request body stalled"),
    "request_body_too_large": (413, "the body is larger than the limit, before or after "
                                    "gunzip"),
    "request_header_too_large": (431, "the request headers are larger than the limit"),
    "metrics_token_invalid": (401, "GET /metrics with a bearer token that is neither "
                                   "OBJECTSTORE_METRICS_TOKEN nor the operator's API key"),
    "not_found": (404, "no such endpoint"),
    "method_not_allowed": (405, "the method is not served on the path"),
    "service_unavailable": (503, "the metadata database or the blob store cannot be reached "
                                 "right now (nothing was changed; retry after Retry-After)"),
    "internal_server_error": (500, "an unexpected failure"),
}


def civo_error(status: int, code: str, reason: str, details: str | None = None) -> JSONResponse:
    body = {"code": code, "reason": reason}
    if details:
        body["details"] = details
    return JSONResponse(body, status_code=status)


def service_unavailable() -> JSONResponse:
    """A backend outage (``services/availability.py``): retryable, nothing was changed."""
    resp = civo_error(503, "service_unavailable",
                      "the service cannot reach its database or blob store right now; "
                      "nothing was changed: retry shortly")
    resp.headers["Retry-After"] = "1"
    return resp


def domain_error_response(exc: e.DomainError) -> JSONResponse:
    if isinstance(exc, e.InvalidInput):
        code = f"parameter_{exc.field}_invalid" if exc.field else "parameter_invalid"
        return civo_error(400, code, exc.message)
    status, code = CIVO_ERRORS.get(type(exc), (500, "internal_server_error"))
    return civo_error(status, code, exc.message)

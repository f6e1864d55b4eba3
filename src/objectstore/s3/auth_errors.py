"""Error type raised by the pure S3 authentication and body-decoding modules."""

from __future__ import annotations

from collections.abc import Mapping

# Default HTTP status for every S3 error code these modules raise.
STATUS_BY_CODE: dict[str, int] = {
    "AccessDenied": 403,
    "SignatureDoesNotMatch": 403,
    "InvalidAccessKeyId": 403,
    "RequestTimeTooSkewed": 403,
    "AuthorizationHeaderMalformed": 400,
    "AuthorizationQueryParametersError": 400,
    "MissingSecurityHeader": 400,
    "InvalidRequest": 400,
    "XAmzContentSHA256Mismatch": 400,
    "IncompleteBody": 400,
    "InvalidDigest": 400,
    "BadDigest": 400,
    "InvalidArgument": 400,
    "MalformedTrailerError": 400,
}


class S3AuthError(Exception):
    """An S3 protocol error (``code``/``message``/``status``) for the caller to render as XML.

    ``details`` carries optional extra elements for the error document (for example
    ``StringToSign`` / ``CanonicalRequest`` on ``SignatureDoesNotMatch``, as AWS does).
    """

    def __init__(
        self,
        code: str,
        message: str,
        status: int = 403,
        *,
        details: Mapping[str, str] | None = None,
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.code = code
        self.message = message
        self.status = status
        self.details: dict[str, str] = dict(details or {})

    def __repr__(self) -> str:
        return f"S3AuthError({self.code!r}, {self.message!r}, {self.status})"


def s3_error(code: str, message: str, *, details: Mapping[str, str] | None = None) -> S3AuthError:
    """Build an :class:`S3AuthError` with the standard status for ``code``."""
    return S3AuthError(code, message, STATUS_BY_CODE.get(code, 403), details=details)

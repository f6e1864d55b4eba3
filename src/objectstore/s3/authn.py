"""Who is calling: SigV4 (header, presigned, streaming), SigV2 (header, presigned), anonymous.

Depends only on a lookup of a credential by access key; every signature is verified.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime

from ..domain.models import Credential
from ..services.registry import Services
from .errors import s3_error
from .request_view import RequestView
from .sigv2 import detect_sigv2, parse_sigv2, verify_sigv2
from .sigv4 import SigV4Auth, detect_sigv4, parse_sigv4, verify_sigv4


@dataclass(frozen=True)
class Caller:
    credential: Credential | None
    sigv4: SigV4Auth | None = None
    signing_key: bytes | None = None


async def _lookup(services: Services, access_key: str) -> Credential:
    cred = await services.credentials.by_access_key_async(access_key)
    if cred is None:
        raise s3_error("InvalidAccessKeyId",
                       "The AWS Access Key Id you provided does not exist in our records.")
    if cred.suspended:
        raise s3_error("AccessDenied", "Access Denied: this credential is suspended")
    return cred


async def authenticate(services: Services, view: RequestView, virtual_bucket: str | None
                       ) -> Caller:
    now = datetime.now(UTC)
    if detect_sigv4(view):
        auth = parse_sigv4(view, now)
        cred = await _lookup(services, auth.access_key)
        key = verify_sigv4(view, auth, cred.secret_access_key)
        return Caller(cred, auth, key)
    if detect_sigv2(view):
        auth2 = parse_sigv2(view, now)
        cred = await _lookup(services, auth2.access_key)
        verify_sigv2(view, auth2, cred.secret_access_key, virtual_bucket=virtual_bucket)
        return Caller(cred)
    if "authorization" in view.headers:
        raise s3_error("InvalidArgument", "Unsupported Authorization Type")
    return Caller(None)

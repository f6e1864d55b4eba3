"""Browser form uploads (POST object): a streamed ``multipart/form-data`` reader, the
base64 policy document and its conditions, and the form's SigV4 / SigV2 signature.

The form fields before the file are read into memory (at most ``MAX_FIELDS_BYTES``); the
file itself is streamed to the object engine as it arrives and never held whole; fields
after the file are ignored, as on S3.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import re
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from starlette.types import Receive

from ..domain.models import Credential
from ..domain.parsing import load_json
from ..services.registry import Services
from .checksums import PayloadVerifier
from .context import S3Context
from .errors import S3Error
from .sigv4 import signing_key

MAX_FIELDS_BYTES = 1024 * 1024
MAX_FIELD_BYTES = 64 * 1024
MAX_PART_HEADER = 8 * 1024
MAX_POST_FILE = 5 * 1024**3
# Fields that need no policy condition (AWS's list, lower case).
UNCHECKED = frozenset({"policy", "signature", "x-amz-signature", "awsaccesskeyid", "file",
                       "x-amz-security-token"})


def denied(detail: str) -> S3Error:
    return S3Error("AccessDenied", f"Invalid according to Policy: {detail}", 403)


def bad_form(detail: str) -> S3Error:
    return S3Error("MalformedPOSTRequest", "The body of your POST request is not well-formed "
                   f"multipart/form-data: {detail}", 400)


@dataclass
class PostForm:
    """The fields before the file (names lower case), the file's name and type, and the
    reader positioned at the file's first byte."""

    fields: dict[str, str]
    filename: str
    file_type: str | None
    reader: FormReader
    upper_bound: int  # the file is at most this many bytes (Content-Length minus framing)
    credential: Credential | None = None
    key: str = ""
    length_range: tuple[int, int] | None = None
    conditions: list[Any] = field(default_factory=list)


class FormReader:
    """``multipart/form-data`` from an ASGI receive channel, incrementally."""

    def __init__(self, receive: Receive, boundary: bytes, timeout: float) -> None:
        self._receive = receive
        self._timeout = timeout
        self.delimiter = b"\r\n--" + boundary
        self.buf = bytearray(b"\r\n")  # so the first delimiter looks like every other one
        self.consumed = -2  # bytes of the body taken out of ``buf`` (the CRLF is not sent)
        self.eof = False

    async def _more(self) -> None:
        if self.eof:
            raise bad_form("the body ended early")
        try:
            message = await asyncio.wait_for(self._receive(), self._timeout)
        except TimeoutError:
            raise S3Error("RequestTimeout", "Your socket connection to the server was not "
                          "read from or written to within the timeout period.", 400) from None
        if message["type"] == "http.disconnect":
            raise S3Error("IncompleteBody", "The client disconnected before the body was "
                          "complete", 400)
        self.buf += message.get("body", b"")
        if not message.get("more_body", False):
            self.eof = True

    def _take(self, n: int) -> bytes:
        out = bytes(self.buf[:n])
        del self.buf[:n]
        self.consumed += n
        return out

    async def _until(self, token: bytes, limit: int) -> bytes:
        """Everything before ``token`` (which is consumed too), at most ``limit`` bytes."""
        while True:
            at = self.buf.find(token)
            if at >= 0:
                if at > limit:
                    raise S3Error("MaxPostPreDataLengthExceeded", "Your POST request fields "
                                  "preceding the upload file were too large.", 400)
                data = self._take(at)
                self._take(len(token))
                return data
            if len(self.buf) > limit + len(token):
                raise S3Error("MaxPostPreDataLengthExceeded", "Your POST request fields "
                              "preceding the upload file were too large.", 400)
            await self._more()

    async def start(self) -> None:
        """Skip the preamble up to the first boundary."""
        await self._until(self.delimiter, MAX_FIELD_BYTES)

    async def next_part(self) -> dict[str, str] | None:
        """The headers of the next part (lower-case names), or None at the closing
        delimiter."""
        while len(self.buf) < 2:
            await self._more()
        if self.buf[:2] == b"--":
            return None
        if self.buf[:2] != b"\r\n":
            raise bad_form("a boundary is not followed by CRLF")
        self._take(2)
        raw = await self._until(b"\r\n\r\n", MAX_PART_HEADER)
        headers: dict[str, str] = {}
        for line in raw.decode("utf-8", "replace").split("\r\n"):
            name, sep, value = line.partition(":")
            if not sep:
                raise bad_form("a part header has no colon")
            headers[name.strip().lower()] = value.strip()
        return headers

    async def value(self, limit: int) -> bytes:
        return await self._until(self.delimiter, limit)

    async def file_chunks(self) -> AsyncIterator[bytes]:
        """The file part's bytes as they arrive; the delimiter after them ends it."""
        keep = len(self.delimiter) - 1
        while True:
            at = self.buf.find(self.delimiter)
            if at >= 0:
                if at:
                    yield self._take(at)
                self._take(len(self.delimiter))
                return
            if len(self.buf) > keep:
                yield self._take(len(self.buf) - keep)
            await self._more()

    async def drain(self) -> None:
        """Read (and ignore) the rest of the body: fields after the file."""
        while not self.eof:
            await self._more()
            self.buf.clear()


def _disposition(value: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for m in re.finditer(r';\s*([\w*-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^;]*))', value):
        out[m.group(1).lower()] = m.group(2) if m.group(2) is not None else m.group(3).strip()
    return out


async def read_form(ctx: S3Context) -> PostForm:
    """Read the fields up to the file part."""
    ctype = ctx.headers.get("content-type", "")
    m = re.match(r'\s*multipart/form-data\s*;.*?boundary\s*=\s*"?([^";]{1,70})"?', ctype,
                 re.IGNORECASE)
    if m is None:
        raise S3Error("PreconditionFailed", "At least one of the pre-conditions you specified "
                      "did not hold (POST requires multipart/form-data)", 412,
                      {"Condition": "Bucket POST must be of the enclosure-type "
                       "multipart/form-data"})
    length_text = ctx.headers.get("content-length")
    if length_text is None or not (length_text.isascii() and length_text.isdigit()):
        raise S3Error("MissingContentLength", "You must provide the Content-Length HTTP "
                      "header.", 411)
    total = int(length_text)
    reader = FormReader(ctx.receive, m.group(1).encode("latin-1"),
                        ctx.services.settings.request_body_timeout_s)
    await reader.start()
    fields: dict[str, str] = {}
    size = 0
    while True:
        headers = await reader.next_part()
        if headers is None:
            raise S3Error("InvalidArgument", "POST requires exactly one file upload per "
                          "request.", 400, {"ArgumentName": "file", "ArgumentValue": "0"})
        disp = _disposition(headers.get("content-disposition", ""))
        name = disp.get("name", "").lower()
        if not name:
            raise bad_form("a part has no name")
        if name == "file":
            filename = disp.get("filename", "").replace("\\", "/").rsplit("/", 1)[-1]
            bound = total - reader.consumed - len(reader.delimiter) - 2
            return PostForm(fields, filename, headers.get("content-type"), reader,
                            max(0, min(bound, MAX_POST_FILE)))
        data = await reader.value(MAX_FIELD_BYTES)
        size += len(data)
        if size > MAX_FIELDS_BYTES:
            raise S3Error("MaxPostPreDataLengthExceeded", "Your POST request fields preceding "
                          "the upload file were too large.", 400)
        try:
            text = data.decode("utf-8")
        except UnicodeDecodeError:
            raise bad_form(f"field {name} is not UTF-8") from None
        if name in fields:
            raise S3Error("InvalidArgument", f"Field {name} appears more than once", 400)
        fields[name] = text


# -- signature ----------------------------------------------------------------------------------

async def _credential(services: Services, access_key: str) -> Credential:
    cred = await services.credentials.by_access_key_async(access_key)
    if cred is None:
        raise S3Error("InvalidAccessKeyId", "The AWS Access Key Id you provided does not exist "
                      "in our records.", 403)
    if cred.suspended:
        raise S3Error("AccessDenied", "Access Denied: this credential is suspended", 403)
    return cred


async def authenticate(services: Services, form: PostForm) -> Credential | None:
    """The form's signer (SigV4 or SigV2 over the base64 policy), or None (anonymous:
    no policy and no signature)."""
    f = form.fields
    policy = f.get("policy")
    if "x-amz-signature" in f or "x-amz-credential" in f:
        if policy is None:
            raise S3Error("InvalidArgument", "Bucket POST must contain a field named "
                          "'policy'.", 400)
        if (f.get("x-amz-algorithm") or "") != "AWS4-HMAC-SHA256":
            raise S3Error("InvalidArgument", "Only AWS4-HMAC-SHA256 is supported in "
                          "x-amz-algorithm", 400)
        parts = (f.get("x-amz-credential") or "").split("/")
        amz_date = f.get("x-amz-date") or ""
        if len(parts) != 5 or parts[3] != "s3" or parts[4] != "aws4_request" or \
                not re.fullmatch(r"\d{8}T\d{6}Z", amz_date) or amz_date[:8] != parts[1]:
            raise S3Error("InvalidArgument", "Invalid x-amz-credential or x-amz-date", 400)
        cred = await _credential(services, parts[0])
        key = signing_key(cred.secret_access_key, parts[1], parts[2])
        wanted = hmac.new(key, policy.encode(), hashlib.sha256).hexdigest()
        given = (f.get("x-amz-signature") or "").lower()
    elif "signature" in f or "awsaccesskeyid" in f:
        if policy is None:
            raise S3Error("InvalidArgument", "Bucket POST must contain a field named "
                          "'policy'.", 400)
        cred = await _credential(services, f.get("awsaccesskeyid") or "")
        wanted = base64.b64encode(hmac.new(cred.secret_access_key.encode(), policy.encode(),
                                           hashlib.sha1).digest()).decode()
        given = f.get("signature") or ""
    else:
        if policy is not None:
            raise S3Error("InvalidArgument", "Bucket POST with a policy must be signed", 400)
        return None
    if not hmac.compare_digest(wanted.encode(), given.encode()):
        raise S3Error("SignatureDoesNotMatch", "The request signature we calculated does not "
                      "match the signature you provided. Check your key and signing method.",
                      403)
    return cred


# -- policy -------------------------------------------------------------------------------------

def decode_policy(text: str) -> dict[str, Any]:
    try:
        raw = base64.b64decode(text.encode("ascii"), validate=True)
        doc = load_json(raw)
    except (binascii.Error, ValueError, UnicodeError):
        raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid JSON.", 400) from None
    if not isinstance(doc, dict) or not isinstance(doc.get("conditions"), list):
        raise S3Error("InvalidPolicyDocument", "Invalid Policy: Policy missing conditions.",
                      400)
    return doc


# An ISO 8601 date and time, as AWS requires of a POST policy's expiration
# ("2007-12-01T12:00:00.000Z"; an offset instead of Z is taken too).
_ISO8601 = re.compile(r"[0-9]{4}-[0-9]{2}-[0-9]{2}T[0-9]{2}:[0-9]{2}:[0-9]{2}(\.[0-9]{1,9})?"
                      r"(Z|[+-][0-9]{2}:[0-9]{2})?", re.ASCII)


def _expiry(doc: dict[str, Any], now: datetime) -> None:
    exp = doc.get("expiration")
    if not isinstance(exp, str):
        raise S3Error("InvalidPolicyDocument", "Invalid Policy: Policy missing expiration.",
                      400)
    try:
        if not _ISO8601.fullmatch(exp):  # fromisoformat also takes a space, a bare date...
            raise ValueError(exp)
        when = datetime.fromisoformat(exp.replace("Z", "+00:00"))
    except ValueError:
        raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid 'expiration' value: "
                      f"'{exp[:64]}'", 400) from None
    when = when if when.tzinfo else when.replace(tzinfo=UTC)
    if when <= now:
        raise denied("Policy expired.")


def check_policy(form: PostForm, bucket: str, key: str, now: datetime) -> None:
    """Every condition holds and every field is covered by one; sets ``length_range``."""
    policy = form.fields.get("policy")
    if policy is None:
        return
    doc = decode_policy(policy)
    _expiry(doc, now)
    values = dict(form.fields, bucket=bucket, key=key)
    if form.file_type and "content-type" not in values:
        values["content-type"] = form.file_type
    covered: set[str] = {"bucket"}
    for cond in doc["conditions"]:
        if isinstance(cond, dict):
            if len(cond) != 1:
                raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid Simple-"
                              "Condition: Simple-Conditions must have exactly one property "
                              "specified.", 400)
            ((name, wanted),) = cond.items()
            op, name = "eq", str(name).lower()
        elif isinstance(cond, list) and len(cond) == 3 and isinstance(cond[0], str):
            op = cond[0].lower()
            if op == "content-length-range":
                try:
                    lo, hi = int(cond[1]), int(cond[2])
                except (TypeError, ValueError):
                    raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid "
                                  "content-length-range", 400) from None
                form.length_range = (lo, hi)
                continue
            if op not in ("eq", "starts-with") or not isinstance(cond[1], str) or \
                    not cond[1].startswith("$"):
                raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid condition "
                              f"{json.dumps(cond)[:200]}", 400)
            name, wanted = cond[1][1:].lower(), cond[2]
        else:
            raise S3Error("InvalidPolicyDocument", "Invalid Policy: Invalid condition", 400)
        if not isinstance(wanted, str):
            raise S3Error("InvalidPolicyDocument", "Invalid Policy: condition values must be "
                          "strings", 400)
        actual = values.get(name)
        ok = actual is not None and (actual == wanted if op == "eq"
                                     else actual.startswith(wanted))
        if not ok:
            raise denied(f'Policy Condition failed: ["{op}", "${name}", '
                         f'{json.dumps(wanted)[:200]}]')
        covered.add(name)
    extra = [n for n in form.fields if n not in covered and n not in UNCHECKED
             and not n.startswith("x-ignore-")]
    if extra:
        raise denied(f"Extra input fields: {extra[0]}")


# -- the file as the engine's payload --------------------------------------------------------

class FormPayload:
    """``services.engine.transfer.Payload`` over the file part, with the policy's
    content-length-range and the form's checksum fields verified."""

    def __init__(self, form: PostForm) -> None:
        self.form = form
        checks = {k: v for k, v in form.fields.items()
                  if k.startswith("x-amz-checksum-") or k == "content-md5"}
        self.verifier = PayloadVerifier.from_headers(checks)
        self.verifier.default_checksum()
        self._size = 0

    async def chunks(self) -> AsyncIterator[bytes]:
        hi = self.form.length_range[1] if self.form.length_range else MAX_POST_FILE
        async for piece in self.form.reader.file_chunks():
            self._size += len(piece)
            if self._size > hi:
                raise S3Error("EntityTooLarge", "Your proposed upload exceeds the maximum "
                              "allowed size", 400)
            yield piece
        await self.form.reader.drain()

    def update(self, data: bytes) -> None:
        self.verifier.update(data)

    def finish(self, expected_length: int) -> None:
        if self._size > expected_length:
            raise bad_form("the file is longer than the request")
        if self.form.length_range and self._size < self.form.length_range[0]:
            raise S3Error("EntityTooSmall", "Your proposed upload is smaller than the minimum "
                          "allowed size", 400)
        self.verifier.finish()

    @property
    def md5_hex(self) -> str:
        return self.verifier.md5_hex

    @property
    def checksums(self) -> dict[str, str]:
        return self.verifier.checksums

    @property
    def size(self) -> int:
        return self._size

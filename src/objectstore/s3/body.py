"""Request bodies: plain or aws-chunked, every byte verified (payload hash, chunk signatures,
Content-MD5, x-amz-checksum-* in headers or trailers)."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator

from .checksums import PayloadVerifier
from .chunked import ChunkedDecoder
from .context import S3Context
from .errors import s3_error

MAX_PUT_SIZE = 5 * 1024**3
STREAMING = (
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
    "STREAMING-UNSIGNED-PAYLOAD-TRAILER",
    "STREAMING-AWS4-HMAC-SHA256-PAYLOAD-TRAILER",
)


def is_aws_chunked(ctx: S3Context) -> bool:
    sha = ctx.headers.get("x-amz-content-sha256", "")
    return sha in STREAMING or "aws-chunked" in ctx.headers.get("content-encoding", "").lower()


def declared_length(ctx: S3Context) -> int | None:
    """The payload length the client announced (decoded length for aws-chunked)."""
    name = "x-amz-decoded-content-length" if is_aws_chunked(ctx) else "content-length"
    value = ctx.headers.get(name)
    if value is None:
        return None
    if not re.fullmatch(r"[0-9]+", value):  # ASCII only: "²".isdigit() is True
        raise s3_error("InvalidArgument", f"Invalid {name} header")
    return int(value) if len(value) <= 19 else 10**19  # too large for any limit anyway


def require_length(ctx: S3Context, limit: int = MAX_PUT_SIZE) -> int:
    length = body_length(ctx, limit)
    if length is None:
        raise s3_error("MissingContentLength", "You must provide the Content-Length HTTP "
                       "header.")
    return length


def body_length(ctx: S3Context, limit: int = MAX_PUT_SIZE) -> int | None:
    """The announced payload length; None for a ``Transfer-Encoding: chunked`` body that
    announces none (its size is known once read: ``Body`` still caps it at ``limit``)."""
    length = declared_length(ctx)
    if length is None:
        if "chunked" in ctx.headers.get("transfer-encoding", "").lower():
            return None
        length = 0
    if length > limit:
        raise s3_error("EntityTooLarge", "Your proposed upload exceeds the maximum allowed size")
    return length


class Body:
    """Async iterator over the verified payload of one request."""

    def __init__(self, ctx: S3Context, verifier: PayloadVerifier | None = None,
                 limit: int = MAX_PUT_SIZE) -> None:
        self.ctx = ctx
        self.limit = limit
        self.verifier = verifier if verifier is not None else _verifier(ctx)
        self.size = 0
        self.length_unknown = False  # set for a Transfer-Encoding: chunked body
        self._decoder: ChunkedDecoder | None = None
        if is_aws_chunked(ctx):
            auth = ctx.sigv4
            signed = auth is not None and auth.payload_hash.startswith("STREAMING-AWS4-HMAC")
            if signed and (auth is None or ctx.signing_key is None):
                raise s3_error("InvalidRequest", "Signed streaming requires SigV4")
            self._decoder = ChunkedDecoder(
                signing_key=ctx.signing_key if signed else None,
                seed_signature=auth.signature if signed and auth else None,
                amz_date=auth.amz_date if auth else "",
                scope=auth.scope if auth else "",
                expect_trailer="TRAILER" in (auth.payload_hash if auth else "")
                or "x-amz-trailer" in ctx.headers,
            )

    async def _raw(self) -> AsyncIterator[bytes]:
        timeout = self.ctx.services.settings.request_body_timeout_s
        while True:
            try:
                message = await asyncio.wait_for(self.ctx.receive(), timeout)
            except TimeoutError:
                raise s3_error("RequestTimeout", "Your socket connection to the server was not "
                               "read from or written to within the timeout period.") from None
            if message["type"] == "http.disconnect":
                raise s3_error("IncompleteBody", "The client disconnected before the body "
                               "was complete")
            chunk = message.get("body", b"")
            if chunk:
                yield chunk
            if not message.get("more_body", False):
                return

    async def chunks(self) -> AsyncIterator[bytes]:
        """Decoded payload pieces. Verification of hashes happens in ``finish``."""
        async for raw in self._raw():
            pieces = self._decoder.feed(raw) if self._decoder else [raw]
            for piece in pieces:
                self.size += len(piece)
                if self.size > self.limit:
                    raise s3_error("EntityTooLarge", "Your proposed upload exceeds the "
                                   "maximum allowed size")
                yield piece
        if self._decoder is not None:
            self._decoder.finish()
            for name, value in self._decoder.trailers.items():
                self.verifier.set_trailer(name, value)

    def finish(self, expected_length: int | None) -> None:
        if self.length_unknown:
            expected_length = None  # a chunked body: its size is what came
        if expected_length is not None and self.size != expected_length:
            raise s3_error("IncompleteBody", "You did not provide the number of bytes specified "
                           "by the Content-Length HTTP header")
        self.verifier.finish()


def _verifier(ctx: S3Context) -> PayloadVerifier:
    return PayloadVerifier.from_headers(ctx.headers)


async def read_small_body(ctx: S3Context, limit: int = 2 * 1024 * 1024) -> bytes:
    """Read and verify a small request body (XML documents)."""
    length = declared_length(ctx)
    if length is not None and length > limit:
        raise s3_error("MaxMessageLengthExceeded", "Your request was too big.")
    body = Body(ctx, limit=limit)
    parts = [piece async for piece in body.chunks()]
    data = b"".join(parts)
    if len(data) > limit:
        raise s3_error("MaxMessageLengthExceeded", "Your request was too big.")
    body.verifier.update(data)
    body.finish(length)
    return data

"""Incremental decoder for ``Content-Encoding: aws-chunked`` request bodies. Pure.

Handles STREAMING-AWS4-HMAC-SHA256-PAYLOAD(-TRAILER) (every chunk signature verified; a signed
chunk's bytes are only returned once its signature has been checked) and
STREAMING-UNSIGNED-PAYLOAD-TRAILER (plain chunks, then trailer lines).
"""

from __future__ import annotations

import hashlib
import hmac
import re

from objectstore.s3.errors import S3Error, s3_error

EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
MAX_LINE = 4 * 1024
MAX_TRAILER_SECTION = 16 * 1024
_SIZE_RE = re.compile(rb"^([0-9a-fA-F]{1,16})(;.*)?$", re.DOTALL)
_SIG_EXT_RE = re.compile(rb"^;chunk-signature=([0-9a-fA-F]{64})$")
_TRAILER_RE = re.compile(rb"^([!#$%&'*+.^_`|~0-9A-Za-z-]+)[ \t]*:[ \t]*([\x20-\x7e]*?)[ \t]*$")

_SIZE, _DATA, _DATA_END, _TRAILER, _DONE = range(5)


def _sig_error(what: str) -> S3Error:
    return s3_error(
        "SignatureDoesNotMatch",
        f"The {what} signature we calculated does not match the signature you provided.",
    )


class ChunkedDecoder:
    def __init__(
        self,
        *,
        signing_key: bytes | None,
        seed_signature: str | None,
        amz_date: str,
        scope: str,
        expect_trailer: bool,
        max_chunk_size: int = 16 * 1024 * 1024,
    ) -> None:
        if signing_key is not None and not seed_signature:
            raise ValueError("signed aws-chunked decoding needs the seed signature")
        self._key = signing_key
        self._prev_sig = (seed_signature or "").lower()
        self._sts_prefix = f"\n{amz_date}\n{scope}\n"
        self._expect_trailer = expect_trailer
        self._max_chunk = max_chunk_size
        self._state = _SIZE
        self._line = bytearray()  # partial line carried over between feed() calls
        self._remaining = 0  # bytes left in the current chunk's data
        self._chunk_sig = ""  # signature announced for the current chunk
        self._chunk_hash = hashlib.sha256()
        self._pending: list[bytes] = []  # signed chunk data held until verified
        self._trailer_lines: list[bytes] = []
        self._trailer_bytes = 0
        self._trailer_sig_ok = False
        self._failed: S3Error | None = None
        self.trailers: dict[str, str] = {}
        self.decoded_length = 0

    @property
    def done(self) -> bool:
        return self._state == _DONE

    def feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        """Consume more encoded bytes; return the decoded (and, if signed, verified) payload."""
        if self._failed is not None:
            raise self._failed
        try:
            return self._feed(data)
        except S3Error as exc:
            self._failed = exc
            raise

    def _feed(self, data: bytes | bytearray | memoryview) -> list[bytes]:
        out: list[bytes] = []
        buf = data if isinstance(data, bytes) else bytes(data)
        pos, end = 0, len(buf)
        while pos < end:
            state = self._state
            if state == _DATA:
                take = min(self._remaining, end - pos)
                piece = buf if (pos == 0 and take == end) else buf[pos : pos + take]
                pos += take
                self._remaining -= take
                if self._key is None:
                    out.append(piece)
                    self.decoded_length += take
                else:
                    self._chunk_hash.update(piece)
                    self._pending.append(piece)
                if self._remaining == 0:
                    self._state = _DATA_END
            elif state == _DATA_END:
                pos = self._expect_crlf(buf, pos, out)
            elif state == _DONE:
                raise s3_error("InvalidRequest", "Unexpected data after the aws-chunked body")
            else:
                limit = MAX_LINE if state == _SIZE else MAX_TRAILER_SECTION - self._trailer_bytes
                room = limit - len(self._line)
                nl = buf.find(b"\n", pos, min(end, pos + room + 1))
                if nl < 0:
                    if end - pos > room:
                        code = "InvalidRequest" if state == _SIZE else "MalformedTrailerError"
                        raise s3_error(code, "aws-chunked header or trailer line too long")
                    self._line += buf[pos:]
                    return out
                self._line += buf[pos:nl]
                pos = nl + 1
                line, self._line = bytes(self._line), bytearray()
                if state == _SIZE:
                    self._size_line(line)
                else:
                    self._trailer_line(line)
        return out

    def _expect_crlf(self, buf: bytes, pos: int, out: list[bytes]) -> int:
        need = 2 - len(self._line)
        got = buf[pos : pos + need]
        self._line += got
        if not b"\r\n".startswith(bytes(self._line)):
            raise s3_error("InvalidRequest", "Missing CRLF after aws-chunked chunk data")
        if len(self._line) == 2:
            self._line = bytearray()
            self._end_chunk(out)
        return pos + len(got)

    def _end_chunk(self, out: list[bytes]) -> None:
        if self._key is not None:
            self._verify_chunk(self._chunk_hash.hexdigest())
            out.extend(self._pending)
            self.decoded_length += sum(len(p) for p in self._pending)
            self._pending = []
            self._chunk_hash = hashlib.sha256()
        self._state = _SIZE

    def _sign(self, kind: str, digest_lines: str) -> str:
        assert self._key is not None
        sts = f"AWS4-HMAC-SHA256-{kind}{self._sts_prefix}{self._prev_sig}\n{digest_lines}"
        return hmac.new(self._key, sts.encode("utf-8"), hashlib.sha256).hexdigest()

    def _verify_chunk(self, data_hash: str) -> None:
        expected = self._sign("PAYLOAD", f"{EMPTY_SHA256}\n{data_hash}")
        if not hmac.compare_digest(expected.encode(), self._chunk_sig.encode()):
            raise _sig_error("chunk")
        self._prev_sig = expected

    def _size_line(self, line: bytes) -> None:
        if not line.endswith(b"\r"):
            raise s3_error("InvalidRequest", "aws-chunked chunk header must end with CRLF")
        match = _SIZE_RE.match(line[:-1])
        if match is None:
            raise s3_error("InvalidRequest", "Invalid aws-chunked chunk size")
        size = int(match.group(1), 16)
        if size > self._max_chunk:
            raise s3_error("InvalidRequest", f"aws-chunked chunk larger than {self._max_chunk}")
        if self._key is not None:
            sig = _SIG_EXT_RE.match(match.group(2) or b"")
            if sig is None:
                raise s3_error("InvalidRequest", "Missing or invalid chunk-signature")
            self._chunk_sig = sig.group(1).decode("ascii").lower()
        if size:
            self._remaining = size
            self._state = _DATA
            return
        if self._key is not None:
            self._verify_chunk(EMPTY_SHA256)  # the final, empty chunk is signed too
        self._state = _TRAILER

    def _trailer_line(self, line: bytes) -> None:
        self._trailer_bytes += len(line) + 1
        if self._trailer_bytes > MAX_TRAILER_SECTION:
            raise s3_error("MalformedTrailerError", "aws-chunked trailer section too large")
        line = line[:-1] if line.endswith(b"\r") else line
        signed_trailer = self._key is not None and self._expect_trailer
        if not line:
            if signed_trailer and not self._trailer_sig_ok and self.trailers:
                return  # tolerate "name:value\n\r\n" before the trailer signature line
            self._finish_trailers()
            return
        if self._trailer_sig_ok:
            raise s3_error("MalformedTrailerError", "Trailer after x-amz-trailer-signature")
        if self._key is not None and not self._expect_trailer:
            raise s3_error("MalformedTrailerError", "Unexpected trailer in signed aws-chunked body")
        match = _TRAILER_RE.match(line)
        if match is None:
            raise s3_error("MalformedTrailerError", "Malformed aws-chunked trailer line")
        name = match.group(1).decode("ascii").lower()
        value = match.group(2).decode("ascii")
        if name == "x-amz-trailer-signature" and signed_trailer:
            self._verify_trailer_signature(value)
            return
        if name in self.trailers:
            raise s3_error("MalformedTrailerError", f"Duplicate trailer {name}")
        self.trailers[name] = value
        self._trailer_lines.append(line)

    def _verify_trailer_signature(self, provided: str) -> None:
        if not self.trailers:
            raise s3_error("MalformedTrailerError", "Trailer signature without trailers")
        provided_b = provided.lower().encode("ascii")
        for sep in (b"\n", b"\r\n"):
            canonical = b"".join(line + sep for line in self._trailer_lines)
            expected = self._sign("TRAILER", hashlib.sha256(canonical).hexdigest())
            if hmac.compare_digest(expected.encode(), provided_b):
                self._trailer_sig_ok = True
                return
        raise _sig_error("trailer")

    def _finish_trailers(self) -> None:
        if self._expect_trailer and not self.trailers:
            raise s3_error("IncompleteBody", "The declared trailer was not sent")
        if self._key is not None and self._expect_trailer and not self._trailer_sig_ok:
            raise s3_error("SignatureDoesNotMatch", "Missing x-amz-trailer-signature")
        self._state = _DONE

    def finish(self) -> None:
        """Signal end of input; raises IncompleteBody unless the body was complete."""
        if self._failed is not None:
            raise self._failed
        if self._state == _DONE:
            return
        # The final empty line may be missing once the trailers are complete.
        trailers_complete = bool(self.trailers) and (self._key is None or self._trailer_sig_ok)
        if self._state == _TRAILER and not self._line and trailers_complete:
            self._state = _DONE
            return
        self._failed = s3_error(
            "IncompleteBody", "You did not provide the number of bytes specified by the body"
        )
        raise self._failed

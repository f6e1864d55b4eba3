"""S3 payload checksums (Content-MD5, x-amz-content-sha256, x-amz-checksum-*). Pure."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import zlib
from collections.abc import Callable, Iterable, Mapping
from functools import lru_cache
from typing import Protocol

from awscrt import checksums as crt

from objectstore.s3.errors import s3_error

ALGORITHMS = ("CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME")
DIGEST_SIZES = {"CRC32": 4, "CRC32C": 4, "SHA1": 20, "SHA256": 32, "CRC64NVME": 8}
_HEADER_PREFIX = "x-amz-checksum-"
_NOT_CHECKSUM_HEADERS = frozenset({"algorithm", "type", "mode"})
# Reflected polynomials and widths of the CRCs (init and xorout are all ones for each).
_CRC_PARAMS = {
    "CRC32": (0xEDB88320, 32),
    "CRC32C": (0x82F63B78, 32),
    "CRC64NVME": (0x9A6C9329AC4BC9B5, 64),
}
_CRC_FUNCS: dict[str, Callable[[bytes | memoryview, int], int]] = {
    "CRC32": zlib.crc32,
    "CRC32C": crt.crc32c,
    "CRC64NVME": crt.crc64nvme,
}
Buffer = bytes | bytearray | memoryview


class Checksummer(Protocol):
    def update(self, data: bytes | memoryview) -> None: ...

    def digest(self) -> bytes: ...

    def b64digest(self) -> str: ...


class _CrcChecksummer:
    def __init__(self, algorithm: str) -> None:
        self._func = _CRC_FUNCS[algorithm]
        self._size = DIGEST_SIZES[algorithm]
        self._value = 0

    def update(self, data: bytes | memoryview) -> None:
        self._value = self._func(data, self._value)

    def digest(self) -> bytes:
        return self._value.to_bytes(self._size, "big")

    def b64digest(self) -> str:
        return base64.b64encode(self.digest()).decode("ascii")


class _HashChecksummer:
    def __init__(self, name: str) -> None:
        self._hash = hashlib.new(name)

    def update(self, data: bytes | memoryview) -> None:
        self._hash.update(data)

    def digest(self) -> bytes:
        return self._hash.digest()

    def b64digest(self) -> str:
        return base64.b64encode(self._hash.digest()).decode("ascii")


def new_checksummer(algorithm: str) -> Checksummer:
    algorithm = algorithm.upper()
    if algorithm in _CRC_FUNCS:
        return _CrcChecksummer(algorithm)
    if algorithm in ("SHA1", "SHA256"):
        return _HashChecksummer(algorithm.lower())
    raise ValueError(f"unsupported checksum algorithm {algorithm!r}")


def header_name(algorithm: str) -> str:
    return _HEADER_PREFIX + algorithm.lower()


def algorithm_from_header(name: str) -> str | None:
    name = name.strip().lower()
    if not name.startswith(_HEADER_PREFIX):
        return None
    algorithm = name[len(_HEADER_PREFIX) :].upper()
    return algorithm if algorithm in DIGEST_SIZES else None


def decode_digest(algorithm: str, value: str) -> bytes | None:
    """Strict base64 decode of a checksum value; None unless it has the algorithm's size."""
    try:
        raw = binascii.a2b_base64(value.strip().encode("ascii"), strict_mode=True)
    except (binascii.Error, UnicodeEncodeError, ValueError):
        return None
    return raw if len(raw) == DIGEST_SIZES[algorithm] else None


def requested_checksums(headers: Mapping[str, str]) -> dict[str, str]:
    """``{algorithm: expected base64}`` from the x-amz-checksum-<algorithm> request headers."""
    found: dict[str, str] = {}
    for name, value in headers.items():
        lname = name.lower()
        if not lname.startswith(_HEADER_PREFIX) or lname[15:] in _NOT_CHECKSUM_HEADERS:
            continue
        algorithm = algorithm_from_header(lname)
        if algorithm is None:
            raise s3_error("InvalidRequest", f"Unsupported checksum header {lname}")
        if decode_digest(algorithm, value) is None:
            raise s3_error("InvalidRequest", f"Value for {lname} header is invalid.")
        found[algorithm] = value.strip()
    if len(found) > 1:
        raise s3_error(
            "InvalidRequest",
            "Expecting a single x-amz-checksum- header. Multiple checksum Types are not allowed.",
        )
    return found


def combine_composite(algorithm: str, part_digests_b64: list[str]) -> str:
    """COMPOSITE multipart checksum: checksum of the concatenated part digests, ``b64-N``."""
    summer = new_checksummer(algorithm)
    for value in part_digests_b64:
        raw = decode_digest(algorithm.upper(), value)
        if raw is None:
            raise s3_error("InvalidArgument", f"Invalid part checksum {value!r}")
        summer.update(raw)
    return f"{summer.b64digest()}-{len(part_digests_b64)}"


def _multmodp(a: int, b: int, poly: int, width: int) -> int:
    """Multiply a(x) by b(x) modulo p(x), in the reflected bit order of the CRC."""
    m = 1 << (width - 1)
    product = 0
    while m:
        if a & m:
            product ^= b
        b = (b >> 1) ^ poly if b & 1 else b >> 1
        m >>= 1
    return product


@lru_cache(maxsize=8)
def _x2n_table(poly: int, width: int) -> tuple[int, ...]:
    """x^(2^k) mod p(x) for k = 0..79 (enough for any 64-bit byte length)."""
    table = [1 << (width - 2)]  # x^1
    for _ in range(79):
        table.append(_multmodp(table[-1], table[-1], poly, width))
    return tuple(table)


def crc_combine(algorithm: str, crc1: int, crc2: int, length2: int) -> int:
    """CRC of A+B from crc(A), crc(B) and len(B) (zlib's crc32_combine, generalised)."""
    poly, width = _CRC_PARAMS[algorithm.upper()]
    table = _x2n_table(poly, width)
    shift, k, n = 1 << (width - 1), 3, length2  # shift = x^0; multiply by x^(8*len2)
    while n:
        if n & 1:
            shift = _multmodp(table[k], shift, poly, width)
        n >>= 1
        k += 1
    return _multmodp(shift, crc1, poly, width) ^ crc2


def combine_full_object_crc(algorithm: str, parts: list[tuple[str, int]]) -> str:
    """FULL_OBJECT multipart CRC from ``(base64 part CRC, part length)`` pairs."""
    algorithm = algorithm.upper()
    if algorithm not in _CRC_PARAMS:
        raise s3_error("InvalidRequest", f"FULL_OBJECT checksums are not supported for {algorithm}")
    combined = 0
    for value, length in parts:
        raw = decode_digest(algorithm, value)
        if raw is None or length < 0:
            raise s3_error("InvalidArgument", f"Invalid part checksum {value!r}")
        combined = crc_combine(algorithm, combined, int.from_bytes(raw, "big"), length)
    return base64.b64encode(combined.to_bytes(DIGEST_SIZES[algorithm], "big")).decode("ascii")


class PayloadVerifier:
    """Digests a request body and checks it against Content-MD5, x-amz-content-sha256 and
    x-amz-checksum-* values (from headers, or from aws-chunked trailers via set_trailer)."""

    def __init__(
        self,
        *,
        content_md5: str | None = None,
        sha256_hex: str | None = None,
        expected: Mapping[str, str] | None = None,
        algorithms: Iterable[str] = (),
    ) -> None:
        self._md5_expected: bytes | None = None
        if content_md5 is not None:
            try:
                raw = binascii.a2b_base64(content_md5.strip().encode("ascii"), strict_mode=True)
            except (binascii.Error, UnicodeEncodeError, ValueError):
                raw = b""
            if len(raw) != 16:
                raise s3_error("InvalidDigest", "The Content-MD5 you specified was invalid.")
            self._md5_expected = raw
        self._md5 = hashlib.md5()  # noqa: S324 - ETag/Content-MD5, not security
        self._sha256 = hashlib.sha256() if sha256_hex is not None else None
        self._sha256_expected = sha256_hex.lower() if sha256_hex is not None else None
        self.expected: dict[str, str] = {k.upper(): v for k, v in (expected or {}).items()}
        self._summers: dict[str, Checksummer] = {}
        for algorithm in [*self.expected, *algorithms]:
            algorithm = algorithm.upper()
            if algorithm not in DIGEST_SIZES:
                raise s3_error("InvalidRequest", f"Checksum algorithm {algorithm} is not supported")
            self._summers.setdefault(algorithm, new_checksummer(algorithm))
        self._trailer_algorithms: set[str] = set()
        self.size = 0

    @classmethod
    def from_headers(cls, headers: Mapping[str, str]) -> PayloadVerifier:
        """Build from request headers: content-md5, x-amz-content-sha256 (when a hex hash),
        x-amz-checksum-*, x-amz-checksum-algorithm / x-amz-sdk-checksum-algorithm, x-amz-trailer."""
        sha = headers.get("x-amz-content-sha256")
        algorithms = [
            headers[h].strip()
            for h in ("x-amz-checksum-algorithm", "x-amz-sdk-checksum-algorithm")
            if headers.get(h, "").strip()
        ]
        trailer_algorithms = []
        for name in headers.get("x-amz-trailer", "").split(","):
            if name.strip():
                algorithm = algorithm_from_header(name)
                if algorithm is None:
                    raise s3_error("InvalidRequest", f"Unsupported trailer {name.strip()!r}")
                trailer_algorithms.append(algorithm)
        verifier = cls(
            content_md5=headers.get("content-md5"),
            sha256_hex=sha if sha is not None and len(sha) == 64 else None,
            expected=requested_checksums(headers),
            algorithms=[*algorithms, *trailer_algorithms],
        )
        verifier._trailer_algorithms.update(trailer_algorithms)
        return verifier

    def default_checksum(self, algorithm: str = "CRC64NVME") -> None:
        """If the request names no checksum, compute ``algorithm`` anyway and record it, as
        S3 does for uploads without one (CRC64NVME): reads can then be verified at CRC
        speed, and clients asking for checksums get one."""
        if not self._summers and self.size == 0:
            self._summers[algorithm] = new_checksummer(algorithm)

    def update(self, chunk: Buffer) -> None:
        self._update_md5(chunk)
        self._update_summers(chunk)
        if self._sha256 is not None:
            self._sha256.update(chunk)

    def lanes(self) -> list[Callable[[Buffer], None]]:
        """``update`` cut into independent parts, each to be fed every piece in order, that
        may run side by side in threads (hashlib and the CRCs release the GIL): the MD5 with
        the size, the checksums (the default CRC64NVME or the client's), and the SHA-256 of
        a signed payload. Each costs about as much as the MD5 or far less (the CRCs), so a
        large body is hashed in about its MD5's time. Call it after ``default_checksum`` and
        before the first piece."""
        out: list[Callable[[Buffer], None]] = [self._update_md5]
        if self._summers:
            out.append(self._update_summers)
        if self._sha256 is not None:
            out.append(self._sha256.update)
        return out

    def _update_md5(self, chunk: Buffer) -> None:
        self.size += len(chunk)
        self._md5.update(chunk)

    def _update_summers(self, chunk: Buffer) -> None:
        for summer in self._summers.values():
            summer.update(chunk if isinstance(chunk, bytes | memoryview) else memoryview(chunk))

    def set_trailer(self, name: str, value: str) -> None:
        """Register an expected checksum received in an aws-chunked trailer."""
        algorithm = algorithm_from_header(name)
        if algorithm is None:
            return  # not a checksum trailer
        if algorithm not in self._summers:
            raise s3_error("MalformedTrailerError", f"Trailer {name} was not declared")
        if decode_digest(algorithm, value) is None:
            raise s3_error("InvalidRequest", f"Value for {name.lower()} trailer is invalid.")
        self.expected[algorithm] = value.strip()
        self._trailer_algorithms.discard(algorithm)

    @property
    def md5_hex(self) -> str:
        return self._md5.hexdigest()

    @property
    def sha256_hex(self) -> str | None:
        return self._sha256.hexdigest() if self._sha256 is not None else None

    @property
    def checksums(self) -> dict[str, str]:
        """Computed ``{algorithm: base64}`` for every requested algorithm."""
        return {alg: summer.b64digest() for alg, summer in self._summers.items()}

    def finish(self) -> None:
        if self._md5_expected is not None and not hmac.compare_digest(
            self._md5.digest(), self._md5_expected
        ):
            raise s3_error(
                "BadDigest", "The Content-MD5 you specified did not match what we received."
            )
        if self._sha256 is not None and self._sha256.hexdigest() != self._sha256_expected:
            raise s3_error(
                "XAmzContentSHA256Mismatch",
                "The provided 'x-amz-content-sha256' header does not match what was computed.",
            )
        if self._trailer_algorithms:
            missing = ", ".join(header_name(a) for a in sorted(self._trailer_algorithms))
            raise s3_error("MalformedTrailerError", f"Missing declared trailer {missing}")
        for algorithm, value in self.expected.items():
            if self._summers[algorithm].b64digest() != value:
                raise s3_error(
                    "BadDigest",
                    f"The {algorithm} you specified did not match the calculated checksum.",
                )

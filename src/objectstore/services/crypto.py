"""The sealed byte format of encrypted object data (pure: no I/O, no keys kept).

An encrypted blob (or inline row) of an object version's plaintext bytes is::

    header   "OSE1" | segment size (u32) | nonce prefix (8 random bytes)        16 bytes
    records  AES-256-GCM(segment i) + 16-byte tag, for each segment i          size + 16n
    trailer  "OSET" | CRC64NVME of header and records                           12 bytes

The plaintext is cut into fixed-size segments (the last one shorter). Segment i is sealed
with the version's data key, the nonce ``prefix || u32 i`` and the associated data
``"objectstore-sse-1" | object uid | u32 part | u32 i | u64 plaintext size``: a segment
moved to another position, another part or another object, a truncated or extended blob
and a changed size all fail the tag check, so a read returns an error, never wrong bytes.
A range read opens only the records it touches (offsets follow from the segment size).
The trailer's CRC (over ciphertext and tags, not secret) lets ``fsck`` check blobs whose key
it cannot have (SSE-C) for damage.
"""

from __future__ import annotations

import base64
import os
import struct

from awscrt import checksums as crt
from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

MAGIC = b"OSE1"
TRAILER_MAGIC = b"OSET"
HEADER = 16
TAG = 16
TRAILER = 12
DEFAULT_SEGMENT = 64 * 1024
MIN_SEGMENT, MAX_SEGMENT = 64 * 1024, 1024 * 1024
KEY_BYTES = 32
_AAD = b"objectstore-sse-1"


class TamperedError(Exception):
    """Sealed bytes failed their authentication (damaged, swapped, truncated) or do not have
    the sealed format."""


class KeyMismatch(Exception):
    """A wrapped key did not open with the key offered (wrong key, or damaged)."""


def new_key() -> bytes:
    return os.urandom(KEY_BYTES)


def segments_of(size: int, seg: int) -> int:
    return -(-size // seg)


def stored_size(size: int, seg: int) -> int:
    """Bytes a sealed blob of ``size`` plaintext bytes occupies."""
    return HEADER + size + segments_of(size, seg) * TAG + TRAILER


def record_offset(index: int, seg: int) -> int:
    return HEADER + index * (seg + TAG)


def plain_length(index: int, size: int, seg: int) -> int:
    return min(seg, size - index * seg)


def _aad(uid: bytes, part: int, index: int, size: int) -> bytes:
    return _AAD + uid + struct.pack(">IIQ", part, index, size)


def _nonce(prefix: bytes, index: int) -> bytes:
    return prefix + struct.pack(">I", index)


class Sealer:
    """Seals a stream of exactly ``size`` plaintext bytes: ``feed`` pieces, then ``finish``;
    each returns the sealed bytes ready to be written (header first)."""

    def __init__(self, key: bytes, uid: bytes, part: int, size: int,
                 seg: int = DEFAULT_SEGMENT) -> None:
        self._aead = AESGCM(key)
        self._uid, self._part, self._size, self._seg = uid, part, size, seg
        self._prefix = os.urandom(8)
        self._buf = bytearray()
        self._index = 0
        self._fed = 0
        self._crc = 0
        self._started = False

    def _emit(self, out: bytearray, data: bytes | bytearray | memoryview) -> None:
        self._crc = crt.crc64nvme(data, self._crc)
        out += data

    def _seal(self, out: bytearray, plain: bytes | bytearray | memoryview) -> None:
        record = self._aead.encrypt(_nonce(self._prefix, self._index), plain,
                                    _aad(self._uid, self._part, self._index, self._size))
        self._index += 1
        self._emit(out, record)

    def _start(self, out: bytearray) -> None:
        if not self._started:
            self._started = True
            self._emit(out, MAGIC + struct.pack(">I", self._seg) + self._prefix)

    def feed(self, data: bytes | memoryview) -> bytes:
        self._fed += len(data)
        if self._fed > self._size:
            return b""  # more than announced: the body check refuses it, ``finish`` too
        out = bytearray()
        self._start(out)
        seg = self._seg
        if not self._buf and len(data) >= seg:
            view = memoryview(data)
            whole = len(view) - len(view) % seg
            for pos in range(0, whole, seg):
                self._seal(out, view[pos:pos + seg])
            self._buf += view[whole:]
        else:
            self._buf += data
            if len(self._buf) >= seg:
                view = memoryview(self._buf)
                whole = len(view) - len(view) % seg
                for pos in range(0, whole, seg):
                    self._seal(out, view[pos:pos + seg])
                rest = bytes(view[whole:])
                view.release()
                self._buf = bytearray(rest)
        return bytes(out)

    def finish(self) -> bytes:
        if self._fed != self._size:
            raise ValueError("less plaintext than announced")
        out = bytearray()
        self._start(out)
        if self._buf:
            self._seal(out, bytes(self._buf))
            self._buf = bytearray()
        out += TRAILER_MAGIC + struct.pack(">Q", self._crc)
        return bytes(out)


def seal_all(key: bytes, uid: bytes, part: int, data: bytes, seg: int = DEFAULT_SEGMENT
             ) -> bytes:
    sealer = Sealer(key, uid, part, len(data), seg)
    return sealer.feed(data) + sealer.finish()


class Opener:
    """Opens the records of one sealed blob (``size`` plaintext bytes), given its header."""

    def __init__(self, key: bytes, uid: bytes, part: int, size: int, seg: int,
                 header: bytes) -> None:
        if len(header) != HEADER or header[:4] != MAGIC \
                or struct.unpack(">I", header[4:8])[0] != seg:
            raise TamperedError("sealed data has no valid header")
        self._aead = AESGCM(key)
        self._uid, self._part, self.size, self.seg = uid, part, size, seg
        self._prefix = header[8:16]

    def open(self, index: int, record: bytes | memoryview) -> bytes:
        if len(record) != plain_length(index, self.size, self.seg) + TAG:
            raise TamperedError("a sealed segment is truncated")
        try:
            return self._aead.decrypt(_nonce(self._prefix, index), record,
                                      _aad(self._uid, self._part, index, self.size))
        except InvalidTag:
            raise TamperedError("a sealed segment failed authentication") from None

    def open_run(self, first: int, records: bytes) -> list[bytes]:
        """Plaintexts of consecutive records starting with segment ``first``."""
        view = memoryview(records)
        out: list[bytes] = []
        pos, index = 0, first
        while pos < len(view):
            n = plain_length(index, self.size, self.seg) + TAG
            out.append(self.open(index, view[pos:pos + n]))
            pos += n
            index += 1
        return out


def open_all(key: bytes, uid: bytes, part: int, size: int, seg: int, sealed: bytes) -> bytes:
    """The whole plaintext of a sealed buffer (inline objects)."""
    if len(sealed) != stored_size(size, seg):
        raise TamperedError("sealed data has the wrong length")
    opener = Opener(key, uid, part, size, seg, sealed[:HEADER])
    return b"".join(opener.open_run(0, sealed[HEADER:len(sealed) - TRAILER]))


def check_sealed(chunks: list[bytes] | bytes, size: int, seg: int) -> str | None:
    """Check a sealed blob without its key: length, header, trailer CRC. A problem, or None."""
    data = chunks if isinstance(chunks, bytes) else b"".join(chunks)
    return check_sealed_crc(len(data), data[:HEADER], data[-TRAILER:],
                            crt.crc64nvme(data[:-TRAILER], 0) if len(data) >= TRAILER else 0,
                            size, seg)


def check_sealed_crc(length: int, header: bytes, trailer: bytes, crc: int, size: int,
                     seg: int) -> str | None:
    if length != stored_size(size, seg):
        return f"sealed data holds {length} bytes, {stored_size(size, seg)} expected"
    if header[:4] != MAGIC or struct.unpack(">I", header[4:8])[0] != seg:
        return "sealed data has no valid header"
    if trailer[:4] != TRAILER_MAGIC or struct.unpack(">Q", trailer[4:])[0] != crc:
        return "sealed data fails its CRC (ciphertext or tags damaged)"
    return None


def crc64(data: bytes | memoryview, value: int = 0) -> int:
    return int(crt.crc64nvme(data, value))


# -- key wrapping -------------------------------------------------------------------------------

def wrap(kek: bytes, key: bytes, aad: bytes) -> str:
    """``key`` sealed under ``kek`` (AES-256-GCM, random nonce), as base64 text."""
    nonce = os.urandom(12)
    return base64.b64encode(nonce + AESGCM(kek).encrypt(nonce, key, aad)).decode("ascii")


def unwrap(kek: bytes, token: str, aad: bytes) -> bytes:
    try:
        raw = base64.b64decode(token.encode("ascii"), validate=True)
        return AESGCM(kek).decrypt(raw[:12], raw[12:], aad)
    except (InvalidTag, ValueError):
        raise KeyMismatch("the wrapped key does not open with this key") from None

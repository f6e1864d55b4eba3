"""Per-block checksums of stored bytes, so that every read is verified, ranged or not.

While a blob is written, the CRC32C of each ``BLOCK`` (1 MiB) of it is computed on the bytes
as they go to the blob store (``BlockSums``); the packed list (4 bytes per block, big-endian)
is stored with the row that names the blob: ``objects.blocks`` / ``object_versions.blocks``
for a single-blob version, ``parts.blocks`` for a multipart part (a completed object's
``blocks`` is its parts' lists concatenated, each part's blocks starting at its own offset 0).

A read expands the range it serves to block boundaries within each blob, checks every block
it read and hands out only the bytes asked for (``read_verified``); a block that does not
match raises ``DamagedBlock``. Versions written before block checksums existed
(``blocks`` null), inline versions (their bytes are in the row: every read of them,
ranged too, is checked against the whole object's checksum) and encrypted ones (their
segments are authenticated) have none.
"""

from __future__ import annotations

import logging
from typing import NamedTuple

from awscrt import checksums as crt

from ...domain.models import ObjectVersion
from ...storage.blobs import BlobReader

BLOCK = 1024 * 1024
WIDTH = 4  # bytes of one CRC32C
log = logging.getLogger("objectstore.engine")


class DamagedBlock(OSError):  # noqa: N818 - an OSError: a streamed response is cut
    """A stored block does not match the checksum recorded when it was written."""


class BlockSums:
    """The CRC32C of every ``BLOCK`` of a stream fed in pieces of any size."""

    def __init__(self) -> None:
        self._out = bytearray()
        self._crc = 0
        self._fill = 0

    def update(self, data: bytes | memoryview) -> None:
        view = memoryview(data)
        while len(view):
            n = min(BLOCK - self._fill, len(view))
            self._crc = crt.crc32c(view[:n], self._crc)
            self._fill += n
            view = view[n:]
            if self._fill == BLOCK:
                self._out += self._crc.to_bytes(WIDTH, "big")
                self._crc = self._fill = 0

    def packed(self) -> bytes:
        """The packed list, the last (partial) block included; call once, at the end."""
        if self._fill:
            self._out += self._crc.to_bytes(WIDTH, "big")
            self._crc = self._fill = 0
        return bytes(self._out)


def count(size: int) -> int:
    """How many blocks a blob of ``size`` bytes has."""
    return -(-size // BLOCK)


def pieces(version: ObjectVersion) -> list[tuple[str, int]]:
    """(blob_id, size) of every blob of a blob-held version, in order."""
    return list(version.parts) if version.parts else [(version.blob_id, version.size)]


def layout(version: ObjectVersion) -> list[bytes] | None:
    """Each blob's packed block list (in ``pieces`` order), or None when the version has no
    usable block checksums (written before them, inline, encrypted, or a list of the wrong
    length: then nothing can be checked by block)."""
    packed = version.blocks
    if packed is None or version.data is not None or version.sse:
        return None
    out: list[bytes] = []
    at = 0
    for _, size in pieces(version):
        n = count(size) * WIDTH
        out.append(packed[at:at + n])
        at += n
    if at != len(packed):
        log.warning("block checksums of %s do not fit its blobs; not used", version.key)
        return None
    return out


class Segment(NamedTuple):
    """Bytes [offset, offset + length) of one blob of ``size`` bytes, with that blob's packed
    block checksums (None: not verifiable by block)."""

    blob_id: str
    offset: int
    length: int
    size: int
    crcs: bytes | None


def segments(version: ObjectVersion, start: int, end: int) -> list[Segment]:
    """The blob segments covering bytes [start, end] of a blob-held version."""
    sums = layout(version)
    out: list[Segment] = []
    base = 0
    for i, (blob_id, size) in enumerate(pieces(version)):
        lo, hi = base, base + size - 1
        if hi >= start and lo <= end and size > 0:
            s, e = max(start, lo), min(end, hi)
            out.append(Segment(blob_id, s - lo, e - s + 1, size,
                               sums[i] if sums is not None else None))
        base += size
        if base > end:
            break
    return out


def aligned(offset: int, length: int, size: int) -> tuple[int, int]:
    """The block-aligned span [a, b) of a blob of ``size`` bytes that covers
    [offset, offset + length)."""
    a = offset // BLOCK * BLOCK
    return a, min(count(offset + length) * BLOCK, size)


def check(data: bytes, at: int, crcs: bytes, blob_id: str = "") -> None:
    """Check ``data``, read from the blob at ``at`` (a block boundary) up to a block
    boundary or the blob's end, block by block; raise ``DamagedBlock`` on a mismatch."""
    view = memoryview(data)
    first = at // BLOCK
    for i, pos in enumerate(range(0, len(view), BLOCK)):
        n = first + i
        want = crcs[n * WIDTH:(n + 1) * WIDTH]
        got = crt.crc32c(view[pos:pos + BLOCK]).to_bytes(WIDTH, "big")
        if got != want:
            log.error("blob %s: block %d (bytes %d-%d) does not match its checksum; the read "
                      "is refused", blob_id, n, n * BLOCK, n * BLOCK + len(view[pos:pos + BLOCK])
                      - 1)
            raise DamagedBlock(f"stored object is damaged (block {n} of blob {blob_id} does "
                               "not match its checksum)")


def read_verified(reader: BlobReader, seg_offset: int, length: int, size: int, crcs: bytes,
                  blob_id: str = "") -> bytes:
    """Bytes [seg_offset, seg_offset + length) of a blob, every block they touch read whole
    and checked first."""
    a, b = aligned(seg_offset, length, size)
    data = reader.read_at(a, b - a)
    check(data, a, crcs, blob_id)
    if a == seg_offset and b - a == length:
        return data
    return data[seg_offset - a:seg_offset - a + length]

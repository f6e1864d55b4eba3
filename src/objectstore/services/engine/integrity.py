"""Integrity: verify stored bytes against what was recorded when they were written.

The cheapest full-object checksum known for an object is used: a stored FULL_OBJECT CRC
(CRC32, CRC32C, CRC64NVME — several GiB/s), else the MD5 ETag (single PUTs), else, for
multipart objects, the multipart ETag (MD5 of the parts' MD5s). Versions with block
checksums (services/engine/blocks.py) have every block checked too; those written before
them are reported as such (``block_note``): their ranged reads are not verified.
"""

from __future__ import annotations

import base64
import hashlib
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from sqlalchemy import Engine, select, tuple_

from ...domain.encryption import KmsKeyDisabled, KmsKeyNotFound, MasterKeyMissing
from ...domain.models import ObjectVersion
from ...storage.blobs import BlobStore
from ...storage.sql.tables import object_versions, objects, objectstores
from ..crypto import TamperedError
from . import blocks as blk
from .rows import version_from
from .sse import SseCodec, verify_sealed

CHUNK = 4 * 1024 * 1024
FAST_CRCS = ("CRC32", "CRC32C", "CRC64NVME")


class Digest(Protocol):
    def update(self, data: bytes) -> None: ...

    def matches(self) -> bool: ...


class _Crc32:
    def __init__(self, expected_b64: str) -> None:
        self.value = 0
        self.expected = expected_b64

    def update(self, data: bytes) -> None:
        self.value = zlib.crc32(data, self.value)

    def matches(self) -> bool:
        return base64.b64encode(self.value.to_bytes(4, "big")).decode() == self.expected


class _AwsCrc:
    def __init__(self, algorithm: str, expected_b64: str) -> None:
        from awscrt import checksums

        self.fn = checksums.crc32c if algorithm == "CRC32C" else checksums.crc64nvme
        self.width = 4 if algorithm == "CRC32C" else 8
        self.value = 0
        self.expected = expected_b64

    def update(self, data: bytes) -> None:
        self.value = self.fn(data, self.value)

    def matches(self) -> bool:
        raw = self.value.to_bytes(self.width, "big")
        return base64.b64encode(raw).decode() == self.expected


class _Md5:
    def __init__(self, expected_hex: str) -> None:
        self.md5 = hashlib.md5()  # noqa: S324 - the ETag S3 defines
        self.expected = expected_hex

    def update(self, data: bytes) -> None:
        self.md5.update(data)

    def matches(self) -> bool:
        return self.md5.hexdigest() == self.expected


def copied_checksums(source: ObjectVersion) -> dict[str, str]:
    """The checksums a server-side copy of ``source`` keeps: a full-object checksum still
    describes the copied bytes, a multipart upload's composite one does not."""
    keep = not source.parts or source.checksum_type == "FULL_OBJECT"
    return dict(source.checksums) if keep else {}


def full_object_digest(meta: ObjectVersion, *, allow_md5: bool = True) -> Digest | None:
    """A digest to check a whole single-stream read of ``meta``; None for multipart objects
    without a FULL_OBJECT CRC (their ETag needs part boundaries: see ``verify``)."""
    if meta.checksum_type in (None, "FULL_OBJECT"):
        for alg in FAST_CRCS:
            value = meta.checksums.get(alg)
            if value and "-" not in value:
                return _Crc32(value) if alg == "CRC32" else _AwsCrc(alg, value)
    if allow_md5 and not meta.parts and "-" not in meta.etag:
        return _Md5(meta.etag)
    return None


@dataclass(frozen=True)
class Damage:
    store: str
    key: str
    problem: str


def _read(blobs: BlobStore, blob_id: str, size: int, crcs: bytes | None = None
          ) -> Iterator[bytes]:
    reader = blobs.open_reader(blob_id)
    try:
        for offset in range(0, size, CHUNK):
            data = reader.read_at(offset, min(CHUNK, size - offset))
            if crcs is not None:
                blk.check(data, offset, crcs, blob_id)
            yield data
    finally:
        reader.close()


UNVERIFIABLE_BLOCKS = ("unverifiable blocks (written before block checksums): ranged reads "
                       "of it are not verified")


def block_note(meta: ObjectVersion) -> str | None:
    """A note for a version whose blob bytes have no block checksums (written by an earlier
    release); None when every read of it is verified (block checksums, inline bytes,
    encrypted segments) or it has no bytes."""
    if meta.delete_marker or meta.data is not None or meta.sse or not meta.size:
        return None
    return UNVERIFIABLE_BLOCKS if blk.layout(meta) is None else None


def verify(blobs: BlobStore, meta: ObjectVersion, sse: SseCodec | None = None) -> str | None:
    """Return a description of the damage, or None when the bytes are intact. Encrypted
    versions are checked with ``sse`` (their data key opened when it can be)."""
    if meta.delete_marker:
        return None
    if meta.sse:
        return verify_encrypted(blobs, meta, sse)
    digest = full_object_digest(meta)
    if meta.data is not None:  # inline: the bytes came with the row
        if len(meta.data) != meta.size:
            return f"inline data holds {len(meta.data)} bytes, {meta.size} recorded"
        if digest is not None:
            digest.update(meta.data)
            return None if digest.matches() else "checksum mismatch"
        return None
    pieces = meta.parts or ((meta.blob_id, meta.size),)
    sums = blk.layout(meta)
    part_md5s: list[bytes] = []
    total = 0
    try:
        for i, (blob_id, size) in enumerate(pieces):
            md5 = hashlib.md5()  # noqa: S324
            n = 0
            for data in _read(blobs, blob_id, size, sums[i] if sums is not None else None):
                n += len(data)
                md5.update(data)
                if digest is not None:
                    digest.update(data)
            if n != size:
                return f"blob {blob_id} holds {n} bytes, {size} recorded"
            part_md5s.append(md5.digest())
            total += n
    except FileNotFoundError as exc:
        return f"missing blob: {exc.filename}"
    except blk.DamagedBlock as exc:
        return str(exc).removeprefix("stored object is damaged (").removesuffix(")")
    except OSError:
        return "a blob is shorter than its recorded size"
    if digest is not None:
        return None if digest.matches() else "checksum mismatch"
    combined = hashlib.md5(b"".join(part_md5s)).hexdigest()  # noqa: S324
    if meta.etag != f"{combined}-{len(part_md5s)}":
        return "multipart ETag mismatch"
    return None


def verify_encrypted(blobs: BlobStore, meta: ObjectVersion, sse: SseCodec | None) -> str | None:
    """With the data key (SSE-S3, an enabled KMS key) every segment's authentication tag is
    checked and the plaintext against its recorded checksum; without it (SSE-C keys are
    never stored, a disabled KMS key) each sealed blob's length, header and ciphertext CRC."""
    sealing = None
    assert meta.sse is not None
    mode = meta.sse.get("mode")
    if sse is not None and mode != "SSE-C":
        try:
            sealing = sse.open_sealing(meta.sse)
        except (KmsKeyDisabled, KmsKeyNotFound):
            sealing = None
        except MasterKeyMissing:
            return "its master key is not in the key ring"
        except TamperedError:
            return "its wrapped data key does not open"
    digest = full_object_digest(meta, allow_md5=mode == "AES256") if sealing else None
    return verify_sealed(blobs, meta, sealing, digest)


def scan(engine: Engine, blobs: BlobStore, sse: SseCodec | None = None
         ) -> Iterator[tuple[str, ObjectVersion, str | None]]:
    """Yield (store name, object version, damage or None) for every stored version."""
    with engine.connect() as conn:
        stores = conn.execute(select(objectstores.c.id, objectstores.c.name)).all()
    for store_id, name in stores:
        for table, latest in ((objects, True), (object_versions, False)):
            after = ("", "")
            while True:
                with engine.connect() as conn:
                    rows = conn.execute(
                        select(table).where(
                            table.c.store_id == store_id,
                            tuple_(table.c.key, table.c.vseq) > after)
                        .order_by(table.c.key, table.c.vseq).limit(500)).all()
                if not rows:
                    break
                for row in rows:
                    meta = version_from(store_id, row._mapping, is_latest=latest)
                    if not meta.delete_marker:
                        yield name, meta, verify(blobs, meta, sse)
                    after = (meta.key, meta.vseq)

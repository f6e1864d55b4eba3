"""A body whose length is known only at its end (a POST form's file, followed by the form's
closing boundary and maybe more fields) written as an encrypted object.

Sealed segments authenticate the object's size (``crypto.Sealer``), so such a body cannot be
sealed as it arrives. It is spooled to a blob first, sealed with a one-time AES-GCM key that
lives only in this process's memory (never stored: the spool is unreadable once this
request is over), then read back and sealed for good once its size is known. Plaintext never
reaches the disk; the cost is the bytes written twice, for such uploads only. The spool blob
is deleted when the write is over, committed or not; one left by a crash is named by no row
and removed by the garbage collector's orphan sweep.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

from anyio.to_thread import run_sync
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from ...storage.blobs import BlobStore, BlobWriter
from .transfer import Payload

RECORD = 1024 * 1024  # plaintext bytes per spooled record


class Spool:
    """The spooled body: a blob of AES-GCM records (counter nonces, one-time key)."""

    def __init__(self, blobs: BlobStore) -> None:
        self.blobs = blobs
        self._aead = AESGCM(AESGCM.generate_key(bit_length=256))
        self._writer: BlobWriter | None = None
        self.blob_id = ""
        self.records: list[int] = []  # sealed length of each record, in order
        self.size = 0  # plaintext bytes

    def _nonce(self, index: int) -> bytes:
        return index.to_bytes(12, "big")

    def write(self, plain: bytes) -> None:
        if self._writer is None:
            self._writer = self.blobs.open_writer()
        sealed = self._aead.encrypt(self._nonce(len(self.records)), plain, None)
        self._writer.write(sealed)
        self.records.append(len(sealed))
        self.size += len(plain)

    def commit(self) -> None:
        if self._writer is not None:
            self.blob_id = self._writer.commit()
            self._writer = None

    def discard(self) -> None:
        """Remove the spool (an unfinished write or the committed blob)."""
        if self._writer is not None:
            self._writer.abort()
            self._writer = None
        if self.blob_id:
            self.blobs.delete(self.blob_id)
            self.blob_id = ""

    def read(self, index: int, offset: int) -> bytes:
        reader = self.blobs.open_reader(self.blob_id)
        try:
            sealed = reader.read_at(offset, self.records[index])
        finally:
            reader.close()
        return self._aead.decrypt(self._nonce(index), sealed, None)


async def spool_body(payload: Payload, blobs: BlobStore) -> Spool:
    """Write ``payload``'s bytes (unverified: ``Replay`` verifies them) to a new spool."""
    spool = Spool(blobs)
    pending = bytearray()
    try:
        async for piece in payload.chunks():
            pending += piece
            if len(pending) >= RECORD:
                whole = len(pending) - len(pending) % RECORD
                batch, pending = bytes(pending[:whole]), pending[whole:]
                await run_sync(_write_records, spool, batch)
        await run_sync(_write_records, spool, bytes(pending))
        await run_sync(spool.commit)
    except BaseException:
        await run_sync(spool.discard)
        raise
    return spool


def _write_records(spool: Spool, data: bytes) -> None:
    for pos in range(0, len(data), RECORD):
        spool.write(data[pos:pos + RECORD])


class Replay:
    """``Payload`` over a spool's bytes; hashing and the final checks are the original
    payload's (its size is the spooled size)."""

    def __init__(self, original: Payload, spool: Spool) -> None:
        self.original, self.spool = original, spool

    async def chunks(self) -> AsyncIterator[bytes]:
        offset = 0
        for index, length in enumerate(self.spool.records):
            yield await run_sync(self.spool.read, index, offset)
            offset += length

    def update(self, data: bytes) -> None:
        self.original.update(data)

    def finish(self, expected_length: int) -> None:
        self.original.finish(expected_length)

    @property
    def md5_hex(self) -> str:
        return self.original.md5_hex

    @property
    def checksums(self) -> dict[str, str]:
        return self.original.checksums

    @property
    def size(self) -> int:
        return self.spool.size

"""Moving bytes between a request body, the blob store and a response, without blocking the
event loop: the engine's choice of threads lives here."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
from collections.abc import AsyncIterator
from typing import Protocol

from anyio.to_thread import run_sync

from ...domain.models import ObjectVersion
from ...storage.blobs import BlobReader, BlobStore, BlobWriter
from ..integrity import Digest

log = logging.getLogger("objectstore.engine")
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024
COPY_CHUNK = 4 * 1024 * 1024


class Payload(Protocol):
    """A request body as the engine consumes it: decoded pieces, hashed by the engine (in
    worker threads, as it writes them), verified once complete."""

    def chunks(self) -> AsyncIterator[bytes]: ...

    def update(self, data: bytes) -> None: ...

    def finish(self, expected_length: int) -> None:
        """Raise if the body was not ``expected_length`` bytes or a checksum is wrong."""
        ...

    @property
    def md5_hex(self) -> str: ...

    @property
    def checksums(self) -> dict[str, str]: ...

    @property
    def size(self) -> int: ...


class Summer(Protocol):
    """A running checksum (the upload's algorithm, for copied parts)."""

    def update(self, data: bytes | memoryview) -> None: ...

    def b64digest(self) -> str: ...


async def receive_inline(payload: Payload, length: int) -> bytes:
    """Receive and verify a small payload (at most ``length`` bytes) into memory."""
    pieces: list[bytes] = []
    size = 0
    async for piece in payload.chunks():
        size += len(piece)
        if size > length:
            break  # more than announced: ``finish`` refuses it
        payload.update(piece)
        pieces.append(piece)
    payload.finish(length)
    return b"".join(pieces)


class Sealing(Protocol):
    """Seals plaintext as it is written (services/engine/crypto.Sealer): called after the
    payload hashed the plaintext."""

    def feed(self, data: bytes | memoryview) -> bytes: ...

    def finish(self) -> bytes: ...


async def receive_blob(payload: Payload, blobs: BlobStore, length: int,
                       sealer: Sealing | None = None) -> str:
    """Stream the verified payload into a new durable blob; its id. If anything fails the
    blob is removed; afterwards the caller owns it (and removes it if it is not named).
    With a ``sealer`` the blob holds the sealed bytes (hashed as plaintext first).

    Hashing and writing run in a worker thread on ~1 MiB batches while the next bytes
    arrive; the last batch, the checks and the fsync run in one final hop, so a small
    object costs a single hop."""
    holder: list[BlobWriter] = []

    def write(pieces: list[bytes]) -> None:
        if not holder:
            holder.append(blobs.open_writer())
        writer = holder[0]
        for piece in pieces:
            payload.update(piece)
            writer.write(piece if sealer is None else sealer.feed(piece))

    def finish(pieces: list[bytes]) -> str:
        write(pieces)
        payload.finish(length)
        if sealer is not None:
            holder[0].write(sealer.finish())
        return holder[0].commit()

    pending: list[bytes] = []
    size = 0
    in_flight: asyncio.Future[None] | None = None  # one batch is written while the next arrives
    try:
        async for piece in payload.chunks():
            pending.append(piece)
            size += len(piece)
            if size >= WRITE_BATCH:
                if in_flight is not None:
                    await in_flight
                batch, pending, size = pending, [], 0
                in_flight = asyncio.ensure_future(run_sync(write, batch))
        if in_flight is not None:
            await in_flight
            in_flight = None
        return await run_sync(finish, pending)
    except BaseException:
        if in_flight is not None:
            with contextlib.suppress(BaseException):
                await in_flight
        if holder:
            await run_sync(holder[0].abort)
        raise


Opened = list[tuple[BlobReader, int, int]]


def open_segments(blobs: BlobStore, version: ObjectVersion, start: int, end: int) -> Opened:
    """Open every blob before the response starts, so a missing blob is an error, not a
    truncated body; an open blob stays readable even if the GC deletes it meanwhile."""
    opened: Opened = []
    try:
        for blob_id, offset, length in version.segments(start, end):
            opened.append((blobs.open_reader(blob_id), offset, length))
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(opened: Opened) -> None:
    for reader, _, _ in opened:
        reader.close()


def _read_chunk(reader: BlobReader, offset: int, n: int, digest: Digest | None) -> bytes:
    data = reader.read_at(offset, n)
    if digest is not None:
        digest.update(data)
    return data


def read_all(opened: Opened, digest: Digest | None) -> bytes:
    try:
        return b"".join(_read_chunk(r, offset, length, digest) for r, offset, length in opened)
    finally:
        close_all(opened)


async def stream_segments(opened: Opened, digest: Digest | None = None) -> AsyncIterator[bytes]:
    """Yield the bytes in ~4 MiB reads (one thread hop each, one read ahead). With a
    ``digest`` of the whole object, a mismatch at the end aborts the response (the client
    sees a broken transfer, never silently wrong bytes): the last chunk waits for it."""
    jobs = [(r, pos, min(READ_CHUNK, offset + length - pos))
            for r, offset, length in opened
            for pos in range(offset, offset + length, READ_CHUNK)]
    held: bytes | None = None
    ahead: asyncio.Future[bytes] | None = None
    try:
        for i in range(len(jobs)):
            if ahead is None:
                ahead = asyncio.ensure_future(run_sync(_read_chunk, *jobs[i], digest))
            data = await ahead
            ahead = None
            if i + 1 < len(jobs):
                ahead = asyncio.ensure_future(run_sync(_read_chunk, *jobs[i + 1], digest))
            if held is not None:
                yield held
            held = data
        if digest is not None and not digest.matches():
            log.error("stored bytes do not match their checksum; response aborted")
            raise OSError("stored object is damaged (checksum mismatch)")
        if held is not None:
            yield held
    finally:
        if ahead is not None:
            with contextlib.suppress(BaseException):
                await ahead
        close_all(opened)


def copy_into_blob(blobs: BlobStore, source: ObjectVersion, start: int, end: int,
                   summer: Summer | None = None) -> tuple[str, int, str]:
    """Copy bytes [start, end] of ``source`` into a new durable blob (blocking: run in a
    worker thread): (blob_id, size, md5 hex)."""
    writer = blobs.open_writer()
    md5 = hashlib.md5()  # noqa: S324 - ETag
    total = 0
    try:
        if source.data is not None:
            pieces = [source.data[start:end + 1]]
            for data in pieces:
                md5.update(data)
                if summer is not None:
                    summer.update(data)
                writer.write(data)
                total += len(data)
        elif source.size:
            opened = open_segments(blobs, source, start, end)
            try:
                for reader, offset, length in opened:
                    for pos in range(offset, offset + length, COPY_CHUNK):
                        data = reader.read_at(pos, min(COPY_CHUNK, offset + length - pos))
                        md5.update(data)
                        if summer is not None:
                            summer.update(data)
                        writer.write(data)
                        total += len(data)
            finally:
                close_all(opened)
        return writer.commit(), total, md5.hexdigest()
    except BaseException:
        writer.abort()
        raise

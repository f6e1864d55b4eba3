"""Moving bytes between the network and the blob store without blocking the event loop."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import BinaryIO, TypeVar

from starlette.concurrency import run_in_threadpool

from ...domain.models import ObjectMeta
from ...services.integrity import Digest
from ...storage.blobs import BlobStore, BlobWriter
from ..body import Body

T = TypeVar("T")
log = logging.getLogger("objectstore.s3")
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024


async def receive_and_store(body: Body, blobs: BlobStore, length: int,
                            then: Callable[[str], Awaitable[T]]) -> T:
    """Stream the verified payload into a new blob and hand its id to ``then`` (which makes it
    visible: a metadata commit), with as few thread hops as possible.

    Hashing and writing run in a worker thread on ~1 MiB batches while the next bytes arrive;
    the last batch, the hash checks and the fsync run in one final hop, so a small object
    costs a single hop. If anything fails before ``then`` is called, the blob is removed;
    from then on ``then`` owns it (and must remove it if the object does not become
    visible)."""
    verifier = body.verifier
    holder: list[BlobWriter] = []

    def write(pieces: list[bytes]) -> None:
        if not holder:
            holder.append(blobs.open_writer())
        writer = holder[0]
        for piece in pieces:
            verifier.update(piece)
            writer.write(piece)

    def finish(pieces: list[bytes]) -> str:
        write(pieces)
        body.finish(length)
        return holder[0].commit()

    pending: list[bytes] = []
    size = 0
    in_flight: asyncio.Future[None] | None = None  # one batch is written while the next arrives
    try:
        async for piece in body.chunks():
            pending.append(piece)
            size += len(piece)
            if size >= WRITE_BATCH:
                if in_flight is not None:
                    await in_flight
                batch, pending, size = pending, [], 0
                in_flight = asyncio.ensure_future(run_in_threadpool(write, batch))
        if in_flight is not None:
            await in_flight
            in_flight = None
        blob_id = await run_in_threadpool(finish, pending)
    except BaseException:
        if in_flight is not None:
            with contextlib.suppress(BaseException):
                await in_flight
        if holder:
            await run_in_threadpool(holder[0].abort)
        raise
    return await then(blob_id)


async def receive_inline(body: Body, length: int) -> bytes:
    """Receive and verify a small payload (at most ``length`` bytes) into memory."""
    verifier = body.verifier
    pieces: list[bytes] = []
    size = 0
    async for piece in body.chunks():
        size += len(piece)
        if size > length:
            break  # more than announced: ``finish`` refuses it (IncompleteBody)
        verifier.update(piece)
        pieces.append(piece)
    body.finish(length)
    return b"".join(pieces)


def segments(meta: ObjectMeta, start: int, end: int) -> list[tuple[str, int, int]]:
    """(blob_id, offset, length) pieces covering bytes [start, end] of the object."""
    if not meta.parts:
        return [(meta.blob_id, start, end - start + 1)]
    out: list[tuple[str, int, int]] = []
    base = 0
    for blob_id, size in meta.parts:
        lo, hi = base, base + size - 1
        if hi >= start and lo <= end and size > 0:
            s = max(start, lo)
            e = min(end, hi)
            out.append((blob_id, s - lo, e - s + 1))
        base += size
        if base > end:
            break
    return out


def open_segments(blobs: BlobStore, segs: list[tuple[str, int, int]]
                  ) -> list[tuple[BinaryIO, int, int]]:
    """Open every file before the response starts (in a worker thread), so a missing blob is
    an error, not a truncated body. An open file keeps its bytes readable even if the GC
    unlinks them meanwhile."""
    opened: list[tuple[BinaryIO, int, int]] = []
    try:
        for blob_id, offset, length in segs:
            opened.append((blobs.open_reader(blob_id), offset, length))
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(opened: list[tuple[BinaryIO, int, int]]) -> None:
    for f, _, _ in opened:
        f.close()


def read_chunk(f: BinaryIO, offset: int, n: int, digest: Digest | None) -> bytes:
    data = os.pread(f.fileno(), n, offset)
    if len(data) != n:
        raise OSError("blob shorter than recorded size")
    if digest is not None:
        digest.update(data)
    return data


def read_all(opened: list[tuple[BinaryIO, int, int]], digest: Digest | None) -> bytes:
    try:
        return b"".join(read_chunk(f, offset, length, digest) for f, offset, length in opened)
    finally:
        close_all(opened)


async def stream_segments(opened: list[tuple[BinaryIO, int, int]],
                          digest: Digest | None = None) -> AsyncIterator[bytes]:
    """Yield the bytes in ~4 MiB reads (one thread hop each). With a ``digest`` of the whole
    object, a mismatch at the end aborts the response (the client sees a broken transfer,
    never silently wrong bytes)."""
    jobs = [(f, pos, min(READ_CHUNK, offset + length - pos))
            for f, offset, length in opened
            for pos in range(offset, offset + length, READ_CHUNK)]
    held: bytes | None = None  # the last chunk waits for the verdict, so a damaged object
    ahead: asyncio.Future[bytes] | None = None  # never arrives complete; one read ahead
    try:
        for i in range(len(jobs)):
            if ahead is None:
                ahead = asyncio.ensure_future(run_in_threadpool(read_chunk, *jobs[i], digest))
            data = await ahead
            ahead = None
            if i + 1 < len(jobs):  # read (and digest) the next chunk while this one is sent
                ahead = asyncio.ensure_future(
                    run_in_threadpool(read_chunk, *jobs[i + 1], digest))
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

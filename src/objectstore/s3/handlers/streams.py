"""Moving bytes between the network and the blob store without blocking the event loop."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import BinaryIO

from starlette.concurrency import run_in_threadpool

from ...domain.models import ObjectMeta
from ...storage.blobs import BlobStore, BlobWriter
from ..body import Body

WRITE_BATCH = 1024 * 1024
READ_CHUNK = 1024 * 1024


async def receive_into(body: Body, writer: BlobWriter) -> None:
    """Stream the verified payload into ``writer``; hashing and writing run in a worker thread
    on ~1 MiB batches while the next bytes arrive."""
    verifier = body.verifier
    buf = bytearray()

    def work(data: bytes) -> None:
        verifier.update(data)
        writer.write(data)

    async for piece in body.chunks():
        buf += piece
        if len(buf) >= WRITE_BATCH:
            data = bytes(buf)
            buf.clear()
            await run_in_threadpool(work, data)
    if buf:
        await run_in_threadpool(work, bytes(buf))


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


async def open_segments(blobs: BlobStore, segs: list[tuple[str, int, int]]
                        ) -> list[tuple[BinaryIO, int, int]]:
    """Open every file before the response starts, so a missing blob is an error, not a
    truncated body. An open file keeps its bytes readable even if the GC unlinks them."""
    opened: list[tuple[BinaryIO, int, int]] = []
    try:
        for blob_id, offset, length in segs:
            f = await run_in_threadpool(blobs.open_reader, blob_id)
            opened.append((f, offset, length))
    except BaseException:
        for f, _, _ in opened:
            f.close()
        raise
    return opened


async def stream_segments(opened: list[tuple[BinaryIO, int, int]]) -> AsyncIterator[bytes]:
    try:
        for f, offset, length in opened:
            remaining = length
            await run_in_threadpool(f.seek, offset)
            while remaining > 0:
                data = await run_in_threadpool(f.read, min(READ_CHUNK, remaining))
                if not data:
                    raise OSError("blob shorter than recorded size")
                remaining -= len(data)
                yield data
    finally:
        for f, _, _ in opened:
            f.close()

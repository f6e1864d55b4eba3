"""Moving bytes between a request body, the blob store and a response, without blocking the
event loop: the engine's choice of threads lives here."""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import queue
import threading
from collections.abc import AsyncIterator, Callable, Iterator
from typing import NamedTuple, Protocol

from anyio.to_thread import run_sync

from ...domain.models import ObjectVersion
from ...storage.blobs import BlobReader, BlobStore, BlobWriter
from . import blocks as blk
from .integrity import Digest

log = logging.getLogger("objectstore.engine")
WRITE_BATCH = 1024 * 1024
READ_CHUNK = 4 * 1024 * 1024
COPY_CHUNK = 4 * 1024 * 1024
assert READ_CHUNK % blk.BLOCK == 0 and COPY_CHUNK % blk.BLOCK == 0  # reads cut at blocks


class Payload(Protocol):
    """A request body as the engine consumes it: decoded pieces, hashed by the engine (in
    worker threads, as it writes them), verified once complete. A payload may also offer
    ``lanes()``: ``update`` cut into independent parts that ``receive_blob`` runs side by
    side (``s3.checksums.PayloadVerifier.lanes``)."""

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
    """Seals plaintext as it is written (services/crypto.Sealer); the payload hashes the
    same plaintext, in the other lane of ``receive_blob``."""

    def feed(self, data: bytes | memoryview) -> bytes: ...

    def finish(self) -> bytes: ...


async def receive_blob(payload: Payload, blobs: BlobStore, length: int,
                       sealer: Sealing | None = None, sums: blk.BlockSums | None = None
                       ) -> str:
    """Stream the verified payload into a new durable blob; its id. If anything fails the
    blob is removed; afterwards the caller owns it (and removes it if it is not named).
    With a ``sealer`` the blob holds the sealed bytes (the payload hashes the plaintext). ``sums``
    gets the block checksums of the bytes written (``blocks.BlockSums``).

    A body smaller than one batch (``WRITE_BATCH``) costs a single thread hop, hashed and
    stored there. A larger one goes in ~1 MiB batches down lanes (``_Lane``), each a thread
    of its own for this upload that runs its batches in order, back to back, while the
    event loop goes on receiving: the payload's hashing (the ETag's MD5 with the size, the
    client's checksums, the SHA-256 of a signed payload: ``lanes()``; hashlib and the CRCs
    release the GIL) and the storing (sealing, block checksums, writes, the fsync). So a
    large PUT costs about its slowest lane's time (the MD5), not MD5 + checksums + writes
    in series, nor a round trip to the event loop per batch. At most ``LANE_DEPTH`` batches
    wait in a lane (the body's memory stays bounded; the client is slowed down, not
    buffered). The blob is committed (durable) in the storing lane's last batch and the
    payload's verdict taken once every lane is done; a payload that fails its checks has
    its blob removed even if it was already committed: nothing names it."""
    holder: list[BlobWriter] = []
    committed: list[str] = []

    def store_batch(pieces: list[bytes]) -> None:
        if not holder:
            holder.append(blobs.open_writer())
        writer = holder[0]
        for piece in pieces:
            stored = piece if sealer is None else sealer.feed(piece)
            if sums is not None:
                sums.update(stored)
            writer.write(stored)

    def store_last(pieces: list[bytes]) -> None:
        store_batch(pieces)
        if sealer is not None:
            tail = sealer.finish()
            if sums is not None:
                sums.update(tail)
            holder[0].write(tail)
        committed.append(holder[0].commit())

    def single_hop(pieces: list[bytes]) -> None:
        for piece in pieces:
            payload.update(piece)
        payload.finish(length)
        store_last(pieces)

    pending: list[bytes] = []
    size = 0
    lanes: list[_Lane] = []
    try:
        async for piece in payload.chunks():
            pending.append(piece)
            size += len(piece)
            if size >= WRITE_BATCH:
                if not lanes:  # the payload's own cut of its hashing, if it has one
                    split = getattr(payload, "lanes", None)
                    updates = split() if split is not None else [payload.update]
                    loop = asyncio.get_running_loop()
                    lanes = [*(_Lane(loop, _each(u)) for u in updates),
                             _Lane(loop, store_batch, store_last)]
                for ln in lanes:
                    await ln.room()
                for ln in lanes:
                    ln.put(pending)
                pending, size = [], 0
        if not lanes:
            await run_sync(single_hop, pending)
            return committed[0]
        for ln in lanes:
            await ln.room()
        for ln in lanes:
            ln.put(pending, last=True)
        await _finish(lanes, lambda: payload.finish(length))
        return committed[0]
    except BaseException:
        for ln in lanes:
            with contextlib.suppress(BaseException):
                await ln.stop()
        if holder:
            if committed:  # stored, but the payload failed its checks: nothing may name it
                await run_sync(blobs.delete, committed[0])
            else:
                await run_sync(holder[0].abort)
        raise


LANE_DEPTH = 4  # batches queued in a lane before the event loop waits for it


def _each(update: Callable[[bytes], None]) -> Callable[[list[bytes]], None]:
    def run(pieces: list[bytes]) -> None:
        for piece in pieces:
            update(piece)
    return run


class _Lane:
    """One part of a large upload's work (``receive_blob``) in a thread of its own: batches
    are queued by the event loop and run in order; ``last`` runs the final one. After a
    failure the lane skips the rest and keeps the error for ``_finish``. The thread is the
    upload's own, not one of the shared pool's, so lanes waiting on their upload never hold
    threads that other requests need."""

    def __init__(self, loop: asyncio.AbstractEventLoop, work: Callable[[list[bytes]], None],
                 last: Callable[[list[bytes]], None] | None = None) -> None:
        self.loop, self.work, self.last = loop, work, last or work
        self.queue: queue.SimpleQueue[tuple[list[bytes], bool] | None] = queue.SimpleQueue()
        self.sent = 0
        self.done = 0                 # batches run (or skipped), counted by the lane thread
        self.error: BaseException | None = None
        self.ended: asyncio.Future[None] = loop.create_future()
        self.waiter: asyncio.Future[None] | None = None
        self.thread = threading.Thread(target=self._run, name="objectstore-upload-lane",
                                       daemon=True)
        self.thread.start()

    def put(self, batch: list[bytes], last: bool = False) -> None:
        self.sent += 1
        self.queue.put((batch, last))
        if last:
            self.queue.put(None)

    async def room(self) -> None:
        """Wait until fewer than ``LANE_DEPTH`` batches wait in this lane."""
        while self.sent - self.done >= LANE_DEPTH and not self.ended.done():
            # set before the count is read again, which the thread raises before it looks
            # at the waiter: either the count shows its progress or the thread wakes us
            self.waiter = self.loop.create_future()
            if self.sent - self.done < LANE_DEPTH:
                break
            await self.waiter
        self.waiter = None

    async def stop(self) -> None:
        """The upload failed: let the thread skip what is queued, and wait for it."""
        self.error = self.error or _Stopped()
        self.queue.put(None)
        await asyncio.shield(self.ended)

    def _run(self) -> None:
        try:
            while (item := self.queue.get()) is not None:
                batch, last = item
                if self.error is None:
                    try:
                        (self.last if last else self.work)(batch)
                    except BaseException as exc:  # noqa: BLE001 - kept for _finish
                        self.error = exc
                self.done += 1
                self._wake()
        finally:
            with contextlib.suppress(RuntimeError):  # the loop is closed: nobody waits
                self.loop.call_soon_threadsafe(self._ended)

    def _wake(self) -> None:
        waiter = self.waiter  # only the event loop sets or clears it
        if waiter is not None:
            with contextlib.suppress(RuntimeError):
                self.loop.call_soon_threadsafe(_resolve, waiter)

    def _ended(self) -> None:
        if not self.ended.done():
            self.ended.set_result(None)
        if self.waiter is not None:
            _resolve(self.waiter)


class _Stopped(Exception):
    """A lane's work abandoned because its upload failed."""


def _resolve(fut: asyncio.Future[None]) -> None:
    if not fut.done():
        fut.set_result(None)


async def _finish(lanes: list[_Lane], verdict: Callable[[], None]) -> None:
    """Wait for every lane to end (even if one failed first; the storing lane last), then
    raise the first failure in lane order, ``verdict`` (the payload's checks) taken after
    the hashing lanes and before the storing lane's failure: a body that is short or wrong
    is refused as such, not as the storage error it may also have caused."""
    await asyncio.shield(asyncio.gather(*(ln.ended for ln in lanes)))
    for i, ln in enumerate(lanes):
        if i == len(lanes) - 1:
            verdict()
        if ln.error is not None:
            raise ln.error


class Span(NamedTuple):
    """An open blob segment to read: bytes [offset, offset + length) of a blob of ``size``
    bytes, checked by block against ``crcs`` (None: by nothing)."""

    reader: BlobReader
    blob_id: str
    offset: int
    length: int
    size: int
    crcs: bytes | None


Opened = list[Span]


def open_segments(blobs: BlobStore, version: ObjectVersion, start: int, end: int,
                  check_blocks: bool = True) -> Opened:
    """Open every blob before the response starts, so a missing blob is an error, not a
    truncated body; an open blob stays readable even if the GC deletes it meanwhile. Each
    segment carries its blob's block checksums, if the version has them: every read of it
    is then checked block by block (``blocks.read_verified``) unless ``check_blocks`` is
    false."""
    opened: Opened = []
    try:
        for seg in blk.segments(version, start, end):
            opened.append(Span(blobs.open_reader(seg.blob_id), seg.blob_id, seg.offset,
                               seg.length, seg.size, seg.crcs if check_blocks else None))
    except BaseException:
        close_all(opened)
        raise
    return opened


def close_all(opened: Opened) -> None:
    for span in opened:
        span.reader.close()


def _read_chunk(span: Span, offset: int, n: int, digest: Digest | None) -> bytes:
    """Bytes [offset, offset + n) of the span's blob: every block they touch checked first
    when the blob has block checksums (``blocks.DamagedBlock`` if one does not match)."""
    if span.crcs is not None:
        data = blk.read_verified(span.reader, offset, n, span.size, span.crcs, span.blob_id)
    else:
        data = span.reader.read_at(offset, n)
    if digest is not None:
        digest.update(data)
    return data


def _chunks(span: Span, step: int) -> Iterator[tuple[int, int]]:
    """(offset, length) reads of at most ``step`` bytes covering the span, cut at multiples
    of ``step`` in the blob (block boundaries: only a range's first and last block are read
    for a part of it)."""
    pos, end = span.offset, span.offset + span.length
    while pos < end:
        nxt = min(end, (pos // step + 1) * step)
        yield pos, nxt - pos
        pos = nxt


def read_all(opened: Opened, digest: Digest | None) -> bytes:
    try:
        return b"".join(_read_chunk(span, pos, n, digest)
                        for span in opened for pos, n in _chunks(span, READ_CHUNK))
    finally:
        close_all(opened)


async def stream_segments(opened: Opened, digest: Digest | None = None) -> AsyncIterator[bytes]:
    """Yield the bytes in ~4 MiB reads (one thread hop each, one read ahead). Blocks with
    checksums are checked as they are read: a damaged one raises before its bytes are sent.
    With a ``digest`` of the whole object, a mismatch at the end aborts the response (the
    client sees a broken transfer, never silently wrong bytes): the last chunk waits for it.
    """
    jobs = [(span, pos, n) for span in opened for pos, n in _chunks(span, READ_CHUNK)]
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
                   summer: Summer | None = None, sums: blk.BlockSums | None = None
                   ) -> tuple[str, int, str]:
    """Copy bytes [start, end] of ``source`` into a new durable blob (blocking: run in a
    worker thread): (blob_id, size, md5 hex). The source's blocks are checked as they are
    read (a damaged one raises ``blocks.DamagedBlock``); ``sums`` gets the copy's."""
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
                if sums is not None:
                    sums.update(data)
                writer.write(data)
                total += len(data)
        elif source.size:
            opened = open_segments(blobs, source, start, end)
            try:
                for span in opened:
                    for pos, n in _chunks(span, COPY_CHUNK):
                        data = _read_chunk(span, pos, n, None)
                        md5.update(data)
                        if summer is not None:
                            summer.update(data)
                        if sums is not None:
                            sums.update(data)
                        writer.write(data)
                        total += len(data)
            finally:
                close_all(opened)
        return writer.commit(), total, md5.hexdigest()
    except BaseException:
        writer.abort()
        raise

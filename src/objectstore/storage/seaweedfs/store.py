"""SeaweedFS blob store: a blob is a list of needles of at most ``chunk_size`` (8 MiB) bytes.

- Write: each chunk gets a file id from the master (``/dir/assign``), its row in
  ``blob_chunks`` (before the upload, so no needle is ever unnamed), then is PUT to the volume
  server with ``fsync=true``; the volume server answers once every replica has it. Up to
  ``UPLOADS_IN_FLIGHT`` chunks of one blob upload at once. ``commit`` returns once every chunk
  is acknowledged. The chunk rows are committed without waiting for the WAL flush on
  PostgreSQL (``synchronous_commit = off``): the object row's commit that names the blob comes
  later in the same WAL and is durable, so it makes them durable too.
- Read: the chunk list (immutable, cached) maps a range to the chunks it touches; each is
  fetched with a ``Range`` request from any replica, failing over to the others.
- An open reader keeps the bytes readable after a deletion: a needle deleted meanwhile is read
  with ``readDeleted=true``, which works until SeaweedFS compacts its volume (``volume.vacuum``,
  by default when 30 % of a volume is garbage, at most every 15 minutes). A GET that outlives a
  compaction of its volume fails with an error instead of returning other bytes.
- A blob being written is kept fresh for the orphan sweep: a heartbeat (``storage/live.py``)
  moves its chunk rows' ``created_at`` on, and the sweep judges a blob by its newest row, so
  an upload in progress is never swept however long it takes (nor at a gateway failover).
- Delete: every needle on every replica, then the rows. If a volume server refuses (a replica
  is down), the error reaches the caller; the garbage collector keeps the blob in the durable
  queue (``doomed_blobs``) and retries with backoff.
"""

from __future__ import annotations

import contextlib
import logging
import secrets
import threading
import time
from collections import OrderedDict
from collections.abc import Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

from anyio.to_thread import run_sync
from sqlalchemy import Engine, delete, func, select, text, update

from ...config import SeaweedConfig
from ..live import DEFAULT_HEARTBEAT_S, LiveWrites
from ..sql.engine import writing
from .chunk_rows import ChunkRows
from .client import Assignment, NotFound, SeaweedClient, SeaweedError
from .tables import blob_chunks

log = logging.getLogger("objectstore.seaweedfs")
UPLOADS_IN_FLIGHT = 2
UPLOAD_DEADLINE_S = 30.0  # a lost volume server: until the master stops assigning to it
CHUNK_CACHE_ENTRIES = 20000


@dataclass(frozen=True)
class Chunk:
    fid: str
    offset: int
    size: int


def new_blob_id() -> str:
    return "sw" + secrets.token_hex(15)  # 32 characters


class SeaweedBlobWriter:
    def __init__(self, store: SeaweedBlobStore) -> None:
        self._store = store
        self.blob_id = new_blob_id()
        self.size = 0
        self._buf = bytearray()
        self._seq = 0
        self._pending: list[Future[Chunk]] = []
        self._done: list[Chunk] = []
        self._closed = False
        store.live.add(self.blob_id)

    def write(self, data: bytes | memoryview) -> None:
        assert not self._closed
        limit = self._store.config.chunk_size
        view = memoryview(data)
        while view:
            room = limit - len(self._buf)
            self._buf += view[:room]
            view = view[room:]
            if len(self._buf) >= limit:
                self._flush()
        self.size += len(data)

    def _take_chunk(self) -> tuple[int, int, bytes]:
        """(seq, offset, bytes) of the buffered chunk, and the buffer emptied."""
        chunk, self._buf = bytes(self._buf), bytearray()
        seq = self._seq
        self._seq += 1
        return seq, seq * self._store.config.chunk_size, chunk

    def _flush(self) -> None:
        seq, offset, chunk = self._take_chunk()
        fut = self._store.uploads.submit(self._store.put_chunk, self.blob_id, seq, offset,
                                         chunk)
        self._pending.append(fut)
        while len(self._pending) >= UPLOADS_IN_FLIGHT:
            self._done.append(self._pending.pop(0).result())

    def commit(self) -> str:
        try:
            if self._buf:  # the last chunk (a small blob's only one) uploads in this thread
                self._done.append(self._store.put_chunk(self.blob_id, *self._take_chunk()))
            while self._pending:
                self._done.append(self._pending.pop(0).result())
            if not self._done:  # an empty blob: one row, no needle
                self._store.record_chunk(self.blob_id, 0, "", 0)
        finally:
            self._store.live.discard(self.blob_id)
        self._closed = True
        self._store.remember(self.blob_id, sorted(self._done, key=lambda c: c.offset))
        return self.blob_id

    def abort(self) -> None:
        self._closed = True
        self._store.live.discard(self.blob_id)
        for fut in self._pending:
            try:
                fut.result()
            except Exception:  # noqa: S112 - its row stays: the orphan sweep retries
                continue
        self._pending.clear()
        try:
            self._store.delete(self.blob_id)
        except Exception:
            log.warning("could not remove aborted blob %s now; the orphan sweep will",
                        self.blob_id, exc_info=True)


class SeaweedBlobReader:
    def __init__(self, store: SeaweedBlobStore, blob_id: str, chunks: list[Chunk]) -> None:
        self._store = store
        self.blob_id = blob_id
        self._chunks = chunks
        self._size = sum(c.size for c in chunks)

    def read_at(self, offset: int, length: int) -> bytes:
        if offset < 0 or offset + length > self._size:
            raise OSError(f"blob {self.blob_id} is {self._size} bytes, asked for "
                          f"{offset}+{length}")
        pieces: list[bytes] = []
        end = offset + length
        for c in self._chunks:
            if c.offset + c.size <= offset or c.offset >= end or not c.size:
                continue
            lo = max(offset, c.offset) - c.offset
            hi = min(end, c.offset + c.size) - c.offset
            pieces.append(self._store.read_chunk(c.fid, lo, hi - lo))
        return b"".join(pieces)

    def close(self) -> None:
        self._chunks = []


class SeaweedBlobStore:
    def __init__(self, engine: Engine, config: SeaweedConfig,
                 client: SeaweedClient | None = None, *,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self.engine = engine
        self.live = LiveWrites(self._touch, heartbeat_s)  # blobs being written
        self.config = config
        self.client = client or SeaweedClient(config)
        self.uploads = ThreadPoolExecutor(max_workers=32, thread_name_prefix="seaweedfs-put")
        self._postgres = engine.dialect.name == "postgresql"
        self.rows = ChunkRows(engine)  # chunk rows: one statement each (chunk_rows.py)
        self._chunks: OrderedDict[str, list[Chunk]] = OrderedDict()
        self._lock = threading.Lock()

    # -- chunk rows -----------------------------------------------------------------------------
    def record_chunk(self, blob_id: str, seq: int, fid: str, size: int) -> None:
        self.rows.record(blob_id, seq, fid, size)

    def put_chunk(self, blob_id: str, seq: int, offset: int, data: bytes) -> Chunk:
        """Upload one chunk, with a new assignment after a refusal (a volume that lost a
        replica, a reused key after a master restart: "mismatching cookie")."""
        problem: Exception | None = None
        deadline = time.monotonic() + UPLOAD_DEADLINE_S
        attempt = 0
        while attempt == 0 or time.monotonic() < deadline:
            attempt += 1
            a: Assignment = self.client.assign()
            self.record_chunk(blob_id, seq, a.fid, len(data))
            try:
                self.client.upload(a, data)
                return Chunk(a.fid, offset, len(data))
            except (SeaweedError, ConnectionError) as exc:
                problem = exc
                self.client.forget(a)  # the rest of its reservation: another volume next
                log.info("chunk upload failed (attempt %d): %s", attempt, exc)
                with contextlib.suppress(SeaweedError, ConnectionError):
                    self.client.delete(a.fid)  # a replica may hold part of it; best effort
                time.sleep(min(0.05 * 2 ** attempt, 1.0))
        raise SeaweedError(f"could not store a chunk after {attempt} attempts: "
                           f"{problem}")

    def _touch(self, blob_ids: list[str]) -> None:
        """The heartbeat of blobs being written: their rows look new to the orphan sweep."""
        with writing(self.engine) as conn:
            if self._postgres:
                conn.execute(text("SET LOCAL synchronous_commit TO OFF"))
            conn.execute(update(blob_chunks).where(blob_chunks.c.blob_id.in_(blob_ids))
                         .values(created_at=time.time()))

    def remember(self, blob_id: str, chunks: list[Chunk]) -> None:
        with self._lock:
            self._chunks[blob_id] = chunks
            while len(self._chunks) > CHUNK_CACHE_ENTRIES:
                self._chunks.popitem(last=False)

    def chunks_of(self, blob_id: str) -> list[Chunk]:
        with self._lock:
            hit = self._chunks.get(blob_id)
            if hit is not None:
                self._chunks.move_to_end(blob_id)
                return hit
        with self.engine.connect() as conn:
            rows = conn.execute(select(blob_chunks.c.seq, blob_chunks.c.fid, blob_chunks.c.size)
                                .where(blob_chunks.c.blob_id == blob_id)
                                .order_by(blob_chunks.c.seq)).all()
        if not rows:
            raise FileNotFoundError(f"blob {blob_id} does not exist")
        chunks: list[Chunk] = []
        offset = 0
        for _seq, fid, size in rows:
            chunks.append(Chunk(fid, offset, int(size)))
            offset += int(size)
        self.remember(blob_id, chunks)
        return chunks

    def read_chunk(self, fid: str, offset: int, length: int) -> bytes:
        try:
            return self.client.read(fid, offset, length)
        except NotFound:
            # Deleted while a reader had it open: readable until its volume is compacted.
            return self.client.read(fid, offset, length, read_deleted=True)

    # -- BlobStore ------------------------------------------------------------------------------
    def open_writer(self) -> SeaweedBlobWriter:
        return SeaweedBlobWriter(self)

    def open_reader(self, blob_id: str) -> SeaweedBlobReader:
        return SeaweedBlobReader(self, blob_id, self.chunks_of(blob_id))

    def read_sync(self, blob_id: str, offset: int, length: int) -> bytes:
        reader = self.open_reader(blob_id)
        try:
            return reader.read_at(offset, length)
        finally:
            reader.close()

    async def read(self, blob_id: str, offset: int, length: int) -> bytes:
        return await run_sync(self.read_sync, blob_id, offset, length)

    def delete(self, blob_id: str) -> None:
        """Remove every needle of the blob, then its rows. Raises ``SeaweedError`` if a
        volume server refuses (the rows stay, so a retry knows what to delete)."""
        with self._lock:
            self._chunks.pop(blob_id, None)
        with self.engine.connect() as conn:
            fids = [r[0] for r in conn.execute(select(blob_chunks.c.fid)
                                               .where(blob_chunks.c.blob_id == blob_id))]
        for fid in fids:
            if fid:
                self.client.delete(fid)
        with writing(self.engine) as conn:
            conn.execute(delete(blob_chunks).where(blob_chunks.c.blob_id == blob_id))

    def iter_blob_ids(self) -> Iterator[tuple[str, float]]:
        with self.engine.connect() as conn:
            # a blob's newest row: a chunk written (or a heartbeat) that recently is in flight
            rows = conn.execute(select(blob_chunks.c.blob_id, func.max(blob_chunks.c.created_at))
                                .group_by(blob_chunks.c.blob_id)).all()
        for blob_id, created in rows:
            yield str(blob_id), float(created)

    def sweep_incomplete(self, older_than_s: float) -> int:
        """Interrupted writes are blobs whose rows no object names: the orphan sweep (which
        compares ``iter_blob_ids`` with the metadata) removes them; nothing else to do."""
        return 0

    def close(self) -> None:
        self.live.stop()
        self.uploads.shutdown(wait=False)
        self.client.close()
        self.rows.close()

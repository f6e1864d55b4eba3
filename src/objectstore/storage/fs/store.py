"""Filesystem blob store: new file at its final path + fsync + directory fsync.

Layout: ``<root>/blobs/ab/cd/<blob_id>`` (id is a random hex string). A blob being written is
invisible because nothing names it yet; the metadata commit that names it comes after both
fsyncs. While it is written, its mtime is refreshed by a heartbeat (``storage/live.py``), so
the orphan sweep, which takes only files untouched for its age, never takes a write in
flight, however long the client pauses. ``<root>/tmp`` held writes in progress in earlier
versions and is still swept.
"""

from __future__ import annotations

import contextlib
import mmap
import os
import re
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

from anyio.to_thread import run_sync

from ..live import DEFAULT_HEARTBEAT_S, LiveWrites

_BLOB_ID = re.compile(r"[0-9a-f]{4,64}")


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


DIRECT_AFTER = 1024 * 1024  # bytes of a blob written through the page cache before O_DIRECT
DIRECT_UNIT = 1024 * 1024   # bytes staged (in an aligned buffer) per O_DIRECT write
_ALIGN = 4096               # offsets and lengths of O_DIRECT writes are multiples of this
_O_DIRECT: int = getattr(os, "O_DIRECT", 0)


class FsBlobWriter:
    """A blob being written, at its final path: nothing names it until the metadata commit
    that follows ``commit`` does, so no reader can see it half-written, and a crash leaves
    only an unreferenced file that the orphan sweep removes.

    A blob's first ``DIRECT_AFTER`` bytes go through the page cache (a small object stays
    cached for its readers); past them, where the store allows it (``FsBlobStore.direct``),
    the bytes are staged in an aligned buffer and written with ``O_DIRECT`` in
    ``DIRECT_UNIT`` pieces: the disk takes them straight from that buffer while the next
    piece arrives, instead of the kernel copying every byte into fresh page-cache pages and
    the final fsync writing them all back at once (on the bench VM that copy cost more CPU
    than the ETag's MD5). ``commit`` writes the unaligned tail through the page cache and
    fsyncs as before: durability is the fsync's, not O_DIRECT's."""

    def __init__(self, store: FsBlobStore) -> None:
        self._store = store
        self.blob_id = secrets.token_hex(16)
        self.size = 0
        self._path = store.path_of(self.blob_id)
        self._dir = os.path.dirname(self._path)
        self._fd: int | None = store.create_file(self._dir, self._path)
        self._dfd = -1       # the O_DIRECT descriptor, once the blob is past DIRECT_AFTER
        self._stage: mmap.mmap | None = None
        self._staged = 0     # bytes in the stage, not yet written
        store.live.add(self.blob_id)

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        if self._stage is None:
            cached = len(view) if not self._store.direct else max(
                0, min(len(view), DIRECT_AFTER - self.size))
            if cached:
                self._write_cached(view[:cached])
                view = view[cached:]
            if not view:
                return
            if not self._open_direct():
                self._write_cached(view)
                return
        stage = self._stage
        assert stage is not None
        while view:
            n = min(DIRECT_UNIT - self._staged, len(view))
            stage[self._staged:self._staged + n] = view[:n]
            self._staged += n
            view = view[n:]
            if self._staged == DIRECT_UNIT:
                self._flush_stage()

    def _write_cached(self, view: memoryview) -> None:
        assert self._fd is not None
        while view:
            n = os.pwrite(self._fd, view, self.size)
            view = view[n:]
            self.size += n

    def _open_direct(self) -> bool:
        """Open the O_DIRECT descriptor and the stage; False (and the store stops trying) if
        the file system refuses O_DIRECT (tmpfs, some network file systems)."""
        try:
            self._dfd = os.open(self._path, os.O_WRONLY | os.O_CLOEXEC | _O_DIRECT)
        except OSError:
            self._store.direct = False
            return False
        self._stage = mmap.mmap(-1, DIRECT_UNIT)  # page-aligned, as O_DIRECT needs
        return True

    def _flush_stage(self) -> None:
        """Write the stage's aligned head with O_DIRECT (at an aligned offset: the cached
        part before it is DIRECT_AFTER bytes, a multiple of the alignment); the unaligned
        rest, only at the end, through the page cache."""
        assert self._stage is not None
        aligned = self._staged - self._staged % _ALIGN
        view = memoryview(self._stage)
        try:
            done = 0
            while done < aligned:
                n = os.pwrite(self._dfd, view[done:aligned], self.size)
                if n <= 0 or n % _ALIGN:
                    raise OSError(f"short O_DIRECT write ({n} bytes)")
                done += n
                self.size += n
            if aligned < self._staged:
                self._write_cached(view[aligned:self._staged])
        finally:
            view.release()
        self._staged = 0

    def _close(self) -> None:
        if self._dfd >= 0:
            os.close(self._dfd)
            self._dfd = -1
        if self._stage is not None:
            self._stage.close()
            self._stage = None
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def commit(self) -> str:
        """Make the bytes and the directory entry durable (fsync of the file, then of its
        directory); afterwards the blob may be named by metadata."""
        assert self._fd is not None
        try:
            if self._staged:
                self._flush_stage()
            if self._store.fsync:
                os.fsync(self._fd)
        finally:
            self._close()
            self._store.live.discard(self.blob_id)
        if self._store.fsync:
            _fsync_dir(Path(self._dir))
        return self.blob_id

    def abort(self) -> None:
        self._store.live.discard(self.blob_id)
        self._close()
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self._path)


class FsBlobReader:
    """An open blob file (``pread`` at any offset, from any thread)."""

    def __init__(self, path: str) -> None:
        self._fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)

    def read_at(self, offset: int, length: int) -> bytes:
        data = os.pread(self._fd, length, offset)
        while len(data) < length:  # pread may return less than asked near a page boundary
            more = os.pread(self._fd, length - len(data), offset + len(data))
            if not more:
                raise OSError("blob shorter than recorded size")
            data += more
        return data

    def close(self) -> None:
        if self._fd >= 0:
            os.close(self._fd)
            self._fd = -1


class FsBlobStore:
    def __init__(self, root: Path, *, fsync: bool = True, direct: bool = False,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self.root = root
        self.fsync = fsync
        # large blobs written with O_DIRECT past their first MiB (FsBlobWriter; opt-in:
        # OBJECTSTORE_DIRECT_IO); turned off for good by the first refusal from the file system
        self.direct = direct and _O_DIRECT != 0
        self.live = LiveWrites(self._touch, heartbeat_s)  # blobs being written
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"  # writes in progress of older versions; swept at start
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)
        self._blob_root = str(self.blob_dir)
        self._dirs: set[str] = set()  # blob directories known to exist (at most 65,536)

    def create_file(self, directory: str, path: str) -> int:
        """Open a new, empty file for writing, creating (durably) its directories once."""
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC
        if directory not in self._dirs:
            self._make_dirs(Path(directory))
            self._dirs.add(directory)
        try:
            return os.open(path, flags, 0o600)
        except FileNotFoundError:  # the directory was removed behind our back
            self._dirs.discard(directory)
            self._make_dirs(Path(directory))
            return os.open(path, flags, 0o600)

    def _make_dirs(self, leaf: Path) -> None:
        leaf.mkdir(parents=True, exist_ok=True)
        if self.fsync:
            # The directories' own entries must be durable before a blob in them is named.
            # Synced on first use in this process even if they already existed: another
            # thread may have just created them and not synced them yet.
            _fsync_dir(leaf.parent.parent)
            _fsync_dir(leaf.parent)

    def open_writer(self) -> FsBlobWriter:
        return FsBlobWriter(self)

    def _touch(self, blob_ids: list[str]) -> None:
        for blob_id in blob_ids:
            with contextlib.suppress(FileNotFoundError):
                os.utime(self.path_of(blob_id))

    def path_of(self, blob_id: str) -> str:  # filesystem-only: tests and this module
        if not _BLOB_ID.fullmatch(blob_id):
            raise ValueError("invalid blob id")
        return f"{self._blob_root}/{blob_id[:2]}/{blob_id[2:4]}/{blob_id}"

    def open_reader(self, blob_id: str) -> FsBlobReader:
        return FsBlobReader(self.path_of(blob_id))

    def read_sync(self, blob_id: str, offset: int, length: int) -> bytes:
        reader = self.open_reader(blob_id)
        try:
            return reader.read_at(offset, length)
        finally:
            reader.close()

    async def read(self, blob_id: str, offset: int, length: int) -> bytes:
        if length <= 64 * 1024:  # a page-cache read costs less than a thread hop
            return self.read_sync(blob_id, offset, length)
        return await run_sync(self.read_sync, blob_id, offset, length)

    def delete(self, blob_id: str) -> None:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(self.path_of(blob_id))

    def iter_blob_ids(self) -> Iterator[tuple[str, float]]:
        for dirpath, _dirs, files in os.walk(self.blob_dir):
            for name in files:
                try:
                    mtime = os.stat(os.path.join(dirpath, name)).st_mtime
                except FileNotFoundError:
                    continue
                yield name, mtime

    def sweep_incomplete(self, older_than_s: float) -> int:
        cutoff = time.time() - older_than_s
        removed = 0
        for entry in os.scandir(self.tmp_dir):
            try:
                if entry.stat().st_mtime < cutoff:
                    os.unlink(entry.path)
                    removed += 1
            except FileNotFoundError:
                continue
        return removed

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


class FsBlobWriter:
    """A blob being written, at its final path: nothing names it until the metadata commit
    that follows ``commit`` does, so no reader can see it half-written, and a crash leaves
    only an unreferenced file that the orphan sweep removes."""

    def __init__(self, store: FsBlobStore) -> None:
        self._store = store
        self.blob_id = secrets.token_hex(16)
        self.size = 0
        self._path = store.path_of(self.blob_id)
        self._dir = os.path.dirname(self._path)
        self._fd: int | None = store.create_file(self._dir, self._path)
        store.live.add(self.blob_id)

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self.size += n

    def commit(self) -> str:
        """Make the bytes and the directory entry durable (fsync of the file, then of its
        directory); afterwards the blob may be named by metadata."""
        assert self._fd is not None
        try:
            if self._store.fsync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
            self._store.live.discard(self.blob_id)
        if self._store.fsync:
            _fsync_dir(Path(self._dir))
        return self.blob_id

    def abort(self) -> None:
        self._store.live.discard(self.blob_id)
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
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
    def __init__(self, root: Path, *, fsync: bool = True,
                 heartbeat_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self.root = root
        self.fsync = fsync
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

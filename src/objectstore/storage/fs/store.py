"""Filesystem blob store: temp file + fsync + rename + directory fsync.

Layout: ``<root>/blobs/ab/cd/<blob_id>`` (id is a random hex string); ``<root>/tmp`` holds
writes in progress, which are never visible to readers and are swept at start.
"""

from __future__ import annotations

import contextlib
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path
from typing import BinaryIO


def _fsync_dir(path: Path) -> None:
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class FsBlobWriter:
    def __init__(self, store: FsBlobStore) -> None:
        self._store = store
        self.blob_id = secrets.token_hex(16)
        self.size = 0
        self._tmp = store.tmp_dir / f"{self.blob_id}.part"
        self._fd: int | None = os.open(
            self._tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_CLOEXEC, 0o600
        )

    def write(self, data: bytes | memoryview) -> None:
        assert self._fd is not None
        view = memoryview(data)
        while view:
            n = os.write(self._fd, view)
            view = view[n:]
            self.size += n

    def commit(self) -> str:
        assert self._fd is not None
        try:
            if self._store.fsync:
                os.fsync(self._fd)
        finally:
            os.close(self._fd)
            self._fd = None
        final = Path(self._store.path_of(self.blob_id))
        parent_new = not final.parent.exists()
        final.parent.mkdir(parents=True, exist_ok=True)
        os.rename(self._tmp, final)
        if self._store.fsync:
            _fsync_dir(final.parent)
            if parent_new:
                _fsync_dir(final.parent.parent)
                _fsync_dir(final.parent.parent.parent)
        return self.blob_id

    def abort(self) -> None:
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None
        with contextlib.suppress(FileNotFoundError):
            self._tmp.unlink()


class FsBlobStore:
    def __init__(self, root: Path, *, fsync: bool = True) -> None:
        self.root = root
        self.fsync = fsync
        self.blob_dir = root / "blobs"
        self.tmp_dir = root / "tmp"
        self.blob_dir.mkdir(parents=True, exist_ok=True)
        self.tmp_dir.mkdir(parents=True, exist_ok=True)

    def open_writer(self) -> FsBlobWriter:
        return FsBlobWriter(self)

    def path_of(self, blob_id: str) -> str:
        if not blob_id or not all(c in "0123456789abcdef" for c in blob_id):
            raise ValueError("invalid blob id")
        return str(self.blob_dir / blob_id[:2] / blob_id[2:4] / blob_id)

    def open_reader(self, blob_id: str) -> BinaryIO:
        return open(self.path_of(blob_id), "rb")  # noqa: SIM115 - caller closes

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

    def clean_tmp(self, older_than_s: float) -> int:
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

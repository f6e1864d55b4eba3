"""BlobStore interface: object bytes live under generated ids, never under object keys.

Backend-neutral: a blob is written as a stream under a new id, read by range, deleted, and
listed for the GC. Nothing here assumes a local path or a file descriptor (the filesystem
store keeps its fast paths inside itself). Blocking methods are called from worker threads
by the object engine; ``read`` is the asynchronous range read.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol


class BlobWriter(Protocol):
    """An open, not yet visible blob. ``commit`` makes the bytes durable and nameable."""

    blob_id: str
    size: int

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> str: ...

    def abort(self) -> None: ...


class BlobReader(Protocol):
    """An open blob: its bytes stay readable until ``close`` even if the blob is deleted
    meanwhile (a GET that started before an overwrite finishes with the old bytes)."""

    def read_at(self, offset: int, length: int) -> bytes:
        """Exactly ``length`` bytes from ``offset`` (raises ``OSError`` if the blob is
        shorter)."""
        ...

    def close(self) -> None: ...


class BlobStore(Protocol):
    def open_writer(self) -> BlobWriter: ...

    def open_reader(self, blob_id: str) -> BlobReader: ...

    async def read(self, blob_id: str, offset: int, length: int) -> bytes: ...

    def delete(self, blob_id: str) -> None: ...

    def iter_blob_ids(self) -> Iterator[tuple[str, float]]: ...  # (id, mtime)

    def sweep_incomplete(self, older_than_s: float) -> int:
        """Remove leftovers of interrupted writes older than ``older_than_s``."""
        ...

"""BlobStore interface: object bytes live under generated ids, never under object keys."""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO, Protocol


class BlobWriter(Protocol):
    """An open, not yet visible blob. ``commit`` makes the bytes durable and nameable."""

    blob_id: str
    size: int

    def write(self, data: bytes | memoryview) -> None: ...

    def commit(self) -> str: ...

    def abort(self) -> None: ...


class BlobStore(Protocol):
    def open_writer(self) -> BlobWriter: ...

    def open_reader(self, blob_id: str) -> BinaryIO: ...

    def path_of(self, blob_id: str) -> str: ...

    def delete(self, blob_id: str) -> None: ...

    def iter_blob_ids(self) -> Iterator[tuple[str, float]]: ...  # (id, mtime)

    def clean_tmp(self, older_than_s: float) -> int: ...

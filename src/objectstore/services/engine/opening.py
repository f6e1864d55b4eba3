"""Resolving a version and opening its bytes as one step.

A read resolves a version (its row) and then opens its blobs; an overwrite or delete can
land in between. Two things make that harmless:

- The GC deletes a replaced version's blobs only after a grace period
  (``OBJECTSTORE_BLOB_GRACE_SECONDS``, ``services/maintenance.py``), so a reader that read the
  row just before the change still finds the bytes; once a blob is open, the open reader
  outlives its deletion (an open file; a SeaweedFS needle read with ``readDeleted`` until its
  volume is compacted).
- If the bytes are gone all the same (the reader stalled past the grace period), the row is
  read once more: a reader gets the version that replaced it (or the answer for a deleted
  key), never an error; the same row with its bytes gone is damage, and an error.

``OpenVersion`` holds a resolved version and its open readers; it stands in for the blob
store in the engine's copy and read code (``open_reader`` hands out the kept readers), so
the bytes read are those of the version resolved.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

from ...domain.models import ObjectVersion
from ...storage.blobs import BlobReader, BlobStore, BlobWriter


class _Borrowed:
    """A kept reader lent to transfer code: its ``close`` is the owner's."""

    def __init__(self, reader: BlobReader) -> None:
        self._reader = reader

    def read_at(self, offset: int, length: int) -> bytes:
        return self._reader.read_at(offset, length)

    def close(self) -> None:
        return None


class OpenVersion:
    """A resolved version whose bytes are open (its first blob at once, the others when first
    read, each kept until ``close``). Use as a context manager or call ``close``."""

    def __init__(self, version: ObjectVersion, blobs: BlobStore) -> None:
        self.version = version
        self._blobs = blobs
        self._readers: dict[str, BlobReader] = {}
        self._lock = threading.Lock()

    def pin(self) -> None:
        """Open the version's first blob now (blocking): ``FileNotFoundError`` if its bytes
        are gone. The others are protected from the GC by the grace period until opened."""
        ids = self.version.blob_ids() if self.version.data is None else ()
        if ids:
            self.open_reader(ids[0])

    def same_bytes(self, other: ObjectVersion) -> bool:
        return other.vseq == self.version.vseq and other.blob_ids() == self.version.blob_ids()

    # -- the blob store, for this version's reads ----------------------------------------
    def open_reader(self, blob_id: str) -> BlobReader:
        with self._lock:
            reader = self._readers.get(blob_id)
            if reader is None:
                reader = self._readers[blob_id] = self._blobs.open_reader(blob_id)
        return _Borrowed(reader)

    def open_writer(self) -> BlobWriter:
        return self._blobs.open_writer()

    async def read(self, blob_id: str, offset: int, length: int) -> bytes:
        reader = self.open_reader(blob_id)
        return reader.read_at(offset, length)

    def delete(self, blob_id: str) -> None:
        self._blobs.delete(blob_id)

    def iter_blob_ids(self) -> Iterator[tuple[str, float]]:
        return self._blobs.iter_blob_ids()

    def sweep_incomplete(self, older_than_s: float) -> int:
        return self._blobs.sweep_incomplete(older_than_s)

    def close(self) -> None:
        with self._lock:
            readers, self._readers = list(self._readers.values()), {}
        for reader in readers:
            reader.close()

    def __enter__(self) -> OpenVersion:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

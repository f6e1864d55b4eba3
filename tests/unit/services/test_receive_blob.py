"""``transfer.receive_blob`` over a real file blob store: the large-body path (lanes in
threads of the upload's own) stores every byte once and in order, keeps its queues bounded,
and on any failure (a lane's, the body's) ends every lane thread and leaves no blob."""

from __future__ import annotations

import hashlib
import os
import threading
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest

from objectstore.services.engine import transfer
from objectstore.storage.fs.store import FsBlobStore, FsBlobWriter
from tests.support.aio import in_own_loop

MIB = 1024 * 1024


class Body:
    """A payload: ``pieces`` yielded in turn (``fail_at``: raise instead of that piece),
    MD5 and size kept by ``update``; ``lanes()`` cuts the hashing in two, like the S3
    payload's."""

    def __init__(self, pieces: list[bytes], fail_at: int | None = None,
                 slow_s: float = 0.0) -> None:
        self.pieces, self.fail_at, self.slow_s = pieces, fail_at, slow_s
        self.md5 = hashlib.md5()  # noqa: S324 - ETag
        self.sha = hashlib.sha256()
        self.hashed = 0
        self.finished = False

    async def chunks(self) -> AsyncIterator[bytes]:
        for i, piece in enumerate(self.pieces):
            if i == self.fail_at:
                raise ConnectionResetError("the client went away")
            yield piece

    def _md5(self, data: bytes) -> None:
        if self.slow_s:
            time.sleep(self.slow_s)
        self.hashed += len(data)
        self.md5.update(data)

    def update(self, data: bytes) -> None:
        self._md5(data)
        self.sha.update(data)

    def lanes(self) -> list[object]:
        return [self._md5, self.sha.update]

    def finish(self, expected_length: int) -> None:
        if self.hashed != expected_length:
            raise ValueError("short body")
        self.finished = True

    @property
    def md5_hex(self) -> str:
        return self.md5.hexdigest()

    @property
    def checksums(self) -> dict[str, str]:
        return {}

    @property
    def size(self) -> int:
        return self.hashed


def lane_threads() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "objectstore-upload-lane"]


def blob_files(store: FsBlobStore) -> list[str]:
    return [name for name, _ in store.iter_blob_ids()]


@pytest.mark.parametrize("piece", [1, 64 * 1024, 3 * MIB + 7])
def test_large_body_is_stored_whole_and_hashed_in_order(tmp_path: Path, piece: int) -> None:
    store = FsBlobStore(tmp_path)
    data = os.urandom(9 * MIB + 12345 if piece > 1 else 2 * MIB + 3)
    body = Body([data[i:i + piece] for i in range(0, len(data), piece)]) if piece > 1 \
        else Body([data[:MIB + 1], data[MIB + 1:]])
    blob_id = in_own_loop(transfer.receive_blob(body, store, len(data)))  # type: ignore[arg-type]
    assert body.finished
    assert store.read_sync(blob_id, 0, len(data)) == data
    assert body.md5.hexdigest() == hashlib.md5(data).hexdigest()  # noqa: S324
    assert body.sha.hexdigest() == hashlib.sha256(data).hexdigest()
    assert lane_threads() == []


def test_a_slow_lane_holds_the_body_back(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With the MD5 lane slow, the event loop waits for it: no lane ever has more than
    LANE_DEPTH batches queued (the body's memory stays bounded)."""
    store = FsBlobStore(tmp_path)
    peak = 0
    real_put = transfer._Lane.put

    def counting_put(self: transfer._Lane, batch: list[bytes], last: bool = False) -> None:
        nonlocal peak
        real_put(self, batch, last)
        peak = max(peak, self.sent - self.done)

    monkeypatch.setattr(transfer._Lane, "put", counting_put)
    data = os.urandom(16 * MIB)
    body = Body([data[i:i + 256 * 1024] for i in range(0, len(data), 256 * 1024)],
                slow_s=0.002)
    blob_id = in_own_loop(transfer.receive_blob(body, store, len(data)))  # type: ignore[arg-type]
    assert store.read_sync(blob_id, 0, len(data)) == data
    assert 2 <= peak <= transfer.LANE_DEPTH


def test_body_failing_midway_ends_the_lanes_and_leaves_no_blob(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    data = os.urandom(8 * MIB)
    body = Body([data[i:i + MIB] for i in range(0, len(data), MIB)], fail_at=6)
    with pytest.raises(ConnectionResetError):
        in_own_loop(transfer.receive_blob(body, store, len(data)))  # type: ignore[arg-type]
    assert blob_files(store) == []
    assert lane_threads() == []


def test_storage_failing_midway_is_the_error_and_leaves_no_blob(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    store = FsBlobStore(tmp_path)
    real_write = FsBlobWriter.write
    written = 0

    def failing_write(self: FsBlobWriter, data: bytes | memoryview) -> None:
        nonlocal written
        written += len(data)
        if written > 3 * MIB:
            raise OSError(28, "No space left on device")
        real_write(self, data)

    monkeypatch.setattr(FsBlobWriter, "write", failing_write)
    data = os.urandom(8 * MIB)
    body = Body([data[i:i + MIB] for i in range(0, len(data), MIB)])
    with pytest.raises(OSError, match="No space left"):
        in_own_loop(transfer.receive_blob(body, store, len(data)))  # type: ignore[arg-type]
    assert blob_files(store) == []
    assert lane_threads() == []


def test_short_body_is_refused_as_such_and_leaves_no_blob(tmp_path: Path) -> None:
    store = FsBlobStore(tmp_path)
    data = os.urandom(5 * MIB)
    body = Body([data[i:i + MIB] for i in range(0, len(data), MIB)])
    with pytest.raises(ValueError, match="short body"):
        in_own_loop(transfer.receive_blob(body, store, len(data) + 1))  # type: ignore[arg-type]
    assert blob_files(store) == []
    assert lane_threads() == []

"""Blobs being written, kept fresh for the orphan sweep.

The orphan sweep (``services/maintenance.py``) removes blobs that no row names and that
nobody touched for ``OBJECTSTORE_ORPHAN_SWEEP_AGE_SECONDS``. A blob being written is named by
no row until its upload ends, however long that takes (a client idle between batches, a
multi-gigabyte part): its writer registers it here, and a heartbeat thread touches every
registered blob (the file's mtime; SeaweedFS: its chunk rows' time) every ``interval_s``,
well within the sweep's age. A writer whose process dies stops being touched, so its
leftovers are swept in time.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable

from ..backoff import Backoff

log = logging.getLogger("objectstore.blobs")
DEFAULT_HEARTBEAT_S = 60.0


class LiveWrites:
    def __init__(self, touch: Callable[[list[str]], None],
                 interval_s: float = DEFAULT_HEARTBEAT_S) -> None:
        self._touch = touch
        self.interval_s = interval_s
        self._ids: set[str] = set()
        self._lock = threading.Lock()
        self._thread: threading.Thread | None = None
        self._stop = threading.Event()

    def add(self, blob_id: str) -> None:
        with self._lock:
            self._ids.add(blob_id)
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, daemon=True,
                                                 name="objectstore-blob-heartbeat")
                self._thread.start()

    def discard(self, blob_id: str) -> None:
        with self._lock:
            self._ids.discard(blob_id)

    def live(self) -> list[str]:
        with self._lock:
            return list(self._ids)

    def beat(self) -> None:
        """Touch every blob being written now."""
        ids = self.live()
        if ids:
            self._touch(ids)

    def _run(self) -> None:
        backoff = Backoff("touching blobs being written", log, cap_s=self.interval_s)
        while not self._stop.wait(backoff.wait(self.interval_s)):
            backoff.run(self.beat)

    def stop(self) -> None:
        self._stop.set()

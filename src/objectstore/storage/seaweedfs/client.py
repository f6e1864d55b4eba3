"""SeaweedFS master and volume server calls: assign, lookup (cached), upload, ranged read with
fail-over between replicas, delete.

Facts this relies on (SeaweedFS 4.x): a volume server acknowledges a write only once every
replica of the volume has it (with ``fsync=true``, on disk); a read may go to any replica; a
deleted needle stays readable with ``readDeleted=true`` until its volume is compacted
(``volume.vacuum``); after a master restart a reused file key answers "mismatching cookie",
and a volume with a lost replica refuses writes — both are retried with a new assignment.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from ...config import SeaweedConfig
from .http import HttpPool, Reply

log = logging.getLogger("objectstore.seaweedfs")
LOOKUP_TTL_S = 600.0
ASSIGN_DEADLINE_S = 30.0
# File ids reserved per /dir/assign (``count``): the master hands out one fid and the client
# derives the others as ``<fid>_1`` .. ``<fid>_<count-1>`` (same volume, consecutive keys).
# A reservation not used up within ASSIGN_TTL_S is dropped, and so is the rest of one whose
# upload was refused (a full or read-only volume, a lost replica).
ASSIGN_BATCH = 32
ASSIGN_TTL_S = 5.0


class SeaweedError(OSError):
    """SeaweedFS refused or could not be reached (after the retries that make sense)."""


class NotFound(SeaweedError):
    pass


@dataclass(frozen=True)
class Assignment:
    fid: str
    url: str


def volume_of(fid: str) -> str:
    return fid.split(",", 1)[0]


class SeaweedClient:
    def __init__(self, config: SeaweedConfig, pool: HttpPool | None = None) -> None:
        self.config = config
        self.pool = pool or HttpPool()
        self._master = 0  # index of the master that answered last
        self._locations: dict[str, tuple[float, list[str]]] = {}
        self._lock = threading.Lock()
        # the current reservation: (when it was made, base fid, volume url, count, next index)
        self._reserved: list[tuple[float, str, str, int, int]] = []

    # -- master ---------------------------------------------------------------------------------
    def _master_get(self, path: str) -> dict[str, Any]:
        errors: list[str] = []
        n = len(self.config.masters)
        for i in range(n):
            index = (self._master + i) % n
            host = self.config.masters[index]
            try:
                reply = self.pool.request("GET", host, path)
            except ConnectionError as exc:
                errors.append(str(exc))
                continue
            if reply.status >= 500 and i + 1 < n:  # a follower without a leader, say
                errors.append(f"{host}: HTTP {reply.status}")
                continue
            self._master = index
            try:
                doc: dict[str, Any] = json.loads(reply.body or b"{}")
            except ValueError:
                doc = {"error": f"HTTP {reply.status}: {reply.body[:200]!r}"}
            return doc
        raise SeaweedError("no SeaweedFS master answered: " + "; ".join(errors))

    def assign(self) -> Assignment:
        """A new file id on a writable volume: the next one of the current reservation
        (``ASSIGN_BATCH`` ids per master call), or a new reservation."""
        now = time.monotonic()
        with self._lock:
            if self._reserved:
                made, base, url, count, index = self._reserved[0]
                if now - made < ASSIGN_TTL_S and index < count:
                    self._reserved[0] = (made, base, url, count, index + 1)
                    return Assignment(base if index == 0 else f"{base}_{index}", url)
                self._reserved.clear()
        base, url, count = self._reserve()
        if count > 1:
            with self._lock:
                self._reserved[:] = [(now, base, url, count, 1)]
        return Assignment(base, url)

    def forget(self, assignment: Assignment) -> None:
        """The volume of ``assignment`` refused a write: no more ids of its reservation."""
        with self._lock:
            if self._reserved and volume_of(self._reserved[0][1]) == volume_of(assignment.fid):
                self._reserved.clear()

    def _reserve(self) -> tuple[str, str, int]:
        """(fid, volume url, count) of a new reservation; retried while the cluster grows
        volumes or elects a master (up to ASSIGN_DEADLINE_S)."""
        c = self.config
        path = (f"/dir/assign?replication={c.replication}"
                f"&collection={quote(c.collection)}&count={ASSIGN_BATCH}")
        deadline = time.monotonic() + ASSIGN_DEADLINE_S
        delay = 0.05
        while True:
            try:
                doc = self._master_get(path)
                if doc.get("fid") and doc.get("url"):
                    count = doc.get("count")
                    return (str(doc["fid"]), str(doc["url"]),
                            max(1, min(int(count), ASSIGN_BATCH))
                            if isinstance(count, int) else 1)
                problem = str(doc.get("error") or doc)
            except SeaweedError as exc:
                problem = str(exc)
            if time.monotonic() + delay > deadline:
                raise SeaweedError(f"SeaweedFS assign failed: {problem}")
            log.debug("assign: %s (retrying)", problem)
            time.sleep(delay)
            delay = min(delay * 2, 1.0)

    def locations(self, volume_id: str, refresh: bool = False) -> list[str]:
        now = time.monotonic()
        if not refresh:
            hit = self._locations.get(volume_id)
            if hit is not None and now - hit[0] < LOOKUP_TTL_S:
                return hit[1]
        doc = self._master_get(f"/dir/lookup?volumeId={quote(volume_id)}")
        urls = [str(loc["url"]) for loc in doc.get("locations") or []]
        if not urls:
            with self._lock:
                self._locations.pop(volume_id, None)
            raise NotFound(f"volume {volume_id} has no locations: {doc.get('error', '')}")
        with self._lock:
            self._locations[volume_id] = (now, urls)
        return urls

    # -- volume servers -------------------------------------------------------------------------
    def upload(self, assignment: Assignment, data: bytes | memoryview) -> None:
        """Write one needle; raises ``SeaweedError`` unless every replica acknowledged."""
        path = f"/{assignment.fid}" + ("?fsync=true" if self.config.fsync else "")
        reply = self.pool.request("PUT", assignment.url, path, body=data,
                                  headers={"Content-Type": "application/octet-stream"})
        if reply.status not in (200, 201):
            raise SeaweedError(f"upload of {assignment.fid} to {assignment.url} failed: "
                               f"HTTP {reply.status} {reply.body[:300]!r}")
        try:
            size = int(json.loads(reply.body).get("size", -1))
        except (ValueError, AttributeError):
            size = -1
        if size != len(data):
            raise SeaweedError(f"upload of {assignment.fid}: server stored {size} bytes, "
                               f"sent {len(data)}")

    def _each_replica(self, fid: str, call: Any) -> Any:
        """Run ``call(url)`` on the volume's replicas in turn until one answers; the cached
        locations are refreshed once if all of them fail."""
        vid = volume_of(fid)
        errors: list[str] = []
        for refresh in (False, True):
            try:
                urls = self.locations(vid, refresh=refresh)
            except SeaweedError as exc:
                errors.append(str(exc))
                continue
            for url in urls:
                try:
                    return call(url)
                except NotFound:
                    raise
                except (SeaweedError, ConnectionError) as exc:
                    errors.append(str(exc))
        raise SeaweedError(f"no replica of {fid} answered: " + "; ".join(errors[-4:]))

    def read(self, fid: str, offset: int, length: int, *, read_deleted: bool = False) -> bytes:
        """Exactly ``length`` bytes of needle ``fid`` from ``offset``, from any replica."""
        if length == 0:
            return b""
        suffix = "?readDeleted=true" if read_deleted else ""

        def get(url: str) -> bytes:
            reply: Reply = self.pool.request(
                "GET", url, f"/{fid}{suffix}",
                headers={"Range": f"bytes={offset}-{offset + length - 1}"}, expect=length)
            if reply.status == 404:
                raise NotFound(f"needle {fid} not found on {url}")
            if reply.status not in (200, 206):
                raise SeaweedError(f"read of {fid} from {url}: HTTP {reply.status}")
            data = reply.body
            if reply.status == 200:  # whole needle (a server that ignored the range)
                data = data[offset:offset + length]
            if len(data) != length:
                raise SeaweedError(f"read of {fid} from {url}: {len(data)} of {length} bytes")
            return data

        result: bytes = self._each_replica(fid, get)
        return result

    def delete(self, fid: str) -> None:
        """Delete a needle on every replica (the volume server forwards the deletion and
        fails if a replica cannot be reached). Deleting a deleted needle succeeds."""

        def send(url: str) -> None:
            reply = self.pool.request("DELETE", url, f"/{fid}")
            if reply.status not in (200, 202, 204, 404):
                raise SeaweedError(f"delete of {fid} on {url}: HTTP {reply.status} "
                                   f"{reply.body[:200]!r}")

        try:
            self._each_replica(fid, send)
        except NotFound:
            return

    def close(self) -> None:
        self.pool.close()

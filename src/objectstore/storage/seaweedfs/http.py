"""A small blocking HTTP/1.1 client with keep-alive connections per host (worker threads).

``http.client`` directly: no dependency, and the least per-request overhead; a connection that
went stale while idle is retried once on a fresh one (idempotent requests only).
"""

from __future__ import annotations

import http.client
import threading
from dataclasses import dataclass

CONNECT_TIMEOUT_S = 5.0
IO_TIMEOUT_S = 60.0


@dataclass
class Reply:
    status: int
    body: bytes
    headers: dict[str, str]


class HttpPool:
    def __init__(self, per_host: int = 16, timeout_s: float = IO_TIMEOUT_S) -> None:
        self.per_host = per_host
        self.timeout_s = timeout_s
        self._idle: dict[str, list[http.client.HTTPConnection]] = {}
        self._lock = threading.Lock()

    def _get(self, host: str) -> tuple[http.client.HTTPConnection, bool]:
        with self._lock:
            idle = self._idle.get(host)
            if idle:
                return idle.pop(), True
        return http.client.HTTPConnection(host, timeout=self.timeout_s), False

    def _put(self, host: str, conn: http.client.HTTPConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(host, [])
            if len(idle) < self.per_host:
                idle.append(conn)
                return
        conn.close()

    def request(self, method: str, host: str, path: str, body: bytes | memoryview | None = None,
                headers: dict[str, str] | None = None) -> Reply:
        """One request; raises ``OSError`` (incl. ``http.client.HTTPException`` wrapped) when
        the host cannot be reached or the connection breaks."""
        hdrs = dict(headers or {})
        for attempt in range(2):
            conn, reused = self._get(host)
            try:
                conn.request(method, path, body=body, headers=hdrs)
                resp = conn.getresponse()
                data = resp.read()
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                # A kept connection the server closed meanwhile: once more on a fresh one.
                if reused and attempt == 0 and not isinstance(exc, TimeoutError):
                    continue
                raise ConnectionError(f"{method} http://{host}{path}: {exc}") from exc
            if resp.will_close:
                conn.close()
            else:
                self._put(host, conn)
            return Reply(resp.status, data, {k.lower(): v for k, v in resp.getheaders()})
        raise AssertionError("unreachable")

    def close(self) -> None:
        with self._lock:
            conns = [c for idle in self._idle.values() for c in idle]
            self._idle.clear()
        for c in conns:
            c.close()

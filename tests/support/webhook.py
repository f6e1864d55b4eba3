"""A real webhook receiver for event notification tests: an HTTP server on 127.0.0.1 (in a
thread) that keeps every event record POSTed to it, and can be told to answer 503 for a
while (``failing``), as a target that is down."""

from __future__ import annotations

import contextlib
import json
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class Receiver:
    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.auth: list[str | None] = []
        self.refused = 0  # requests answered 503
        self.failing = False
        self.lock = threading.Lock()
        self.url = ""

    def names(self) -> list[tuple[str, str]]:
        """(eventName, key) of every record received, in arrival order."""
        with self.lock:
            return [(r["eventName"], r["s3"]["object"]["key"]) for r in self.records]

    def wait_for(self, check: Callable[[list[dict[str, Any]]], bool], timeout: float = 20.0
                 ) -> list[dict[str, Any]]:
        deadline = time.monotonic() + timeout
        while True:
            with self.lock:
                got = list(self.records)
            if check(got):
                return got
            if time.monotonic() > deadline:
                seen = [(r["eventName"], r["s3"]["object"]["key"]) for r in got]
                raise AssertionError(f"timed out; received {len(got)}: {seen[-20:]}")
            time.sleep(0.05)

    def wait_count(self, n: int, timeout: float = 20.0) -> list[dict[str, Any]]:
        return self.wait_for(lambda got: len(got) >= n, timeout)


@contextmanager
def webhook_receiver() -> Iterator[Receiver]:
    rec = Receiver()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def handle(self) -> None:
            # the sender may die mid-request (a SIGKILL test)
            with contextlib.suppress(ConnectionError):
                super().handle()

        def do_POST(self) -> None:  # noqa: N802 - http.server's name
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            if rec.failing:
                with rec.lock:
                    rec.refused += 1
                self._answer(503)
                return
            doc = json.loads(body)
            with rec.lock:
                rec.records.extend(doc["Records"])
                rec.auth.append(self.headers.get("Authorization"))
            self._answer(200)

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    httpd.daemon_threads = True
    rec.url = f"http://127.0.0.1:{httpd.server_address[1]}/events"
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    try:
        yield rec
    finally:
        httpd.shutdown()
        httpd.server_close()

"""Prometheus metrics and structured access logs for both planes (an ASGI wrapper).

Access log lines are JSON with a request id; they carry the path but never the query string
(presigned URLs hold signatures) nor any header value.
"""

from __future__ import annotations

import enum
import itertools
import json
import logging
import os
import secrets
import time
from collections.abc import Callable, Iterable
from typing import Any

from prometheus_client import CollectorRegistry, Counter, Histogram, generate_latest, multiprocess
from prometheus_client.registry import Collector
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from .forwarded import PEER

access_log = logging.getLogger("objectstore.access")
REQUEST_ID = "objectstore.request_id"
OPERATION = "objectstore.operation"


class Metrics:
    """Request metrics of this process; under ``serve --workers`` (prometheus_client's
    multiprocess mode, ``PROMETHEUS_MULTIPROC_DIR`` set by the parent) the values live in
    files shared by the workers and a scrape answered by any worker sums them all."""

    def __init__(self, public: Iterable[Collector] = (),
                 private: Iterable[Collector] = ()) -> None:
        """``public``: collectors every scrape shows (e.g. usage totals); ``private``: those
        shown only to an authorized scrape (per store, per tenant). They come from the
        services (``services/usage_metrics.py``): this module reads no database."""
        self.registry = CollectorRegistry()  # what a scrape renders
        shared = bool(os.environ.get("PROMETHEUS_MULTIPROC_DIR"))
        if shared:
            multiprocess.MultiProcessCollector(self.registry)  # type: ignore[no-untyped-call]
        own = None if shared else self.registry  # where the metric objects register
        self.requests = Counter("objectstore_requests", "Requests by plane, operation and "
                                "status", ["plane", "operation", "status"],
                                registry=own)
        self.latency = Histogram("objectstore_request_seconds", "Request latency",
                                 ["plane", "operation"], registry=own,
                                 buckets=(.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1,
                                          2.5, 5, 10, 30, 60))
        self.bytes_in = Counter("objectstore_received_bytes", "Request body bytes",
                                ["plane", "operation"], registry=own)
        self.bytes_out = Counter("objectstore_sent_bytes", "Response body bytes",
                                 ["plane", "operation"], registry=own)
        self.per_store = CollectorRegistry()  # shown only to an authorized scrape
        for collector in public:
            self.registry.register(collector)
        for collector in private:
            self.per_store.register(collector)

    def render(self, per_store: bool = False) -> bytes:
        """The exposition; ``per_store``: with each store's series (names, sizes)."""
        body = generate_latest(self.registry)
        return body + generate_latest(self.per_store) if per_store else body


class _RequestIds:
    """Request ids: 16 hex digits, a random per-process prefix and a counter (no system call
    per request; a forked worker gets its own prefix)."""

    def __init__(self) -> None:
        self._pid = -1
        self._prefix = ""
        self._counter = itertools.count()

    def next(self) -> str:
        if self._pid != os.getpid():
            self._pid, self._prefix = os.getpid(), secrets.token_hex(4).upper()
            self._counter = itertools.count(secrets.randbelow(1 << 20))
        return f"{self._prefix}{next(self._counter) & 0xFFFFFFFF:08X}"


new_request_id = _RequestIds().next


class Observed:
    """Wrap a plane's ASGI app: request id, metrics, one JSON access-log line per request."""

    def __init__(self, app: ASGIApp, plane: str, metrics: Metrics) -> None:
        self.app, self.plane, self.metrics = app, plane, metrics
        self._children: dict[tuple[str, int], tuple[Any, Any, Any, Any]] = {}

    def _series(self, op: str, status: int) -> tuple[Any, Any, Any, Any]:
        """The metric children of one (operation, status), looked up once."""
        series = self._children.get((op, status))
        if series is None:
            m = self.metrics
            series = (m.requests.labels(self.plane, op, str(status)),
                      m.latency.labels(self.plane, op), m.bytes_in.labels(self.plane, op),
                      m.bytes_out.labels(self.plane, op))
            self._children[(op, status)] = series
        return series

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        request_id = new_request_id()
        scope[REQUEST_ID] = request_id
        start = time.perf_counter()
        state: dict[str, Any] = {"status": 500, "in": 0, "out": 0}

        async def counting_receive() -> Message:
            message = await receive()
            state["in"] += len(message.get("body", b""))
            return message

        async def counting_send(message: Message) -> None:
            if message["type"] == "http.response.start":
                state["status"] = message["status"]
            elif message["type"] == "http.response.body":
                state["out"] += len(message.get("body", b""))
            await send(message)

        try:
            await self.app(scope, counting_receive, counting_send)
        finally:
            elapsed = time.perf_counter() - start
            op = scope.get(OPERATION) or _route_name(scope)
            requests, latency, bytes_in, bytes_out = self._series(op, state["status"])
            requests.inc()
            latency.observe(elapsed)
            bytes_in.inc(state["in"])
            bytes_out.inc(state["out"])
            if access_log.isEnabledFor(logging.INFO):
                client = scope.get("client") or ("", 0)
                entry = {
                    "request_id": request_id, "plane": self.plane, "op": op,
                    "method": scope["method"], "path": scope.get("path", ""),
                    "status": state["status"], "bytes_in": state["in"],
                    "bytes_out": state["out"], "ms": round(elapsed * 1000, 2),
                    "client": client[0],
                }
                if PEER in scope:  # a listed proxy named the client: which proxy
                    entry["peer"] = scope[PEER]
                access_log.info(json.dumps(entry))


def _route_name(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return f"{scope['method']} {path}" if path else scope["method"]


class MetricsView(enum.Enum):
    AGGREGATE = "aggregate"  # no credentials: series with no tenant's names or sizes
    FULL = "full"            # the metrics token or the operator's key: per-store series too
    DENIED = "denied"        # a bearer token that unlocks nothing


class WithMetricsEndpoint:
    """Serve ``GET /metrics`` (Prometheus text format) in front of an app. ``access`` tells
    what a request's bearer token (None: no ``Authorization``) may see; it may block (a
    database lookup), so it runs in a worker thread."""

    def __init__(self, app: ASGIApp, metrics: Metrics,
                 access: Callable[[str | None], MetricsView] | None = None) -> None:
        self.app, self.metrics = app, metrics
        self.access = access or (lambda token: MetricsView.AGGREGATE)

    def _answer(self, authorization: str | None) -> tuple[int, bytes, bytes]:
        token = None
        if authorization is not None:
            scheme, _, value = authorization.strip().partition(" ")
            token = value.strip() if scheme.lower() == "bearer" and value.strip() else ""
        view = self.access(token)
        if view is MetricsView.DENIED:
            body = json.dumps({"code": "metrics_token_invalid", "reason": (
                "The bearer token is neither the metrics token nor the operator's API key; "
                "without one, /metrics shows aggregate series only")}).encode()
            return 401, b"application/json", body
        return 200, b"text/plain; version=0.0.4; charset=utf-8", \
            self.metrics.render(per_store=view is MetricsView.FULL)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope.get("path") == "/metrics" \
                and scope["method"] == "GET":
            from starlette.concurrency import run_in_threadpool

            authorization = next((v.decode("latin-1") for k, v in scope.get("headers", [])
                                  if k == b"authorization"), None)
            status, media, body = await run_in_threadpool(self._answer, authorization)
            headers = [(b"content-type", media), (b"content-length", str(len(body)).encode()),
                       (b"cache-control", b"no-store")]
            if status == 401:
                headers.append((b"www-authenticate", b'Bearer realm="metrics"'))
            await send({"type": "http.response.start", "status": status, "headers": headers})
            await send({"type": "http.response.body", "body": body})
            return
        await self.app(scope, receive, send)

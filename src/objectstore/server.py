"""Both planes in one process: two uvicorn listeners, one event loop, graceful shutdown."""

from __future__ import annotations

import asyncio
import contextlib
import ctypes
import gc
import logging
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Coroutine
from typing import Any, ClassVar, TypeVar

import uvicorn
from prometheus_client import values as prometheus_values
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol, RequestResponseCycle

from .app import Apps, build_apps
from .config import Settings
from .conn_guard import (
    LISTEN_BACKLOG,
    ConnectionGuard,
    accept_backlog,
    connection_cap,
    raise_fd_limit,
)
from .services.registry import Services
from .tls import HSTS, TlsReloader

T = TypeVar("T")
log = logging.getLogger("objectstore")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
_COALESCE_MAX = 64 * 1024  # a first body chunk up to this size is joined to the head


class StartupError(RuntimeError):
    """This gateway must not serve: its settings disagree with what the cluster shares."""


def check_shared_settings(services: Services) -> None:
    """Refuse to start when this gateway cannot work with the shared database: its server key
    must open the S3 secrets already sealed there (every gateway needs the same key;
    docs/deploy.md). One sealed secret is enough to tell."""
    from sqlalchemy import select

    from .storage.sql.tables import credentials

    with services.engine.connect() as conn:
        token = conn.execute(select(credentials.c.secret_enc).limit(1)).scalar()
    if token is None:
        return
    try:
        services.credentials.box.open(token)
    except RuntimeError:
        raise StartupError(
            "objectstore: the server key does not open the S3 secrets stored in this "
            "database. Every gateway on one database needs the same server key: set "
            "OBJECTSTORE_SERVER_KEY (or copy <data dir>/server.key) from a gateway that "
            "works. Refusing to start.") from None


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # we handle signals for both listeners
        pass


class _HeldTransport:
    """The transport as a response's cycle sees it: the status line and headers are held
    until the body's first bytes go out, so a small response leaves in one write (one
    ``send`` system call and one TCP segment instead of two). Anything else — a close, the
    end of the response, an error — writes what is held first; order is kept."""

    __slots__ = ("_real", "held", "holding")

    def __init__(self, real: asyncio.Transport) -> None:
        self._real = real
        self.held: bytes | None = None
        self.holding = False

    def write(self, data: bytes | bytearray | memoryview) -> None:
        if self.holding:
            self.holding = False
            self.held = bytes(data)
            return
        held = self.held
        if held is None:
            self._real.write(data)
        else:
            self.held = None
            if len(data) <= _COALESCE_MAX:
                self._real.write(held + data)
            else:  # a large first chunk: not copied, written after the head
                self._real.write(held)
                self._real.write(data)

    def flush(self) -> None:
        self.holding = False
        held = self.held
        if held is not None:
            self.held = None
            self._real.write(held)

    def close(self) -> None:
        self.flush()
        self._real.close()

    def is_closing(self) -> bool:
        return self._real.is_closing()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._real, name)


class _Cycle(RequestResponseCycle):
    """uvicorn's request/response cycle, writing the head of a response with its body."""

    async def send(self, message: Any) -> None:
        transport = self.transport
        if not isinstance(transport, _HeldTransport):  # pragma: no cover - set at start
            await super().send(message)
            return
        if not self.response_started and message["type"] == "http.response.start":
            if self.scope["scheme"] == "https":  # a TLS listener: browsers keep to HTTPS (tls.py)
                message = {**message, "headers": [*message.get("headers", ()), HSTS]}
            transport.holding = True
            try:
                await super().send(message)
            finally:
                transport.holding = False
            return
        try:
            await super().send(message)
        finally:
            transport.flush()


class _Protocol(HttpToolsProtocol):
    """uvicorn's httptools protocol (keep-alive, pipelining, 100-continue, flow control and
    disconnects all its own), with responses written by :class:`_Cycle`, and its idle time
    watched by the process's :class:`ConnectionGuard` (head and keep-alive timeouts, the
    connection cap) instead of uvicorn's keep-alive timer, which only ran after a response."""

    guard: ClassVar[ConnectionGuard]  # set by _protocol_class
    head_limit: ClassVar[int]  # bytes of an incomplete head before 431
    _in_head = False  # part of a request head has come, not all of it
    _head_bytes = 0

    def connection_made(self, transport: asyncio.Transport) -> None:  # type: ignore[override]
        super().connection_made(transport)
        self.guard.opened(self)

    def shed(self) -> None:
        if not self.transport.is_closing():
            self.transport.close()

    def connection_lost(self, exc: Exception | None) -> None:
        self.guard.closed(self)
        super().connection_lost(exc)

    def data_received(self, data: bytes) -> None:
        super().data_received(data)
        if self._in_head:  # the head is still not complete: bound what it may hold
            self._head_bytes += len(data)
            if self._head_bytes > self.head_limit and not self.transport.is_closing():
                self.transport.write(b"HTTP/1.1 431 Request Header Fields Too Large\r\n"
                                     b"content-length: 0\r\nconnection: close\r\n\r\n")
                self.transport.close()

    def on_message_begin(self) -> None:
        super().on_message_begin()
        self._in_head = True
        self._head_bytes = 0
        self.guard.head_started(self)

    def on_headers_complete(self) -> None:
        self._in_head = False
        self.guard.busy(self)
        super().on_headers_complete()

    def on_response_complete(self) -> None:
        super().on_response_complete()
        if self.timeout_keep_alive_task is not None:  # kept alive, nothing queued: idle
            self._unset_keepalive_if_required()
            self.guard.idle(self, self._in_head)

    def _start_asgi_task(self, cycle: RequestResponseCycle, app: Any) -> None:
        cycle.__class__ = _Cycle
        cycle.transport = _HeldTransport(cycle.transport)  # type: ignore[assignment]
        super()._start_asgi_task(cycle, app)


def _protocol_class(guard: ConnectionGuard, head_limit: int) -> type[_Protocol]:
    """The protocol of one process's listeners, sharing ``guard``."""

    class _GuardedProtocol(_Protocol):
        pass

    _GuardedProtocol.guard = guard
    _GuardedProtocol.head_limit = head_limit
    return _GuardedProtocol


def _config(app: object, host: str, port: int, settings_log_level: str,
            max_header_bytes: int, protocol: type[_Protocol], keepalive_timeout: float,
            **tls: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http=protocol,
        lifespan="off",
        log_level=settings_log_level,
        access_log=False,
        timeout_keep_alive=int(keepalive_timeout) or 1,  # the guard closes idle connections
        backlog=LISTEN_BACKLOG,  # accept queue: as long as the kernel allows (somaxconn)
        timeout_graceful_shutdown=30,
        h11_max_incomplete_event_size=max_header_bytes,
        server_header=False,
        # forwarded headers are read by objectstore.forwarded, from the listed proxies only
        # (OBJECTSTORE_TRUSTED_PROXIES); uvicorn's own handling trusted 127.0.0.1 by default
        proxy_headers=False,
        **tls,  # type: ignore[arg-type]
    )


async def serve(apps: Apps, *, install_signals: bool = True,
                stop_event: asyncio.Event | None = None,
                sockets: tuple[socket.socket, ...] | None = None) -> None:
    """Serve both planes (and the website plane, when ``web_port`` is set) until a signal
    (or ``stop_event``). ``sockets``: listening sockets (management, S3[, website])
    inherited from a parent process, for ``--workers``."""
    s = apps.services.settings
    fd_limit = raise_fd_limit()
    cap = connection_cap(s.max_connections, fd_limit, accept_backlog())
    if s.max_connections > cap:
        log.warning("max_connections %d is more than the open-file limit (%d) allows: %d",
                    s.max_connections, fd_limit, cap)
    guard = ConnectionGuard(cap, s.header_timeout_seconds, s.keepalive_timeout_seconds)
    protocol = _protocol_class(guard, 2 * s.max_header_bytes)
    tls: dict[str, object] = {}
    reloader = None
    if s.tls_cert and s.tls_key:  # both listeners share one context, reloaded in place
        reloader = TlsReloader(s.tls_cert, s.tls_key)
        context = reloader.context
        tls = {"ssl_context_factory": lambda _config, _default: context}
    mgmt = _Server(_config(apps.mgmt, s.host, s.api_port, s.log_level, s.max_header_bytes,
                           protocol, s.keepalive_timeout_seconds, **tls))
    s3 = _Server(_config(apps.s3, s.host, s.s3_port, s.log_level, s.max_header_bytes,
                         protocol, s.keepalive_timeout_seconds, **tls))
    servers = [mgmt, s3]
    if apps.web is not None and s.web_port is not None:  # the website plane, same guard
        servers.append(_Server(_config(apps.web, s.host, s.web_port, s.log_level,
                                       s.max_header_bytes, protocol,
                                       s.keepalive_timeout_seconds, **tls)))
    loop = asyncio.get_running_loop()
    check_shared_settings(apps.services)
    guard.start(loop)

    def stop(*_: object) -> None:
        for server in servers:
            server.should_exit = True

    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
        if reloader is not None:
            loop.add_signal_handler(signal.SIGHUP, reloader.reload)
    watcher = None
    if reloader is not None and s.tls_reload_seconds > 0:
        watcher = asyncio.ensure_future(_watch_tls(reloader, s.tls_reload_seconds))
    waiter = None
    if stop_event is not None:
        async def wait_stop() -> None:
            await stop_event.wait()
            stop()

        waiter = asyncio.ensure_future(wait_stop())
    apps.gc.start()  # each takes its role only if no other process holds it
    apps.lifecycle.start()
    if apps.events is not None:
        apps.events.start()
    try:
        if sockets is None:
            await asyncio.gather(*(server.serve() for server in servers))
        else:
            await asyncio.gather(*(server.serve(sockets=[sock])
                                   for server, sock in zip(servers, sockets, strict=True)))
    finally:
        guard.stop()
        if waiter is not None:
            waiter.cancel()
        if watcher is not None:
            watcher.cancel()
        apps.gc.stop()
        apps.lifecycle.stop()
        if apps.events is not None:
            apps.events.stop()
        apps.services.objects.writer.close()
        apps.services.close()
        apps.services.engine.dispose()


async def _watch_tls(reloader: TlsReloader, every: float) -> None:
    """Pick up a certificate replaced on disk (tls.py), every ``every`` seconds."""
    while True:
        await asyncio.sleep(every)
        reloader.check()


def _listen(host: str, port: int) -> socket.socket:
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.bind((host, port))
    sock.listen(LISTEN_BACKLOG)  # clamped to somaxconn; a full queue refuses good clients
    sock.set_inheritable(True)
    return sock


def run_event_loop(main: Coroutine[Any, Any, T]) -> T:
    """Run ``main`` — the one server of this process — on uvloop (the loop uvicorn itself
    would pick), falling back to asyncio. ``asyncio.run`` alone would give the pure-Python
    loop: ~2x the per-request overhead."""
    # Everything built so far (settings, engine, compiled statements, apps, modules) lives as
    # long as the process: move it out of the collector's sight, so that a full collection
    # walks only what requests create (~65 ms pauses measured without this).
    gc.collect()
    gc.freeze()
    # A young collection every 10,000 net allocations, not 700: with tens of thousands of
    # connections open and thousands more accepted and closed a second (a slowloris flood),
    # CPython's default spent ~25% of the process's CPU in the collector, with pauses up to
    # ~160 ms; 10,000 measured ~5%, pauses under 3 ms (young) and 70 ms (full).
    gc.set_threshold(10_000, 10, 10)
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop is a pinned dependency
        return asyncio.run(main)
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        return runner.run(main)


def serve_workers(settings: Settings, workers: int) -> int:
    """Run ``workers`` processes sharing both listening sockets (the kernel spreads the
    connections). Migrations and the default account are done once, before forking; each
    worker builds its own engine and caches. Background work (GC, lifecycle) is offered to
    every worker and taken by one (``services/leader.py``), so it moves on if that worker dies.
    A worker that dies is replaced; a worker dies with this process (``PR_SET_PDEATHSIG``), so
    killing the parent never leaves orphans serving the ports. Metrics are summed over the
    workers (prometheus_client's multiprocess mode, in a directory of this run)."""
    mgmt_sock = _listen(settings.host, settings.api_port)
    s3_sock = _listen(settings.host, settings.s3_port)
    socks: tuple[socket.socket, ...] = (mgmt_sock, s3_sock)
    if settings.web_port is not None:
        socks += (_listen(settings.host, settings.web_port),)
    metrics_dir = tempfile.mkdtemp(prefix="objectstore-metrics-")
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = metrics_dir
    prometheus_values.ValueClass = prometheus_values.get_value_class()  # type: ignore[no-untyped-call]
    parent = os.getpid()
    children: dict[int, int] = {}  # pid -> worker index
    stopping = False

    def spawn(index: int) -> None:
        pid = os.fork()
        if pid == 0:  # pragma: no cover - runs in the child
            code = 0
            try:
                _die_with_parent(parent)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                signal.signal(signal.SIGINT, signal.SIG_DFL)
                signal.signal(signal.SIGHUP, signal.SIG_IGN)  # serve() installs its own
                apps = build_apps(settings, run_migrations=False)
                run_event_loop(serve(apps, sockets=socks))
            except BaseException:
                log.exception("worker %d failed", index)
                code = 1
            finally:
                os._exit(code)
        children[pid] = index

    def forward(signum: int, _frame: object) -> None:
        nonlocal stopping
        stopping = True
        for child in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGTERM)

    def forward_hup(signum: int, _frame: object) -> None:  # reload TLS in every worker
        for child in list(children):
            with contextlib.suppress(ProcessLookupError):
                os.kill(child, signal.SIGHUP)

    signal.signal(signal.SIGTERM, forward)
    signal.signal(signal.SIGINT, forward)
    signal.signal(signal.SIGHUP, forward_hup)
    for index in range(workers):
        spawn(index)
    status = 0
    try:
        while children:
            try:
                pid, code = os.wait()
            except ChildProcessError:  # pragma: no cover - nothing left to wait for
                break
            index = children.pop(pid, -1)
            if index < 0:
                continue
            exit_code = os.waitstatus_to_exitcode(code)
            if stopping:
                status = status or (exit_code if exit_code > 0 else 0)
                continue
            log.error("worker %d (pid %d) exited with %d; starting another", index, pid,
                      exit_code)
            time.sleep(0.5)  # a worker that cannot start must not spin
            if not stopping:
                spawn(index)
    finally:
        shutil.rmtree(metrics_dir, ignore_errors=True)
    return status


def _die_with_parent(parent: int) -> None:  # pragma: no cover - runs in the child
    """Linux: this process gets SIGKILL when its parent dies (a SIGKILLed ``serve`` takes its
    workers with it)."""
    with contextlib.suppress(OSError, AttributeError):
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
    if os.getppid() != parent:  # the parent died before the prctl
        os._exit(1)

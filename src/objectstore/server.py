"""Both planes in one process: two listeners (three with the website plane's) on one event
loop, served by our HTTP/1.1 server (``http1/``), graceful shutdown."""

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
from typing import Any, TypeVar

from prometheus_client import values as prometheus_values

from .app import Apps, build_apps
from .config import Settings
from .conn_guard import (
    LISTEN_BACKLOG,
    ConnectionGuard,
    accept_backlog,
    connection_cap,
    raise_fd_limit,
)
from .http1.listener import PLAIN_BAD_REQUEST, Listener
from .services.registry import Services
from .tls import HSTS, TlsReloader

T = TypeVar("T")
log = logging.getLogger("objectstore")
PR_SET_PDEATHSIG = 1  # <linux/prctl.h>
GRACEFUL_SHUTDOWN_S = 30  # in-flight requests may finish for this long after a stop


# a malformed request's 400, in the plane's error format: the management API's Civo JSON
# (mgmt/errors.py), S3's XML (as AWS words it); the website plane keeps plain text
_MGMT_BAD_REQUEST = (b"application/json",
                     b'{"code":"bad_request","reason":"Invalid HTTP request received."}')
_S3_BAD_REQUEST = (b"application/xml",
        b'<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>BadRequest</Code><Message>An '
        b"error occurred when parsing the HTTP request.</Message></Error>")


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
    context = None
    reloader = None
    if s.tls_cert and s.tls_key:  # every listener shares one context, reloaded in place
        reloader = TlsReloader(s.tls_cert, s.tls_key)
        context = reloader.context
    ports = [(apps.mgmt, s.api_port, _MGMT_BAD_REQUEST), (apps.s3, s.s3_port, _S3_BAD_REQUEST)]
    if apps.web is not None and s.web_port is not None:  # the website plane, same guard
        ports.append((apps.web, s.web_port, PLAIN_BAD_REQUEST))
    # browsers keep to HTTPS once told on a TLS connection (tls.py)
    listeners = [Listener(app, guard, head_limit=2 * s.max_header_bytes, ssl_context=context,
                          tls_headers=(HSTS,), backlog=LISTEN_BACKLOG, bad_request=bad)
                 for app, _, bad in ports]
    stopping = asyncio.Event()
    loop = asyncio.get_running_loop()
    check_shared_settings(apps.services)
    guard.start(loop)

    def stop(*_: object) -> None:
        stopping.set()

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
        try:
            for index, listener in enumerate(listeners):
                await listener.start(s.host, ports[index][1],
                                     None if sockets is None else sockets[index])
        except OSError as exc:
            log.error("cannot listen: %s", exc)
            for listener in listeners:
                listener.close()
            raise SystemExit(3) from None
        await stopping.wait()
        await asyncio.gather(*(listener.shutdown(GRACEFUL_SHUTDOWN_S)
                               for listener in listeners))
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
        reads = apps.services.objects.async_reads  # this loop's PostgreSQL point readers
        if reads is not None:
            await reads.close()
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

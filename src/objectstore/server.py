"""Both planes in one process: two uvicorn listeners, one event loop, graceful shutdown."""

from __future__ import annotations

import asyncio
import logging
import signal

import uvicorn

from .app import Apps

log = logging.getLogger("objectstore")


class _Server(uvicorn.Server):
    def install_signal_handlers(self) -> None:  # we handle signals for both listeners
        pass


def _config(app: object, host: str, port: int, settings_log_level: str,
            max_header_bytes: int, **tls: object) -> uvicorn.Config:
    return uvicorn.Config(
        app,  # type: ignore[arg-type]
        host=host,
        port=port,
        loop="uvloop",
        http="httptools",
        lifespan="off",
        log_level=settings_log_level,
        access_log=False,
        timeout_keep_alive=30,
        timeout_graceful_shutdown=30,
        h11_max_incomplete_event_size=max_header_bytes,
        server_header=False,
        **tls,  # type: ignore[arg-type]
    )


async def serve(apps: Apps, *, install_signals: bool = True,
                stop_event: asyncio.Event | None = None) -> None:
    s = apps.services.settings
    mgmt = _Server(_config(apps.mgmt, s.host, s.api_port, s.log_level, s.max_header_bytes))
    tls = {}
    if s.tls_cert and s.tls_key:
        tls = {"ssl_certfile": str(s.tls_cert), "ssl_keyfile": str(s.tls_key)}
    s3 = _Server(_config(apps.s3, s.host, s.s3_port, s.log_level, s.max_header_bytes, **tls))
    loop = asyncio.get_running_loop()

    def stop(*_: object) -> None:
        mgmt.should_exit = True
        s3.should_exit = True

    if install_signals:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, stop)
    waiter = None
    if stop_event is not None:
        async def wait_stop() -> None:
            await stop_event.wait()
            stop()

        waiter = asyncio.ensure_future(wait_stop())
    apps.gc.start()
    try:
        await asyncio.gather(mgmt.serve(), s3.serve())
    finally:
        if waiter is not None:
            waiter.cancel()
        apps.gc.stop()
        apps.services.objects.writer.close()
        apps.services.engine.dispose()

"""``python -m bench.inproc [--n N] [--profile FILE] [--method HEAD|GET] [--header-signed]``:
the S3 plane's own cost per small request, without sockets or a load generator.

A real server (both planes, SQLite, file blobs) runs in a thread; one 4 KiB object is
stored through it. Then, on the server's own event loop, the S3 ASGI app (with its
observability and client-view wrappers, as served) is called N times in a row with the
scope, ``receive`` and ``send`` the HTTP/1.1 server would give it: a presigned (or
header-signed) HEAD or GET of that object. It prints µs per request (best of 5 runs).
``--profile FILE`` runs once more under cProfile and writes its stats there (read them with
``python -m pstats FILE``): deterministic profiling, so the async stacks are exact, unlike a
sampler's on Python 3.11; the profiler's own overhead inflates small functions.

This isolates the app from the HTTP layer and the client; ``bench/`` runs with wrk give the
whole figure.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import hashlib
import hmac
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx

from bench.sigv4 import Presigner
from tests.support.server import running_server


def _auth_header(access: str, secret: str, region: str, host: str, method: str, path: str,
                 amz_date: str) -> list[tuple[bytes, bytes]]:
    date = amz_date[:8]
    scope = f"{date}/{region}/s3/aws4_request"
    payload = "UNSIGNED-PAYLOAD"
    signed = "host;x-amz-content-sha256;x-amz-date"
    creq = (f"{method}\n{path}\n\nhost:{host}\nx-amz-content-sha256:{payload}\n"
            f"x-amz-date:{amz_date}\n\n{signed}\n{payload}")
    sts = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(creq.encode()).hexdigest()}"
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, sts.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={access}/{scope}, SignedHeaders={signed}, "
            f"Signature={sig}")
    return [(b"host", host.encode()), (b"x-amz-content-sha256", payload.encode()),
            (b"x-amz-date", amz_date.encode()), (b"authorization", auth.encode()),
            (b"user-agent", b"inproc")]


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=5000)
    ap.add_argument("--method", default="HEAD", choices=["HEAD", "GET"])
    ap.add_argument("--header-signed", action="store_true")
    ap.add_argument("--profile", default="")
    args = ap.parse_args()
    with tempfile.TemporaryDirectory(prefix="inproc-") as tmp, \
            running_server(Path(tmp), fsync=False) as srv:
        api = srv.api()
        st = api.post("/v2/objectstores", json={"name": "inproc", "region": "LON1"}).json()
        cred = api.get(f"/v2/objectstore/credentials/{st['owner_info']['credential_id']}",
                       params={"region": "LON1"}).json()
        host = urlsplit(srv.s3_url).netloc
        signer = Presigner(host, cred["access_key_id"], cred["secret_access_key_id"],
                           region="LON1")
        put = signer.target("PUT", "/inproc/k4")
        r = httpx.put(srv.s3_url + put, content=b"x" * 4096)
        assert r.status_code == 200, r.text
        path = "/inproc/k4"
        if args.header_signed:
            headers = _auth_header(cred["access_key_id"], cred["secret_access_key_id"], "LON1",
                                   host, args.method, path, signer.amz_date)
            query = b""
        else:
            target = signer.target(args.method, path)
            query = target.split("?", 1)[1].encode()
            headers = [(b"host", host.encode()), (b"user-agent", b"inproc")]
        app = srv.apps.s3
        srv_loop = _server_loop()

        async def receive() -> dict[str, Any]:
            return {"type": "http.request", "body": b"", "more_body": False}

        statuses: list[int] = []

        async def send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                statuses.append(message["status"])

        async def run(n: int) -> float:
            t0 = time.perf_counter()
            for _ in range(n):
                scope = {"type": "http", "asgi": {"version": "3.0"}, "http_version": "1.1",
                         "server": ("127.0.0.1", 9000), "client": ("127.0.0.1", 40000),
                         "scheme": "http", "method": args.method, "root_path": "",
                         "path": path, "raw_path": path.encode(), "query_string": query,
                         "headers": headers}
                await app(scope, receive, send)  # type: ignore[arg-type]
            return time.perf_counter() - t0

        times = []
        for _ in range(5):
            statuses.clear()
            dt = asyncio.run_coroutine_threadsafe(run(args.n), srv_loop).result()
            assert set(statuses) == {200}, set(statuses)
            times.append(dt / args.n * 1e6)
        print(f"{args.method} {'header-signed' if args.header_signed else 'presigned'}: "
              f"best {min(times):.1f} µs, runs " + " ".join(f"{t:.1f}" for t in times))
        if args.profile:
            async def profiled() -> None:
                prof = cProfile.Profile()
                prof.enable()
                await run(args.n)
                prof.disable()
                prof.dump_stats(args.profile)

            asyncio.run_coroutine_threadsafe(profiled(), srv_loop).result()
            print("profile in", args.profile)


def _server_loop() -> asyncio.AbstractEventLoop:
    """The server thread's event loop (tests.support.server runs one loop in that thread)."""
    import gc

    for obj in gc.get_objects():
        if isinstance(obj, asyncio.AbstractEventLoop) and obj.is_running():
            return obj
    raise RuntimeError("no running loop")


if __name__ == "__main__":
    main()

"""Bare reference servers: the practical ceiling of a Python ASGI server on this machine.

Raw ASGI on uvicorn (uvloop + httptools), one process, no framework, no auth, no metadata:

* PUT  (``put_app``): receive the body, MD5 it, write it to a file, fsync (in a thread), rename,
  answer 200 with the MD5 as ETag. This is the least a real S3 PUT must do.
* GET  (``get_app``): stream the file back in 1 MiB reads (``Content-Length`` set).
* DELETE removes the file. Anything else (bucket creation, listing) answers 200 with no body.

The request path names the file (query strings, e.g. presigned-URL signatures, are ignored),
so the same presigned URLs drive it and the real servers. Run with
``python -m bench.bare --port P --data-dir D``.
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
from pathlib import Path
from typing import Any

CHUNK = 1 << 20

Scope = dict[str, Any]


def _file(root: Path, path: str) -> Path:
    return root / hashlib.sha1(path.encode()).hexdigest()


async def _drain(receive: Any) -> None:
    while (await receive()).get("more_body"):
        pass


async def _answer(send: Any, status: int, headers: list[tuple[bytes, bytes]] | None = None,
                  body: bytes = b"") -> None:
    hdrs = [(b"content-length", str(len(body)).encode()), *(headers or [])]
    await send({"type": "http.response.start", "status": status, "headers": hdrs})
    await send({"type": "http.response.body", "body": body})


async def put_app(root: Path, scope: Scope, receive: Any, send: Any) -> None:
    """Receive + MD5 + write + fsync."""
    dest = _file(root, scope["path"])
    tmp = dest.with_suffix(f".{id(scope)}.tmp")
    md5 = hashlib.md5()
    with open(tmp, "wb", buffering=0) as f:
        while True:
            msg = await receive()
            body = msg.get("body", b"")
            if body:
                md5.update(body)
                f.write(body)
            if not msg.get("more_body"):
                break
        await asyncio.to_thread(os.fsync, f.fileno())
    os.replace(tmp, dest)
    await _answer(send, 200, [(b"etag", f'"{md5.hexdigest()}"'.encode())])


async def get_app(root: Path, scope: Scope, receive: Any, send: Any) -> None:
    """Stream a file back in 1 MiB reads."""
    await _drain(receive)
    try:
        f = open(_file(root, scope["path"]), "rb", buffering=0)  # noqa: SIM115
    except FileNotFoundError:
        await _answer(send, 404)
        return
    with f:
        size = os.fstat(f.fileno()).st_size
        await send({"type": "http.response.start", "status": 200,
                    "headers": [(b"content-length", str(size).encode())]})
        while True:
            data = f.read(CHUNK)
            if not data:
                break
            await send({"type": "http.response.body", "body": data, "more_body": True})
        await send({"type": "http.response.body", "body": b""})


def make_app(root: Path) -> Any:
    root.mkdir(parents=True, exist_ok=True)

    async def app(scope: Scope, receive: Any, send: Any) -> None:
        if scope["type"] != "http":
            return
        method = scope["method"]
        path = scope["path"]
        is_object = path.strip("/").count("/") >= 1  # /bucket/key
        if method == "PUT" and is_object:
            await put_app(root, scope, receive, send)
        elif method in ("GET", "HEAD") and is_object:
            await get_app(root, scope, receive, send)
        elif method == "DELETE" and is_object:
            await _drain(receive)
            _file(root, path).unlink(missing_ok=True)
            await _answer(send, 204)
        else:
            await _drain(receive)
            await _answer(send, 200)

    return app


def main() -> None:
    import uvicorn

    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--port", type=int, required=True)
    ap.add_argument("--data-dir", type=Path, required=True)
    args = ap.parse_args()
    uvicorn.run(make_app(args.data_dir), host="127.0.0.1", port=args.port, loop="uvloop",
                http="httptools", lifespan="off", access_log=False, log_level="warning")


if __name__ == "__main__":
    main()

"""Issue 20.10: a client that goes away stops the read.

A GET of a 256 MiB object abandoned after 64 KiB made the server read all 256 MiB from disk
(uvicorn drops a response's writes once the client is gone, and nothing told the object
stream): read amplification for anyone holding a presigned URL. The S3 plane now watches for
the disconnect while it streams a body and closes the stream (and its read-ahead) at once.

Measured from outside the engine: the bytes this process read (``/proc/self/io`` ``rchar``:
every ``read``/``pread``, the page cache included) while the abandoned GET was served.
"""

from __future__ import annotations

import os
import socket
import time

from tests.security.canary import Canaries
from tests.security.helpers import Store

MiB = 1024 * 1024
SIZE = int(os.environ.get("OBJECTSTORE_ABANDONED_MIB", "64")) * MiB


def _rchar() -> int:
    with open("/proc/self/io") as fh:
        for line in fh:
            if line.startswith("rchar:"):
                return int(line.split()[1])
    raise AssertionError("no rchar in /proc/self/io")


def _settled_rchar(quiet_s: float = 1.0, timeout: float = 20.0) -> int:
    """rchar once it stopped growing by more than 1 MiB per ``quiet_s``."""
    deadline = time.monotonic() + timeout
    last = _rchar()
    while time.monotonic() < deadline:
        time.sleep(quiet_s)
        now = _rchar()
        if now - last < MiB:
            return now
        last = now
    return _rchar()


def _abandoned_get(store: Store, key: str, keep: int) -> int:
    """GET ``key`` over a raw socket, read ``keep`` body bytes, then drop the connection;
    the body bytes received."""
    raw = store.raw()
    headers = raw.sign("GET", f"/{store.name}/{key}", "", {}, b"")
    host, port = raw.hostport.rsplit(":", 1)
    lines = [f"GET /{store.name}/{key} HTTP/1.1"] + [f"{k}: {v}" for k, v in headers.items()]
    sock = socket.create_connection((host, int(port)), timeout=30)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 64 * 1024)
        sock.sendall(("\r\n".join(lines) + "\r\n\r\n").encode())
        got = b""
        while b"\r\n\r\n" not in got:
            got += sock.recv(65536)
        head, _, body = got.partition(b"\r\n\r\n")
        assert head.startswith(b"HTTP/1.1 200"), head[:200]
        received = len(body)
        while received < keep:
            chunk = sock.recv(65536)
            assert chunk, "server closed early"
            received += len(chunk)
        return received
    finally:
        sock.close()  # unread bytes in the socket: the kernel answers with a reset


def test_abandoned_get_stops_reading(store: Store, canaries: Canaries) -> None:
    key = "big"
    data = os.urandom(SIZE)
    store.boto().put_object(Bucket=store.name, Key=key, Body=data)
    del data
    before = _settled_rchar()
    received = _abandoned_get(store, key, 64 * 1024)
    after = _settled_rchar()
    read = after - before
    print(f"abandoned GET of {SIZE // MiB} MiB after {received // 1024} KiB: this process "
          f"read {read / MiB:.1f} MiB")
    # 4 MiB reads, one ahead, one held back for the checksum verdict, plus what the socket
    # buffers took before the client left: well under the object
    assert read < 20 * MiB, f"{read / MiB:.1f} MiB read for an abandoned GET"
    # the server is fine afterwards: a whole GET still reads everything
    body = store.boto().get_object(Bucket=store.name, Key=key)["Body"].read()
    assert len(body) == SIZE
    store.boto().delete_object(Bucket=store.name, Key=key)

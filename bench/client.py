"""Raw HTTP/1.1 clients with no library overhead in the data path.

* ``Conn``: a blocking keep-alive socket. Large bodies go out with one ``sendall`` of a
  memoryview (the copy happens in the kernel, the GIL is released) and come back through
  ``recv_into`` a reusable 1 MiB buffer, so one thread per stream moves GiB/s.
* ``populate``: an asyncio (uvloop) client that sends pre-built request bytes over N keep-alive
  connections; used only to create keys quickly, never for a measured figure.
"""

from __future__ import annotations

import asyncio
import socket
import time
from dataclasses import dataclass

RECV = 1 << 20


class HTTPError(Exception):
    pass


@dataclass
class Response:
    status: int
    headers: dict[str, str]
    body: bytes  # empty when the body was discarded
    nbytes: int  # body length received


class Conn:
    def __init__(self, host: str, port: int, timeout: float = 300.0) -> None:
        self.host, self.port, self.timeout = host, port, timeout
        self.hosthdr = f"{host}:{port}"
        self.sock: socket.socket | None = None
        self._buf = bytearray(RECV)
        self._pending = b""

    def _connect(self) -> socket.socket:
        if self.sock is None:
            s = socket.create_connection((self.host, self.port), timeout=self.timeout)
            s.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            self.sock, self._pending = s, b""
        return self.sock

    def close(self) -> None:
        if self.sock is not None:
            self.sock.close()
            self.sock = None

    def request(self, method: str, target: str, body: memoryview | bytes | None = None,
                headers: dict[str, str] | None = None, keep_body: bool = True) -> Response:
        sock = self._connect()
        h = {"Host": self.hosthdr, **(headers or {})}
        if body is not None or method in ("PUT", "POST"):
            h["Content-Length"] = str(len(body) if body is not None else 0)
        head = f"{method} {target} HTTP/1.1\r\n" + "".join(f"{k}: {v}\r\n" for k, v in h.items())
        try:
            if body is not None and len(body) <= 65536:
                sock.sendall(head.encode() + b"\r\n" + bytes(body))
            else:
                sock.sendall(head.encode() + b"\r\n")
                if body is not None:
                    sock.sendall(body)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the server answered early (an error): read what it said
        try:
            return self._read_response(method, keep_body)
        except BaseException:
            self.close()
            raise

    def _recv(self) -> bytes:
        assert self.sock is not None
        data = self.sock.recv(65536)
        if not data:
            raise HTTPError("connection closed by server")
        return data

    def _read_response(self, method: str, keep_body: bool) -> Response:
        data = self._pending
        while b"\r\n\r\n" not in data:
            data += self._recv()
            if len(data) > 1 << 20:
                raise HTTPError("response head too large")
        head, _, rest = data.partition(b"\r\n\r\n")
        lines = head.decode("latin-1").split("\r\n")
        status = int(lines[0].split(" ", 2)[1])
        headers: dict[str, str] = {}
        for line in lines[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        if status == 100:  # not asked for, but tolerate it
            self._pending = rest
            return self._read_response(method, keep_body)
        close = headers.get("connection", "").lower() == "close"
        chunks: list[bytes] = []
        n = 0
        if method == "HEAD" or status in (204, 304):
            self._pending = rest
        elif "content-length" in headers:
            want = int(headers["content-length"])
            take = rest[:want]
            n = len(take)
            if keep_body:
                chunks.append(take)
            self._pending = rest[want:]
            assert self.sock is not None
            view = memoryview(self._buf)
            while n < want:
                got = self.sock.recv_into(view, min(RECV, want - n))
                if not got:
                    raise HTTPError("connection closed mid-body")
                if keep_body:
                    chunks.append(bytes(view[:got]))
                n += got
        elif headers.get("transfer-encoding", "").lower() == "chunked":
            buf = rest
            while True:
                while b"\r\n" not in buf:
                    buf += self._recv()
                size_line, _, buf = buf.partition(b"\r\n")
                size = int(size_line.split(b";")[0], 16)
                while len(buf) < size + 2:
                    buf += self._recv()
                if size == 0:
                    while not buf.startswith(b"\r\n") and b"\r\n\r\n" not in buf:
                        buf += self._recv()  # trailers
                    buf = buf[2:] if buf.startswith(b"\r\n") else buf.partition(b"\r\n\r\n")[2]
                    break
                if keep_body:
                    chunks.append(buf[:size])
                n += size
                buf = buf[size + 2:]
            self._pending = buf
        else:  # read to EOF
            close = True
            assert self.sock is not None
            if keep_body:
                chunks.append(rest)
            n = len(rest)
            while True:
                got = self.sock.recv_into(self._buf)
                if not got:
                    break
                if keep_body:
                    chunks.append(bytes(self._buf[:got]))
                n += got
        if close:
            self.close()
        return Response(status, headers, b"".join(chunks), n)


def one_request(host: str, port: int, method: str, target: str,
                body: memoryview | bytes | None = None, headers: dict[str, str] | None = None,
                keep_body: bool = True, timeout: float = 300.0) -> Response:
    c = Conn(host, port, timeout)
    try:
        return c.request(method, target, body, headers, keep_body)
    finally:
        c.close()


# --- populate: many small requests, fast --------------------------------------------------


async def _read_one(reader: asyncio.StreamReader) -> tuple[int, bool]:
    head = await reader.readuntil(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    status = int(lines[0].split(" ", 2)[1])
    length, chunked, close = 0, False, False
    for line in lines[1:]:
        k, _, v = line.partition(":")
        k = k.strip().lower()
        if k == "content-length":
            length = int(v)
        elif k == "transfer-encoding" and "chunked" in v.lower():
            chunked = True
        elif k == "connection" and v.strip().lower() == "close":
            close = True
    if chunked:
        while True:
            size = int((await reader.readuntil(b"\r\n")).split(b";")[0], 16)
            await reader.readexactly(size + 2)
            if size == 0:
                break
    elif length:
        await reader.readexactly(length)
    return status, close


async def _populate(host: str, port: int, requests: list[bytes], concurrency: int,
                    deadline: float) -> tuple[int, int]:
    it = iter(range(len(requests)))
    done = errors = retries = 0

    async def worker() -> None:
        nonlocal done, errors, retries
        reader = writer = None
        try:
            for i in it:
                if time.monotonic() > deadline:
                    return
                for attempt in range(4):
                    if writer is None:
                        reader, writer = await asyncio.open_connection(host, port)
                    assert reader is not None
                    try:
                        writer.write(requests[i])
                        status, close = await _read_one(reader)
                    except (ConnectionError, asyncio.IncompleteReadError):
                        writer.close()
                        reader = writer = None
                        if attempt == 3:
                            raise
                        continue
                    if close:
                        writer.close()
                        reader = writer = None
                    if 200 <= status < 300:
                        done += 1
                    elif status >= 500 and attempt < 3:
                        retries += 1  # e.g. rclone's 500 on concurrent PUTs into a new dir
                        await asyncio.sleep(0.05)
                        continue
                    else:
                        errors += 1
                        if errors == 1:
                            print(f"  populate: HTTP {status} from :{port}", flush=True)
                    break
        finally:
            if writer is not None:
                writer.close()

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    if retries:
        print(f"  populate: {retries} request(s) to :{port} retried after HTTP 5xx", flush=True)
    return done, errors


def populate(host: str, port: int, requests: list[bytes], concurrency: int = 64,
             time_limit: float = 300.0) -> tuple[int, int, float]:
    """Send each pre-built request once; returns (2xx count, other count, seconds)."""
    try:
        import uvloop

        runner = uvloop.run
    except ImportError:  # pragma: no cover
        runner = asyncio.run
    t0 = time.monotonic()
    done, errors = runner(_populate(host, port, requests, concurrency, t0 + time_limit))
    return done, errors, time.monotonic() - t0


def put_request(hosthdr: str, target: str, body: bytes) -> bytes:
    return (f"PUT {target} HTTP/1.1\r\nHost: {hosthdr}\r\nContent-Length: {len(body)}\r\n\r\n"
            .encode() + body)

"""The history run of issue 21: concurrent S3 clients through several gateways (PostgreSQL +
SeaweedFS, each gateway in a network namespace of its own) on a few keys, faults injected,
every operation recorded and the history checked by tests/support/history.py.

Topology (all on this machine, made here; root and iproute2 needed, as tests/cluster/
test_netns.py): PostgreSQL and SeaweedFS listen on addresses of their own on the root
namespace's loopback (``PG_ADDR``, ``WEED_ADDR``); each gateway runs in its own namespace,
reached over a veth pair. Cutting a gateway from PostgreSQL (or SeaweedFS) is a blackhole
route to that one address inside the gateway's namespace: new connections fail, open ones
hang, the clients still reach the gateway.

Values: every write writes a unique id, ``x-amz-meta-w``; a PUT's or multipart upload's body
is made from the same id (its bytes follow from it, so a GET checks them whole), a copy's
body is its source's. A GET observes the id; a listing line and a copy's source observe an
ETag, which fits every write of that key with those bytes.
"""

from __future__ import annotations

import bisect
import contextlib
import hashlib
import math
import random
import signal
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from objectstore.cli.devcluster import Gateway, Postgres, WeedCluster, wait_until
from tests.cluster.conftest import Cluster
from tests.support.history import History, Op, Result, Value, check

# A request that got no answer takes effect within this many seconds of its invocation or
# never: the clients give up after 10 s, a gateway gives up on PostgreSQL after 10-20 s
# (tcp_user_timeout, connect_timeout), a SIGSTOP lasts seconds. A write applied later than
# this shows up as an anomaly, to be looked at.
MAYBE_WINDOW = 60.0
PG_ADDR = "10.217.9.1"
WEED_ADDR = "10.217.9.2"
NET = "10.217.0.0/16"


def ip(*args: str, check_rc: bool = True) -> None:
    subprocess.run(["ip", *args], check=check_rc, capture_output=True)


# --- values ------------------------------------------------------------------------------

def body_of(token: str) -> bytes:
    """The bytes a write with id ``token`` stores: small ones (kept in the database) and
    larger ones (SeaweedFS chunks), from the id alone."""
    seed = int.from_bytes(hashlib.sha256(token.encode()).digest()[:4], "big")
    size = 40 + seed % 3000 if seed % 3 == 0 else 20_000 + seed % 300_000
    unit = (token + ":").encode()
    return (unit * (size // len(unit) + 1))[:size]


def token_of(body: bytes) -> str | None:
    """The id whose bytes ``body`` is, or None when it is no write's bytes (torn, mixed)."""
    token = body.split(b":", 1)[0].decode(errors="replace")
    return token if body == body_of(token) else None


def md5(data: bytes) -> str:
    return hashlib.md5(data).hexdigest()  # noqa: S324 - the S3 ETag


def multipart_etag(body: bytes) -> str:
    return f"{hashlib.md5(bytes.fromhex(md5(body))).hexdigest()}-1"  # noqa: S324


# --- the recorded run ----------------------------------------------------------------------

@dataclass
class Raw:
    """What a listing line or a copy saw before it can be turned into candidate writes."""

    key: str
    etag: str | None  # None: the key was absent
    invoke: float
    complete: float
    label: str
    client: int
    note: str


@dataclass
class Recorder:
    keys: list[str]
    history: History = field(default_factory=History)
    raws: list[Raw] = field(default_factory=list)
    body_token: dict[str, str] = field(default_factory=dict)  # write id -> id of its bytes
    etag_token: dict[str, str] = field(default_factory=dict)  # ETag -> id of those bytes
    copy_source: dict[str, str] = field(default_factory=dict)  # copy's write id -> source
    errors: Counter[str] = field(default_factory=Counter)  # "LABEL status Code" -> count
    corrupt: list[str] = field(default_factory=list)  # GETs whose bytes fit no write
    lock: threading.Lock = field(default_factory=threading.Lock)

    def new_bytes(self, wid: str) -> bytes:
        body = body_of(wid)
        with self.lock:
            self.body_token[wid] = wid
            self.etag_token[md5(body)] = wid
            self.etag_token[multipart_etag(body)] = wid
        return body

    def failed(self, label: str, exc: Exception) -> str:
        """Count a failed request; its class: "4xx", "5xx" or "none" (no answer)."""
        if isinstance(exc, ClientError):
            status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0))
            code = exc.response.get("Error", {}).get("Code", "?")
            with self.lock:
                self.errors[f"{label} {status} {code}"] += 1
            return "4xx" if 400 <= status < 500 else "5xx"
        with self.lock:
            self.errors[f"{label} no answer ({type(exc).__name__})"] += 1
        return "none"

    def observations(self, window: float) -> list[Op]:
        """The history with listing lines and copy sources turned into candidate writes.

        A listing line's ETag names bytes, and every write of the key with those bytes fits
        it; so does a copy that got no answer (its bytes unknown) if it may have copied them:
        its source held them (or may have, through another such copy) at some moment within
        ``window`` seconds from the copy's invocation, and it was invoked before the listing
        ended and at most ``window`` seconds before the listing began."""
        ops = self.history.ops
        writes: dict[str, list[Op]] = {}
        for op in ops:
            if op.kind == "write":
                writes.setdefault(op.key, []).append(op)
        superseded = {k: _superseded_at(ws, window) for k, ws in writes.items()}
        by_bytes: dict[str, dict[str, set[str]]] = {}  # key -> bytes id -> write ids
        unknown: list[Op] = []  # copies whose bytes are unknown
        for op in ops:
            if op.kind == "write" and op.value is not None:
                t = self.body_token.get(op.value)
                if t is None:
                    unknown.append(op)
                else:
                    by_bytes.setdefault(op.key, {}).setdefault(t, set()).add(op.value)
        # the writes of each key by invocation, and how long the longest-lived one lasted
        alive = {k: sorted((w.invoke, superseded[k][w.id], w.id, w.value) for w in ws
                           if w.value is not None) for k, ws in writes.items()}
        starts = {k: [a[0] for a in v] for k, v in alive.items()}
        longest = {k: max([end - start for start, end, _, _ in v if end < math.inf],
                          default=0.0) for k, v in alive.items()}
        forever = {k: [a for a in v if a[1] == math.inf] for k, v in alive.items()}
        may_hold: dict[str, set[str]] = {c.value: set() for c in unknown if c.value}
        for _round in range(6):  # copies of copies (none in this run): until nothing changes
            changed = False
            for c in unknown:
                assert c.value is not None
                src = self.copy_source.get(c.value, "")
                if src not in alive:
                    continue
                hi = bisect.bisect_left(starts[src], c.invoke + window)
                lo = bisect.bisect_left(starts[src], c.invoke - longest[src])
                got: set[str] = set()
                for start, end, _, value in [*alive[src][lo:hi], *forever[src]]:
                    if start >= c.invoke + window or end < c.invoke:
                        continue
                    t = self.body_token.get(value)
                    got |= {t} if t is not None else may_hold.get(value, set())
                if not got <= may_hold[c.value]:
                    may_hold[c.value] |= got
                    changed = True
            if not changed:
                break
        # unanswered copies by (key, bytes they may hold), by invocation
        holding: dict[tuple[str, str], list[tuple[float, str]]] = {}
        for c in unknown:
            for t in may_hold.get(c.value or "", set()):
                holding.setdefault((c.key, t), []).append((c.invoke, c.value or ""))
        for v in holding.values():
            v.sort()
        out = list(ops)
        for raw in self.raws:
            observed: set[Value]
            if raw.etag is None:
                observed = {None}
            else:
                t = self.etag_token.get(raw.etag)
                observed = set(by_bytes.get(raw.key, {}).get(t, set())) if t else set()
                if t is not None:
                    near = holding.get((raw.key, t), [])
                    lo = bisect.bisect_right(near, (raw.invoke - window, "\uffff"))
                    hi = bisect.bisect_left(near, (raw.complete, ""))
                    observed |= {value for _, value in near[lo:hi]}
                if not observed:
                    observed = {f"<no write has ETag {raw.etag}>"}
            out.append(Op(self.history.next_id(), raw.key, "read", raw.invoke, raw.complete,
                          observed=frozenset(observed), label=raw.label, client=raw.client,
                          note=raw.note))
        return out


def _superseded_at(writes: list[Op], window: float) -> dict[int, float]:
    """For each write of one key, the earliest moment a write invoked after it surely ended
    (a maybe-write ends ``window`` after its invocation) had completed: from then on its
    value is gone for good."""
    done = sorted((w.invoke, w.complete) for w in writes if w.complete is not None)
    starts = [i for i, _ in done]
    suffix = [math.inf] * (len(done) + 1)
    for i in range(len(done) - 1, -1, -1):
        suffix[i] = min(suffix[i + 1], done[i][1])
    out = {}
    for w in writes:
        end = w.complete if w.complete is not None else w.invoke + window
        out[w.id] = suffix[bisect.bisect_right(starts, end)]
    return out


class Workload:
    """``clients`` threads, each op on a random gateway: GET 35%, PUT 20%, LIST 10%,
    DELETE 10%, COPY 15% (from a key of the first half to one of the second), multipart
    10%."""

    MIX = [("get", 35), ("put", 20), ("list", 10), ("delete", 10), ("copy", 15), ("mpu", 10)]

    def __init__(self, s3s: list[tuple[str, Any]], bucket: str, rec: Recorder,
                 seed: int = 0) -> None:
        self.s3s, self.bucket, self.rec = s3s, bucket, rec
        self.rng = random.Random(seed)
        self.stop = threading.Event()
        self.counter = 0
        self.lock = threading.Lock()

    def new_id(self, client: int) -> str:
        with self.lock:
            self.counter += 1
            return f"w{client}x{self.counter}"

    def run(self, clients: int) -> list[threading.Thread]:
        threads = [threading.Thread(target=self.loop, args=(c,), daemon=True)
                   for c in range(clients)]
        for t in threads:
            t.start()
        return threads

    def loop(self, client: int) -> None:
        rng = random.Random(self.rng.random())
        names = [n for n, _ in self.MIX]
        weights = [w for _, w in self.MIX]
        while not self.stop.is_set():
            gw, s3 = rng.choice(self.s3s)
            key = rng.choice(self.rec.keys)
            getattr(self, rng.choices(names, weights)[0])(client, gw, s3, key, rng)

    # each operation: invoke, request(s), completion; outcomes into the recorder

    def get(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        rec = self.rec
        t0 = time.monotonic()
        try:
            r = s3.get_object(Bucket=self.bucket, Key=key)
            body = r["Body"].read()
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                rec.history.read(key, [None], t0, time.monotonic(), label="GET",
                                 client=client, note=gw)
                return
            rec.failed("GET", exc)
            return
        except (BotoCoreError, OSError) as exc:
            rec.failed("GET", exc)
            return
        t1 = time.monotonic()
        wid = r.get("Metadata", {}).get("w")
        tok = token_of(body)
        if wid is None or tok is None:
            rec.corrupt.append(f"GET {key} via {gw}: {len(body)} bytes fit no write "
                               f"(meta w={wid!r}, starts {body[:40]!r})")
            return
        with rec.lock:
            known = rec.body_token.setdefault(wid, tok)
        if known != tok:
            rec.corrupt.append(f"GET {key} via {gw}: write {wid} has the bytes of {tok}, "
                               f"not of {known}")
        rec.history.read(key, [wid], t0, t1, label="GET", client=client, note=gw)

    def put(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        wid = self.new_id(client)
        body = self.rec.new_bytes(wid)
        t0 = time.monotonic()
        self._write(key, wid, t0, "PUT", client, gw, lambda: s3.put_object(
            Bucket=self.bucket, Key=key, Body=body, Metadata={"w": wid}))

    def delete(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        t0 = time.monotonic()
        self._write(key, None, t0, "DELETE", client, gw,
                    lambda: s3.delete_object(Bucket=self.bucket, Key=key))

    def _write(self, key: str, value: Value, t0: float, label: str, client: int, gw: str,
               call: Callable[[], Any]) -> Any:
        try:
            out = call()
        except (ClientError, BotoCoreError, OSError) as exc:
            if self.rec.failed(label, exc) != "4xx":  # may have happened
                self.rec.history.write(key, value, t0, None, label=label, client=client,
                                       note=f"{gw}, no answer or 5xx")
            return None
        self.rec.history.write(key, value, t0, time.monotonic(), label=label, client=client,
                               note=gw)
        return out

    def mpu(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        wid = self.new_id(client)
        body = self.rec.new_bytes(wid)
        try:
            up = s3.create_multipart_upload(Bucket=self.bucket, Key=key, Metadata={"w": wid})
            part = s3.upload_part(Bucket=self.bucket, Key=key, UploadId=up["UploadId"],
                                  PartNumber=1, Body=body)
        except (ClientError, BotoCoreError, OSError) as exc:
            self.rec.failed("MPU-PREPARE", exc)  # nothing visible yet: no write
            return
        t0 = time.monotonic()
        self._write(key, wid, t0, "MPU", client, gw, lambda: s3.complete_multipart_upload(
            Bucket=self.bucket, Key=key, UploadId=up["UploadId"],
            MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": part["ETag"]}]}))

    def copy(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        # copies go from the first half of the keys to the second: a copy's source is never
        # itself a copy's destination, so an unanswered copy may hold only bytes its source
        # had (no chains to follow)
        half = len(self.rec.keys) // 2
        if self.rec.keys.index(key) < half:
            key = rng.choice(self.rec.keys[half:])
        source = rng.choice(self.rec.keys[:half])
        wid = self.new_id(client)
        self.rec.copy_source[wid] = source
        t0 = time.monotonic()
        try:
            r = s3.copy_object(Bucket=self.bucket, Key=key,
                               CopySource={"Bucket": self.bucket, "Key": source},
                               MetadataDirective="REPLACE", Metadata={"w": wid})
        except ClientError as exc:
            if exc.response.get("Error", {}).get("Code") == "NoSuchKey":
                self.rec.history.read(source, [None], t0, time.monotonic(),
                                      label="COPY-SOURCE", client=client, note=gw)
                return
            if self.rec.failed("COPY", exc) != "4xx":
                self.rec.history.write(key, wid, t0, None, label="COPY", client=client,
                                       note=f"{gw}, 5xx")
            return
        except (BotoCoreError, OSError) as exc:
            self.rec.failed("COPY", exc)
            self.rec.history.write(key, wid, t0, None, label="COPY", client=client,
                                   note=f"{gw}, no answer")
            return
        t1 = time.monotonic()
        etag = r["CopyObjectResult"]["ETag"].strip('"')
        self.rec.history.write(key, wid, t0, t1, label="COPY", client=client,
                               note=f"{gw} from {source}")
        self.rec.raws.append(Raw(source, etag, t0, t1, "COPY-SOURCE", client, gw))
        tok = self.rec.etag_token.get(etag)
        if tok is not None:
            with self.rec.lock:
                known = self.rec.body_token.setdefault(wid, tok)
            if known != tok:
                self.rec.corrupt.append(f"COPY {key}: write {wid} has the bytes of {known}, "
                                        f"its answer said {tok}")
        else:
            self.rec.corrupt.append(f"COPY {source} -> {key} via {gw}: ETag {etag} is no "
                                    "write's bytes")

    def list(self, client: int, gw: str, s3: Any, key: str, rng: random.Random) -> None:
        t0 = time.monotonic()
        try:
            r = s3.list_objects_v2(Bucket=self.bucket)
        except (ClientError, BotoCoreError, OSError) as exc:
            self.rec.failed("LIST", exc)
            return
        t1 = time.monotonic()
        lines = {o["Key"]: o["ETag"].strip('"') for o in r.get("Contents", [])}
        for k in self.rec.keys:
            self.rec.raws.append(Raw(k, lines.get(k), t0, t1, "LIST", client, gw))


# --- the machines ----------------------------------------------------------------------

@dataclass
class Topology:
    """PostgreSQL and SeaweedFS on loopback addresses of their own, ``gateways`` gateways each
    in its own network namespace."""

    root: Path
    gateways: int = 3
    # libpq settings in the gateways' database URL (``tcp_user_timeout=2000&...``): they win
    # over the server's defaults (PG_CONNECT_ARGS)
    pg_options: str = ""
    pg: Postgres | None = None
    weed: WeedCluster | None = None
    cluster: Cluster | None = None
    namespaces: list[str] = field(default_factory=list)
    addresses: list[str] = field(default_factory=list)

    def start(self) -> Topology:
        import os
        import tempfile

        from cryptography.fernet import Fernet

        for addr in (PG_ADDR, WEED_ADDR):
            ip("addr", "add", f"{addr}/32", "dev", "lo", check_rc=False)  # left by a crash?
            self.addresses.append(addr)
        tag = os.urandom(3).hex()
        gw_addrs = []
        for i in range(self.gateways):
            ns, host_if, ns_if = f"oslz{i}-{tag}", f"lzh{i}{tag}", f"lzn{i}{tag}"
            host_addr, gw_addr = f"10.217.0.{4 * i + 1}", f"10.217.0.{4 * i + 2}"
            ip("netns", "add", ns)
            self.namespaces.append(ns)
            ip("link", "add", host_if, "type", "veth", "peer", "name", ns_if)
            ip("link", "set", ns_if, "netns", ns)
            ip("addr", "add", f"{host_addr}/30", "dev", host_if)
            ip("link", "set", host_if, "up")
            for cmd in (["addr", "add", f"{gw_addr}/30", "dev", ns_if],
                        ["link", "set", ns_if, "up"], ["link", "set", "lo", "up"],
                        ["route", "add", "default", "via", host_addr]):
                ip("netns", "exec", ns, "ip", *cmd)
            gw_addrs.append(gw_addr)
        self.pg = Postgres(Path(tempfile.mkdtemp(prefix="objectstore-lz-pg-")),
                           listen=("127.0.0.1", PG_ADDR), trust_networks=(NET,))
        self.pg.start()
        self.weed = WeedCluster(self.root / "weed", volumes=3, host=WEED_ADDR).start()
        key = "lz-" + os.urandom(8).hex()
        env = {"OBJECTSTORE_SERVER_KEY": Fernet.generate_key().decode(),
               "OBJECTSTORE_API_KEY": key, "OBJECTSTORE_LOG_LEVEL": "warning"}
        url = f"postgresql://postgres@{PG_ADDR}:{self.pg.port}/postgres"
        if self.pg_options:
            url += "?" + self.pg_options
        self.cluster = Cluster(self.root, url, self.weed.url("lz"), env, key)
        for i in range(self.gateways):
            self.cluster.add_gateway(host=gw_addrs[i], netns=self.namespaces[i])
        return self

    def stop(self) -> None:
        with contextlib.suppress(Exception):
            if self.cluster is not None:
                for g in self.cluster.gateways:
                    if g.proc is not None and g.proc.popen is not None:
                        with contextlib.suppress(ProcessLookupError):
                            g.proc.popen.send_signal(signal.SIGCONT)
                self.cluster.stop()
        with contextlib.suppress(Exception):
            if self.weed is not None:
                self.weed.stop()
        with contextlib.suppress(Exception):
            if self.pg is not None:
                self.pg.stop()
        for ns in self.namespaces:  # deleting a namespace deletes its veth pair
            ip("netns", "del", ns, check_rc=False)
        for addr in self.addresses:
            ip("addr", "del", f"{addr}/32", "dev", "lo", check_rc=False)

    @property
    def gws(self) -> list[Gateway]:
        assert self.cluster is not None
        return self.cluster.gateways


@contextlib.contextmanager
def topology(root: Path, gateways: int = 3, pg_options: str = "") -> Iterator[Topology]:
    topo = Topology(root, gateways, pg_options)
    try:
        yield topo.start()
    finally:
        topo.stop()


# --- faults ------------------------------------------------------------------------------

@dataclass
class Nemesis:
    """The faults, each injected and healed in one call; ``log`` says what and when."""

    topo: Topology
    log: list[str] = field(default_factory=list)
    t0: float = field(default_factory=time.monotonic)
    restarts: list[threading.Thread] = field(default_factory=list)

    def _note(self, what: str, began: float) -> None:
        self.log.append(f"{began - self.t0:6.1f}s +{time.monotonic() - began:4.1f}s {what}")

    def kill_gateway(self, i: int, down: float = 1.0) -> None:
        """SIGKILL; the restart (seconds of start-up) goes on while the next fault begins."""
        began = time.monotonic()
        g = self.topo.gws[i]
        assert g.proc is not None
        g.proc.kill(signal.SIGKILL)
        time.sleep(down)

        def restart() -> None:
            assert g.proc is not None
            g.proc.stop()  # closes its log
            g.start()
            self._note(f"{g.name} SIGKILLed, restarted after {down:.0f} s", began)

        t = threading.Thread(target=restart, daemon=True)
        t.start()
        self.restarts.append(t)

    def healed(self) -> None:
        """Every restart begun is done."""
        for t in self.restarts:
            t.join(120)

    def pause_gateway(self, i: int, seconds: float = 2.0) -> None:
        began = time.monotonic()
        g = self.topo.gws[i]
        assert g.proc is not None and g.proc.popen is not None
        g.proc.popen.send_signal(signal.SIGSTOP)
        try:
            time.sleep(seconds)
        finally:
            g.proc.popen.send_signal(signal.SIGCONT)
        self._note(f"{g.name} SIGSTOPped for {seconds:.0f} s", began)

    def restart_postgres(self, down: float = 1.0) -> None:
        """An immediate stop (a crash, as far as the data is concerned), then a start."""
        began = time.monotonic()
        self.stop_postgres()
        time.sleep(down)
        self.start_postgres()
        self._note(f"PostgreSQL crashed (immediate stop), {down:.0f} s down, restarted", began)

    def stop_postgres(self) -> None:
        pg = self.topo.pg
        assert pg is not None
        pg._run(str(pg._bin() / "pg_ctl"), "-D", str(pg.root / "data"), "-m", "immediate",
                "stop")

    def start_postgres(self) -> None:
        pg = self.topo.pg
        assert pg is not None
        opts = (f"-p {pg.port} -k {pg.root} -c listen_addresses={','.join(pg.listen)} "
                "-c max_connections=200")
        pg._run(str(pg._bin() / "pg_ctl"), "-D", str(pg.root / "data"), "-o", opts, "-w",
                "-t", "60", "-l", str(pg.root / "log"), "start")

    def cut_on(self, i: int, addr: str) -> None:
        ip("netns", "exec", self.topo.namespaces[i], "ip", "route", "add", "blackhole",
           f"{addr}/32")

    def cut_off(self, i: int, addr: str) -> None:
        ip("netns", "exec", self.topo.namespaces[i], "ip", "route", "del", "blackhole",
           f"{addr}/32")

    def kill_volume_server(self, i: int = 1, down: float = 2.0) -> None:
        began = time.monotonic()
        weed = self.topo.weed
        assert weed is not None
        v = weed.servers[i]
        v.kill(signal.SIGKILL)
        time.sleep(down)
        v.stop()
        v.start()
        self._note(f"SeaweedFS volume server {i} SIGKILLed, restarted after {down:.0f} s",
                   began)

    def cut(self, i: int, addr: str, seconds: float = 3.0) -> None:
        began = time.monotonic()
        self.cut_on(i, addr)
        try:
            time.sleep(seconds)
        finally:
            self.cut_off(i, addr)
        what = "PostgreSQL" if addr == PG_ADDR else "SeaweedFS"
        self._note(f"{self.topo.gws[i].name} cut from {what} for {seconds:.0f} s", began)

    def faults(self, names: list[str]) -> list[Callable[[], None]]:
        """The named faults, on different gateways: ``kill`` (a gateway SIGKILLed and
        restarted), ``pause`` (SIGSTOP), ``postgres`` (restart), ``volume`` (a SeaweedFS
        volume server SIGKILLed), ``cut-postgres`` and ``cut-seaweedfs`` (a gateway's
        network)."""
        n = len(self.topo.gws)
        table: dict[str, Callable[[], None]] = {
            "kill": lambda: self.kill_gateway(n - 1),
            "pause": lambda: self.pause_gateway(1 % n),
            "postgres": lambda: self.restart_postgres(),
            "volume": lambda: self.kill_volume_server(1),
            "cut-postgres": lambda: self.cut(0, PG_ADDR),
            "cut-seaweedfs": lambda: self.cut(1 % n, WEED_ADDR),
        }
        return [table[name] for name in names]


ALL_FAULTS = ["kill", "cut-postgres", "pause", "postgres", "cut-seaweedfs", "volume"]


# --- the run -----------------------------------------------------------------------------

@dataclass
class Report:
    result: Result
    recorded: Counter[str]
    faults: list[str]
    errors: Counter[str]
    corrupt: list[str]
    seconds: float
    phases: dict[str, float] = field(default_factory=dict)

    @property
    def internal_errors(self) -> dict[str, int]:
        """Answers with a 500: a read racing a write, a database outage answered as a bug."""
        return {k: v for k, v in self.errors.items() if " 500 " in k}

    def text(self) -> str:
        lines = [f"history run: {self.seconds:.0f} s ("
                 + ", ".join(f"{k} {v:.0f} s" for k, v in self.phases.items())
                 + f"), {self.result.summary()}",
                 "operations recorded: " + ", ".join(f"{k} {v}" for k, v in
                                                     sorted(self.recorded.items())),
                 f"faults injected ({len(self.faults)}):", *("  " + f for f in self.faults),
                 "failed requests: " + (", ".join(f"{k}: {v}" for k, v in
                                                  sorted(self.errors.items())) or "none"),
                 f"bytes that fit no write: {len(self.corrupt)}", *self.corrupt[:10],
                 *(str(a) for a in self.result.anomalies[:20])]
        return "\n".join(lines)


def run(topo: Topology, seconds: float, *, clients: int = 6, keys: int = 4,
        faults: list[str] | None = None, cycle: bool = False, warmup: float = 2.0,
        gap: float = 1.0, tail: float = 1.0, seed: int = 0) -> Report:
    """Clients for ``seconds``; the faults one after another from ``warmup`` on, ``gap``
    apart: with ``cycle`` again and again until ``seconds`` are up, without it each one once
    (the clients then go on until the last is healed plus ``tail`` if that is later than
    ``seconds``); then everything healed, every key read through every gateway once the
    requests succeed again, and the history checked."""
    assert topo.cluster is not None
    cluster = topo.cluster
    store = cluster.create_store(topo.gws[0])
    rec = Recorder([f"k{i}" for i in range(keys)])
    s3s = [(g.name, cluster.s3(g, store, read_timeout=10)) for g in topo.gws]
    work = Workload(s3s, store["name"], rec, seed)
    nemesis = Nemesis(topo)
    started = time.monotonic()
    threads = work.run(clients)
    deadline = started + seconds

    def inject() -> None:
        time.sleep(warmup)
        todo = nemesis.faults(faults or [])
        i = 0
        while todo and (time.monotonic() < deadline if cycle else i < len(todo)):
            if i:
                time.sleep(gap)
            todo[i % len(todo)]()
            i += 1

    nem = threading.Thread(target=inject, daemon=True)
    nem.start()
    nem.join(max(0.0, deadline - time.monotonic()) + 120)
    if not cycle:
        deadline = max(deadline, time.monotonic() + tail)
    while time.monotonic() < deadline:
        time.sleep(0.2)
    work.stop.set()
    for t in threads:
        t.join(60)
    stopped = time.monotonic()
    # healed: each gateway answers again by itself; then every key read through each
    nemesis.healed()
    for g in topo.gws:
        if g.proc is None or not g.proc.alive():
            g.start()
    s3 = s3s[0][1]
    wait_until(lambda: s3.list_objects_v2(Bucket=store["name"]) is not None, 60,
               "a listing after the faults")
    for gw, client in s3s:
        for key in rec.keys:
            _until_answered(lambda gw=gw, client=client, key=key: work.get(
                99, gw, client, key, random.Random(0)), rec)
        _until_answered(lambda gw=gw, client=client: work.list(
            99, gw, client, rec.keys[0], random.Random(0)), rec)
    ops = rec.observations(MAYBE_WINDOW)
    import os

    save(ops, Path(os.environ.get("OBJECTSTORE_HISTORY_OUT", topo.root / "history.jsonl")))
    recorded = Counter(op.label for op in ops)
    checking = time.monotonic()
    result = check(ops, MAYBE_WINDOW)
    phases = {"workload": stopped - started, "final reads": checking - stopped,
              "check": time.monotonic() - checking}
    return Report(result, recorded, nemesis.log, rec.errors, rec.corrupt,
                  time.monotonic() - started, phases)


def save(ops: list[Op], path: Path) -> None:
    """The history as JSON lines (``load`` reads it back), for a look after the run."""
    import dataclasses
    import json

    with open(path, "w") as f:
        for op in ops:
            doc = dataclasses.asdict(op)
            doc["observed"] = sorted(op.observed, key=str)
            f.write(json.dumps(doc) + "\n")


def load(path: Path) -> list[Op]:
    import json

    with open(path) as f:
        return [Op(**{**d, "observed": frozenset(d["observed"])})
                for d in map(json.loads, f)]


def _until_answered(read: Callable[[], None], rec: Recorder, timeout: float = 60) -> None:
    """A read repeated until it is answered (it records itself): requests recover by
    themselves once the faults are healed."""
    deadline = time.monotonic() + timeout
    while True:
        before = len(rec.history.ops) + len(rec.raws) + len(rec.corrupt)
        read()
        if len(rec.history.ops) + len(rec.raws) + len(rec.corrupt) > before:
            return
        if time.monotonic() > deadline:
            raise AssertionError(f"no answer {timeout:.0f} s after the faults were healed: "
                                 f"{dict(rec.errors)}")
        time.sleep(0.5)

"""Helpers for the security tests: a raw S3 client that signs exactly what it sends.

botocore and httpx normalise paths (dot segments, percent-encoding) before sending; the attack
tests need the bytes on the wire to be exactly the attack, so this client writes the request
line itself (``http.client`` with the path as given) and signs it with an independent,
minimal SigV4 implementation (AWS canonical form: every path segment percent-decoded then
re-encoded, query pairs decoded, re-encoded and sorted).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import hmac
import http.client
import os
import time
import uuid
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote, unquote, unquote_to_bytes, urlsplit
from xml.etree import ElementTree as ET

from tests.support import stores
from tests.support.server import RunningServer

REGION = "LON1"


def uniq(prefix: str = "sec") -> str:
    return f"{prefix}-{uuid.uuid4().hex[:12]}"


def _q(value: bytes | str) -> str:
    return quote(value, safe="-_.~")


def canonical_uri(raw_path: str) -> str:
    return "/".join(_q(unquote_to_bytes(seg)) for seg in (raw_path or "/").split("/"))


def canonical_query(raw_query: str) -> str:
    pairs = []
    for item in raw_query.split("&") if raw_query else []:
        if not item:
            continue
        name, _, value = item.partition("=")
        name, value = unquote(name), unquote(value)
        if name == "X-Amz-Signature":
            continue
        pairs.append((_q(name.encode("utf-8", "surrogateescape")),
                      _q(value.encode("utf-8", "surrogateescape"))))
    return "&".join(f"{k}={v}" for k, v in sorted(pairs))


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def signing_key(secret: str, date: str, region: str) -> bytes:
    key = ("AWS4" + secret).encode()
    for part in (date, region, "s3", "aws4_request"):
        key = _hmac(key, part)
    return key


@dataclass
class Resp:
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed: float

    @property
    def code(self) -> str | None:
        """The S3 error code of an XML error document, else None."""
        try:
            root = ET.fromstring(self.body)
        except ET.ParseError:
            return None
        if root.tag != "Error":
            return None
        return root.findtext("Code")

    def __repr__(self) -> str:
        return f"Resp({self.status}, {self.body[:300]!r})"


@dataclass
class S3Raw:
    """Signs (SigV4, header form) and sends one request with the exact path and query."""

    url: str
    access_key: str
    secret: str
    region: str = REGION
    extra_headers: dict[str, str] = field(default_factory=dict)

    @property
    def hostport(self) -> str:
        return urlsplit(self.url).netloc

    def sign(self, method: str, raw_path: str, raw_query: str, headers: Mapping[str, str],
             body: bytes, *, region: str | None = None, when: dt.datetime | None = None,
             scope_date: str | None = None, payload_hash: str | None = None
             ) -> dict[str, str]:
        when = when or dt.datetime.now(dt.UTC)
        amz_date = when.strftime("%Y%m%dT%H%M%SZ")
        date = scope_date or amz_date[:8]
        region = region or self.region
        out = {k.lower(): v for k, v in headers.items()}
        out["host"] = self.hostport
        out["x-amz-date"] = amz_date
        out["x-amz-content-sha256"] = payload_hash or hashlib.sha256(body).hexdigest()
        signed = sorted(k for k in out if k in ("host", "content-md5", "content-type")
                        or k.startswith("x-amz-"))
        canon_headers = "".join(f"{k}:{' '.join(out[k].split())}\n" for k in signed)
        canonical = "\n".join([method, canonical_uri(raw_path), canonical_query(raw_query),
                               canon_headers, ";".join(signed), out["x-amz-content-sha256"]])
        scope = f"{date}/{region}/s3/aws4_request"
        sts = "\n".join(["AWS4-HMAC-SHA256", amz_date, scope,
                         hashlib.sha256(canonical.encode("utf-8", "surrogateescape"))
                         .hexdigest()])
        sig = hmac.new(signing_key(self.secret, date, region), sts.encode(),
                       hashlib.sha256).hexdigest()
        out["authorization"] = (f"AWS4-HMAC-SHA256 Credential={self.access_key}/{scope}, "
                                f"SignedHeaders={';'.join(signed)}, Signature={sig}")
        return out

    def send(self, method: str, raw_path: str, raw_query: str = "",
             headers: Mapping[str, str] | None = None, body: bytes = b"", *,
             sign: bool = True, timeout: float = 30, **sign_kwargs: object) -> Resp:
        hdrs = dict(self.extra_headers)
        hdrs.update(headers or {})
        if sign:
            hdrs = self.sign(method, raw_path, raw_query, hdrs, body,
                             **sign_kwargs)  # type: ignore[arg-type]
        else:
            hdrs.setdefault("host", self.hostport)
        return raw_request(self.url, method, raw_path + (f"?{raw_query}" if raw_query else ""),
                           hdrs, body, timeout=timeout)


def raw_request(base_url: str, method: str, target: str, headers: Mapping[str, str],
                body: bytes = b"", *, timeout: float = 30) -> Resp:
    """Send exactly ``METHOD target HTTP/1.1`` with these headers (no normalisation)."""
    parts = urlsplit(base_url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=timeout)
    start = time.monotonic()
    try:
        conn.putrequest(method, target, skip_host=True, skip_accept_encoding=True)
        has_host = False
        for k, v in headers.items():
            has_host = has_host or k.lower() == "host"
            conn.putheader(k, v)
        if not has_host:
            conn.putheader("Host", parts.netloc)
        if body or method in ("PUT", "POST"):
            conn.putheader("Content-Length", str(len(body)))
        # the server may answer early (e.g. body too large) and stop reading: read its answer
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            conn.endheaders(body or None)
        r = conn.getresponse()
        data = r.read()
        return Resp(r.status, {k.lower(): v for k, v in r.getheaders()}, data,
                    time.monotonic() - start)
    finally:
        conn.close()


# -- stores and the "nothing changed" check -------------------------------------------------------

class Store(stores.Store):
    """A store with a raw client that signs exactly what it sends."""

    def raw(self, **kwargs: object) -> S3Raw:
        return S3Raw(self.srv.s3_url, self.access_key, self.secret_key, **kwargs)  # type: ignore


def create_store(srv: RunningServer, name: str | None = None, api_key: str | None = None
                 ) -> Store:
    # 1 GB each: many stores fit in the account's allocation quota
    return stores.create_store(srv, name, api_key=api_key, cls=Store, prefix="sec",
                               max_size_gb=1)


def file_tree(root: Path) -> set[str]:
    """Every file under ``root`` (relative paths)."""
    out = set()
    for dirpath, _dirs, files in os.walk(root):
        for name in files:
            out.add(os.path.relpath(os.path.join(dirpath, name), root))
    return out


def unexpected_files(data_dir: Path, before: Iterable[str]) -> set[str]:
    """Files created since ``before`` anywhere except under blobs/ and tmp/ (and the DB's
    own journal/WAL files)."""
    new = file_tree(data_dir) - set(before)
    return {p for p in new
            if not p.startswith(("blobs" + os.sep, "tmp" + os.sep))
            and not p.startswith("objectstore.db")}


# -- fuzz configuration ---------------------------------------------------------------------------

def _env_int(name: str, default: int) -> int:
    raw = os.environ.get(name, "")
    return int(raw) if raw.strip().isdigit() else default


#: examples per parser property (hypothesis max_examples); raise it for a long fuzz run
FUZZ_EXAMPLES = _env_int("OBJECTSTORE_FUZZ_EXAMPLES", 150)
#: examples per listing property (each runs a whole paging loop)
LISTING_EXAMPLES = _env_int("OBJECTSTORE_LISTING_EXAMPLES", max(150, FUZZ_EXAMPLES // 2))
#: property name -> examples actually run this session (printed by conftest)
FUZZ_COUNTS: dict[str, int] = {}


def count(name: str) -> None:
    FUZZ_COUNTS[name] = FUZZ_COUNTS.get(name, 0) + 1

"""Server-side encryption inside the object engine: which data key a write seals with, how
it is stored (the version's ``sse`` JSON), and reads/copies of sealed bytes.

Modes: ``AES256`` (SSE-S3: data key wrapped by the master key ring), ``aws:kms`` (SSE-KMS:
wrapped by a named KMS key of the store's account, bound to the encryption context) and
``SSE-C`` (wrapped by the customer's key, which is never stored: a salted HMAC of it checks
the key given on later requests). Plaintext checksums and the MD5 are computed before the
bytes are sealed (by the request body verifier), so they still describe the object.

The ``sse`` document of a version::

    {"v": 1, "mode": ..., "seg": segment size, "uid": object uid (hex), "kid": master key
     id (SSE-S3) | KMS key id, "dek": wrapped data key, "ctx": encryption context (KMS),
     "bk": bucket key flag (KMS), "salt"/"mac": SSE-C key check, "parts": part numbers of
     a multipart manifest}
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import hmac
import json
import logging
import os
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from typing import Any

from anyio.to_thread import run_sync

from ...domain.encryption import (
    EncryptionKeyMismatch,
    EncryptionKeyRequired,
    EncryptionNotApplicable,
)
from ...domain.models import ObjectStore, ObjectVersion
from ...storage.blobs import BlobReader, BlobStore
from .. import crypto
from ..crypto import (
    DEFAULT_SEGMENT,
    HEADER,
    TAG,
    TRAILER,
    KeyMismatch,
    Opener,
    Sealer,
    TamperedError,
)
from ..keys import KeyService
from . import blocks as blk

log = logging.getLogger("objectstore.engine")
AES256, KMS, SSE_C = "AES256", "aws:kms", "SSE-C"
MODES = (AES256, KMS, SSE_C)
READ_RECORDS = 64  # segments per read job (~4 MiB at 64 KiB segments)


@dataclass(frozen=True)
class SseRequest:
    """How a write asks its bytes to be encrypted (from headers or the bucket default)."""

    mode: str
    kms_key_id: str | None = None
    context: dict[str, str] | None = None
    bucket_key: bool = False
    customer_key: bytes | None = None  # SSE-C: the 32-byte key, for this request only


@dataclass(frozen=True)
class Sealing:
    """A data key ready to seal (or open) one object's bytes."""

    dek: bytes
    uid: bytes
    seg: int
    doc: dict[str, Any]  # the version's stored ``sse`` (without "parts")

    def sealer(self, part: int, size: int) -> Sealer:
        return Sealer(self.dek, self.uid, part, size, self.seg)

    def seal(self, part: int, data: bytes) -> bytes:
        return crypto.seal_all(self.dek, self.uid, part, data, self.seg)

    def etag(self, md5_hex: str) -> str:
        """SSE-S3 ETags are the MD5 of the plaintext, as on S3; SSE-KMS and SSE-C ETags are
        not (a keyed digest of it: the plaintext's MD5 is not disclosed)."""
        if self.doc["mode"] == AES256:
            return md5_hex
        return hmac.new(self.dek, b"etag|" + md5_hex.encode(), hashlib.sha256).hexdigest()[:32]


def mode_of(sse: dict[str, Any] | None) -> str | None:
    return str(sse["mode"]) if sse else None


def _ctx_bytes(context: dict[str, str] | None) -> bytes:
    return json.dumps(context or {}, sort_keys=True, separators=(",", ":")).encode()


def _dek_aad(doc: dict[str, Any]) -> bytes:
    mode = doc["mode"]
    base = f"objectstore-dek|{mode}|{doc['uid']}|".encode()
    if mode == KMS:
        return base + str(doc["kid"]).encode() + b"|" + _ctx_bytes(doc.get("ctx"))
    if mode == AES256:
        return base + str(doc["kid"]).encode()
    return base


def _customer_mac(key: bytes, salt: bytes) -> bytes:
    return hmac.new(key, b"objectstore-ssec|" + salt, hashlib.sha256).digest()


def default_context(store: ObjectStore, key: str) -> dict[str, str]:
    """The encryption context S3 uses when a request gives none."""
    return {"aws:s3:arn": f"arn:aws:s3:::{store.name}/{key}"}


class SseCodec:
    """Makes and opens data keys (the key service is the KMS/master key source)."""

    def __init__(self, keys: KeyService | None = None, segment: int = DEFAULT_SEGMENT) -> None:
        self.keys = keys
        self.segment = segment

    def _need_keys(self) -> KeyService:
        if self.keys is None:
            raise RuntimeError("encryption is not configured (no key service)")
        return self.keys

    # -- writes -------------------------------------------------------------------------------
    def new_sealing(self, store: ObjectStore, key: str, req: SseRequest) -> Sealing:
        """A fresh data key for a new object (or upload), wrapped as ``req`` says (blocking:
        a KMS key is looked up in the database)."""
        dek, uid = crypto.new_key(), os.urandom(16)
        doc: dict[str, Any] = {"v": 1, "mode": req.mode, "seg": self.segment, "uid": uid.hex()}
        if req.mode == AES256:
            ring = self._need_keys().ring
            doc["kid"] = kid = ring.active_id
            doc["dek"] = crypto.wrap(ring.key(kid), dek, _dek_aad(doc))
        elif req.mode == KMS:
            keys = self._need_keys()
            kms = keys.find(store.account_id, req.kms_key_id) if req.kms_key_id \
                else keys.default_key(store.account_id)
            doc.update(kid=kms.id, arn=kms.arn(store.region),
                       ctx=req.context if req.context is not None
                       else default_context(store, key), bk=req.bucket_key)
            doc["dek"] = crypto.wrap(keys.material(kms), dek, _dek_aad(doc))
        elif req.mode == SSE_C:
            if req.customer_key is None:
                raise EncryptionKeyRequired("SSE-C needs the customer key")
            salt = os.urandom(16)
            doc.update(salt=base64.b64encode(salt).decode(),
                       mac=base64.b64encode(_customer_mac(req.customer_key, salt)).decode())
            doc["dek"] = crypto.wrap(req.customer_key, dek, _dek_aad(doc))
        else:
            raise ValueError(f"unknown encryption mode {req.mode!r}")
        return Sealing(dek, uid, self.segment, doc)

    # -- reads --------------------------------------------------------------------------------
    @staticmethod
    def check_customer_key(sse: dict[str, Any] | None, customer_key: bytes | None) -> None:
        """SSE-C objects need their key (checked against the stored salted HMAC); other
        objects must not be given one."""
        if mode_of(sse) != SSE_C:
            if customer_key is not None:
                raise EncryptionNotApplicable("The encryption parameters are not applicable "
                                              "to this object.")
            return
        assert sse is not None
        if customer_key is None:
            raise EncryptionKeyRequired("The object was stored using a form of Server Side "
                                        "Encryption. The correct parameters must be provided "
                                        "to retrieve the object.")
        mac = _customer_mac(customer_key, base64.b64decode(sse["salt"]))
        if not hmac.compare_digest(mac, base64.b64decode(sse["mac"])):
            raise EncryptionKeyMismatch("Access Denied")

    def open_sealing(self, sse: dict[str, Any], customer_key: bytes | None = None
                     ) -> Sealing:
        """The data key of a stored object (KMS: refused while its key is disabled)."""
        mode = sse["mode"]
        try:
            if mode == AES256:
                kek = self._need_keys().ring.key(sse["kid"])
            elif mode == KMS:
                keys = self._need_keys()
                kek = keys.material(keys.find_by_id(sse["kid"]))
            else:
                self.check_customer_key(sse, customer_key)
                assert customer_key is not None
                kek = customer_key
            dek = crypto.unwrap(kek, sse["dek"], _dek_aad(sse))
        except KeyMismatch:
            if mode == SSE_C:
                raise EncryptionKeyMismatch("Access Denied") from None
            raise TamperedError("a stored data key does not open") from None
        return Sealing(dek, bytes.fromhex(sse["uid"]), int(sse["seg"]),
                       {k: v for k, v in sse.items() if k != "parts"})

    def rewrap(self, sse: dict[str, Any]) -> dict[str, Any] | None:
        """``sse`` with its SSE-S3 data key wrapped by the active master key (None when it
        already is, or is not SSE-S3)."""
        keys = self._need_keys()
        if sse.get("mode") != AES256 or sse.get("kid") == keys.ring.active_id:
            return None
        dek = crypto.unwrap(keys.ring.key(sse["kid"]), sse["dek"], _dek_aad(sse))
        new = dict(sse)
        new["kid"] = keys.ring.active_id
        new["dek"] = crypto.wrap(keys.ring.key(new["kid"]), dek, _dek_aad(new))
        return new


def sealed_doc(sealing: Sealing, part_numbers: list[int] | None = None) -> dict[str, Any]:
    doc = dict(sealing.doc)
    if part_numbers is not None:
        doc["parts"] = part_numbers
    return doc


# -- the layout of a version's sealed pieces ------------------------------------------------------

@dataclass(frozen=True)
class Piece:
    """One sealed unit of a version: a blob (or the inline row) holding plaintext bytes
    [base, base + size) as part ``part``."""

    blob_id: str
    part: int
    base: int
    size: int


def pieces_of(version: ObjectVersion) -> list[Piece]:
    if version.parts:
        numbers = (version.sse or {}).get("parts") or list(range(1, len(version.parts) + 1))
        out, base = [], 0
        for (blob_id, size), number in zip(version.parts, numbers, strict=True):
            out.append(Piece(blob_id, int(number), base, size))
            base += size
        return out
    return [Piece(version.blob_id, 0, 0, version.size)]


Job = tuple[BlobReader | None, Opener, int, int, int, int]  # reader, opener, first, count, lo, hi


def _opener(sealing: Sealing, piece: Piece, header: bytes) -> Opener:
    return Opener(sealing.dek, sealing.uid, piece.part, piece.size, sealing.seg, header)


def plan(blobs: BlobStore, version: ObjectVersion, sealing: Sealing, start: int, end: int
         ) -> tuple[list[Job], list[BlobReader]]:
    """Read jobs covering plaintext [start, end]: each opens ``count`` records from segment
    ``first`` of one piece and keeps plaintext [lo, hi) of them. Blobs are opened (and
    their headers read) before any byte is sent."""
    seg = sealing.seg
    jobs: list[Job] = []
    readers: list[BlobReader] = []
    try:
        for piece in pieces_of(version):
            lo, hi = max(start, piece.base), min(end, piece.base + piece.size - 1)
            if piece.size == 0 or hi < lo:
                continue
            reader = blobs.open_reader(piece.blob_id)
            readers.append(reader)
            opener = _opener(sealing, piece, reader.read_at(0, HEADER))
            s, e = lo - piece.base, hi - piece.base
            first, last = s // seg, e // seg
            for batch in range(first, last + 1, READ_RECORDS):
                count = min(READ_RECORDS, last + 1 - batch)
                keep_lo = s - batch * seg if batch == first else 0
                keep_hi = e + 1 - batch * seg if batch + count - 1 == last else count * seg
                jobs.append((reader, opener, batch, count, keep_lo, keep_hi))
    except BaseException:
        for r in readers:
            r.close()
        raise
    return jobs, readers


def run_job(job: Job) -> bytes:
    reader, opener, first, count, lo, hi = job
    assert reader is not None
    seg, size = opener.seg, opener.size
    start = crypto.record_offset(first, seg)
    last = first + count - 1
    length = crypto.record_offset(last, seg) + crypto.plain_length(last, size, seg) + TAG - start
    try:
        records = reader.read_at(start, length)
    except OSError:
        raise TamperedError("a sealed blob is shorter than its recorded size") from None
    plain = b"".join(opener.open_run(first, records))
    return plain[lo:hi] if lo or hi < len(plain) else plain


def read_inline(version: ObjectVersion, sealing: Sealing, start: int, end: int) -> bytes:
    assert version.data is not None
    plain = crypto.open_all(sealing.dek, sealing.uid, 0, version.size, sealing.seg,
                            version.data)
    return plain[start:end + 1]


def read_sealed(blobs: BlobStore, version: ObjectVersion, sealing: Sealing, start: int,
                end: int) -> bytes:
    """Plaintext [start, end] in memory (blocking)."""
    if version.data is not None:
        return read_inline(version, sealing, start, end)
    jobs, readers = plan(blobs, version, sealing, start, end)
    try:
        return b"".join(run_job(j) for j in jobs)
    finally:
        for r in readers:
            r.close()


def iter_plain(blobs: BlobStore, version: ObjectVersion, sealing: Sealing, start: int,
               end: int) -> Iterator[bytes]:
    """Plaintext [start, end] in ~4 MiB pieces (blocking: copies, fsck)."""
    if end < start:
        return
    if version.data is not None:
        yield read_inline(version, sealing, start, end)
        return
    jobs, readers = plan(blobs, version, sealing, start, end)
    try:
        for j in jobs:
            yield run_job(j)
    finally:
        for r in readers:
            r.close()


async def stream_sealed(jobs: list[Job], readers: list[BlobReader]) -> AsyncIterator[bytes]:
    """Decrypt job by job in worker threads, one ahead; a segment that fails its tag ends
    the response with an error (the client sees a broken transfer, never wrong bytes)."""
    ahead: asyncio.Future[bytes] | None = None
    try:
        for i in range(len(jobs)):
            if ahead is None:
                ahead = asyncio.ensure_future(run_sync(run_job, jobs[i]))
            data = await ahead
            ahead = None
            if i + 1 < len(jobs):
                ahead = asyncio.ensure_future(run_sync(run_job, jobs[i + 1]))
            yield data
    except TamperedError:
        log.error("sealed bytes failed authentication; response aborted")
        raise OSError("stored object is damaged (authentication failed)") from None
    finally:
        if ahead is not None:
            with contextlib.suppress(BaseException):
                await ahead
        for r in readers:
            r.close()


def plain_source(blobs: BlobStore, source: ObjectVersion, sealing: Sealing | None,
                 start: int, end: int, chunk: int = 4 * 1024 * 1024) -> Iterator[bytes]:
    """Plaintext [start, end] of any version, sealed or not (blocking: copies); a plain
    version's blocks are checked as they are read (``blocks.DamagedBlock``)."""
    if end < start:
        return
    if sealing is not None:
        yield from iter_plain(blobs, source, sealing, start, end)
        return
    if source.data is not None:
        yield source.data[start:end + 1]
        return
    for seg in blk.segments(source, start, end):
        reader = blobs.open_reader(seg.blob_id)
        try:
            pos, stop = seg.offset, seg.offset + seg.length
            while pos < stop:  # reads cut at multiples of ``chunk`` (block boundaries)
                n = min(stop, (pos // chunk + 1) * chunk) - pos
                if seg.crcs is None:
                    yield reader.read_at(pos, n)
                else:
                    yield blk.read_verified(reader, pos, n, seg.size, seg.crcs, seg.blob_id)
                pos += n
        finally:
            reader.close()


def copy_sealed(blobs: BlobStore, source: ObjectVersion, src: Sealing | None, start: int,
                end: int, dest: Sealing | None, part: int, summer: Any | None = None,
                inline_max: int = -1) -> tuple[str, int, str, bytes | None]:
    """Copy plaintext [start, end] of ``source`` (opened with ``src``) into a new blob,
    sealed with ``dest`` as part ``part`` (or plain): (blob_id, size, md5 hex, inline data).
    Ranges up to ``inline_max`` bytes come back as (sealed) inline data instead of a blob."""
    size = max(0, end - start + 1)
    md5 = hashlib.md5()  # noqa: S324 - ETag
    if size <= inline_max:
        plain = b"".join(plain_source(blobs, source, src, start, end))
        md5.update(plain)
        if summer is not None:
            summer.update(plain)
        data = dest.seal(part, plain) if dest is not None else plain
        return "", len(plain), md5.hexdigest(), data
    writer = blobs.open_writer()
    sealer = dest.sealer(part, size) if dest is not None else None
    total = 0
    try:
        for data in plain_source(blobs, source, src, start, end):
            md5.update(data)
            if summer is not None:
                summer.update(data)
            total += len(data)
            writer.write(sealer.feed(data) if sealer is not None else data)
        if sealer is not None:
            writer.write(sealer.finish())
        return writer.commit(), total, md5.hexdigest(), None
    except BaseException:
        writer.abort()
        raise


# -- fsck -----------------------------------------------------------------------------------------

def verify_sealed(blobs: BlobStore, version: ObjectVersion, sealing: Sealing | None,
                  digest: Any | None) -> str | None:
    """Damage of a sealed version, or None. With its data key every segment's tag is checked
    (and ``digest`` of the plaintext); without (SSE-C, disabled KMS key) each blob's length,
    header and ciphertext CRC."""
    seg = int((version.sse or {})["seg"])
    if sealing is not None:
        try:
            for data in iter_plain(blobs, version, sealing, 0, version.size - 1):
                if digest is not None:
                    digest.update(data)
        except TamperedError as exc:
            return f"authentication failed: {exc}"
        except FileNotFoundError as exc:
            return f"missing blob: {exc.filename}"
        if digest is not None and not digest.matches():
            return "checksum mismatch (after decryption)"
        return None
    if version.data is not None:
        return crypto.check_sealed(version.data, version.size, seg)
    for piece in pieces_of(version):
        try:
            reader = blobs.open_reader(piece.blob_id)
        except FileNotFoundError as exc:
            return f"missing blob: {exc.filename}"
        try:
            expected = crypto.stored_size(piece.size, seg)
            crc = 0
            header = trailer = b""
            body = expected - TRAILER
            for pos in range(0, body, 4 * 1024 * 1024):
                chunk = reader.read_at(pos, min(4 * 1024 * 1024, body - pos))
                if pos == 0:
                    header = chunk[:HEADER]
                crc = crypto.crc64(chunk, crc)
            trailer = reader.read_at(body, TRAILER)
            try:
                reader.read_at(expected, 1)
                return f"blob {piece.blob_id} is longer than its sealed size"
            except OSError:
                pass
        except OSError:
            return f"blob {piece.blob_id} is shorter than its sealed size"
        finally:
            reader.close()
        problem = crypto.check_sealed_crc(expected, header, trailer, crc, piece.size, seg)
        if problem:
            return f"blob {piece.blob_id}: {problem}"
    return None

"""The object engine's encrypted objects (SSE-S3, SSE-KMS, SSE-C): a put sealed as it is
written, a copy from or to an encrypted object, and a read that opens only the segments it
needs. ``ObjectEngine`` calls these when a version or a request is encrypted; the sealing
itself is ``sse.py``'s."""

from __future__ import annotations

from typing import TYPE_CHECKING

from anyio.to_thread import run_sync

from ...domain.models import ObjectStore, ObjectVersion
from ...storage.blobs import BlobStore
from ..crypto import TamperedError
from .integrity import copied_checksums
from .sse import KMS, Sealing, SseRequest, copy_sealed, plan, read_sealed, sealed_doc, stream_sealed
from .transfer import Payload, receive_blob, receive_inline
from .values import SMALL_BODY, Attributes, Conditions, DamagedObject, ObjectBody

if TYPE_CHECKING:
    from .objects import ObjectEngine


async def sealing_for(eng: ObjectEngine, store: ObjectStore, key: str, req: SseRequest
                      ) -> Sealing:
    """A new data key for ``key``'s next version (a KMS key is looked up in the database)."""
    if req.mode == KMS:
        return await run_sync(eng.sse.new_sealing, store, key, req)
    return eng.sse.new_sealing(store, key, req)


async def put(eng: ObjectEngine, store: ObjectStore, key: str, attrs: Attributes,
              payload: Payload, length: int, cond: Conditions | None, event: str = "Put"
              ) -> ObjectVersion:
    """``put`` of an encrypted object: the payload hashes the plaintext, then it is sealed
    (inline objects in memory, others segment by segment as they are written)."""
    assert attrs.encryption is not None
    sealing = await sealing_for(eng, store, key, attrs.encryption)
    data: bytes | None = None
    blob_id = ""
    if length <= eng.inline_max_bytes:
        data = sealing.seal(0, await receive_inline(payload, length))
    else:
        blob_id = await receive_blob(payload, eng.blobs, length, sealing.sealer(0, length))
    checksums = payload.checksums
    new = eng.new_version(store, key, attrs, blob_id=blob_id, size=payload.size,
                          etag=sealing.etag(payload.md5_hex), checksums=checksums,
                          data=data,
                          sse=sealed_doc(sealing))
    return await eng.install(store, new, cond, blob_id, event)


async def copy(eng: ObjectEngine, store: ObjectStore, key: str, source: ObjectVersion,
               attrs: Attributes, cond: Conditions | None, source_key: bytes | None,
               blobs: BlobStore) -> ObjectVersion:
    """A copy from or to an encrypted object: the source is opened with its data key, the
    copy sealed with a new one (or stored plain)."""
    src = await run_sync(eng.open_key, source, source_key)
    dest = None if attrs.encryption is None \
        else await sealing_for(eng, store, key, attrs.encryption)
    checksums = copied_checksums(source)
    try:
        blob_id, size, md5, data = await run_sync(
            copy_sealed, blobs, source, src, 0, source.size - 1, dest, 0, None,
            eng.inline_max_bytes)
    except TamperedError as exc:
        raise DamagedObject("The stored object is damaged (authentication failed); it "
                            "cannot be copied.") from exc
    new = eng.new_version(store, key, attrs, blob_id=blob_id, size=size,
                          etag=dest.etag(md5) if dest is not None else md5,
                          checksums=checksums,
                          data=data,
                          sse=sealed_doc(dest) if dest is not None else None)
    return await eng.install(store, new, cond, blob_id, "Copy")


def _read_sync(blobs: BlobStore, version: ObjectVersion, sealing: Sealing, start: int,
               end: int) -> ObjectBody:
    length = end - start + 1
    try:
        if version.data is not None or length <= SMALL_BODY:
            return ObjectBody(length, data=read_sealed(blobs, version, sealing, start, end))
        jobs, readers = plan(blobs, version, sealing, start, end)
    except TamperedError as exc:
        raise DamagedObject("The stored object is damaged (authentication failed); it "
                            "cannot be served.") from exc
    return ObjectBody(length, stream=stream_sealed(jobs, readers))


async def read(eng: ObjectEngine, version: ObjectVersion, start: int, end: int,
               customer_key: bytes | None) -> ObjectBody:
    """Only the segments [start, end] touches are read and decrypted; each is authenticated
    (a damaged, moved or truncated one is an error, never wrong bytes)."""
    sealing = await eng.read_hop(eng.open_key, version, customer_key)
    assert sealing is not None
    if end < start:
        return ObjectBody(0)
    if version.data is not None:
        return _read_sync(eng.blobs, version, sealing, start, end)
    return await run_sync(_read_sync, eng.blobs, version, sealing, start, end)

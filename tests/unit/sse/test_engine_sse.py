"""Encryption inside the object engine (no HTTP): every mode, inline and blob objects,
multipart, ranges across segment boundaries, copies between modes, tampering, key rotation
and rewrap, KMS keys disabled, SSE-C keys, fsck."""

from __future__ import annotations

import hashlib
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import select

from objectstore.domain.encryption import (
    EncryptionKeyMismatch,
    EncryptionKeyRequired,
    EncryptionNotApplicable,
    KmsKeyDisabled,
    KmsKeyNotFound,
)
from objectstore.domain.models import ObjectStore, ObjectVersion
from objectstore.services.engine.integrity import scan
from objectstore.services.engine.multipart import CompletedPart
from objectstore.services.engine.sse import SseRequest
from objectstore.services.engine.values import Attributes, DamagedObject
from objectstore.services.registry import Services
from objectstore.storage.sql.tables import objects
from tests.unit.services.test_engine import FakePayload, new_store, run

SEG = 64 * 1024
CKEY = os.urandom(32)
MODES = {
    "AES256": SseRequest("AES256"),
    "aws:kms": SseRequest("aws:kms"),
    "SSE-C": SseRequest("SSE-C", customer_key=CKEY),
}


def key_for(req: SseRequest | None) -> bytes | None:
    return req.customer_key if req is not None else None


def put(svc: Services, store: ObjectStore, key: str, data: bytes,
        req: SseRequest | None) -> ObjectVersion:
    v: ObjectVersion = run(svc.objects.put(store, key, Attributes(encryption=req),
                                           FakePayload(data), len(data)))
    return v


async def _collect(body: Any) -> bytes:
    if body.stream is None:
        return bytes(body.data)
    return b"".join([c async for c in body.stream])


def read(svc: Services, v: ObjectVersion, start: int, end: int,
         ckey: bytes | None = None) -> bytes:
    async def go() -> bytes:
        return await _collect(await svc.objects.read(v, start, end, ckey))
    out: bytes = run(go())
    return out


def head(svc: Services, store: ObjectStore, key: str) -> ObjectVersion:
    return svc.objects.head_sync(store.id, key)


def blob_path(root: Path, blob_id: str) -> Path:
    return next(p for p in (root / "blobs").rglob(blob_id) if p.is_file())


@pytest.mark.parametrize("mode", list(MODES))
@pytest.mark.parametrize("size", [0, 100, SEG + 1, 5 * SEG + 3, 300_000])
def test_round_trip_and_ranges(services: Services, mode: str, size: int) -> None:
    store = new_store(services)
    req = MODES[mode]
    data = os.urandom(size)
    v = put(services, store, "k", data, req)
    assert v.sse is not None and v.sse["mode"] == mode and v.size == size
    assert "dek" in v.sse and CKEY.hex() not in str(v.sse)
    v = head(services, store, "k")
    if size:
        assert read(services, v, 0, size - 1, key_for(req)) == data
    for start, end in [(0, 0), (SEG - 1, SEG), (SEG - 5, 2 * SEG + 5), (size - 1, size - 1),
                       (3, size // 2)]:
        if 0 <= start <= end < size:
            assert read(services, v, start, end, key_for(req)) == data[start:end + 1]
    if mode == "AES256":
        assert v.etag == hashlib.md5(data).hexdigest()  # noqa: S324
    else:
        assert v.etag != hashlib.md5(data).hexdigest()  # noqa: S324
        assert len(v.etag) == 32


def test_plaintext_is_nowhere_on_disk(services: Services, tmp_path: Path) -> None:
    store = new_store(services)
    marker = b"PLAINTEXT-MARKER-7c1f" * 64
    for mode, req in MODES.items():
        put(services, store, f"small-{mode}", marker, req)
        put(services, store, f"big-{mode}", marker * 200, req)
    put(services, store, "plain", marker, None)  # the check can fail: this one is there
    services.objects.writer.close()
    found = [p for p in (tmp_path / "data").rglob("*") if p.is_file()
             and b"PLAINTEXT-MARKER-7c1f" in p.read_bytes()]
    assert found and all(p.name.startswith("objectstore.db") for p in found)
    with services.engine.connect() as conn:
        rows = conn.execute(select(objects.c.key, objects.c.data, objects.c.sse)).all()
    for key, data, sse in rows:
        if key != "plain" and data is not None:
            assert b"PLAINTEXT-MARKER" not in data
            assert sse is not None


def test_a_flipped_byte_a_swapped_segment_a_truncated_blob_are_errors(
        services: Services, tmp_path: Path) -> None:
    store = new_store(services)
    data = os.urandom(6 * SEG)
    v = put(services, store, "k", data, MODES["AES256"])
    path = blob_path(tmp_path / "data", v.blob_id)
    original = path.read_bytes()
    damaged = bytearray(original)
    damaged[16 + 2 * (SEG + 16) + 5] ^= 0x40
    path.write_bytes(bytes(damaged))
    with pytest.raises(DamagedObject):
        read(services, v, 2 * SEG, 2 * SEG + 10)
    assert read(services, v, 0, 10) == data[:11]  # untouched segments still read
    problems = [p for _, m, p in scan(services.engine, services.blobs, services.objects.sse)
                if m.key == "k"]
    assert problems[0] and "authentication" in problems[0]
    rec = SEG + 16
    swapped = original[:16] + original[16 + rec:16 + 2 * rec] + original[16:16 + rec] \
        + original[16 + 2 * rec:]
    path.write_bytes(swapped)
    with pytest.raises(DamagedObject):
        read(services, v, 0, 10)
    path.write_bytes(original[:16 + 4 * rec])
    with pytest.raises((DamagedObject, OSError)):
        read(services, v, 0, 6 * SEG - 1)  # streamed: the body breaks, never wrong bytes
    with pytest.raises(DamagedObject):
        read(services, v, 5 * SEG, 5 * SEG + 1)
    path.write_bytes(original)
    assert read(services, v, 0, 6 * SEG - 1) == data


def test_inline_tamper_is_an_error(services: Services) -> None:
    store = new_store(services)
    v = put(services, store, "k", b"x" * 1000, MODES["AES256"])
    assert v.data is not None
    bad = bytearray(v.data)
    bad[40] ^= 1
    with pytest.raises(DamagedObject):
        read(services, replace(v, data=bytes(bad)), 0, 999)


def test_sse_c_needs_its_key(services: Services) -> None:
    store = new_store(services)
    v = put(services, store, "k", b"secret" * 10, MODES["SSE-C"])
    assert v.sse is not None and "salt" in v.sse and "mac" in v.sse
    with pytest.raises(EncryptionKeyRequired):
        read(services, v, 0, 5)
    with pytest.raises(EncryptionKeyMismatch):
        read(services, v, 0, 5, os.urandom(32))
    assert read(services, v, 0, 5, CKEY) == b"secret"
    plain = put(services, store, "p", b"plain", None)
    with pytest.raises(EncryptionNotApplicable):
        services.objects.check_read_key(plain, CKEY)


@pytest.mark.parametrize("src_mode", [None, "AES256", "aws:kms", "SSE-C"])
@pytest.mark.parametrize("dst_mode", [None, "AES256", "aws:kms", "SSE-C"])
def test_copies_between_modes(services: Services, src_mode: str | None,
                              dst_mode: str | None) -> None:
    store = new_store(services)
    src_req = MODES[src_mode] if src_mode else None
    dst_req = None
    if dst_mode == "SSE-C":
        dst_req = SseRequest("SSE-C", customer_key=os.urandom(32))
    elif dst_mode:
        dst_req = MODES[dst_mode]
    for size in (500, 3 * SEG + 1):
        data = os.urandom(size)
        src = put(services, store, f"src-{size}", data, src_req)
        copied = run(services.objects.copy(store, f"dst-{size}", src,
                                           Attributes(encryption=dst_req), None,
                                           key_for(src_req)))
        assert (copied.sse or {}).get("mode") == dst_mode
        got = head(services, store, f"dst-{size}")
        assert read(services, got, 0, size - 1, key_for(dst_req)) == data


def test_multipart_encrypted_parts_and_ranges(services: Services) -> None:
    store = new_store(services, size_gb=1)
    mp = services.multipart
    for mode, req in MODES.items():
        up = run(mp.create(store, f"mp-{mode}", Attributes(encryption=req), None, None))
        p1 = os.urandom(5 * 1024 * 1024)
        p2 = os.urandom(SEG * 2 + 9)
        parts = []
        for n, data in ((1, p1), (2, p2)):
            part = run(mp.upload_part(store, f"mp-{mode}", up.id, n, FakePayload(data),
                                      len(data), key_for(req)))
            parts.append(CompletedPart(n, part.etag))
        if mode == "SSE-C":
            with pytest.raises(EncryptionKeyRequired):
                run(mp.upload_part(store, f"mp-{mode}", up.id, 3, FakePayload(b"x"), 1))
        v = run(mp.complete(store, f"mp-{mode}", up.id, parts, None,
                            lambda u, used, chosen: ({}, None)))
        assert v.sse is not None and v.sse["parts"] == [1, 2] and v.etag.endswith("-2")
        v = head(services, store, f"mp-{mode}")
        whole = p1 + p2
        ck = key_for(req)
        assert read(services, v, 0, len(whole) - 1, ck) == whole
        b = len(p1)
        assert read(services, v, b - 3, b + SEG + 1, ck) == whole[b - 3:b + SEG + 2]
        # UploadPartCopy from the encrypted object into a plain upload
        up2 = run(mp.create(store, f"mpc-{mode}", Attributes(), None, None))
        part = run(mp.upload_part_copy(store, f"mpc-{mode}", up2.id, 1, v, b - 10, b + 9,
                                       None, None, ck))
        v2 = run(mp.complete(store, f"mpc-{mode}", up2.id, [CompletedPart(1, part.etag)],
                             None, lambda u, used, chosen: ({}, None)))
        assert read(services, v2, 0, 19) == whole[b - 10:b + 10]
    assert all(p is None for _, _, p in scan(services.engine, services.blobs,
                                             services.objects.sse))


def test_kms_keys_named_disabled_and_unknown(services: Services) -> None:
    store = new_store(services)
    keys = services.objects.sse.keys
    assert keys is not None
    k = keys.create(store.account_id, "team-key", "for tests")
    v = put(services, store, "k", b"kms data" * 100,
            SseRequest("aws:kms", kms_key_id=f"alias/{k.alias}"))
    assert v.sse is not None and v.sse["kid"] == k.id
    assert v.sse["arn"] == k.arn(store.region)
    assert v.sse["ctx"] == {"aws:s3:arn": f"arn:aws:s3:::{store.name}/k"}
    keys.set_enabled(store.account_id, k.id, False)
    with pytest.raises(KmsKeyDisabled):
        read(services, v, 0, 5)
    with pytest.raises(KmsKeyDisabled):
        put(services, store, "k2", b"x", SseRequest("aws:kms", kms_key_id=k.id))
    # fsck cannot open it now, but still checks the sealed bytes
    assert [p for _, m, p in scan(services.engine, services.blobs, services.objects.sse)
            if m.key == "k"] == [None]
    keys.set_enabled(store.account_id, k.arn(store.region), True)
    assert read(services, v, 0, 7) == b"kms data"
    with pytest.raises(KmsKeyNotFound):
        put(services, store, "k3", b"x", SseRequest("aws:kms", kms_key_id="alias/nope"))
    other = new_store(services, "other-account")
    with pytest.raises(KmsKeyNotFound):  # keys are per account
        put(services, other, "k", b"x", SseRequest("aws:kms", kms_key_id=k.id))


def test_rotation_then_rewrap_keeps_objects_readable(services: Services,
                                                     tmp_path: Path) -> None:
    store = new_store(services)
    ring = services.objects.sse.keys.ring  # type: ignore[union-attr]
    path = tmp_path / "data" / "sse-keyring.json"
    assert path.stat().st_mode & 0o777 == 0o600
    first = ring.active_id
    old = put(services, store, "old", os.urandom(200_000), MODES["AES256"])
    kms_old = put(services, store, "kms", b"k" * 10, MODES["aws:kms"])
    second = ring.rotate()
    assert second != first and ring.active_id == second
    new = put(services, store, "new", b"n" * 10, MODES["AES256"])
    assert old.sse and old.sse["kid"] == first and new.sse and new.sse["kid"] == second
    blob_before = blob_path(tmp_path / "data", old.blob_id).read_bytes()
    counts = services.objects.sse.keys.rewrap(services.objects.sse.rewrap)  # type: ignore
    assert counts["versions"] == 1 and counts["kms_keys"] == 1
    again = head(services, store, "old")
    assert again.sse and again.sse["kid"] == second and again.sse["dek"] != old.sse["dek"]
    assert blob_path(tmp_path / "data", old.blob_id).read_bytes() == blob_before
    assert read(services, again, 0, again.size - 1) == read(services, old, 0, old.size - 1)
    assert read(services, head(services, store, "kms"), 0, 9) == b"k" * 10
    del kms_old
    assert services.objects.sse.keys.rewrap(services.objects.sse.rewrap) == {  # type: ignore
        "kms_keys": 0, "versions": 0, "uploads": 0}
    assert path.stat().st_mode & 0o777 == 0o600
    assert str(first) in path.read_text()  # old keys stay in the ring

"""The sealed format on its own: round trips, ranges and every tampering we can think of."""

from __future__ import annotations

import os

import pytest

from objectstore.services import crypto
from objectstore.services.crypto import (
    HEADER,
    TAG,
    TRAILER,
    Opener,
    Sealer,
    TamperedError,
    open_all,
    seal_all,
    stored_size,
)

SEG = 64 * 1024
KEY, UID = os.urandom(32), os.urandom(16)


@pytest.mark.parametrize("size", [0, 1, SEG - 1, SEG, SEG + 1, 3 * SEG + 17])
def test_round_trip_and_layout(size: int) -> None:
    data = os.urandom(size)
    sealed = seal_all(KEY, UID, 0, data, SEG)
    assert len(sealed) == stored_size(size, SEG) == HEADER + size + \
        crypto.segments_of(size, SEG) * TAG + TRAILER
    assert open_all(KEY, UID, 0, size, SEG, sealed) == data
    assert crypto.check_sealed(sealed, size, SEG) is None


def test_streamed_sealing_equals_the_format_whatever_the_pieces() -> None:
    data = os.urandom(5 * SEG + 333)
    sealer = Sealer(KEY, UID, 3, len(data), SEG)
    out = b""
    pos = 0
    for n in (1, SEG - 1, 2 * SEG + 5, 17, len(data)):
        out += sealer.feed(data[pos:pos + n])
        pos += n
    out += sealer.finish()
    assert open_all(KEY, UID, 3, len(data), SEG, out) == data
    with pytest.raises(TamperedError):  # bound to its part number
        open_all(KEY, UID, 4, len(data), SEG, out)


def test_sealing_refuses_a_short_stream() -> None:
    sealer = Sealer(KEY, UID, 0, 10, SEG)
    sealer.feed(b"12345")
    with pytest.raises(ValueError):
        sealer.finish()


def _records(sealed: bytes, size: int) -> list[bytes]:
    out = []
    for i in range(crypto.segments_of(size, SEG)):
        off = crypto.record_offset(i, SEG)
        out.append(sealed[off:off + crypto.plain_length(i, size, SEG) + TAG])
    return out


def test_flipped_byte_swapped_segments_truncation_and_other_object_fail() -> None:
    size = 3 * SEG
    data = os.urandom(size)
    sealed = seal_all(KEY, UID, 0, data, SEG)
    flipped = bytearray(sealed)
    flipped[HEADER + SEG + 7] ^= 1
    with pytest.raises(TamperedError):
        open_all(KEY, UID, 0, size, SEG, bytes(flipped))
    assert crypto.check_sealed(bytes(flipped), size, SEG) is not None  # keyless check too
    r = _records(sealed, size)
    swapped = sealed[:HEADER] + r[1] + r[0] + r[2] + sealed[-TRAILER:]
    with pytest.raises(TamperedError):
        open_all(KEY, UID, 0, size, SEG, swapped)
    opener = Opener(KEY, UID, 0, size, SEG, sealed[:HEADER])
    with pytest.raises(TamperedError):  # record 1 where record 0 belongs
        opener.open(0, r[1])
    with pytest.raises(TamperedError):  # truncated at a segment boundary: the size is bound
        open_all(KEY, UID, 0, 2 * SEG, SEG, sealed[:HEADER] + r[0] + r[1] + sealed[-TRAILER:])
    with pytest.raises(TamperedError):
        opener.open(2, r[2][:-1])
    with pytest.raises(TamperedError):  # another object's uid
        open_all(KEY, os.urandom(16), 0, size, SEG, sealed)
    with pytest.raises(TamperedError):  # another key
        open_all(os.urandom(32), UID, 0, size, SEG, sealed)


def test_same_plaintext_seals_differently_each_time() -> None:
    data = b"A" * 1000
    assert seal_all(KEY, UID, 0, data, SEG) != seal_all(KEY, UID, 0, data, SEG)


def test_wrapped_keys_open_only_with_their_key_and_purpose() -> None:
    token = crypto.wrap(KEY, b"k" * 32, b"aad")
    assert crypto.unwrap(KEY, token, b"aad") == b"k" * 32
    with pytest.raises(crypto.KeyMismatch):
        crypto.unwrap(KEY, token, b"other")
    with pytest.raises(crypto.KeyMismatch):
        crypto.unwrap(os.urandom(32), token, b"aad")
    with pytest.raises(crypto.KeyMismatch):
        crypto.unwrap(KEY, "not base64!", b"aad")

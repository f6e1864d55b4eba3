"""Checksums against zlib/hashlib/awscrt and botocore.httpchecksum; multipart combination."""

from __future__ import annotations

import base64
import hashlib
import os
import zlib

import pytest
from awscrt import checksums as crt
from botocore import httpchecksum
from hypothesis import given, settings
from hypothesis import strategies as st

from objectstore.s3.checksums import (
    ALGORITHMS,
    PayloadVerifier,
    algorithm_from_header,
    combine_composite,
    combine_full_object_crc,
    crc_combine,
    header_name,
    new_checksummer,
    requested_checksums,
)
from objectstore.s3.errors import S3Error

CRC_ALGORITHMS = ("CRC32", "CRC32C", "CRC64NVME")


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def direct(algorithm: str, data: bytes) -> str:
    """Reference digests computed straight from zlib / awscrt / hashlib."""
    if algorithm == "CRC32":
        return b64((zlib.crc32(data) & 0xFFFFFFFF).to_bytes(4, "big"))
    if algorithm == "CRC32C":
        return b64(crt.crc32c(data).to_bytes(4, "big"))
    if algorithm == "CRC64NVME":
        return b64(crt.crc64nvme(data).to_bytes(8, "big"))
    return b64(hashlib.new(algorithm.lower(), data).digest())


BOTOCORE = {
    "CRC32": httpchecksum.Crc32Checksum,
    "CRC32C": httpchecksum.CrtCrc32cChecksum,
    "CRC64NVME": httpchecksum.CrtCrc64NvmeChecksum,
    "SHA1": httpchecksum.Sha1Checksum,
    "SHA256": httpchecksum.Sha256Checksum,
}


def test_known_check_values() -> None:
    data = b"123456789"
    assert new_checksummer("CRC32").digest() == b"\0\0\0\0"
    values = {"CRC32": 0xCBF43926, "CRC32C": 0xE3069283, "CRC64NVME": 0xAE8B14860A799888}
    for algorithm, value in values.items():
        summer = new_checksummer(algorithm)
        summer.update(data)
        assert int.from_bytes(summer.digest(), "big") == value


@pytest.mark.parametrize("algorithm", ALGORITHMS)
@pytest.mark.parametrize("data", [b"", b"a", b"hello world", bytes(range(256)) * 300])
def test_checksummers_match_references(algorithm: str, data: bytes) -> None:
    summer = new_checksummer(algorithm)
    for i in range(0, len(data), 1000):
        summer.update(memoryview(data)[i : i + 1000])
    assert summer.b64digest() == direct(algorithm, data)
    oracle = BOTOCORE[algorithm]()
    oracle.update(data)
    assert summer.b64digest() == oracle.b64digest()
    assert new_checksummer(algorithm.lower()).b64digest() == direct(algorithm, b"")


def test_unknown_algorithm() -> None:
    with pytest.raises(ValueError):
        new_checksummer("MD4")


def test_header_names() -> None:
    for algorithm in ALGORITHMS:
        assert algorithm_from_header(header_name(algorithm)) == algorithm
        assert algorithm_from_header(header_name(algorithm).upper()) == algorithm
    assert header_name("CRC32") == "x-amz-checksum-crc32"
    assert algorithm_from_header("x-amz-checksum-algorithm") is None
    assert algorithm_from_header("x-amz-checksum-md5") is None
    assert algorithm_from_header("content-md5") is None


def test_requested_checksums() -> None:
    crc = direct("CRC32", b"x")
    headers = {
        "x-amz-checksum-crc32": crc,
        "x-amz-checksum-algorithm": "CRC32",
        "x-amz-checksum-type": "FULL_OBJECT",
        "x-amz-checksum-mode": "ENABLED",
        "content-type": "text/plain",
    }
    assert requested_checksums(headers) == {"CRC32": crc}
    assert requested_checksums({}) == {}
    sha = direct("SHA256", b"x")
    assert requested_checksums({"x-amz-checksum-sha256": sha}) == {"SHA256": sha}


@pytest.mark.parametrize(
    "headers",
    [
        {"x-amz-checksum-crc32": "not base64!"},
        {"x-amz-checksum-crc32": b64(b"12345")},  # wrong length
        {"x-amz-checksum-sha256": b64(b"1234")},
        {"x-amz-checksum-crc64nvme": b64(b"1234")},
        {"x-amz-checksum-crc32": "AAAAAA"},  # missing padding
        {"x-amz-checksum-crc32": "AAAAAA==", "x-amz-checksum-crc32c": "AAAAAA=="},
        {"x-amz-checksum-whirlpool": "AAAAAA=="},
    ],
)
def test_requested_checksums_invalid(headers: dict[str, str]) -> None:
    with pytest.raises(S3Error) as info:
        requested_checksums(headers)
    assert (info.value.code, info.value.status) == ("InvalidRequest", 400)


# --- multipart combination ----------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ALGORITHMS)
def test_combine_composite(algorithm: str) -> None:
    parts = [b"part one", b"", b"x" * 10000]
    digests = [direct(algorithm, p) for p in parts]
    raw = b"".join(base64.b64decode(d) for d in digests)
    assert combine_composite(algorithm, digests) == f"{direct(algorithm, raw)}-3"
    with pytest.raises(S3Error):
        combine_composite(algorithm, ["bogus"])


@pytest.mark.parametrize("algorithm", CRC_ALGORITHMS)
def test_combine_full_object(algorithm: str) -> None:
    parts = [b"alpha", b"", b"b" * 70000, bytes(range(256))]
    combined = combine_full_object_crc(algorithm, [(direct(algorithm, p), len(p)) for p in parts])
    assert combined == direct(algorithm, b"".join(parts))
    assert combine_full_object_crc(algorithm, []) == direct(algorithm, b"")


def test_combine_full_object_rejects_hashes() -> None:
    with pytest.raises(S3Error) as info:
        combine_full_object_crc("SHA256", [(direct("SHA256", b""), 0)])
    assert info.value.code == "InvalidRequest"
    with pytest.raises(S3Error):
        combine_full_object_crc("CRC32", [("bad", 1)])


CRT_COMBINE = {
    "CRC32": crt.combine_crc32,
    "CRC32C": crt.combine_crc32c,
    "CRC64NVME": crt.combine_crc64nvme,
}


@pytest.mark.parametrize("algorithm", CRC_ALGORITHMS)
@pytest.mark.parametrize("length", [1, 7, 4096, 5 * 1024**3, 2**40 + 3, 2**63 - 1])
def test_crc_combine_matches_awscrt_for_huge_lengths(algorithm: str, length: int) -> None:
    crc1, crc2 = 0x12345678, 0x9ABCDEF0
    assert crc_combine(algorithm, crc1, crc2, length) == CRT_COMBINE[algorithm](crc1, crc2, length)
    # An empty second part (whose CRC is 0) leaves the first CRC unchanged.
    assert crc_combine(algorithm, crc1, 0, 0) == crc1


@settings(max_examples=200, deadline=None)
@given(
    algorithm=st.sampled_from(CRC_ALGORITHMS),
    parts=st.lists(st.binary(max_size=300), max_size=6),
)
def test_property_full_object_combination(algorithm: str, parts: list[bytes]) -> None:
    pairs = [(direct(algorithm, p), len(p)) for p in parts]
    assert combine_full_object_crc(algorithm, pairs) == direct(algorithm, b"".join(parts))


# --- PayloadVerifier ----------------------------------------------------------------------

BODY = b"The quick brown fox jumps over the lazy dog" * 100


def _feed(verifier: PayloadVerifier, data: bytes = BODY) -> PayloadVerifier:
    for i in range(0, len(data), 333):
        verifier.update(data[i : i + 333])
    return verifier


def test_verifier_all_good() -> None:
    headers = {
        "content-md5": b64(hashlib.md5(BODY).digest()),
        "x-amz-content-sha256": hashlib.sha256(BODY).hexdigest(),
        "x-amz-checksum-crc32c": direct("CRC32C", BODY),
        "x-amz-sdk-checksum-algorithm": "CRC32C",
    }
    verifier = _feed(PayloadVerifier.from_headers(headers))
    verifier.finish()
    assert verifier.md5_hex == hashlib.md5(BODY).hexdigest()
    assert verifier.sha256_hex == hashlib.sha256(BODY).hexdigest()
    assert verifier.checksums == {"CRC32C": direct("CRC32C", BODY)}
    assert verifier.size == len(BODY)


def test_verifier_computes_requested_algorithms_without_expectation() -> None:
    verifier = PayloadVerifier.from_headers(
        {"x-amz-checksum-algorithm": "sha1", "x-amz-content-sha256": "UNSIGNED-PAYLOAD"}
    )
    verifier.update(bytearray(BODY))
    verifier.finish()
    assert verifier.checksums == {"SHA1": direct("SHA1", BODY)}
    assert verifier.sha256_hex is None
    with pytest.raises(S3Error) as info:
        PayloadVerifier.from_headers({"x-amz-sdk-checksum-algorithm": "XXHASH64"})
    assert info.value.code == "InvalidRequest"


def _finish_error(verifier: PayloadVerifier) -> S3Error:
    with pytest.raises(S3Error) as info:
        verifier.finish()
    return info.value


def test_verifier_mismatches() -> None:
    md5 = PayloadVerifier(content_md5=b64(hashlib.md5(b"other").digest()))
    error = _finish_error(_feed(md5))
    assert (error.code, error.status) == ("BadDigest", 400)
    sha = PayloadVerifier(sha256_hex=hashlib.sha256(b"other").hexdigest())
    error = _finish_error(_feed(sha))
    assert (error.code, error.status) == ("XAmzContentSHA256Mismatch", 400)
    for algorithm in ALGORITHMS:
        verifier = PayloadVerifier(expected={algorithm: direct(algorithm, b"other")})
        error = _finish_error(_feed(verifier))
        assert error.code == "BadDigest"
        expected = f"The {algorithm} you specified did not match the calculated checksum."
        assert error.message == expected


@pytest.mark.parametrize("value", ["nope", b64(b"short"), "", b64(b"0123456789abcdefX")])
def test_verifier_invalid_content_md5(value: str) -> None:
    with pytest.raises(S3Error) as info:
        PayloadVerifier(content_md5=value)
    assert (info.value.code, info.value.status) == ("InvalidDigest", 400)


def test_verifier_trailers() -> None:
    headers = {
        "x-amz-trailer": "x-amz-checksum-crc64nvme",
        "x-amz-sdk-checksum-algorithm": "CRC64NVME",
    }
    good = _feed(PayloadVerifier.from_headers(headers))
    good.set_trailer("x-amz-checksum-crc64nvme", direct("CRC64NVME", BODY))
    good.set_trailer("x-amz-meta-ignored", "whatever")
    good.finish()
    assert good.checksums == {"CRC64NVME": direct("CRC64NVME", BODY)}

    bad = _feed(PayloadVerifier.from_headers(headers))
    bad.set_trailer("X-Amz-Checksum-CRC64NVME", direct("CRC64NVME", b"x"))
    assert _finish_error(bad).code == "BadDigest"

    missing = _feed(PayloadVerifier.from_headers(headers))
    assert _finish_error(missing).code == "MalformedTrailerError"

    undeclared = PayloadVerifier.from_headers(headers)
    with pytest.raises(S3Error) as info:
        undeclared.set_trailer("x-amz-checksum-crc32", direct("CRC32", b""))
    assert info.value.code == "MalformedTrailerError"
    with pytest.raises(S3Error) as info:
        undeclared.set_trailer("x-amz-checksum-crc64nvme", "garbage")
    assert info.value.code == "InvalidRequest"
    with pytest.raises(S3Error):
        PayloadVerifier.from_headers({"x-amz-trailer": "x-amz-checksum-foo"})


def test_verifier_with_botocore_header_checksum() -> None:
    """botocore's own checksum header value for a body verifies against the same body."""
    for algorithm, cls in BOTOCORE.items():
        value = cls().handle(BODY)
        verifier = _feed(PayloadVerifier.from_headers({header_name(algorithm): value}))
        verifier.finish()
        assert verifier.checksums[algorithm] == value


@pytest.mark.parametrize("signed", [False, True])
@pytest.mark.parametrize("algorithms", [(), ("CRC32",), ("CRC64NVME", "SHA1")])
def test_lanes_hash_what_update_hashes(signed: bool, algorithms: tuple[str, ...]) -> None:
    """``lanes()`` (run side by side by the engine) is ``update`` cut in parts: fed every
    piece, in order, they give the same digests, size and verdict."""
    data = [os.urandom(n) for n in (1, 70_000, 3, 1 << 20)]
    whole = b"".join(data)
    kwargs = {"sha256_hex": hashlib.sha256(whole).hexdigest() if signed else None,
              "algorithms": algorithms}
    one, split = PayloadVerifier(**kwargs), PayloadVerifier(**kwargs)  # type: ignore[arg-type]
    lanes = split.lanes()
    # the MD5, the checksums if any, the SHA-256 of a signed payload: one lane each
    assert len(lanes) == 1 + (1 if algorithms else 0) + (1 if signed else 0)
    for piece in data:
        one.update(piece)
    for lane in lanes:
        for piece in data:
            lane(piece)
    assert (split.md5_hex, split.sha256_hex, split.checksums, split.size) == \
        (one.md5_hex, one.sha256_hex, one.checksums, one.size)
    split.finish()

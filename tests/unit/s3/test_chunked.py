"""aws-chunked decoding: AWS doc vectors, botocore's AwsChunkedWrapper, a reference encoder."""

from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import io
import time
from collections.abc import Iterable, Sequence
from typing import Any

import pytest
from botocore import httpchecksum
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from objectstore.s3.checksums import PayloadVerifier, header_name
from objectstore.s3.chunked import ChunkedDecoder
from objectstore.s3.errors import S3Error
from objectstore.s3.request_view import RequestView
from objectstore.s3.sigv4 import parse_sigv4, signing_key, verify_sigv4

EMPTY = hashlib.sha256(b"").hexdigest()
AMZ_DATE = "20240501T120000Z"
SCOPE = "20240501/lon1/s3/aws4_request"
KEY = signing_key("secret", "20240501", "lon1")
SEED = "5eed" * 16
MODES = ["signed", "signed-trailer", "unsigned-trailer", "unsigned"]


def sign(key: bytes, text: str) -> str:
    return hmac.new(key, text.encode(), hashlib.sha256).hexdigest()


def encode(
    payload: bytes,
    chunk_size: int,
    *,
    key: bytes | None = None,
    seed: str = SEED,
    trailers: Sequence[tuple[str, str]] = (),
    trailer_sep: str = "\n",
    amz_date: str = AMZ_DATE,
    scope: str = SCOPE,
) -> bytes:
    """Reference aws-chunked encoder, signing per the AWS SigV4 streaming spec."""
    out = bytearray()
    previous = seed
    chunks = [payload[i : i + chunk_size] for i in range(0, len(payload), chunk_size)] + [b""]
    for chunk in chunks:
        if key is None:
            out += b"%x\r\n" % len(chunk)
        else:
            text = "\n".join(
                ["AWS4-HMAC-SHA256-PAYLOAD", amz_date, scope, previous, EMPTY,
                 hashlib.sha256(chunk).hexdigest()]
            )  # fmt: skip
            previous = sign(key, text)
            out += b"%x;chunk-signature=%s\r\n" % (len(chunk), previous.encode())
        if chunk:
            out += chunk + b"\r\n"
    for name, value in trailers:
        out += f"{name}:{value}\r\n".encode()
    if trailers and key is not None:
        canonical = "".join(f"{name}:{value}{trailer_sep}" for name, value in trailers)
        digest = hashlib.sha256(canonical.encode()).hexdigest()
        text = "\n".join(["AWS4-HMAC-SHA256-TRAILER", amz_date, scope, previous, digest])
        out += f"x-amz-trailer-signature:{sign(key, text)}\r\n".encode()
    out += b"\r\n"
    return bytes(out)


def crc32_trailer(payload: bytes) -> list[tuple[str, str]]:
    cs = httpchecksum.Crc32Checksum()
    cs.update(payload)
    return [("x-amz-checksum-crc32", cs.b64digest())]


def make_decoder(mode: str, **kwargs: Any) -> ChunkedDecoder:
    signed = mode.startswith("signed")
    return ChunkedDecoder(
        signing_key=KEY if signed else None,
        seed_signature=SEED if signed else None,
        amz_date=AMZ_DATE,
        scope=SCOPE,
        expect_trailer=mode.endswith("trailer"),
        **kwargs,
    )


def encode_mode(mode: str, payload: bytes, chunk_size: int) -> bytes:
    trailers = crc32_trailer(payload) if mode.endswith("trailer") else []
    return encode(payload, chunk_size, key=KEY if mode.startswith("signed") else None,
                  trailers=trailers)  # fmt: skip


def decode(decoder: ChunkedDecoder, pieces: Iterable[bytes]) -> bytes:
    out = bytearray()
    for piece in pieces:
        for part in decoder.feed(piece):
            out += part
    decoder.finish()
    return bytes(out)


def split_at(data: bytes, points: Iterable[int]) -> list[bytes]:
    cuts = sorted({p % (len(data) + 1) for p in points})
    edges = [0, *cuts, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


def error_of(decoder: ChunkedDecoder, pieces: Iterable[bytes]) -> S3Error:
    with pytest.raises(S3Error) as info:
        decode(decoder, pieces)
    return info.value


# --- reference vectors --------------------------------------------------------------------


def test_aws_documentation_example() -> None:
    """The STREAMING-AWS4-HMAC-SHA256-PAYLOAD example from the S3 SigV4 documentation."""
    secret = "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY"
    headers = {
        "host": "s3.amazonaws.com",
        "x-amz-date": "20130524T000000Z",
        "x-amz-storage-class": "REDUCED_REDUNDANCY",
        "x-amz-content-sha256": "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
        "content-encoding": "aws-chunked",
        "x-amz-decoded-content-length": "66560",
        "content-length": "66824",
        "authorization": "AWS4-HMAC-SHA256 "
        "Credential=AKIAIOSFODNN7EXAMPLE/20130524/us-east-1/s3/aws4_request,"
        "SignedHeaders=content-encoding;content-length;host;x-amz-content-sha256;x-amz-date;"
        "x-amz-decoded-content-length;x-amz-storage-class,"
        "Signature=4f232c4386841ef735655705268965c44a0e4690baa4adea153f7db9fa80a0a9",
    }
    view = RequestView("PUT", "/examplebucket/chunkObject.txt", "", headers, "s3.amazonaws.com")
    auth = parse_sigv4(view, dt.datetime(2013, 5, 24, tzinfo=dt.UTC))
    key = verify_sigv4(view, auth, secret)
    payload = b"a" * 66560
    body = encode(payload, 65536, key=key, seed=auth.signature, amz_date=auth.amz_date,
                  scope=auth.scope)  # fmt: skip
    assert len(body) == 66824
    for sig in (
        b"ad80c730a21e5b8d04586a2213dd63b9a0e99e0e2307b0ade35a65485a288648",
        b"0055627c9e194cb4542bae2aa5492e3c1575bbb81b612b7d234b86a503ef5497",
        b"b6c6ea8a5354eaf15b3cb7646744f4275b71ea724fed81ceb9323e279d449df9",
    ):
        assert sig in body
    decoder = ChunkedDecoder(
        signing_key=key,
        seed_signature=auth.signature,
        amz_date=auth.amz_date,
        scope=auth.scope,
        expect_trailer=False,
    )
    assert decode(decoder, split_at(body, [1, 100, 5000, 65620, 66000])) == payload
    assert decoder.decoded_length == 66560 and decoder.trailers == {}


@pytest.mark.parametrize(
    "cls", [httpchecksum.Crc32Checksum, httpchecksum.CrtCrc32cChecksum,
            httpchecksum.CrtCrc64NvmeChecksum, httpchecksum.Sha1Checksum,
            httpchecksum.Sha256Checksum]
)  # fmt: skip
@pytest.mark.parametrize("size", [0, 1, 1000, 4096, 10000])
def test_botocore_aws_chunked_wrapper(cls: Any, size: int) -> None:
    payload = bytes(i % 251 for i in range(size))
    name = header_name(cls.__name__.replace("Crt", "").replace("Checksum", ""))
    wrapper = httpchecksum.AwsChunkedWrapper(io.BytesIO(payload), checksum_cls=cls,
                                             checksum_name=name, chunk_size=1024)  # fmt: skip
    body = wrapper.read()
    decoder = make_decoder("unsigned-trailer")
    verifier = PayloadVerifier.from_headers({"x-amz-trailer": name})
    for piece in split_at(body, range(0, len(body), 777)):
        for part in decoder.feed(piece):
            verifier.update(part)
    decoder.finish()
    assert list(decoder.trailers) == [name]
    for trailer, value in decoder.trailers.items():
        verifier.set_trailer(trailer, value)
    verifier.finish()
    assert decoder.decoded_length == verifier.size == size


def test_botocore_wrapper_without_checksum() -> None:
    wrapper = httpchecksum.AwsChunkedWrapper(io.BytesIO(b"xyz" * 1000), chunk_size=700)
    assert decode(make_decoder("unsigned"), [wrapper.read()]) == b"xyz" * 1000


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "CRC64NVME", "SHA1", "SHA256"])
def test_boto3_put_object_unsigned_trailer(
    s3_capture: Any, request_view_of: Any, algorithm: str
) -> None:
    """A real boto3 put_object over https: SigV4 header + aws-chunked body with a trailer."""
    payload = b"0123456789" * 20000
    cap = s3_capture("https://s3.example.test")
    prepared = cap.call("put_object", Bucket="b", Key="k", Body=io.BytesIO(payload),
                        ChecksumAlgorithm=algorithm)  # fmt: skip
    view = request_view_of(prepared)
    auth = parse_sigv4(view, dt.datetime(2024, 5, 1, 12, tzinfo=dt.UTC))
    assert auth.payload_hash == "STREAMING-UNSIGNED-PAYLOAD-TRAILER"
    verify_sigv4(view, auth, "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY")
    decoder = ChunkedDecoder(signing_key=None, seed_signature=None, amz_date=auth.amz_date,
                             scope=auth.scope, expect_trailer=auth.has_trailer)  # fmt: skip
    verifier = PayloadVerifier.from_headers(view.headers)
    body = prepared.body.read()
    for piece in split_at(body, range(0, len(body), 8192)):
        for part in decoder.feed(piece):
            verifier.update(part)
    decoder.finish()
    for name, value in decoder.trailers.items():
        verifier.set_trailer(name, value)
    verifier.finish()
    assert decoder.decoded_length == int(view.headers["x-amz-decoded-content-length"])
    assert header_name(algorithm) in decoder.trailers


# --- round trips and properties -----------------------------------------------------------


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("size", [0, 1, 17, 1000])
def test_byte_by_byte(mode: str, size: int) -> None:
    payload = bytes(range(256)) * 4
    payload = payload[:size]
    body = encode_mode(mode, payload, 7)
    decoder = make_decoder(mode)
    assert decode(decoder, [body[i : i + 1] for i in range(len(body))]) == payload
    assert decoder.done and decoder.decoded_length == size
    if mode.endswith("trailer"):
        assert decoder.trailers == dict(crc32_trailer(payload))


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.binary(max_size=2000),
    chunk_size=st.integers(1, 600),
    mode=st.sampled_from(MODES),
    points=st.lists(st.integers(0, 10**6), max_size=20),
)
def test_property_round_trip(payload: bytes, chunk_size: int, mode: str, points: list[int]) -> None:
    body = encode_mode(mode, payload, chunk_size)
    decoder = make_decoder(mode)
    assert decode(decoder, split_at(body, points)) == payload
    assert decoder.decoded_length == len(payload)


def _decode_checked(mode: str, body: bytes, points: list[int]) -> bytes:
    """Decode, applying the trailer checksum as a server would for unsigned-trailer bodies."""
    decoder = make_decoder(mode)
    verifier = PayloadVerifier.from_headers(
        {"x-amz-trailer": "x-amz-checksum-crc32"} if mode.endswith("trailer") else {}
    )
    out = bytearray()
    for piece in split_at(body, points):
        for part in decoder.feed(piece):
            verifier.update(part)
            out += part
    decoder.finish()
    for name, value in decoder.trailers.items():
        verifier.set_trailer(name, value)
    verifier.finish()
    return bytes(out)


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    payload=st.binary(min_size=1, max_size=700),
    chunk_size=st.integers(1, 300),
    mode=st.sampled_from(["signed", "signed-trailer", "unsigned-trailer"]),
    position=st.integers(0, 10**6),
    xor=st.integers(1, 255),
    points=st.lists(st.integers(0, 10**6), max_size=5),
)
def test_property_corruption_never_yields_wrong_bytes(
    payload: bytes, chunk_size: int, mode: str, position: int, xor: int, points: list[int]
) -> None:
    body = bytearray(encode_mode(mode, payload, chunk_size))
    body[position % len(body)] ^= xor
    try:
        decoded = _decode_checked(mode, bytes(body), points)
    except S3Error:
        return
    assert decoded == payload


@settings(max_examples=300, deadline=None)
@given(
    payload=st.binary(max_size=500),
    chunk_size=st.integers(1, 200),
    mode=st.sampled_from(MODES),
    cut=st.integers(1, 10**6),
)
def test_property_truncation_detected(payload: bytes, chunk_size: int, mode: str, cut: int) -> None:
    body = encode_mode(mode, payload, chunk_size)
    keep = len(body) - 1 - (cut % len(body))
    try:
        decoded = _decode_checked(mode, body[:keep], [])
    except S3Error as exc:
        assert exc.code in {"IncompleteBody", "SignatureDoesNotMatch", "BadDigest",
                            "MalformedTrailerError"}  # fmt: skip
        return
    # Only the final CRLF after complete trailers may be omitted.
    assert mode.endswith("trailer") and keep >= len(body) - 2 and decoded == payload


# --- signatures ---------------------------------------------------------------------------


def test_wrong_chunk_signature_and_withheld_data() -> None:
    payload = b"x" * 100
    body = encode(payload, 40, key=signing_key("other", "20240501", "lon1"))
    decoder = make_decoder("signed")
    # Nothing is returned before the first chunk's signature is checked.
    assert decoder.feed(body[:100]) == []
    with pytest.raises(S3Error) as info:
        decoder.feed(body[100:])
    assert (info.value.code, info.value.status) == ("SignatureDoesNotMatch", 403)
    with pytest.raises(S3Error):  # the decoder stays failed
        decoder.feed(b"")
    with pytest.raises(S3Error):
        decoder.finish()


def test_reordered_or_dropped_chunks_rejected() -> None:
    body = encode(b"a" * 10 + b"b" * 10 + b"c" * 10, 10, key=KEY)
    chunks = body.split(b"\r\n")
    # chunks: [hdr1, data1, hdr2, data2, hdr3, data3, final, "", ""]
    swapped = b"\r\n".join([*chunks[2:4], *chunks[0:2], *chunks[4:]])
    assert error_of(make_decoder("signed"), [swapped]).code == "SignatureDoesNotMatch"
    dropped = b"\r\n".join([*chunks[0:2], *chunks[4:]])
    assert error_of(make_decoder("signed"), [dropped]).code == "SignatureDoesNotMatch"


def test_signature_hex_case_insensitive() -> None:
    body = encode(b"hello", 5, key=KEY)
    head, rest = body.split(b";chunk-signature=", 1)
    upper = head + b";chunk-signature=" + rest[:64].upper() + rest[64:]
    assert decode(make_decoder("signed"), [upper]) == b"hello"


@pytest.mark.parametrize("sep", ["\n", "\r\n"])
def test_signed_trailer_canonical_forms(sep: str) -> None:
    payload = b"data" * 50
    body = encode(payload, 64, key=KEY, trailers=crc32_trailer(payload), trailer_sep=sep)
    decoder = make_decoder("signed-trailer")
    assert decode(decoder, [body]) == payload
    assert decoder.trailers == dict(crc32_trailer(payload))


def test_signed_trailer_with_blank_line_before_signature() -> None:
    payload = b"data"
    body = encode(payload, 64, key=KEY, trailers=crc32_trailer(payload))
    body = body.replace(b"\r\nx-amz-trailer-signature", b"\n\r\nx-amz-trailer-signature")
    assert decode(make_decoder("signed-trailer"), [body]) == payload


def test_signed_trailer_failures() -> None:
    payload = b"data"
    trailers = crc32_trailer(payload)
    wrong_key = encode(payload, 64, key=KEY, trailers=trailers)
    wrong_key = wrong_key.replace(trailers[0][1].encode(), b"AAAAAA==")
    assert error_of(make_decoder("signed-trailer"), [wrong_key]).code == "SignatureDoesNotMatch"
    # Trailers without x-amz-trailer-signature: the body is incomplete.
    unsigned = encode(payload, 64, key=KEY)[:-2] + b"x-amz-checksum-crc32:AAAAAA==\r\n\r\n"
    assert error_of(make_decoder("signed-trailer"), [unsigned]).code == "IncompleteBody"
    good = encode(payload, 64, key=KEY, trailers=trailers)
    extra = good[:-2] + b"x-amz-meta-late:1\r\n\r\n"
    assert error_of(make_decoder("signed-trailer"), [extra]).code == "MalformedTrailerError"
    no_trailers = encode(payload, 64, key=KEY)
    assert error_of(make_decoder("signed-trailer"), [no_trailers]).code == "IncompleteBody"
    # A signed stream that did not announce a trailer cannot carry (unsigned) trailers.
    assert error_of(make_decoder("signed"), [good]).code == "MalformedTrailerError"


def test_constructor_requires_seed_for_signed() -> None:
    with pytest.raises(ValueError):
        ChunkedDecoder(signing_key=KEY, seed_signature=None, amz_date=AMZ_DATE, scope=SCOPE,
                       expect_trailer=False)  # fmt: skip


# --- framing errors -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"zz\r\n", "InvalidRequest"),
        (b"-1\r\n", "InvalidRequest"),
        (b" 1\r\nx\r\n0\r\n\r\n", "InvalidRequest"),
        (b"0x1\r\nx\r\n0\r\n\r\n", "InvalidRequest"),
        (b"11111111111111111\r\n", "InvalidRequest"),
        (b"1000001\r\n", "InvalidRequest"),  # over max_chunk_size
        (b"3\nabc\r\n0\r\n\r\n", "InvalidRequest"),  # bare LF
        (b"3\r\nabcXY0\r\n\r\n", "InvalidRequest"),  # no CRLF after data
        (b"3\r\nabc\r0\r\n\r\n", "InvalidRequest"),
        (b"3\r\nabc\r\n0\r\n\r\nextra", "InvalidRequest"),
        (b"3\r\nab", "IncompleteBody"),
        (b"3\r\nabc", "IncompleteBody"),
        (b"3\r\nabc\r\n", "IncompleteBody"),
        (b"3\r\nabc\r\n0\r\n", "IncompleteBody"),
        (b"", "IncompleteBody"),
        (b"3\r\nabc\r\n0\r\nno-colon\r\n\r\n", "MalformedTrailerError"),
        (b"3\r\nabc\r\n0\r\nbad name:x\r\n\r\n", "MalformedTrailerError"),
        (b"1" * 5000, "InvalidRequest"),  # header line over 4 KiB
    ],
)
def test_framing_errors(body: bytes, code: str) -> None:
    for pieces in ([body], [body[i : i + 1] for i in range(len(body))]):
        decoder = make_decoder("unsigned", max_chunk_size=1024 * 1024)
        assert error_of(decoder, pieces).code == code


def test_signed_header_requires_signature_extension() -> None:
    assert error_of(make_decoder("signed"), [b"3\r\nabc\r\n"]).code == "InvalidRequest"
    bad = b"3;chunk-signature=" + b"g" * 64 + b"\r\nabc\r\n"
    assert error_of(make_decoder("signed"), [bad]).code == "InvalidRequest"


def test_unsigned_trailer_requires_trailer() -> None:
    assert error_of(make_decoder("unsigned-trailer"), [b"0\r\n\r\n"]).code == "IncompleteBody"


def test_trailer_section_cap() -> None:
    many = b"".join(b"x-amz-meta-%d:%s\r\n" % (i, b"v" * 100) for i in range(200))
    body = b"0\r\n" + many + b"\r\n"
    assert error_of(make_decoder("unsigned-trailer"), [body]).code == "MalformedTrailerError"
    one_long = b"0\r\nx-amz-checksum-crc32:" + b"A" * 20000 + b"\r\n\r\n"
    assert error_of(make_decoder("unsigned-trailer"), [one_long]).code == "MalformedTrailerError"


def test_unsigned_trailer_lenient_whitespace_and_duplicates() -> None:
    body = b"1\r\nx\r\n0\r\nx-amz-checksum-crc32 : abc= \r\n\r\n"
    decoder = make_decoder("unsigned-trailer")
    assert decode(decoder, [body]) == b"x"
    assert decoder.trailers == {"x-amz-checksum-crc32": "abc="}
    dup = b"0\r\nx-amz-a:1\r\nX-Amz-A:2\r\n\r\n"
    assert error_of(make_decoder("unsigned-trailer"), [dup]).code == "MalformedTrailerError"


# --- efficiency ---------------------------------------------------------------------------


@pytest.mark.parametrize("mode", ["unsigned-trailer", "signed"])
def test_large_body_is_linear_and_returns_large_slices(mode: str) -> None:
    payload = bytes(range(256)) * (4096 * 16)  # 16 MiB
    body = encode_mode(mode, payload, 1024 * 1024)
    decoder = make_decoder(mode)
    started = time.perf_counter()
    pieces: list[bytes] = []
    feed_size = 256 * 1024
    for i in range(0, len(body), feed_size):
        pieces.extend(decoder.feed(body[i : i + feed_size]))
    decoder.finish()
    elapsed = time.perf_counter() - started
    assert b"".join(pieces) == payload
    assert len(pieces) <= 2 * (len(body) // feed_size + 1) + 32
    assert elapsed < 10  # generous: tens of milliseconds expected

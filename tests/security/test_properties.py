"""Property-based tests and the fuzz run for the pure parsers of the S3 plane.

Each property says what a hostile request may and may not do to a parser: the only exception
that may leave it is the module's own protocol error (``S3AuthError`` for the auth and body
decoders, ``S3Error`` for XML and addressing), which the pipeline renders as a 4xx; anything
else would be a 500. Strategies mix fully random input with structured, nearly valid input so
the fuzzer gets past the first checks.

``OBJECTSTORE_FUZZ_EXAMPLES`` sets the examples per property (see conftest.py); the count
actually run is printed at the end of the session.

No exception is excused: bugs the fuzzer found once (an OverflowError from a Date near year
10000, a ValueError from a 5000-digit expiry, a LookupError from an unknown XML encoding) are
fixed and have deterministic regression tests at the end of this file; if one comes back, the
property fails too.
"""

from __future__ import annotations

import bisect
import datetime as dt
import hashlib
import hmac
from urllib.parse import quote

import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from objectstore.domain.errors import InvalidInput
from objectstore.domain.models import ObjectVersion
from objectstore.s3 import routing
from objectstore.s3.addressing import split_target
from objectstore.s3.auth_errors import S3AuthError
from objectstore.s3.chunked import ChunkedDecoder
from objectstore.s3.errors import S3Error, from_domain
from objectstore.s3.handlers.common import acl_from_xml
from objectstore.s3.handlers.multipart import _parse_complete
from objectstore.s3.handlers.tagging import tags_from_xml
from objectstore.s3.request_view import RequestView
from objectstore.s3.sigv2 import canonical_resource, detect_sigv2, parse_sigv2, verify_sigv2
from objectstore.s3.sigv4 import canonical_request, detect_sigv4, parse_sigv4, verify_sigv4
from objectstore.s3.xml import MAX_XML_BODY
from objectstore.s3.xml import parse as parse_xml
from objectstore.services.engine.listing import list_keys
from tests.security.helpers import FUZZ_EXAMPLES, LISTING_EXAMPLES, count

FUZZ = settings(max_examples=FUZZ_EXAMPLES, deadline=None,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                       HealthCheck.filter_too_much])
LISTING = settings(FUZZ, max_examples=LISTING_EXAMPLES)

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def only(allowed: type[BaseException] | tuple[type[BaseException], ...], what: str,
         fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    """Call fn; return (result, None) or (None, allowed exception); fail on anything else."""
    try:
        return fn(*args, **kwargs), None
    except allowed as exc:
        return None, exc
    except Exception as exc:
        raise AssertionError(
            f"{what} raised {type(exc).__name__}: {exc} (only "
            f"{allowed} may escape; anything else is a 500)") from exc


# -- shared strategies ----------------------------------------------------------------------------

HEX = "0123456789abcdef"
hex64 = st.text(HEX + "ABCDEF", min_size=64, max_size=64)
# Printable ASCII, a few separators and control characters, and some non-ASCII.
noisy = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=40)
latin1 = st.text(st.characters(min_codepoint=0, max_codepoint=255), max_size=60)


@st.composite
def percent_mangled(draw, base=noisy):  # type: ignore[no-untyped-def]
    """A string sent raw, fully percent-encoded, or with stray/partial %-escapes."""
    text = draw(base)
    how = draw(st.sampled_from(["raw", "quoted", "broken"]))
    if how == "quoted":
        return quote(text.encode("utf-8", "surrogateescape"), safe=draw(st.sampled_from(
            ["", "/", "=&", "/%"])))
    if how == "broken":
        junk = draw(st.sampled_from(["%", "%Z", "%2", "%zz", "%00", "%FF", "%C3", "%2F", "+"]))
        pos = draw(st.integers(0, len(text)))
        return text[:pos] + junk + text[pos:]
    return text


@st.composite
def amz_dates(draw):  # type: ignore[no-untyped-def]
    """x-amz-date values: valid near NOW, valid far away, or malformed."""
    kind = draw(st.sampled_from(["near", "far", "junk"]))
    if kind == "junk":
        return draw(st.one_of(latin1, st.from_regex(r"\d{8}T\d{6}Z", fullmatch=True)))
    if kind == "near":
        when = NOW + dt.timedelta(seconds=draw(st.integers(-3600, 3600)))
    else:
        when = draw(st.datetimes(dt.datetime(1, 1, 1), dt.datetime(9999, 12, 31)))
    return when.strftime("%Y%m%dT%H%M%SZ")


@st.composite
def http_dates(draw):  # type: ignore[no-untyped-def]
    """RFC 1123 dates with any year and offset, or junk."""
    if draw(st.booleans()):
        return draw(latin1)
    day = draw(st.sampled_from(["Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun", "Xyz"]))
    mon = draw(st.sampled_from(["Jan", "Feb", "Mar", "Dec", "Foo"]))
    year = draw(st.integers(0, 99999))
    tz = draw(st.sampled_from(["GMT", "UTC", "+0000", "-0100", "+2359", "-2359", "Z", "EST"]))
    return (f"{day}, {draw(st.integers(0, 40)):02d} {mon} {year} "
            f"{draw(st.integers(0, 25)):02d}:{draw(st.integers(0, 61)):02d}:"
            f"{draw(st.integers(0, 61)):02d} {tz}")


@st.composite
def credentials(draw):  # type: ignore[no-untyped-def]
    parts = [draw(st.sampled_from(["AKID", "", "a/b", "AK%2F"]) | noisy),
             draw(st.sampled_from(["20240501", "2024050", "20240502"]) | noisy),
             draw(st.sampled_from(["LON1", "us-east-1", "", "x y"]) | noisy),
             draw(st.sampled_from(["s3", "S3", "ec2", ""])),
             draw(st.sampled_from(["aws4_request", "aws4", ""]))]
    n = draw(st.integers(1, 6))
    return "/".join(parts[:n] if n <= 5 else parts + ["extra"])


@st.composite
def signed_headers(draw):  # type: ignore[no-untyped-def]
    names = draw(st.lists(st.sampled_from(
        ["host", "x-amz-date", "x-amz-content-sha256", "content-md5", "", "Host", " host",
         "x-amz-meta-a"]) | noisy, max_size=5))
    return ";".join(names)


@st.composite
def request_views(draw, sig: str):  # type: ignore[no-untyped-def]
    """RequestViews aimed at one parser ("v4" or "v2"), from garbage to nearly valid."""
    method = draw(st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "get"]) | latin1)
    raw_path = draw(percent_mangled(st.text(st.sampled_from("/ab.%-_~é€😀\\\x00?#&=+"),
                                            max_size=30)))
    headers: dict[str, str] = {}
    query: list[tuple[str, str]] = []
    if sig == "v4":
        form = draw(st.sampled_from(["header", "query", "both", "none"]))
        if form in ("header", "both"):
            fields = [f"Credential={draw(credentials())}",
                      f"SignedHeaders={draw(signed_headers())}",
                      f"Signature={draw(hex64 | noisy)}"]
            fields += draw(st.lists(noisy, max_size=2))
            fields = draw(st.permutations(fields))
            sep = draw(st.sampled_from([", ", ",", " ", ",,", "\t"]))
            prefix = draw(st.sampled_from(["AWS4-HMAC-SHA256 ", "AWS4-HMAC-SHA256",
                                           "AWS4-HMAC-SHA256\t", "aws4-hmac-sha256 "]))
            headers["authorization"] = prefix + sep.join(fields)
        if form in ("query", "both"):
            params = {"X-Amz-Algorithm": draw(st.sampled_from(["AWS4-HMAC-SHA256", "x"])),
                      "X-Amz-Credential": draw(credentials()),
                      "X-Amz-Date": draw(amz_dates()),
                      "X-Amz-SignedHeaders": draw(signed_headers()),
                      "X-Amz-Signature": draw(hex64 | noisy),
                      "X-Amz-Expires": draw(st.sampled_from(["1", "0", "604800", "604801",
                                                             "-1", "1e3", "٣"]) | noisy)}
            drop = draw(st.sets(st.sampled_from(sorted(params)), max_size=2))
            query += [(k, v) for k, v in params.items() if k not in drop]
        if draw(st.booleans()):
            headers["x-amz-date"] = draw(amz_dates())
        if draw(st.booleans()):
            headers["x-amz-content-sha256"] = draw(st.sampled_from(
                ["UNSIGNED-PAYLOAD", "STREAMING-AWS4-HMAC-SHA256-PAYLOAD",
                 "STREAMING-UNSIGNED-PAYLOAD-TRAILER", hashlib.sha256(b"").hexdigest()])
                | noisy)
    else:
        form = draw(st.sampled_from(["header", "query", "none"]))
        if form == "header":
            headers["authorization"] = draw(st.sampled_from(["AWS ", "AWS", "aws "])) + draw(
                st.sampled_from(["AKID:sig=", ":", "AKID:", ":sig", "a:b:c"]) | noisy)
        elif form == "query":
            params = {"AWSAccessKeyId": draw(noisy), "Signature": draw(noisy),
                      "Expires": draw(st.sampled_from(["0", "9999999999", "-1", "1.5", "²"])
                                      | st.integers(0, 2**70).map(str) | noisy)}
            drop = draw(st.sets(st.sampled_from(sorted(params)), max_size=1))
            query += [(k, v) for k, v in params.items() if k not in drop]
    if draw(st.booleans()):
        headers["date"] = draw(http_dates())
    for _ in range(draw(st.integers(0, 3))):
        headers[draw(st.sampled_from(["x-amz-meta-a", "x-amz-acl", "content-md5",
                                      "content-type", "host"]) | latin1.map(str.lower))] = \
            draw(latin1)
    query += draw(st.lists(st.tuples(st.sampled_from(["acl", "uploadId", "partNumber",
                                                      "versionId", "X-Amz-Date"]) | noisy,
                                     noisy), max_size=3))
    raw_query = "&".join(
        (draw(percent_mangled(st.just(k))) + ("" if draw(st.booleans()) and not v
                                              else "=" + draw(percent_mangled(st.just(v)))))
        for k, v in query)
    if draw(st.booleans()):
        raw_query = draw(st.sampled_from(["", "&", "&&=", "=", "a=b=c"])) + raw_query
    host = draw(st.sampled_from(["127.0.0.1:9000", "bkt.s3.localhost", ""]) | latin1)
    return RequestView(method, raw_path, raw_query, headers, host)


nows = st.sampled_from([NOW, NOW.replace(tzinfo=None)]) | st.datetimes(
    dt.datetime(1970, 1, 2), dt.datetime(2200, 1, 1), timezones=st.just(dt.UTC))


# -- SigV4 / SigV2 --------------------------------------------------------------------------------

@FUZZ
@given(view=request_views("v4"), now=nows, secret=noisy)
def test_sigv4_parser_raises_only_s3autherror(view: RequestView, now: dt.datetime,
                                              secret: str) -> None:
    count("sigv4")
    detect, _ = only((), "detect_sigv4", detect_sigv4, view)
    auth, _ = only(S3AuthError, "parse_sigv4", parse_sigv4, view, now)
    if auth is None:
        return
    # a parsed header is internally consistent
    assert auth.date == auth.amz_date[:8]
    assert auth.service == "s3" and "host" in auth.signed_headers
    assert len(auth.signature) == 64
    only((), "canonical_request", canonical_request, view, auth)
    key, err = only(S3AuthError, "verify_sigv4", verify_sigv4, view, auth, secret)
    # a random signature never verifies (2^-256); the error is SignatureDoesNotMatch
    assert key is None and err is not None and err.code == "SignatureDoesNotMatch", (key, err)


@FUZZ
@given(view=request_views("v2"), now=nows, secret=noisy)
def test_sigv2_parser_raises_only_s3autherror(view: RequestView, now: dt.datetime,
                                              secret: str) -> None:
    count("sigv2")
    only((), "detect_sigv2", detect_sigv2, view)
    auth, _ = only(S3AuthError, "parse_sigv2", parse_sigv2, view, now)
    if auth is None:
        return
    assert auth.access_key and auth.signature
    only((), "canonical_resource", canonical_resource, view, "bkt")
    _, err = only(S3AuthError, "verify_sigv2", verify_sigv2, view, auth, secret,
                  virtual_bucket=None)
    assert err is not None and err.code == "SignatureDoesNotMatch", err


# -- aws-chunked ----------------------------------------------------------------------------------

AMZ_DATE = "20240501T120000Z"
SCOPE = "20240501/lon1/s3/aws4_request"
SEED = "5eed" * 16
KEY = hmac.new(b"k", b"k", hashlib.sha256).digest()
EMPTY = hashlib.sha256(b"").hexdigest()


def encode_chunked(payload: bytes, size: int, signed: bool,
                   trailers: list[tuple[str, str]]) -> bytes:
    """Reference aws-chunked encoder (SigV4 streaming spec), signed or not, with trailers."""
    out = bytearray()
    prev = SEED
    pieces = [payload[i:i + size] for i in range(0, len(payload), size)] + [b""]
    for piece in pieces:
        if signed:
            sts = "\n".join(["AWS4-HMAC-SHA256-PAYLOAD", AMZ_DATE, SCOPE, prev, EMPTY,
                             hashlib.sha256(piece).hexdigest()])
            prev = hmac.new(KEY, sts.encode(), hashlib.sha256).hexdigest()
            out += b"%x;chunk-signature=%s\r\n" % (len(piece), prev.encode())
        else:
            out += b"%x\r\n" % len(piece)
        if piece:
            out += piece + b"\r\n"
    lines = [f"{k}:{v}".encode() for k, v in trailers]
    out += b"".join(line + b"\r\n" for line in lines)
    if signed and trailers:
        canonical = b"".join(line + b"\n" for line in lines)
        sts = "\n".join(["AWS4-HMAC-SHA256-TRAILER", AMZ_DATE, SCOPE, prev,
                         hashlib.sha256(canonical).hexdigest()])
        sig = hmac.new(KEY, sts.encode(), hashlib.sha256).hexdigest()
        out += b"x-amz-trailer-signature:%s\r\n" % sig.encode()
    out += b"\r\n"
    return bytes(out)


def split_at(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({c % (len(data) + 1) for c in cuts})
    out, last = [], 0
    for p in points:
        out.append(data[last:p])
        last = p
    out.append(data[last:])
    return out


def run_decoder(decoder: ChunkedDecoder, pieces: list[bytes]) -> tuple[bytes, S3AuthError | None]:
    """Feed every piece; returns (decoded bytes, the protocol error if one was raised)."""
    out = bytearray()
    fed = 0
    for piece in pieces:
        fed += len(piece)
        got, err = only(S3AuthError, "ChunkedDecoder.feed", decoder.feed, piece)
        if err is not None:
            # a failed decoder stays failed, with the same error
            again, err2 = only(S3AuthError, "ChunkedDecoder.feed", decoder.feed, b"x")
            assert err2 is err, (err, err2)
            return bytes(out), err
        out += b"".join(got)
        assert len(out) <= fed, "decoder returned more bytes than it was fed"
        assert decoder.decoded_length == len(out)
    _, err = only(S3AuthError, "ChunkedDecoder.finish", decoder.finish)
    return bytes(out), err


def decoder(signed: bool, expect_trailer: bool, max_chunk: int = 1 << 20) -> ChunkedDecoder:
    return ChunkedDecoder(signing_key=KEY if signed else None,
                          seed_signature=SEED if signed else None, amz_date=AMZ_DATE,
                          scope=SCOPE, expect_trailer=expect_trailer, max_chunk_size=max_chunk)


@FUZZ
@given(data=st.binary(max_size=600), cuts=st.lists(st.integers(0, 10**6), max_size=8),
       signed=st.booleans(), trailer=st.booleans(), max_chunk=st.integers(0, 64))
def test_chunked_decoder_random_bytes(data: bytes, cuts: list[int], signed: bool,
                                      trailer: bool, max_chunk: int) -> None:
    count("chunked-random")
    out, _err = run_decoder(decoder(signed, trailer, max_chunk), split_at(data, cuts))
    assert len(out) <= len(data)
    if signed:
        assert out == b"", "random bytes can never carry a valid chunk signature"


TRAILERS = st.lists(st.tuples(st.sampled_from(["x-amz-checksum-crc32", "x-amz-meta-a", "a"]),
                              st.text("ABCabc0123+/=", max_size=12)),
                    max_size=2, unique_by=lambda t: t[0])


@FUZZ
@given(payload=st.binary(max_size=300), size=st.integers(1, 70), signed=st.booleans(),
       trailers=TRAILERS, cuts=st.lists(st.integers(0, 10**6), max_size=6),
       flips=st.lists(st.tuples(st.integers(0, 10**6), st.integers(1, 255)), max_size=3),
       cut_tail=st.integers(0, 5))
@example(payload=b"hello", size=2, signed=True, trailers=[], cuts=[], flips=[], cut_tail=0)
def test_chunked_decoder_mutated_encodings(payload: bytes, size: int, signed: bool,
                                           trailers: list[tuple[str, str]], cuts: list[int],
                                           flips: list[tuple[int, int]],
                                           cut_tail: int) -> None:
    """A valid encoding decodes to the payload; a mutated one errors or (signed) never yields
    a byte that was not signed: the output is always a prefix of the payload."""
    count("chunked-mutated")
    encoded = bytearray(encode_chunked(payload, size, signed, trailers))
    for pos, xor in flips:
        encoded[pos % len(encoded)] ^= xor
    if cut_tail:
        del encoded[-cut_tail:]
    mutated = bool(flips) or bool(cut_tail)
    out, err = run_decoder(decoder(signed, bool(trailers)), split_at(bytes(encoded), cuts))
    if not mutated:
        assert err is None, err
        assert out == payload
    if signed:
        assert payload.startswith(out), "signed aws-chunked released unsigned bytes"


# -- XML ------------------------------------------------------------------------------------------

@st.composite
def xml_documents(draw):  # type: ignore[no-untyped-def]
    """Nearly valid S3 request documents with DTDs, entities, namespaces, junk spliced in."""
    root = draw(st.sampled_from(["Delete", "CompleteMultipartUpload", "AccessControlPolicy",
                                 "Tagging", "CreateBucketConfiguration", "x:Delete", "a"]))
    leaf_tags = st.sampled_from(["Key", "PartNumber", "ETag", "Value", "Quiet", "URI",
                                 "Permission", "ChecksumCRC32", "VersionId"])
    leaf_text = st.sampled_from(["1", "²", "9" * 50, "-1", " 7 ", "&amp;", "&#0;", "&#x10FFFF;",
                                 "&ent;", "<![CDATA[x]]>", "READ",
                                 "http://acs.amazonaws.com/groups/global/AllUsers"]) | st.text(
        st.characters(codec="utf-8", exclude_categories=("Cs",), exclude_characters="<&"),
        max_size=10)

    def leaf() -> str:
        tag = draw(leaf_tags)
        return f"<{tag}>{draw(leaf_text)}</{tag}>"

    # children the root's operation reads (most of the time), or any
    fitting = {"Delete": ["Object"], "CompleteMultipartUpload": ["Part"],
               "AccessControlPolicy": ["AccessControlList><Grant", "Grant"],
               "Tagging": ["TagSet><Tag", "Tag"]}.get(root, ["Object"])
    groups = []
    for _ in range(draw(st.integers(0, 4))):
        wrapper = draw(st.sampled_from(fitting) | st.sampled_from(
            ["Object", "Part", "Tag", "Grant", "TagSet", "AccessControlList", "Grantee"]))
        inner = "".join(leaf() for _ in range(draw(st.integers(0, 3))))
        opened = wrapper.split("><")
        groups.append(f"<{wrapper}>{inner}" + "".join(f"</{t}>" for t in reversed(opened)))
    ns = draw(st.sampled_from(["", ' xmlns="http://s3.amazonaws.com/doc/2006-03-01/"',
                               ' xmlns:x="urn:x"', ' a="1" a="2"']))
    body = f"<{root}{ns}>{''.join(groups)}</{root.split(':')[-1] if ns else root}>"
    prolog = draw(st.sampled_from([
        "", '<?xml version="1.0" encoding="UTF-8"?>', '<?xml version="1.1"?>',
        '<?xml version="1.0" encoding="UTF-16"?>', '<?xml version="1.0" encoding="bogus"?>',
        '<!DOCTYPE d [<!ENTITY ent SYSTEM "file:///etc/passwd">]>',
        '<!DOCTYPE d [<!ENTITY ent "x"><!ENTITY e2 "&ent;&ent;">]>',
        '<!DOCTYPE d SYSTEM "http://127.0.0.1:1/dtd">',
        '<!DOCTYPE d [<!ENTITY % p SYSTEM "file:///etc/passwd"> %p;]>',
        "<?pi x?>", "<!-- c -->"]))
    text = prolog + body
    if draw(st.booleans()):  # splice junk somewhere
        pos = draw(st.integers(0, len(text)))
        text = text[:pos] + draw(st.sampled_from(["<", "&", "]]>", "\x00", "\ufffe", ""])
                                 | noisy) + text[pos:]
    encoding = draw(st.sampled_from(["utf-8", "utf-16", "latin-1"]))
    return text.encode(encoding, errors="replace")


xml_bodies = st.one_of(st.binary(max_size=300), noisy.map(str.encode), xml_documents())


@FUZZ
@given(body=xml_bodies)
@example(body=b"<a>" * 5000)  # deep nesting, unclosed
@example(body=b"<a>" * 3000 + b"</a>" * 3000)  # deep nesting, well-formed
@example(body=b" " * (MAX_XML_BODY + 1))
def test_xml_parse_raises_only_s3error(body: bytes) -> None:
    count("xml")
    root, err = only(S3Error, "xml.parse", parse_xml, body)
    if err is not None:
        assert err.status == 400 and err.code == "MalformedXML", (err.code, err.status)
        return
    assert root is not None
    assert all("}" not in el.tag for el in root.iter() if isinstance(el.tag, str))
    # a document type declaration is never accepted (XXE, entity expansion)
    stripped = body.lstrip()
    assert not stripped.startswith(b"<!DOCTYPE")


@FUZZ
@given(body=xml_documents())
def test_xml_request_documents_raise_only_s3error(body: bytes) -> None:
    """The operations that read the parsed XML (ACL, tagging, multipart complete) map every
    bad document to a 4xx S3Error (or 501 for an unsupported grant)."""
    count("xml-consumers")
    for name, fn in (("acl_from_xml", acl_from_xml), ("tags_from_xml", tags_from_xml),
                     ("_parse_complete", _parse_complete)):
        _, err = only(S3Error, name, fn, body)
        if err is not None:
            assert 400 <= err.status < 502, (name, err.code, err.status)


# -- operation table ------------------------------------------------------------------------------

QUERY_KEYS = sorted(routing.SUBRESOURCES | {"versionId", "prefix", "max-keys", "marker",
                                            "X-Amz-Signature", "response-content-type", ""})


@FUZZ
@given(method=st.sampled_from(["GET", "PUT", "POST", "DELETE", "HEAD", "OPTIONS", "PATCH",
                               "get"]) | latin1,
       target=st.sampled_from(list(routing.Target)),
       keys=st.sets(st.sampled_from(QUERY_KEYS) | noisy, max_size=5),
       headers=st.dictionaries(st.sampled_from(["x-amz-copy-source", "content-type",
                                                "x-amz-acl"]) | latin1, latin1, max_size=3))
def test_routing_resolve_is_total(method: str, target: routing.Target, keys: set[str],
                                  headers: dict[str, str]) -> None:
    count("routing")
    rule, _ = only((), "routing.resolve", routing.resolve, method, target, keys, headers)
    if rule is None:
        return
    assert isinstance(rule, routing.Rule)
    wanted = "GET" if method == "HEAD" and target is routing.Target.SERVICE else method
    assert rule.method == wanted and rule.target is target
    present = {k for k in keys if k in routing.SUBRESOURCES or k == "versionId"}
    assert rule.needs <= present, f"{rule.op} picked without its sub-resources {rule.needs}"
    extra = present - rule.needs - rule.allows - {"versionId"}
    assert not extra, f"{rule.op} picked although {extra} names another operation"
    if rule.header:
        assert rule.header in headers
    # the first matching rule wins, and a rule with fewer needs never shadows a more specific one
    for earlier in routing.RULES[: routing.RULES.index(rule)]:
        if earlier.method == wanted and earlier.target is target:
            assert not (earlier.needs <= present
                        and not present - earlier.needs - earlier.allows - {"versionId"}
                        and (not earlier.header or earlier.header in headers)), earlier.op


# -- addressing -----------------------------------------------------------------------------------

@FUZZ
@given(host=st.sampled_from(["127.0.0.1:9000", "s3.localhost", "b.s3.localhost:9000",
                             "B.S3.LOCALHOST", "[::1]:9000", "..s3.localhost", ""]) | latin1,
       raw_path=percent_mangled(st.text(st.sampled_from("/ab.%é€😀\\\x00?"), max_size=40))
       | st.text(st.sampled_from("/k%2Fe0"), max_size=60)
       | st.integers(1000, 1100).map(lambda n: "/bkt/" + "k" * n)
       | st.integers(330, 350).map(lambda n: "/bkt/" + "%E2%82%AC" * n),
       s3_domain=st.sampled_from([None, "s3.localhost", "S3.localhost", ""]))
def test_split_target_bounds(host: str, raw_path: str, s3_domain: str | None) -> None:
    count("addressing")
    result, err = only((S3Error, InvalidInput), "split_target", split_target, host, raw_path,
                       s3_domain)
    if err is not None:  # a bad key is a domain error (domain/names: the one place for keys)
        code, status = (err.code, err.status) if isinstance(err, S3Error) \
            else (from_domain(err).code, from_domain(err).status)
        assert status == 400, (code, status)
        return
    bucket, key = result
    if key is not None:
        assert bucket is not None
        assert len(key.encode("utf-8", "surrogatepass")) <= 1024
        assert "\x00" not in key
        assert key != ""
    if bucket is not None:
        assert bucket != ""


# -- listing --------------------------------------------------------------------------------------

# Keys from a small alphabet so prefixes and delimiters collide often: ASCII, SQL LIKE
# metacharacters, multi-byte UTF-8, astral characters and U+10FFFE (U+10FFFF is excluded: see
# test_listing_key_with_max_code_point).
KEY_ALPHABET = st.sampled_from(["a", "b", "/", "%", "_", "\\", "'", "é", "😀", "\x01",
                                "\U0010fffe", "ab", "a/"])
keys_st = st.lists(st.lists(KEY_ALPHABET, min_size=1, max_size=5).map("".join), max_size=25,
                   unique=True)
delims = st.sampled_from(["", "/", "a", "%", "😀", "/a", "é/", "\\"]) | st.lists(
    KEY_ALPHABET, min_size=1, max_size=2).map("".join)
prefixes = st.sampled_from(["", "a", "a/", "%", "_", "😀", "\\"]) | st.lists(
    KEY_ALPHABET, max_size=3).map("".join)

T0 = dt.datetime(2024, 1, 1, tzinfo=dt.UTC)


def fake_fetch(keys: list[str]):  # type: ignore[no-untyped-def]
    """ObjectService.scan over a sorted in-memory list (same contract, same comparisons)."""
    ordered = sorted(keys)  # code-point order == UTF-8 byte order for valid strings

    def fetch(after: str | None, prefix: str, limit: int) -> list[ObjectVersion]:
        if after is not None and after >= prefix:
            i = bisect.bisect_right(ordered, after)
        elif prefix:
            i = bisect.bisect_left(ordered, prefix)
        else:
            i = 0
        return [ObjectVersion("s", k, "b", 0, "e", T0, "ct") for k in ordered[i:i + limit]]

    return fetch


def reference(keys: list[str], prefix: str, delimiter: str, after: str | None
              ) -> list[tuple[str, str]]:
    """S3 semantics by brute force: keys after the marker that start with the prefix, in
    order, each rolled up to its common prefix (prefix + text up to and including the first
    delimiter after the prefix); duplicates merged; an entry equal to the marker (a common
    prefix already returned as NextMarker) is not repeated."""
    out: list[tuple[str, str]] = []
    for k in sorted(keys):
        if not k.startswith(prefix) or (after is not None and k <= after):
            continue
        entry = ("key", k)
        if delimiter:
            idx = k.find(delimiter, len(prefix))
            if idx >= 0:
                entry = ("prefix", k[: idx + len(delimiter)])
        if entry[1] == after or (out and out[-1] == entry):
            continue
        out.append(entry)
    return out


def entries(result) -> list[tuple[str, str]]:  # type: ignore[no-untyped-def]
    """Listing -> ordered entries (objects and prefixes merged in key order)."""
    merged = [("key", o.key) for o in result.objects] + [("prefix", p) for p in result.prefixes]
    return sorted(merged, key=lambda e: e[1])


@LISTING
@given(keys=keys_st, prefix=prefixes, delimiter=delims, max_keys=st.integers(1, 6),
       batch=st.integers(1, 5), data=st.data())
def test_list_keys_matches_reference(keys: list[str], prefix: str, delimiter: str,
                                     max_keys: int, batch: int, data: st.DataObject) -> None:
    count("listing")
    full = reference(keys, prefix, delimiter, None)
    markers = [None, "", prefix] + keys + [e[1] for e in full]
    after = data.draw(st.sampled_from(markers) | prefixes, label="after")
    expected = reference(keys, prefix, delimiter, after)
    result = list_keys(fake_fetch(keys), prefix=prefix, delimiter=delimiter, after=after,
                       max_keys=max_keys, batch=batch)
    got = entries(result)
    assert got == expected[:max_keys]
    assert result.truncated == (len(expected) > max_keys)
    if got:
        assert result.last == got[-1][1]


@LISTING
@given(keys=keys_st, prefix=prefixes, delimiter=delims, max_keys=st.integers(1, 4),
       batch=st.integers(1, 4))
@example(keys=["a/b", "a/c", "a/\U0010fffeb", "b"], prefix="", delimiter="/", max_keys=1,
         batch=1)
@example(keys=["%a", "_b", "a%", "\\x"], prefix="%", delimiter="", max_keys=1, batch=2)
def test_list_keys_paging_visits_everything_once(keys: list[str], prefix: str, delimiter: str,
                                                 max_keys: int, batch: int) -> None:
    """Paging with the returned ``last`` marker (NextMarker / continuation token) yields the
    full listing exactly once, and terminates."""
    count("listing-paging")
    fetch = fake_fetch(keys)
    seen: list[tuple[str, str]] = []
    after: str | None = None
    for _ in range(len(keys) + 2):
        page = list_keys(fetch, prefix=prefix, delimiter=delimiter, after=after,
                         max_keys=max_keys, batch=batch)
        seen += entries(page)
        if not page.truncated:
            break
        assert page.last is not None and page.last != after, "paging made no progress"
        after = page.last
    else:
        pytest.fail("paging did not terminate")
    assert seen == reference(keys, prefix, delimiter, None)


# -- regression tests for bugs the fuzzer found in the pure layer (explicit, deterministic) -------

def test_listing_key_with_max_code_point() -> None:
    # Regression: skip_past() seeks past a common prefix with the sentinel prefix + U+10FFFF,
    # but a key may itself contain U+10FFFF (valid UTF-8): "a/\U0010ffffb" sorts after the
    # sentinel, and the listing once returned the common prefix "a/" max-keys times (paging
    # with NextMarker "a/" never ended). list_keys now skips such keys too.
    keys = ["a/\U0010ffffb", "a/x", "c"]
    result = list_keys(fake_fetch(keys), delimiter="/", max_keys=1000)
    assert entries(result) == [("prefix", "a/"), ("key", "c")], (
        f"listing with a U+10FFFF key returned {len(result.prefixes)} common "
        f"prefixes {result.prefixes[:3]}... instead of ['a/'] (listing.skip_past)")
    # paging one entry at a time ends, and sees each entry once
    seen, after = [], None
    for _ in range(5):
        page = list_keys(fake_fetch(keys), delimiter="/", after=after, max_keys=1)
        seen += entries(page)
        if not page.truncated:
            break
        after = page.last
    assert seen == [("prefix", "a/"), ("key", "c")], seen


def test_listing_max_keys_zero_ignores_prefix() -> None:
    # Regression: list_keys(max_keys=0) once reported truncated=True when any key sorted after
    # the prefix, even if no key starts with it: ListObjects with max-keys=0&prefix=b on a
    # bucket holding only "c" said IsTruncated=true.
    result = list_keys(fake_fetch(["c"]), prefix="b", max_keys=0)
    assert result.truncated is False, (
        "max-keys=0 with a prefix no key has reported IsTruncated=true (listing.list_keys)")
    assert list_keys(fake_fetch(["b1", "c"]), prefix="b", max_keys=0).truncated is True


@pytest.mark.parametrize("date", ["Fri, 31 Dec 9999 23:59:59 -0100",
                                  "Fri, 31 Dec 9999 23:00:00 -2359"])
@pytest.mark.parametrize("sig", ["v4", "v2"])
def test_http_date_near_year_10000_is_a_4xx(sig: str, date: str) -> None:
    # Regression: the Date header was converted to UTC outside the parsers' except clause: a
    # date in year 9999 with a negative offset raised OverflowError ("date value out of
    # range") -> 500 InternalError instead of AccessDenied / RequestTimeTooSkewed.
    if sig == "v4":
        headers = {"authorization": "AWS4-HMAC-SHA256 Credential=AK/99991231/LON1/s3/"
                   "aws4_request, SignedHeaders=host, Signature=" + "a" * 64,
                   "x-amz-content-sha256": "UNSIGNED-PAYLOAD", "date": date}
        fn = parse_sigv4
    else:
        headers = {"authorization": "AWS AK:c2ln", "date": date}
        fn = parse_sigv2
    view = RequestView("GET", "/b/k", "", headers, "h")
    try:
        fn(view, NOW)
    except S3AuthError:
        pass
    except Exception as exc:
        pytest.fail(f"{fn.__name__} raised {type(exc).__name__}: {exc} for "
                    f"Date: {date!r} (a 500); expected an S3AuthError")


@pytest.mark.parametrize("query", [
    "AWSAccessKeyId=AK&Signature=c2ln&Expires=" + "9" * 5000,
    "X-Amz-Algorithm=AWS4-HMAC-SHA256&X-Amz-Credential=AK%2F20240501%2FLON1%2Fs3%2F"
    "aws4_request&X-Amz-Date=20240501T120000Z&X-Amz-SignedHeaders=host&X-Amz-Signature="
    + "a" * 64 + "&X-Amz-Expires=" + "9" * 5000,
])
def test_presign_expires_with_5000_digits(query: str) -> None:
    # Regression: int() of an Expires / X-Amz-Expires longer than 4300 digits raised
    # ValueError (Python's int max_str_digits) -> 500; the parsers now bound the length first.
    view = RequestView("GET", "/b/k", query, {}, "h")
    fn = parse_sigv2 if query.startswith("AWS") else parse_sigv4
    try:
        fn(view, NOW)
    except S3AuthError:
        pass
    except Exception as exc:
        pytest.fail(f"{fn.__name__} raised {type(exc).__name__}: "
                    f"{str(exc)[:80]} for a 5000-digit expiry (a 500)")


def test_split_target_encoded_slash_in_bucket() -> None:
    # regression guard: split_target once percent-decoded the whole path before splitting
    # bucket from key, so "/bkt%2Fknown" addressed object "known" in bucket "bkt" (fixed in
    # 800116a). A bucket segment containing %2F is an invalid bucket name.
    try:
        result = split_target("127.0.0.1:9000", "/bkt%2Fknown", None)
    except S3Error as exc:
        assert exc.code == "InvalidBucketName", exc.code
        return
    assert result != ("bkt", "known"), (
        "'/bkt%2Fknown' resolved to bucket 'bkt', key 'known' "
        "(s3/addressing.split_target decodes before splitting)")


@pytest.mark.parametrize("decl", ['<?xml version="1.0" encoding="bogus"?>',
                                  '<?xml version="1.0" encoding="b"?>'])
def test_xml_unknown_encoding_is_malformed_xml(decl: str) -> None:
    # Regression (found by the fuzzer): an XML declaration naming an unknown encoding makes
    # expat raise LookupError, which s3/xml.parse once let through -> 500 InternalError on
    # DeleteObjects, CompleteMultipartUpload, Put*Acl, PutObjectTagging and CreateBucket.
    body = (decl + "<Delete><Object><Key>k</Key></Object></Delete>").encode()
    try:
        parse_xml(body)
    except S3Error as exc:
        assert exc.code == "MalformedXML"
    except Exception as exc:
        pytest.fail(f"xml.parse raised {type(exc).__name__}: {exc} for {decl!r} "
                    "(a 500); expected S3Error MalformedXML")

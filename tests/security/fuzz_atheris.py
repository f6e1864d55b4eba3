"""Optional coverage-guided fuzzing of the S3 parsers with atheris (not part of the test run).

atheris is not a dependency of the project; where it installs (``pip install atheris``, wheels
exist for CPython 3.11 on x86-64 Linux) run one target at a time, e.g.::

    .venv/bin/python -m tests.security.fuzz_atheris xml -atheris_runs=200000
    .venv/bin/python -m tests.security.fuzz_atheris sigv4 -max_total_time=300

Targets: xml, xml-docs, sigv4, sigv2, chunked, addressing. A target crashes (and atheris saves
the input) when anything but the module's protocol error escapes: nothing is excused.
"""

from __future__ import annotations

import datetime as dt
import sys
from collections.abc import Callable

from objectstore.s3.addressing import split_target
from objectstore.s3.auth_errors import S3AuthError
from objectstore.s3.chunked import ChunkedDecoder
from objectstore.s3.errors import S3Error
from objectstore.s3.handlers.common import acl_from_xml
from objectstore.s3.handlers.multipart import _parse_complete
from objectstore.s3.handlers.tagging import tags_from_xml
from objectstore.s3.request_view import RequestView
from objectstore.s3.sigv2 import parse_sigv2, verify_sigv2
from objectstore.s3.sigv4 import parse_sigv4, verify_sigv4
from objectstore.s3.xml import parse as parse_xml

NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def guarded(allowed: type[BaseException], fn: Callable[[], object]) -> object:
    try:
        return fn()
    except allowed:
        return None


def _view(fdp, sig: str) -> RequestView:  # type: ignore[no-untyped-def]
    headers: dict[str, str] = {}
    if fdp.ConsumeBool():
        prefix = "AWS4-HMAC-SHA256 " if sig == "v4" else "AWS "
        headers["authorization"] = prefix + fdp.ConsumeUnicodeNoSurrogates(120)
    for name in ("x-amz-date", "date", "x-amz-content-sha256", "x-amz-meta-a", "content-md5"):
        if fdp.ConsumeBool():
            headers[name] = fdp.ConsumeUnicodeNoSurrogates(60)
    method = fdp.PickValueInList(["GET", "PUT", "POST", "DELETE", "HEAD"])
    raw_path = fdp.ConsumeUnicodeNoSurrogates(60)
    raw_query = fdp.ConsumeUnicodeNoSurrogates(200)
    return RequestView(method, raw_path, raw_query, headers, "127.0.0.1:9000")


def target_xml(data: bytes) -> None:
    guarded(S3Error, lambda: parse_xml(data))


def target_xml_docs(data: bytes) -> None:
    for fn in (acl_from_xml, tags_from_xml, _parse_complete):
        guarded(S3Error, lambda fn=fn: fn(data))  # type: ignore[misc]


def target_sigv4(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    view = _view(fdp, "v4")
    auth = guarded(S3AuthError, lambda: parse_sigv4(view, NOW))
    if auth is not None:
        guarded(S3AuthError, lambda: verify_sigv4(view, auth, "secret"))  # type: ignore


def target_sigv2(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    view = _view(fdp, "v2")
    auth = guarded(S3AuthError, lambda: parse_sigv2(view, NOW))
    if auth is not None:
        guarded(S3AuthError, lambda: verify_sigv2(view, auth, "secret"))  # type: ignore


def target_chunked(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    signed = fdp.ConsumeBool()
    decoder = ChunkedDecoder(signing_key=b"k" * 32 if signed else None,
                             seed_signature="5eed" * 16 if signed else None,
                             amz_date="20240501T120000Z", scope="20240501/lon1/s3/aws4_request",
                             expect_trailer=fdp.ConsumeBool(),
                             max_chunk_size=fdp.ConsumeIntInRange(0, 1 << 20))
    fed = out = 0
    while fdp.remaining_bytes():
        piece = fdp.ConsumeBytes(fdp.ConsumeIntInRange(1, 64))
        fed += len(piece)
        got = guarded(S3AuthError, lambda piece=piece: decoder.feed(piece))  # type: ignore
        if got is None:
            return
        out += sum(len(p) for p in got)  # type: ignore[attr-defined]
        assert out <= fed, "decoder returned more bytes than it was fed"
    guarded(S3AuthError, decoder.finish)


def target_addressing(data: bytes) -> None:
    import atheris

    fdp = atheris.FuzzedDataProvider(data)
    host = fdp.ConsumeUnicodeNoSurrogates(40)
    domain = fdp.PickValueInList([None, "s3.localhost"])
    path = fdp.ConsumeUnicodeNoSurrogates(1200)
    result = guarded(S3Error, lambda: split_target(host, path, domain))
    if result is not None:
        _bucket, key = result  # type: ignore[misc]
        if key is not None:
            assert len(key.encode("utf-8", "surrogatepass")) <= 1024 and "\x00" not in key


TARGETS = {"xml": target_xml, "xml-docs": target_xml_docs, "sigv4": target_sigv4,
           "sigv2": target_sigv2, "chunked": target_chunked, "addressing": target_addressing}


def main() -> None:
    try:
        import atheris
    except ImportError:
        sys.exit("atheris is not installed (optional): pip install atheris")
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: python -m tests.security.fuzz_atheris {{{','.join(TARGETS)}}} "
                 "[libFuzzer options]")
    name = sys.argv.pop(1)
    atheris.instrument_all()
    atheris.Setup(sys.argv, TARGETS[name])
    atheris.Fuzz()


if __name__ == "__main__":
    main()

"""One S3 error type: the code table, the deprecated names, and the rendered error document."""

from __future__ import annotations

import re
from pathlib import Path

import defusedxml.ElementTree as SafeET
import pytest

from objectstore.s3 import auth_errors
from objectstore.s3.errors import STATUS_BY_CODE, S3Error, s3_error
from objectstore.s3.xml import error_document

S3_DIR = Path(__file__).parents[3] / "src" / "objectstore" / "s3"


def test_s3_error_takes_its_status_from_the_table() -> None:
    for code, status in STATUS_BY_CODE.items():
        error = s3_error(code, "msg", details={"K": "v"})
        assert (error.code, error.message, error.status, error.extra) == (
            code, "msg", status, {"K": "v"})
    assert s3_error("IncompleteBody", "x").status == 400
    assert s3_error("RequestTimeTooSkewed", "x").status == 403
    assert s3_error("MissingContentLength", "x").status == 411
    with pytest.raises(KeyError):
        s3_error("NoSuchCode", "x")


def test_constructor_unchanged() -> None:
    assert S3Error("InvalidDigest", "m").status == 400
    error = S3Error("AccessDenied", "m", 403, {"A": "b"})
    assert (error.code, error.message, error.status, error.extra) == ("AccessDenied", "m", 403,
                                                                     {"A": "b"})
    assert str(error) == "m"


def test_every_code_the_s3_modules_raise_is_in_the_table() -> None:
    """``s3_error("Code", ...)`` with a code the table lacks would be a 500 at run time."""
    used = set()
    for path in S3_DIR.rglob("*.py"):
        used |= set(re.findall(r'\bs3_error\(\s*"(\w+)"', path.read_text()))
    assert used, "no s3_error calls found"
    assert used <= set(STATUS_BY_CODE), used - set(STATUS_BY_CODE)


def test_auth_error_is_the_same_type() -> None:
    assert auth_errors.S3AuthError is S3Error
    assert auth_errors.s3_error is s3_error


def test_error_document_escapes_details() -> None:
    sts = "AWS4-HMAC-SHA256\n20240501T120000Z\n20240501/lon1/s3/aws4_request\nabc"
    canonical = "GET\n/b/<k>&\"'\nx=%3C\nhost:h\nx-amz-meta-a:</CanonicalRequest><Evil/>\n\nhost\nU"
    body = error_document("SignatureDoesNotMatch", "msg & <more>", "/b/<k>", "RID",
                          {"StringToSign": sts, "CanonicalRequest": canonical,
                           "Control": "a\x01b\x7f"})
    root = SafeET.fromstring(body)
    assert [child.tag for child in root] == ["Code", "Message", "StringToSign",
                                             "CanonicalRequest", "Control", "Resource",
                                             "RequestId"]
    assert root.findtext("StringToSign") == sts
    assert root.findtext("CanonicalRequest") == canonical
    assert root.findtext("Message") == "msg & <more>"
    assert root.findtext("Resource") == "/b/<k>"
    assert root.find("Evil") is None
    assert root.findtext("Control") == "a%01b\x7f"  # no character XML 1.0 cannot carry

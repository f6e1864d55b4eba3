"""The console's SigV4 signer against botocore's, and the connect snippets."""

from __future__ import annotations

from datetime import UTC, datetime
from urllib.parse import parse_qs, urlsplit

from botocore.auth import S3SigV4Auth, S3SigV4QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

from objectstore.console.connect import snippets
from objectstore.console.sigv4 import UNSIGNED, object_path, presign, sign_headers

AK, SK = "AKIAEXAMPLE000000000", "s" * 40


def _when(stamp: str) -> datetime:
    return datetime.strptime(stamp, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)


def test_header_signature_matches_botocore() -> None:
    key = "dir/<b> c%.txt ü"
    path = object_path("bucket-a", key)
    # over https botocore leaves the payload unsigned, as the console does
    url = "https://127.0.0.1:9000" + path + "?partNumber=2&uploadId=a%2Bb"
    req = AWSRequest(method="PUT", url=url)
    auth = S3SigV4Auth(Credentials(AK, SK), "s3", "LON1")
    auth._should_sha256_sign_payload = lambda request: False  # type: ignore[method-assign]
    auth.add_auth(req)
    ours = sign_headers("PUT", "https://127.0.0.1:9000", path,
                        {"partNumber": "2", "uploadId": "a+b"}, AK, SK, "LON1",
                        now=_when(req.headers["X-Amz-Date"]))
    assert req.headers["x-amz-content-sha256"] == UNSIGNED
    assert ours["authorization"] == req.headers["Authorization"]


def test_presigned_url_matches_botocore() -> None:
    path = object_path("bucket-a", "a b/c+d")
    req = AWSRequest(method="GET", url="http://127.0.0.1:9000" + path)
    S3SigV4QueryAuth(Credentials(AK, SK), "s3", "LON1", expires=3600).add_auth(req)
    theirs = parse_qs(urlsplit(req.url).query)
    ours = presign("GET", "http://127.0.0.1:9000", path, AK, SK, "LON1", 3600,
                   now=_when(theirs["X-Amz-Date"][0]))
    mine = parse_qs(urlsplit(ours).query)
    assert mine["X-Amz-Signature"] == theirs["X-Amz-Signature"]
    assert urlsplit(ours).path == path


def test_snippets_carry_the_endpoint_and_keys() -> None:
    out = {s.id: s.text for s in snippets("http://10.0.0.5:9000", "LON1", AK, SK)}
    assert set(out) == {"env", "s3cfg", "rclone", "aws", "boto3"}
    for text in out.values():
        assert AK in text and SK in text
    assert "AWS_ENDPOINT_URL=http://10.0.0.5:9000" in out["env"]
    assert "host_base = 10.0.0.5:9000" in out["s3cfg"] and "use_https = False" in out["s3cfg"]
    assert "endpoint = http://10.0.0.5:9000" in out["rclone"]
    assert 'endpoint_url="http://10.0.0.5:9000"' in out["boto3"]
    compile(out["boto3"], "boto3-snippet", "exec")  # the Python snippet is valid Python

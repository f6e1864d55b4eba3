"""Test clients make exactly one attempt: a 500 must reach the test, not be retried away."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import botocore.exceptions
import pytest

from tests.support.clients import boto_client


class _Always500(BaseHTTPRequestHandler):
    hits = 0

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        type(self).hits += 1
        body = b"<Error><Code>InternalError</Code><Message>x</Message></Error>"
        self.send_response(500)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def failing_url() -> Iterator[str]:
    _Always500.hits = 0
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Always500)
    t = threading.Thread(target=httpd.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()


def test_plain_boto3_client_makes_one_attempt(failing_url: str) -> None:
    s3 = boto3.client("s3", endpoint_url=failing_url, region_name="us-east-1",
                      aws_access_key_id="AK", aws_secret_access_key="SK")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket="b", Key="k")
    assert _Always500.hits == 1


def test_support_client_makes_one_attempt(failing_url: str) -> None:
    s3 = boto_client(failing_url, "AK", "SK")
    with pytest.raises(botocore.exceptions.ClientError):
        s3.get_object(Bucket="b", Key="k")
    assert _Always500.hits == 1

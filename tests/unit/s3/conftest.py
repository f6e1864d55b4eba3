"""Shared fixtures for the pure S3 auth tests: botocore is the oracle for every signature.

Helpers are exposed as (session-scoped) fixtures rather than imported from this module, since
several ``conftest`` modules may exist in the test tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
from collections.abc import Callable, Iterator
from typing import Any
from unittest import mock
from urllib.parse import urlsplit

import boto3
import pytest
from botocore.awsrequest import AWSPreparedRequest, AWSRequest, AWSResponse
from botocore.config import Config

from objectstore.s3.request_view import RequestView

ACCESS_KEY = "AKIDEXAMPLE"
SECRET = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"
NOW = dt.datetime(2024, 5, 1, 12, 0, 0, tzinfo=dt.UTC)


def view_of(prepared: AWSPreparedRequest | AWSRequest) -> RequestView:
    """A RequestView as the server would see the request botocore is about to send."""
    if isinstance(prepared, AWSRequest):
        prepared = prepared.prepare()
    url = urlsplit(prepared.url)
    headers: dict[str, str] = {}
    for name, value in prepared.headers.items():
        text = value.decode("utf-8") if isinstance(value, bytes) else str(value)
        lname = name.lower()
        headers[lname] = f"{headers[lname]},{text}" if lname in headers else text
    headers.setdefault("host", url.netloc)
    return RequestView(prepared.method, url.path, url.query, headers, headers["host"])


@contextlib.contextmanager
def frozen_botocore_clock(when: dt.datetime = NOW) -> Iterator[None]:
    """Patch the signing clock of botocore's Python signers and of its CRT-based signers."""
    aware = when.astimezone(dt.UTC)
    with (
        mock.patch("botocore.auth.get_current_datetime", return_value=aware.replace(tzinfo=None)),
        mock.patch("botocore.crt.auth.get_current_datetime", return_value=aware),
    ):
        yield


class Captured:
    """A boto3 S3 client whose requests are captured (signed) instead of sent."""

    def __init__(
        self,
        endpoint: str,
        *,
        region_name: str = "lon1",
        access_key: str = ACCESS_KEY,
        secret: str = SECRET,
        **config: Any,
    ) -> None:
        self.requests: list[AWSPreparedRequest] = []
        self.client = boto3.client(
            "s3",
            endpoint_url=endpoint,
            region_name=region_name,
            aws_access_key_id=access_key,
            aws_secret_access_key=secret,
            config=Config(s3={"addressing_style": "path"}, retries={"total_max_attempts": 1},
                          **config),
        )
        self.client.meta.events.register("before-send.s3", self._capture)

    def _capture(self, request: AWSPreparedRequest, **_: Any) -> AWSResponse:
        self.requests.append(request)
        return AWSResponse(request.url, 200, {}, _EmptyRaw())

    def call(self, operation: str, **params: Any) -> AWSPreparedRequest:
        # The fake empty response may not parse for every operation: only the request matters.
        with frozen_botocore_clock(), contextlib.suppress(Exception):
            getattr(self.client, operation)(**params)
        return self.requests[-1]


class _EmptyRaw:
    def stream(self, *_: Any, **__: Any) -> Iterator[bytes]:
        yield b""

    def read(self, *_: Any, **__: Any) -> bytes:
        return b""


@pytest.fixture(scope="session")
def s3_capture() -> Callable[..., Captured]:
    """Factory: ``s3_capture(endpoint, **config).call("put_object", ...)`` -> prepared request."""
    return Captured


@pytest.fixture(scope="session")
def request_view_of() -> Callable[[AWSPreparedRequest | AWSRequest], RequestView]:
    return view_of


@pytest.fixture(scope="session")
def botocore_clock() -> Callable[..., contextlib.AbstractContextManager[None]]:
    """``with botocore_clock(when): signer.add_auth(request)`` signs at a fixed time."""
    return frozen_botocore_clock

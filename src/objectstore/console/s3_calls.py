"""The console's S3 calls to this server's S3 plane, signed with the store owner's keys.

Object writes (upload, multipart, delete, ACL) and downloads go through the S3 API rather
than the object services, which keeps the console independent of how objects are stored and
subject to the same quota, suspension and permission checks as any other S3 client.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from xml.sax.saxutils import escape

import httpx

from ..config import Settings
from ..domain.models import Credential
from ..domain.parsing import parse_xml
from .sigv4 import object_path, presign, sign_headers

_NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


class S3CallFailed(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message


def internal_url(settings: Settings) -> str:
    """Where this process reaches its own S3 listener."""
    host = settings.host
    if host in ("0.0.0.0", ""):  # noqa: S104 - mapping a wildcard bind to loopback
        host = "127.0.0.1"
    elif host == "::":
        host = "[::1]"
    elif ":" in host and not host.startswith("["):
        host = f"[{host}]"
    scheme = "https" if settings.tls_cert else "http"
    return f"{scheme}://{host}:{settings.s3_port}"


def _find(root: object, name: str) -> str:
    for tag in (name, _NS + name):
        el = root.find(tag)  # type: ignore[attr-defined]
        if el is not None and el.text:
            return str(el.text)
    return ""


def _failure(resp: httpx.Response, body: bytes) -> S3CallFailed:
    code, message = "", ""
    try:
        root = parse_xml(body)
        code, message = _find(root, "Code"), _find(root, "Message")
    except Exception:  # noqa: S110 - not XML: fall back on the status line
        pass
    return S3CallFailed(resp.status_code, code or str(resp.status_code),
                        message or code or f"S3 answered {resp.status_code}")


@dataclass
class Download:
    response: httpx.Response
    client: httpx.AsyncClient

    async def chunks(self) -> AsyncIterator[bytes]:
        try:
            async for chunk in self.response.aiter_bytes(1024 * 1024):
                yield chunk
        finally:
            await self.response.aclose()
            await self.client.aclose()


class S3Calls:
    """S3 requests on one bucket with one credential."""

    def __init__(self, settings: Settings, bucket: str, region: str, cred: Credential) -> None:
        self.base = internal_url(settings)
        self.public = settings.resolved_public_s3_url()
        self.bucket, self.region, self.cred = bucket, region, cred

    def _client(self) -> httpx.AsyncClient:
        return httpx.AsyncClient(base_url=self.base, timeout=httpx.Timeout(60.0),
                                 verify=False)  # noqa: S501 - our own loopback listener

    def _headers(self, method: str, path: str, params: dict[str, str],
                 extra: dict[str, str] | None = None) -> dict[str, str]:
        return sign_headers(method, self.base, path, params, self.cred.access_key_id,
                            self.cred.secret_access_key, self.region, extra=extra)

    async def _call(self, method: str, key: str, params: dict[str, str] | None = None,
                    content: bytes | AsyncIterator[bytes] = b"",
                    extra: dict[str, str] | None = None) -> httpx.Response:
        path = object_path(self.bucket, key)
        params = params or {}
        headers = self._headers(method, path, params, extra)
        async with self._client() as client:
            req = client.build_request(method, path, params=params, headers=headers,
                                       content=content)
            # the query as signed (httpx would encode some characters differently)
            req.url = req.url.copy_with(query=_query_bytes(params))
            resp = await client.send(req)
        if resp.status_code >= 300:
            raise _failure(resp, resp.content)
        return resp

    async def put(self, key: str, body: AsyncIterator[bytes] | bytes, length: int | None,
                  content_type: str) -> str:
        extra = {"content-type": content_type}
        if length is not None:
            extra["content-length"] = str(length)
        resp = await self._call("PUT", key, content=body, extra=extra)
        return str(resp.headers.get("etag", ""))

    async def delete(self, key: str, version_id: str | None = None) -> None:
        """Delete ``key`` (a delete marker when versioning is on) or one version of it."""
        await self._call("DELETE", key, {"versionId": version_id} if version_id else None)

    async def set_acl(self, key: str, acl: str) -> None:
        await self._call("PUT", key, {"acl": ""}, extra={"x-amz-acl": acl})

    async def start_multipart(self, key: str, content_type: str) -> str:
        resp = await self._call("POST", key, {"uploads": ""},
                                extra={"content-type": content_type})
        upload_id = _find(parse_xml(resp.content), "UploadId")
        if not upload_id:
            raise S3CallFailed(502, "InternalError", "S3 returned no upload id")
        return upload_id

    async def upload_part(self, key: str, upload_id: str, number: int,
                          body: AsyncIterator[bytes] | bytes, length: int | None) -> str:
        extra = {"content-length": str(length)} if length is not None else None
        resp = await self._call("PUT", key, {"partNumber": str(number), "uploadId": upload_id},
                                content=body, extra=extra)
        return str(resp.headers.get("etag", ""))

    async def complete_multipart(self, key: str, upload_id: str,
                                 parts: list[tuple[int, str]]) -> None:
        xml = "<CompleteMultipartUpload>" + "".join(
            f"<Part><PartNumber>{n}</PartNumber><ETag>{escape(etag)}</ETag></Part>"
            for n, etag in parts) + "</CompleteMultipartUpload>"
        resp = await self._call("POST", key, {"uploadId": upload_id}, content=xml.encode(),
                                extra={"content-type": "application/xml"})
        if b"<Error>" in resp.content:  # S3 may report a failed completion with 200
            raise _failure(resp, resp.content)

    async def abort_multipart(self, key: str, upload_id: str) -> None:
        await self._call("DELETE", key, {"uploadId": upload_id})

    async def open(self, key: str, version_id: str | None = None) -> Download:
        path = object_path(self.bucket, key)
        params = {"versionId": version_id} if version_id else {}
        client = self._client()
        req = client.build_request("GET", path, headers=self._headers("GET", path, params))
        if params:
            req.url = req.url.copy_with(query=_query_bytes(params))
        resp = await client.send(req, stream=True)
        if resp.status_code >= 300:
            body = await resp.aread()
            await resp.aclose()
            await client.aclose()
            raise _failure(resp, body)
        return Download(resp, client)

    def share_url(self, key: str, expires_s: int) -> str:
        """A presigned GET on the public S3 URL."""
        return presign("GET", self.public, object_path(self.bucket, key),
                       self.cred.access_key_id, self.cred.secret_access_key, self.region,
                       expires_s)

    def public_url(self, key: str) -> str:
        return self.public + object_path(self.bucket, key)


def _query_bytes(params: dict[str, str]) -> bytes:
    from urllib.parse import quote

    return "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}"
                    for k, v in sorted(params.items())).encode()

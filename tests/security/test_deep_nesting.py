"""Issue 20.7: over-deep documents are refused with a 4xx in the plane's format, never a 500.

A 10 KB JSON body 5,000 levels deep raised RecursionError (500) in the management API and
in PutBucketPolicy. Every parser (JSON bodies of the management API, bucket policies, POST
form policies, SSE-KMS contexts, XML bodies, form bodies, console forms) goes through
``objectstore.domain.parsing``.
"""

from __future__ import annotations

import base64
import re

import httpx

from tests.security.canary import Canaries
from tests.security.helpers import REGION, Store
from tests.support.server import RunningServer

DEEP_JSON = b"[" * 5000 + b"]" * 5000  # 10 KB
DEEP_OBJECT = b'{"a":' * 3000 + b"1" + b"}" * 3000


def _mgmt(srv: RunningServer, body: bytes, ctype: str = "application/json") -> httpx.Response:
    with srv.api() as api:
        return api.post("/v2/objectstores", content=body,
                        headers={"content-type": ctype}, params={"region": REGION})


def test_management_json_too_deep(security_server: RunningServer, canaries: Canaries) -> None:
    for body in (DEEP_JSON, b'{"name": ' + DEEP_JSON + b"}", DEEP_OBJECT):
        r = _mgmt(security_server, body)
        assert r.status_code == 400, (r.status_code, r.text[:300])
        doc = r.json()
        assert doc["code"] == "invalid_json", doc
        assert "deeper than" in doc["reason"], doc
    # ordinary nesting still parses (and then fails validation as an ordinary 4xx)
    r = _mgmt(security_server, b'{"name": [[[[1]]]]}')
    assert 400 <= r.status_code < 500 and "deeper" not in r.text, r.text


def test_management_form_too_many_fields(security_server: RunningServer,
                                         canaries: Canaries) -> None:
    body = "&".join(f"f{i}=x" for i in range(20000)).encode()
    r = _mgmt(security_server, body, "application/x-www-form-urlencoded")
    assert r.status_code in (400, 413), (r.status_code, r.text[:300])
    assert r.json()["code"] in ("invalid_request_body", "request_body_too_large"), r.text


def test_bucket_policy_too_deep(store: Store, canaries: Canaries) -> None:
    raw = store.raw()
    for body in (DEEP_JSON, b'{"Version":"2012-10-17","Statement":' + DEEP_JSON + b"}",
                 DEEP_OBJECT):
        r = raw.send("PUT", f"/{store.name}", "policy", body=body)
        assert r.status == 400 and r.code == "MalformedPolicy", r
    r = raw.send("GET", f"/{store.name}", "policy")
    assert r.status == 404 and r.code == "NoSuchBucketPolicy", r


def test_xml_bodies_too_deep(store: Store, canaries: Canaries) -> None:
    raw = store.raw()
    deep = b"<a>" * 5000 + b"</a>" * 5000
    lifecycle = (b"<LifecycleConfiguration><Rule>" + deep + b"</Rule>"
                 b"</LifecycleConfiguration>")
    for method, path, query, body in (
            ("PUT", f"/{store.name}", "lifecycle", lifecycle),
            ("PUT", f"/{store.name}", "tagging", deep),
            ("PUT", f"/{store.name}/known", "tagging", deep),
            ("POST", f"/{store.name}", "delete", b"<Delete>" + deep + b"</Delete>"),
            ("PUT", f"/{store.name}", "versioning", deep)):
        r = raw.send(method, path, query, body=body,
                     headers={"content-md5": _md5(body)})
        assert r.status == 400 and r.code == "MalformedXML", (method, query, r)
    r = raw.send("GET", f"/{store.name}/known")
    assert r.status == 200 and r.body == b"hello"


def test_post_policy_and_sse_context_too_deep(store: Store, canaries: Canaries) -> None:
    raw = store.raw()
    ctx = base64.b64encode(DEEP_OBJECT).decode()
    r = raw.send("PUT", f"/{store.name}/sse", body=b"x", headers={
        "x-amz-server-side-encryption": "aws:kms",
        "x-amz-server-side-encryption-context": ctx})
    assert 400 <= r.status < 500 and r.code, r
    policy = base64.b64encode(DEEP_JSON).decode()
    boundary = "b0undary"
    form = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"key\"\r\n\r\nk\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"policy\"\r\n\r\n{policy}\r\n"
            f"--{boundary}\r\nContent-Disposition: form-data; name=\"file\"; filename=\"f\"\r\n"
            f"\r\nx\r\n--{boundary}--\r\n").encode()
    r = raw.send("POST", f"/{store.name}", body=form, sign=False,
                 headers={"content-type": f"multipart/form-data; boundary={boundary}"})
    assert 400 <= r.status < 500 and r.code, r


def test_console_form_too_many_fields(security_server: RunningServer,
                                      canaries: Canaries) -> None:
    with httpx.Client(base_url=security_server.api_url, timeout=30) as c:
        page = c.get("/console/signin")
        token = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert token, page.text[:500]
        body = f"csrf={token.group(1)}&api_key=x&" + "&".join(
            f"f{i}=" for i in range(20000))
        r = c.post("/console/signin", content=body.encode(),
                   headers={"content-type": "application/x-www-form-urlencoded"})
    assert 400 <= r.status_code < 500, (r.status_code, r.text[:300])


def _md5(body: bytes) -> str:
    import hashlib
    return base64.b64encode(hashlib.md5(body).digest()).decode()  # noqa: S324


def test_tagging_header_with_too_many_fields(store: Store, canaries: Canaries) -> None:
    raw = store.raw()
    for n in (11, 1500):
        tags = "&".join(f"k{i}=" for i in range(n))
        r = raw.send("PUT", f"/{store.name}/tagged", body=b"x",
                     headers={"x-amz-tagging": tags})
        assert r.status == 400 and r.code == "BadRequest", (n, r)
    r = raw.send("GET", f"/{store.name}/tagged")
    assert r.status == 404, r

"""Bucket operations, presigned URLs (SigV4 and SigV2) and virtual-hosted style addressing."""

from __future__ import annotations

import socket
from pathlib import Path
from typing import Any
from urllib.parse import quote

import httpx
import pytest
from botocore.auth import HmacV1QueryAuth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.exceptions import ClientError

from tests.support.clock import ago, signing_clock
from tests.support.server import RunningServer

from .conftest import (
    REGION,
    Store,
    boto_client,
    create_store,
    error_code,
    parse_error,
    s3cmd,
    s3cmd_config,
    signed,
    status_of,
    uniq,
)


def api_stores(srv: RunningServer) -> dict[str, dict[str, Any]]:
    with srv.api() as api:
        r = api.get("/v2/objectstores", params={"region": REGION, "per_page": 1000})
    assert r.status_code == 200, r.text
    return {s["name"]: s for s in r.json()["items"]}


def test_create_bucket_via_s3(store: Store) -> None:
    s3 = store.boto()
    name = uniq("s3made")
    r = s3.create_bucket(Bucket=name, CreateBucketConfiguration={"LocationConstraint": REGION})
    assert r["Location"] == f"/{name}"
    made = api_stores(store.srv)[name]
    assert made["owner_info"]["credential_id"] == store.credential_id
    assert made["owner_info"]["access_key_id"] == store.access_key
    assert made["max_size_gb"] == 500 and made["status"] == "ready"
    # Usable at once, listed among the caller's buckets.
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    assert s3.get_object(Bucket=name, Key="k")["Body"].read() == b"v"
    names = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert names == sorted([store.name, name])
    # Again: already owned by this credential; the API has still one store of that name.
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket=name)
    assert error_code(ei.value) == "BucketAlreadyOwnedByYou" and status_of(ei.value) == 409
    # Without a configuration body as well (s3cmd mb, older SDKs).
    bare = uniq("bare")
    s3.create_bucket(Bucket=bare)
    assert bare in api_stores(store.srv)
    # Invalid names and malformed bodies change nothing.
    before = set(api_stores(store.srv))
    with pytest.raises(ClientError) as ei:
        s3.create_bucket(Bucket="ab")
    assert error_code(ei.value) == "InvalidBucketName"
    r2 = signed(store, "PUT", f"/{uniq('mal')}", body=b"<CreateBucketConfiguration><Loc")
    assert r2.status_code == 400 and parse_error(r2)["Code"] == "MalformedXML"
    assert set(api_stores(store.srv)) == before


def test_bucket_name_owned_by_another_credential(store: Store) -> None:
    other = create_store(store.srv)
    with pytest.raises(ClientError) as ei:
        store.boto().create_bucket(Bucket=other.name)
    assert error_code(ei.value) == "BucketAlreadyExists" and status_of(ei.value) == 409


def test_delete_bucket(store: Store) -> None:
    s3 = store.boto()
    name = uniq("del")
    s3.create_bucket(Bucket=name)
    s3.put_object(Bucket=name, Key="keep", Body=b"x")
    with pytest.raises(ClientError) as ei:
        s3.delete_bucket(Bucket=name)
    assert error_code(ei.value) == "BucketNotEmpty" and status_of(ei.value) == 409
    assert name in api_stores(store.srv)
    assert s3.get_object(Bucket=name, Key="keep")["Body"].read() == b"x"
    s3.delete_object(Bucket=name, Key="keep")
    r = s3.delete_bucket(Bucket=name)
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    assert name not in api_stores(store.srv)
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=name)
    assert status_of(ei.value) == 404
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=name, Key="k", Body=b"x")
    assert error_code(ei.value) == "NoSuchBucket"
    # The API-made store goes the same way; it owned its credential, which now owns nothing
    # else, so the credential goes with it (the next request is an unknown key).
    s3.delete_bucket(Bucket=store.name)
    assert store.name not in api_stores(store.srv)
    with pytest.raises(ClientError) as ei:
        s3.list_buckets()
    assert error_code(ei.value) == "InvalidAccessKeyId"


def test_bucket_location_versioning_head_and_list(store: Store) -> None:
    s3 = store.boto()
    assert s3.get_bucket_location(Bucket=store.name)["LocationConstraint"] == REGION
    v = s3.get_bucket_versioning(Bucket=store.name)
    assert "Status" not in v and "MFADelete" not in v
    h = s3.head_bucket(Bucket=store.name)
    assert h["ResponseMetadata"]["HTTPHeaders"]["x-amz-bucket-region"] == REGION
    r = s3.list_buckets()
    assert [b["Name"] for b in r["Buckets"]] == [store.name]
    assert r["Owner"]["ID"] and r["Owner"]["DisplayName"]
    with pytest.raises(ClientError) as ei:
        s3.head_bucket(Bucket=uniq("nope"))
    assert status_of(ei.value) == 404
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=uniq("nope"))
    assert error_code(ei.value) == "NoSuchBucket"
    # Bucket features this server does not have answer "not configured", honestly.
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_policy(Bucket=store.name)
    assert error_code(ei.value) == "NoSuchBucketPolicy"
    with pytest.raises(ClientError) as ei:
        s3.get_bucket_cors(Bucket=store.name)
    assert error_code(ei.value) == "NoSuchCORSConfiguration"


# -- presigned URLs ------------------------------------------------------------------------

def test_presigned_v4_get_put_and_expiry(store: Store) -> None:
    s3 = store.boto()
    key = "pre signed/ü+%.bin"
    put_url = s3.generate_presigned_url("put_object", Params={"Bucket": store.name, "Key": key},
                                        ExpiresIn=300)
    assert "X-Amz-Signature=" in put_url
    r = httpx.put(put_url, content=b"presigned body")
    assert r.status_code == 200, r.text
    get_url = s3.generate_presigned_url("get_object", Params={"Bucket": store.name, "Key": key},
                                        ExpiresIn=300)
    r = httpx.get(get_url)
    assert r.status_code == 200 and r.content == b"presigned body"
    r = httpx.get(get_url, headers={"Range": "bytes=0-8"})
    assert r.status_code == 206 and r.content == b"presigned"
    # A tampered URL (another key) fails.
    bad = get_url.replace(quote("pre signed"), quote("pre-signed"))
    assert bad != get_url
    r = httpx.get(bad)
    assert r.status_code == 403 and parse_error(r)["Code"] == "SignatureDoesNotMatch"
    # Expired: signed (clock shifted) 10 minutes ago, valid for 5 minutes; the same URL with
    # a window that still covers now works.
    with signing_clock(ago(minutes=10)):
        short = s3.generate_presigned_url("get_object",
                                          Params={"Bucket": store.name, "Key": key},
                                          ExpiresIn=300)
        still = s3.generate_presigned_url("get_object",
                                          Params={"Bucket": store.name, "Key": key},
                                          ExpiresIn=900)
    r = httpx.get(short)
    assert r.status_code == 403 and parse_error(r)["Code"] == "AccessDenied"
    assert "expired" in parse_error(r)["Message"].lower()
    r = httpx.get(still)
    assert r.status_code == 200 and r.content == b"presigned body", r.text
    # Longer than 7 days is refused.
    week = s3.generate_presigned_url("get_object", Params={"Bucket": store.name, "Key": key},
                                     ExpiresIn=7 * 86400 + 1)
    r = httpx.get(week)
    assert r.status_code in (400, 403), r.text
    assert parse_error(r)["Code"] in ("AuthorizationQueryParametersError", "AccessDenied")


def test_presigned_v2(store: Store, tmp_path: Path) -> None:
    s3 = store.boto()
    key = "v2 signed/é+.txt"
    s3.put_object(Bucket=store.name, Key=key, Body=b"sigv2 presigned")
    req = AWSRequest(method="GET", url=f"{store.s3_url}/{store.name}/{quote(key)}")
    HmacV1QueryAuth(Credentials(store.access_key, store.secret_key), expires=120).add_auth(req)
    assert "AWSAccessKeyId=" in req.url and "Signature=" in req.url
    r = httpx.get(req.url)
    assert r.status_code == 200 and r.content == b"sigv2 presigned"
    # boto3 with signature_version="s3" (SigV2) presigns the same way.
    v2 = boto_client(store.s3_url, store.access_key, store.secret_key, signature_version="s3")
    url = v2.generate_presigned_url("get_object", Params={"Bucket": store.name, "Key": key})
    assert httpx.get(url).content == b"sigv2 presigned"
    # Wrong secret -> SignatureDoesNotMatch; expired -> AccessDenied.
    req = AWSRequest(method="GET", url=f"{store.s3_url}/{store.name}/{quote(key)}")
    HmacV1QueryAuth(Credentials(store.access_key, "wrong-secret-123"), expires=120).add_auth(req)
    r = httpx.get(req.url)
    assert r.status_code == 403 and parse_error(r)["Code"] == "SignatureDoesNotMatch"
    req = AWSRequest(method="GET", url=f"{store.s3_url}/{store.name}/{quote(key)}")
    HmacV1QueryAuth(Credentials(store.access_key, store.secret_key), expires=-5).add_auth(req)
    r = httpx.get(req.url)
    assert r.status_code == 403 and parse_error(r)["Code"] == "AccessDenied"
    # s3cmd signurl (the Civo-exported config).
    cfg = s3cmd_config(store, tmp_path, sigv2=True)
    out = s3cmd(cfg, tmp_path, "signurl", f"s3://{store.name}/{key}", "+120").stdout
    signed_url = out.decode().strip().splitlines()[-1]
    r = httpx.get(signed_url)
    assert r.status_code == 200 and r.content == b"sigv2 presigned", (signed_url, r.text)


# -- virtual-hosted style -------------------------------------------------------------------

@pytest.fixture
def localhost_resolver(monkeypatch: pytest.MonkeyPatch) -> None:
    """*.localhost resolves to loopback in browsers but not through this machine's resolver:
    resolve it here, in-process, for the clients under test."""
    real = socket.getaddrinfo

    def fake(host: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(host, str) and (host == "localhost" or host.endswith(".localhost")):
            host = "127.0.0.1"
        return real(host, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", fake)


def test_virtual_hosted_style(vhost_server: RunningServer, localhost_resolver: None) -> None:
    store = create_store(vhost_server)
    port = store.s3_url.rsplit(":", 1)[1]
    endpoint = f"http://s3.localhost:{port}"
    for cfg in ({}, {"when_required": True}, {"signature_version": "s3"}):
        s3 = boto_client(endpoint, store.access_key, store.secret_key, addressing="virtual",
                         **cfg)
        hosts: list[str] = []
        s3.meta.events.register("before-send.s3",
                                lambda request, **_: hosts.append(request.url))
        key = f"vh/{len(cfg)}/a b+c/../d//e/"
        s3.put_object(Bucket=store.name, Key=key, Body=b"virtual")
        assert s3.get_object(Bucket=store.name, Key=key)["Body"].read() == b"virtual"
        assert s3.get_object(Bucket=store.name, Key=key, Range="bytes=1-3")["Body"].read() \
            == b"irt"
        listed = s3.list_objects_v2(Bucket=store.name, Prefix=f"vh/{len(cfg)}/")
        assert [o["Key"] for o in listed["Contents"]] == [key]
        assert s3.get_bucket_location(Bucket=store.name)["LocationConstraint"] == REGION
        s3.delete_object(Bucket=store.name, Key=key)
        # (botocore sends GetBucketLocation path-style to the endpoint on purpose)
        vhosted = [u for u in hosts if not u.endswith("?location")]
        assert len(vhosted) == 5 and all(
            u.startswith(f"http://{store.name}.s3.localhost:{port}/") for u in vhosted), hosts
    # Path style keeps working on the same server.
    path = store.boto()
    path.put_object(Bucket=store.name, Key="p", Body=b"path")
    assert path.get_object(Bucket=store.name, Key="p")["Body"].read() == b"path"
    # Anonymous virtual-hosted GET of a public object, with a plain Host header.
    path.put_object_acl(Bucket=store.name, Key="p", ACL="public-read")
    r = httpx.get(f"{store.s3_url}/p", headers={"Host": f"{store.name}.s3.localhost:{port}"})
    assert r.status_code == 200 and r.content == b"path"
    # An unknown bucket in the Host header.
    r = httpx.get(f"{store.s3_url}/p", headers={"Host": f"nosuch-bkt.s3.localhost:{port}"})
    assert r.status_code in (403, 404) and parse_error(r)["Code"] in ("AccessDenied",
                                                                       "NoSuchBucket")


# Regression: boto3/botocore with signature_version="s3" (SigV2) signs every bucket-level
# request to "/bucket" with the canonical resource "/bucket/" (HmacV1Auth always ends a bare
# bucket with "/"); the server once refused those (ListObjects, GetBucketLocation,
# GetBucketAcl... SignatureDoesNotMatch). It now also accepts "/bucket/" for them.
def test_boto3_sigv2_bucket_level_requests(store: Store) -> None:
    s3 = boto_client(store.s3_url, store.access_key, store.secret_key, signature_version="s3")
    s3.put_object(Bucket=store.name, Key="k", Body=b"v2")  # object level: fine
    assert s3.get_object(Bucket=store.name, Key="k")["Body"].read() == b"v2"
    try:
        keys = [o["Key"] for o in s3.list_objects(Bucket=store.name)["Contents"]]
        location = s3.get_bucket_location(Bucket=store.name)["LocationConstraint"]
    except ClientError as exc:
        raise AssertionError(
            "botocore SigV2 signs '/bucket/' for requests to '/bucket' and the server "
            f"refuses it ({error_code(exc)}), so boto3 SigV2 clients cannot list or read "
            "bucket sub-resources") from exc
    assert keys == ["k"] and location == REGION
    acl = s3.get_bucket_acl(Bucket=store.name)
    assert acl["Grants"], acl
    # a tampered signature is still refused at bucket level
    bad = boto_client(store.s3_url, store.access_key, store.secret_key + "x",
                      signature_version="s3")
    with pytest.raises(ClientError) as ei:
        bad.list_objects(Bucket=store.name)
    assert error_code(ei.value) == "SignatureDoesNotMatch"

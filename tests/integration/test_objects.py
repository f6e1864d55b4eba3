"""Object semantics through boto3 (and plain httpx where a client would hide the wire)."""

from __future__ import annotations

import base64
import hashlib
import zlib
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
import pytest
from awscrt import checksums as crt
from botocore.exceptions import ClientError

from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import Store, error_code, parse_error, sign_v4, signed, status_of


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)

DATA = bytes(range(256)) * 40  # 10240 bytes


@pytest.fixture
def obj(store: Store) -> tuple[Any, str, str]:
    s3 = store.boto()
    etag = s3.put_object(Bucket=store.name, Key="obj", Body=DATA)["ETag"]
    return s3, store.name, etag


def b64(raw: bytes) -> str:
    return base64.b64encode(raw).decode()


def test_conditional_get_and_head(obj: tuple[Any, str, str]) -> None:
    s3, bucket, etag = obj
    head = s3.head_object(Bucket=bucket, Key="obj")
    assert head["ETag"] == etag == f'"{hashlib.md5(DATA).hexdigest()}"'
    modified: datetime = head["LastModified"]
    past, future = modified - timedelta(hours=1), modified + timedelta(hours=1)
    ok = [
        {"IfMatch": etag}, {"IfMatch": "*"}, {"IfNoneMatch": '"0123"'},
        {"IfModifiedSince": past}, {"IfUnmodifiedSince": future},
        {"IfUnmodifiedSince": modified}, {"IfMatch": etag, "IfUnmodifiedSince": past},
    ]
    for kwargs in ok:
        assert s3.get_object(Bucket=bucket, Key="obj", **kwargs)["Body"].read() == DATA, kwargs
        assert s3.head_object(Bucket=bucket, Key="obj", **kwargs)["ContentLength"] == 10240
    not_modified = [{"IfNoneMatch": etag}, {"IfNoneMatch": "*"}, {"IfModifiedSince": future},
                    {"IfModifiedSince": modified},
                    {"IfNoneMatch": etag, "IfModifiedSince": past}]
    for kwargs in not_modified:
        for call in (s3.get_object, s3.head_object):
            with pytest.raises(ClientError) as ei:
                call(Bucket=bucket, Key="obj", **kwargs)
            assert status_of(ei.value) == 304, (kwargs, ei.value.response)
    failed = [{"IfMatch": '"0123"'}, {"IfUnmodifiedSince": past},
              {"IfMatch": '"0123"', "IfNoneMatch": '"x"'}]
    for kwargs in failed:
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="obj", **kwargs)
        assert status_of(ei.value) == 412 and error_code(ei.value) == "PreconditionFailed"
        with pytest.raises(ClientError) as ei:
            s3.head_object(Bucket=bucket, Key="obj", **kwargs)
        assert status_of(ei.value) == 412


def test_ranges(obj: tuple[Any, str, str]) -> None:
    s3, bucket, _ = obj
    cases = {
        "bytes=0-0": (DATA[:1], "bytes 0-0/10240"),
        "bytes=10-19": (DATA[10:20], "bytes 10-19/10240"),
        "bytes=-5": (DATA[-5:], "bytes 10235-10239/10240"),
        "bytes=10000-": (DATA[10000:], "bytes 10000-10239/10240"),
        "bytes=10230-99999": (DATA[10230:], "bytes 10230-10239/10240"),
        "bytes=-99999": (DATA, "bytes 0-10239/10240"),
    }
    for rng, (want, content_range) in cases.items():
        r = s3.get_object(Bucket=bucket, Key="obj", Range=rng)
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 206, rng
        assert r["ContentRange"] == content_range, rng
        assert r["ContentLength"] == len(want)
        assert r["Body"].read() == want, rng
    h = s3.head_object(Bucket=bucket, Key="obj", Range="bytes=5-9")
    assert h["ContentLength"] == 5 and h["ContentRange"] == "bytes 5-9/10240"
    for bad in ("bytes=10240-", "bytes=99999-100000", "bytes=-0"):
        with pytest.raises(ClientError) as ei:
            s3.get_object(Bucket=bucket, Key="obj", Range=bad)
        assert status_of(ei.value) == 416 and error_code(ei.value) == "InvalidRange", bad
    # Syntactically invalid ranges are ignored (the whole object), as S3 does.
    r = s3.get_object(Bucket=bucket, Key="obj", Range="bytes=20-10")
    assert r["ResponseMetadata"]["HTTPStatusCode"] == 200 and r["Body"].read() == DATA


def test_response_overrides(obj: tuple[Any, str, str], store: Store) -> None:
    s3, bucket, _ = obj
    r = s3.get_object(Bucket=bucket, Key="obj", ResponseContentType="text/x-override",
                      ResponseContentDisposition='attachment; filename="x.bin"',
                      ResponseCacheControl="no-store", ResponseContentLanguage="fr",
                      ResponseContentEncoding="identity",
                      ResponseExpires=datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC))
    assert r["ContentType"] == "text/x-override"
    assert r["ContentDisposition"] == 'attachment; filename="x.bin"'
    assert r["CacheControl"] == "no-store" and r["ContentLanguage"] == "fr"
    assert r["ContentEncoding"] == "identity"
    assert r["ResponseMetadata"]["HTTPHeaders"]["expires"] == "Wed, 02 Jan 2030 03:04:05 GMT"
    assert r["Body"].read() == DATA
    # A presigned URL carries the override in its query.
    url = s3.generate_presigned_url("get_object", Params={
        "Bucket": bucket, "Key": "obj", "ResponseContentType": "image/png"})
    resp = httpx.get(url)
    assert resp.status_code == 200 and resp.headers["content-type"] == "image/png"


def test_metadata_and_content_headers_round_trip(store: Store) -> None:
    s3 = store.boto()
    expires = datetime(2031, 5, 6, 7, 8, 9, tzinfo=UTC)
    s3.put_object(Bucket=store.name, Key="m", Body=b"meta", ContentType="text/csv",
                  ContentDisposition="inline", ContentLanguage="en-GB",
                  CacheControl="max-age=60", ContentEncoding="identity", Expires=expires,
                  Metadata={"colour": "blue", "mixed-case": "Value With Spaces"})
    for call in (s3.head_object, s3.get_object):
        r = call(Bucket=store.name, Key="m")
        assert r["ContentType"] == "text/csv"
        assert r["ContentDisposition"] == "inline"
        assert r["ContentLanguage"] == "en-GB"
        assert r["CacheControl"] == "max-age=60"
        assert r["ContentEncoding"] == "identity"
        assert r["ExpiresString"] == "Tue, 06 May 2031 07:08:09 GMT"
        assert r["Metadata"] == {"colour": "blue", "mixed-case": "Value With Spaces"}
        assert r["ContentLength"] == 4
    # Overwriting replaces metadata; the default content type is binary/octet-stream.
    s3.put_object(Bucket=store.name, Key="m", Body=b"meta2")
    r = s3.head_object(Bucket=store.name, Key="m")
    assert r["Metadata"] == {} and r["ContentType"] == "binary/octet-stream"
    assert "CacheControl" not in r and "ContentDisposition" not in r
    # Too much user metadata (> 2 KB) is refused and nothing changes.
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="m", Body=b"x", Metadata={"big": "v" * 2100})
    assert error_code(ei.value) == "MetadataTooLarge"
    assert s3.get_object(Bucket=store.name, Key="m")["Body"].read() == b"meta2"


def _expected_checksums(data: bytes) -> dict[str, str]:
    return {
        "CRC32": b64(zlib.crc32(data).to_bytes(4, "big")),
        "CRC32C": b64(crt.crc32c(data).to_bytes(4, "big")),
        "CRC64NVME": b64(crt.crc64nvme(data).to_bytes(8, "big")),
        "SHA1": b64(hashlib.sha1(data).digest()),
        "SHA256": b64(hashlib.sha256(data).digest()),
    }


@pytest.mark.parametrize("algorithm", ["CRC32", "CRC32C", "SHA1", "SHA256", "CRC64NVME"])
def test_checksums_stored_and_returned(store: Store, algorithm: str) -> None:
    s3 = store.boto()
    want = _expected_checksums(DATA)[algorithm]
    r = s3.put_object(Bucket=store.name, Key="ck", Body=DATA, ChecksumAlgorithm=algorithm)
    assert r[f"Checksum{algorithm}"] == want
    for call in (s3.head_object, s3.get_object):
        got = call(Bucket=store.name, Key="ck", ChecksumMode="ENABLED")
        assert got[f"Checksum{algorithm}"] == want
        assert got["ChecksumType"] == "FULL_OBJECT"
        if "Body" in got:
            assert got["Body"].read() == DATA  # boto3 validates the checksum while reading
    plain = s3.head_object(Bucket=store.name, Key="ck")
    assert f"Checksum{algorithm}" not in plain
    listed = s3.list_objects_v2(Bucket=store.name)["Contents"][0]
    assert listed["ChecksumAlgorithm"] == [algorithm]


def test_bad_checksum_and_bad_md5_store_nothing(store: Store) -> None:
    s3 = store.boto(when_required=True)
    wrong_crc = b64(zlib.crc32(b"something else").to_bytes(4, "big"))
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="bad", Body=DATA, ChecksumCRC32=wrong_crc)
    assert error_code(ei.value) == "BadDigest" and status_of(ei.value) == 400
    wrong_md5 = b64(hashlib.md5(b"something else").digest())
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="bad", Body=DATA, ContentMD5=wrong_md5)
    assert error_code(ei.value) == "BadDigest"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="bad", Body=DATA, ContentMD5="not-base64!")
    assert error_code(ei.value) == "InvalidDigest"
    # Nothing is stored, nothing is charged, and an existing object is untouched.
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=store.name, Key="bad")
    assert status_of(ei.value) == 404
    assert store.stats()["num_objects"] == 0 and store.stats()["size_kb_utilised"] == 0
    s3.put_object(Bucket=store.name, Key="bad", Body=b"good")
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="bad", Body=DATA, ChecksumSHA256=b64(b"0" * 32))
    assert error_code(ei.value) == "BadDigest"
    assert s3.get_object(Bucket=store.name, Key="bad")["Body"].read() == b"good"
    # The right Content-MD5 is accepted.
    good = b64(hashlib.md5(DATA).digest())
    s3.put_object(Bucket=store.name, Key="good", Body=DATA, ContentMD5=good)
    # A payload that does not match a signed x-amz-content-sha256 is refused too.
    r = signed(store, "PUT", f"/{store.name}/forged", body=b"signed body")
    assert r.status_code == 200
    url = f"{store.s3_url}/{store.name}/forged"
    h = sign_v4("PUT", url, store.access_key, store.secret_key, body=b"signed body")
    resp = httpx.put(url, content=b"forged body", headers=h)
    assert resp.status_code == 400
    assert parse_error(resp)["Code"] == "XAmzContentSHA256Mismatch"
    assert s3.get_object(Bucket=store.name, Key="forged")["Body"].read() == b"signed body"


def test_conditional_put(store: Store) -> None:
    s3 = store.boto()
    first = s3.put_object(Bucket=store.name, Key="c", Body=b"one", IfNoneMatch="*")["ETag"]
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="c", Body=b"two", IfNoneMatch="*")
    assert status_of(ei.value) == 412 and error_code(ei.value) == "PreconditionFailed"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="c", Body=b"two", IfMatch='"0000"')
    assert status_of(ei.value) == 412
    assert s3.get_object(Bucket=store.name, Key="c")["Body"].read() == b"one"
    second = s3.put_object(Bucket=store.name, Key="c", Body=b"two", IfMatch=first)["ETag"]
    assert second == f'"{hashlib.md5(b"two").hexdigest()}"'
    assert s3.get_object(Bucket=store.name, Key="c")["Body"].read() == b"two"
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="missing", Body=b"x", IfMatch=first)
    assert status_of(ei.value) == 404 and error_code(ei.value) == "NoSuchKey"
    assert store.stats()["num_objects"] == 1


def test_delete_objects_quiet_and_verbose(store: Store) -> None:
    s3 = store.boto()
    for i in range(6):
        s3.put_object(Bucket=store.name, Key=f"d/{i}", Body=b"x" * 1000)
    r = s3.delete_objects(Bucket=store.name, Delete={"Objects": [
        {"Key": "d/0"}, {"Key": "d/1"}, {"Key": "d/never-existed"}]})
    assert sorted(d["Key"] for d in r["Deleted"]) == ["d/0", "d/1", "d/never-existed"]
    assert "Errors" not in r
    r = s3.delete_objects(Bucket=store.name, Delete={"Quiet": True, "Objects": [
        {"Key": "d/2"}, {"Key": "d/3"}]})
    assert "Deleted" not in r and "Errors" not in r
    r = s3.delete_objects(Bucket=store.name, Delete={"Objects": [
        {"Key": "d/4", "VersionId": "3HL4kqtJlcpXroDTDmJ"}]})
    assert r["Errors"][0]["Key"] == "d/4" and r["Errors"][0]["Code"] == "NoSuchVersion"
    keys = [o["Key"] for o in s3.list_objects_v2(Bucket=store.name)["Contents"]]
    assert keys == ["d/4", "d/5"]
    stats = store.stats()
    assert (stats["num_objects"], stats["size_kb_utilised"]) == (2, 2)
    # DeleteObject is idempotent.
    for _ in range(2):
        r = s3.delete_object(Bucket=store.name, Key="d/4")
        assert r["ResponseMetadata"]["HTTPStatusCode"] == 204
    too_many = {"Objects": [{"Key": f"k{i}"} for i in range(1001)]}
    with pytest.raises(ClientError) as ei:
        s3.delete_objects(Bucket=store.name, Delete=too_many)
    assert error_code(ei.value) == "MalformedXML"


def test_object_acls_and_anonymous_access(store: Store) -> None:
    s3 = store.boto()
    url = f"{store.s3_url}/{store.name}/acl%20key"
    s3.put_object(Bucket=store.name, Key="acl key", Body=b"secret")
    anon = httpx.get(url)
    assert anon.status_code == 403
    assert parse_error(anon)["Code"] == "AccessDenied"
    assert httpx.head(url).status_code == 403
    acl = s3.get_object_acl(Bucket=store.name, Key="acl key")
    assert [g["Permission"] for g in acl["Grants"]] == ["FULL_CONTROL"]
    s3.put_object_acl(Bucket=store.name, Key="acl key", ACL="public-read")
    anon = httpx.get(url)
    assert anon.status_code == 200 and anon.content == b"secret"
    acl = s3.get_object_acl(Bucket=store.name, Key="acl key")
    grants = {(g["Grantee"].get("URI"), g["Permission"]) for g in acl["Grants"]}
    assert ("http://acs.amazonaws.com/groups/global/AllUsers", "READ") in grants
    # Anonymous ranged GET works on a public object; anonymous writes never do.
    assert httpx.get(url, headers={"Range": "bytes=1-3"}).content == b"ecr"
    put = httpx.put(url, content=b"overwritten")
    assert put.status_code == 403 and parse_error(put)["Code"] == "AccessDenied"
    assert httpx.delete(url).status_code == 403
    assert s3.get_object(Bucket=store.name, Key="acl key")["Body"].read() == b"secret"
    # Back to private.
    s3.put_object_acl(Bucket=store.name, Key="acl key", ACL="private")
    assert httpx.get(url).status_code == 403
    # Canned ACL on PutObject.
    s3.put_object(Bucket=store.name, Key="pub", Body=b"open", ACL="public-read")
    assert httpx.get(f"{store.s3_url}/{store.name}/pub").content == b"open"
    # An anonymous listing of a private bucket is refused.
    listing = httpx.get(f"{store.s3_url}/{store.name}")
    assert listing.status_code == 403 and parse_error(listing)["Code"] == "AccessDenied"
    # Unsupported canned ACLs are refused, not silently widened.
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="rw", Body=b"x", ACL="aws-exec-read")
    assert status_of(ei.value) == 501
    assert "Contents" not in s3.list_objects_v2(Bucket=store.name, Prefix="rw")


def test_bucket_acl_public_read(store: Store) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"in a public bucket")
    base = f"{store.s3_url}/{store.name}"
    assert httpx.get(f"{base}/k").status_code == 403
    assert s3.get_bucket_acl(Bucket=store.name)["Grants"][0]["Permission"] == "FULL_CONTROL"
    s3.put_bucket_acl(Bucket=store.name, ACL="public-read")
    acl = s3.get_bucket_acl(Bucket=store.name)
    assert any(g["Grantee"].get("URI", "").endswith("/AllUsers") and g["Permission"] == "READ"
               for g in acl["Grants"])
    listing = httpx.get(base, params={"list-type": "2"})
    assert listing.status_code == 200 and b"<Key>k</Key>" in listing.content
    # the store's READ grant lists it; the object's own (private) ACL keeps it unread
    assert httpx.get(f"{base}/k").status_code == 403
    s3.put_object_acl(Bucket=store.name, Key="k", ACL="public-read")
    got = httpx.get(f"{base}/k")
    assert got.status_code == 200 and got.content == b"in a public bucket"
    assert httpx.put(f"{base}/new", content=b"x").status_code == 403
    assert httpx.delete(base).status_code == 403
    s3.put_bucket_acl(Bucket=store.name, ACL="private")
    assert httpx.get(base).status_code == 403
    assert httpx.get(f"{base}/k").status_code == 200  # by its own ACL
    assert httpx.get(f"{base}/missing").status_code == 403  # no list: no 404 either


def test_tagging(store: Store) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="t", Body=b"x", Tagging="project=blue&team=a%20b")
    tags = s3.get_object_tagging(Bucket=store.name, Key="t")["TagSet"]
    assert sorted((t["Key"], t["Value"]) for t in tags) == [("project", "blue"),
                                                           ("team", "a b")]
    assert s3.head_object(Bucket=store.name, Key="t")["ResponseMetadata"]["HTTPHeaders"][
        "x-amz-tagging-count"] == "2"
    s3.put_object_tagging(Bucket=store.name, Key="t", Tagging={"TagSet": [
        {"Key": "only", "Value": ""}]})
    assert s3.get_object_tagging(Bucket=store.name, Key="t")["TagSet"] == [
        {"Key": "only", "Value": ""}]
    limits = [
        ([{"Key": f"k{i}", "Value": "v"} for i in range(11)], "BadRequest"),
        ([{"Key": "k" * 129, "Value": "v"}], "InvalidTag"),
        ([{"Key": "k", "Value": "v" * 257}], "InvalidTag"),
        ([{"Key": "dup", "Value": "1"}, {"Key": "dup", "Value": "2"}], "InvalidTag"),
    ]
    for tagset, code in limits:
        with pytest.raises(ClientError) as ei:
            s3.put_object_tagging(Bucket=store.name, Key="t", Tagging={"TagSet": tagset})
        assert error_code(ei.value) == code and status_of(ei.value) == 400, tagset
    ok = [{"Key": "k" * 128, "Value": "v" * 256}] + [
        {"Key": f"k{i}", "Value": "v"} for i in range(9)]
    s3.put_object_tagging(Bucket=store.name, Key="t", Tagging={"TagSet": ok})
    assert len(s3.get_object_tagging(Bucket=store.name, Key="t")["TagSet"]) == 10
    with pytest.raises(ClientError) as ei:
        s3.put_object(Bucket=store.name, Key="t2", Body=b"x",
                      Tagging="&".join(f"k{i}=v" for i in range(11)))
    assert error_code(ei.value) == "BadRequest"
    with pytest.raises(ClientError) as ei:
        s3.head_object(Bucket=store.name, Key="t2")
    assert status_of(ei.value) == 404
    s3.delete_object_tagging(Bucket=store.name, Key="t")
    assert s3.get_object_tagging(Bucket=store.name, Key="t")["TagSet"] == []
    with pytest.raises(ClientError) as ei:
        s3.get_object_tagging(Bucket=store.name, Key="missing")
    assert error_code(ei.value) == "NoSuchKey"
    with pytest.raises(ClientError) as ei:
        s3.put_object_tagging(Bucket=store.name, Key="missing", Tagging={"TagSet": []})
    assert error_code(ei.value) == "NoSuchKey"


def test_keys_at_the_limit(store: Store) -> None:
    s3 = store.boto()
    key = "k" * 1024
    s3.put_object(Bucket=store.name, Key=key, Body=b"long")
    assert s3.get_object(Bucket=store.name, Key=key)["Body"].read() == b"long"
    multibyte = "é" * 512  # 1024 bytes
    s3.put_object(Bucket=store.name, Key=multibyte, Body=b"mb")
    assert s3.get_object(Bucket=store.name, Key=multibyte)["Body"].read() == b"mb"
    # a/b and a/b/c both exist; so do a/ and a
    for k in ("a", "a/", "a/b", "a/b/c", "a//b"):
        s3.put_object(Bucket=store.name, Key=k, Body=k.encode())
    for k in ("a", "a/", "a/b", "a/b/c", "a//b"):
        assert s3.get_object(Bucket=store.name, Key=k)["Body"].read() == k.encode()


def test_empty_object(store: Store) -> None:
    s3 = store.boto()
    r = s3.put_object(Bucket=store.name, Key="empty", Body=b"")
    assert r["ETag"] == '"d41d8cd98f00b204e9800998ecf8427e"'
    got = s3.get_object(Bucket=store.name, Key="empty")
    assert got["ContentLength"] == 0 and got["Body"].read() == b""
    with pytest.raises(ClientError) as ei:
        s3.get_object(Bucket=store.name, Key="empty", Range="bytes=0-0")
    assert status_of(ei.value) == 416

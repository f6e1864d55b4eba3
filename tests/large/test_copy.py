"""Server-side copies: CopyObject (directives, conditions, encoded keys, access, quota) and
UploadPartCopy with source ranges."""

from __future__ import annotations

import hashlib
import os
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import quote

import pytest

from .conftest import (
    GB,
    MIB,
    Store,
    client_error,
    create_store,
    error_code,
    send,
    status_of,
    xml_error_code,
)

PART = 5 * MIB


def _md5(data: bytes) -> str:
    return f'"{hashlib.md5(data).hexdigest()}"'


def _put_source(s3: Any, bucket: str, key: str = "src.txt", body: bytes = b"source bytes"
                ) -> dict[str, Any]:
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ContentType="text/plain",
                         Metadata={"colour": "blue", "n": "1"}, CacheControl="max-age=60",
                         Tagging="a=1")


def test_copy_within_a_store_with_both_directives(store: Store, s3: Any) -> None:
    b = store.name
    _put_source(s3, b)
    r = s3.copy_object(Bucket=b, Key="dst/copy.txt", CopySource={"Bucket": b, "Key": "src.txt"})
    assert r["CopyObjectResult"]["ETag"] == _md5(b"source bytes")
    h = s3.head_object(Bucket=b, Key="dst/copy.txt")
    assert h["ContentType"] == "text/plain"
    assert h["Metadata"] == {"colour": "blue", "n": "1"}
    assert h["CacheControl"] == "max-age=60"
    assert s3.get_object(Bucket=b, Key="dst/copy.txt")["Body"].read() == b"source bytes"

    s3.copy_object(Bucket=b, Key="dst/replaced.txt", CopySource={"Bucket": b, "Key": "src.txt"},
                   MetadataDirective="REPLACE", ContentType="application/json",
                   Metadata={"colour": "red"})
    h = s3.head_object(Bucket=b, Key="dst/replaced.txt")
    assert h["ContentType"] == "application/json"
    assert h["Metadata"] == {"colour": "red"}
    assert "CacheControl" not in h
    assert s3.get_object(Bucket=b, Key="dst/replaced.txt")["Body"].read() == b"source bytes"
    # the source is untouched
    h = s3.head_object(Bucket=b, Key="src.txt")
    assert h["Metadata"] == {"colour": "blue", "n": "1"} and h["ContentType"] == "text/plain"
    assert store.used_bytes() == 3 * len(b"source bytes")
    assert store.stats()["num_objects"] == 3

    # an existing destination is replaced, and usage follows
    s3.put_object(Bucket=b, Key="big", Body=b"x" * 5000)
    s3.copy_object(Bucket=b, Key="big", CopySource={"Bucket": b, "Key": "src.txt"})
    assert s3.get_object(Bucket=b, Key="big")["Body"].read() == b"source bytes"
    assert store.used_bytes() == 4 * len(b"source bytes")

    err = client_error(s3.copy_object, Bucket=b, Key="x",
                       CopySource={"Bucket": b, "Key": "missing"})
    assert error_code(err) == "NoSuchKey" and status_of(err) == 404
    err = client_error(s3.copy_object, Bucket=b, Key="x",
                       CopySource={"Bucket": "no-such-bucket-here", "Key": "src.txt"})
    assert error_code(err) == "NoSuchBucket" and status_of(err) == 404
    err = client_error(s3.copy_object, Bucket=b, Key="x",
                       CopySource={"Bucket": b, "Key": "src.txt"}, MetadataDirective="MOVE")
    assert status_of(err) == 400


def test_copy_onto_itself(store: Store, s3: Any) -> None:
    b = store.name
    put = _put_source(s3, b)
    before = store.used_bytes()
    err = client_error(s3.copy_object, Bucket=b, Key="src.txt",
                       CopySource={"Bucket": b, "Key": "src.txt"})
    assert error_code(err) == "InvalidRequest" and status_of(err) == 400
    err = client_error(s3.copy_object, Bucket=b, Key="src.txt",
                       CopySource={"Bucket": b, "Key": "src.txt"}, MetadataDirective="COPY")
    assert error_code(err) == "InvalidRequest"

    s3.copy_object(Bucket=b, Key="src.txt", CopySource={"Bucket": b, "Key": "src.txt"},
                   MetadataDirective="REPLACE", ContentType="text/markdown",
                   Metadata={"colour": "green"})
    h = s3.head_object(Bucket=b, Key="src.txt")
    assert h["ContentType"] == "text/markdown"
    assert h["Metadata"] == {"colour": "green"}
    assert h["ETag"] == put["ETag"]
    assert s3.get_object(Bucket=b, Key="src.txt")["Body"].read() == b"source bytes"
    assert store.used_bytes() == before
    assert store.stats()["num_objects"] == 1

    # the same for a multipart object: its parts stay readable
    p1, p2 = os.urandom(PART), os.urandom(100)
    up = s3.create_multipart_upload(Bucket=b, Key="mp", Metadata={"v": "1"})["UploadId"]
    parts = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=b, Key="mp", UploadId=up,
                                                      PartNumber=i, Body=d)["ETag"]}
             for i, d in ((1, p1), (2, p2))]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    s3.copy_object(Bucket=b, Key="mp", CopySource={"Bucket": b, "Key": "mp"},
                   MetadataDirective="REPLACE", Metadata={"v": "2"})
    store.srv.apps.gc.drain_doomed()
    r = s3.get_object(Bucket=b, Key="mp")
    assert r["Metadata"] == {"v": "2"}
    assert r["Body"].read() == p1 + p2
    assert s3.get_object(Bucket=b, Key="mp", PartNumber=2)["Body"].read() == p2


def test_copy_across_stores_of_one_credential(sqlite_server: Any) -> None:
    a = create_store(sqlite_server)
    b = create_store(sqlite_server, access_key_id=a.access_key)
    assert b.credential_id == a.credential_id
    s3 = a.boto()
    _put_source(s3, a.name)
    s3.copy_object(Bucket=b.name, Key="in-b.txt", CopySource={"Bucket": a.name,
                                                               "Key": "src.txt"})
    h = s3.head_object(Bucket=b.name, Key="in-b.txt")
    assert h["Metadata"] == {"colour": "blue", "n": "1"}
    assert s3.get_object(Bucket=b.name, Key="in-b.txt")["Body"].read() == b"source bytes"
    assert a.used_bytes() == b.used_bytes() == len(b"source bytes")
    # and back, with REPLACE
    s3.copy_object(Bucket=a.name, Key="back.txt", CopySource={"Bucket": b.name,
                                                               "Key": "in-b.txt"},
                   MetadataDirective="REPLACE", Metadata={"from": "b"})
    assert s3.head_object(Bucket=a.name, Key="back.txt")["Metadata"] == {"from": "b"}


def test_copy_involving_another_credentials_store_is_denied(sqlite_server: Any) -> None:
    mine = create_store(sqlite_server)
    theirs = create_store(sqlite_server)
    assert mine.credential_id != theirs.credential_id
    s3, other = mine.boto(), theirs.boto()
    _put_source(s3, mine.name)
    _put_source(other, theirs.name, body=b"their secret")
    err = client_error(s3.copy_object, Bucket=theirs.name, Key="stolen",
                       CopySource={"Bucket": mine.name, "Key": "src.txt"})
    assert error_code(err) == "AccessDenied" and status_of(err) == 403
    err = client_error(s3.copy_object, Bucket=mine.name, Key="stolen",
                       CopySource={"Bucket": theirs.name, "Key": "src.txt"})
    assert error_code(err) == "AccessDenied" and status_of(err) == 403
    up = s3.create_multipart_upload(Bucket=mine.name, Key="mp")["UploadId"]
    err = client_error(s3.upload_part_copy, Bucket=mine.name, Key="mp", UploadId=up,
                       PartNumber=1, CopySource={"Bucket": theirs.name, "Key": "src.txt"})
    assert error_code(err) == "AccessDenied"
    assert other.list_objects_v2(Bucket=theirs.name)["KeyCount"] == 1
    assert s3.list_objects_v2(Bucket=mine.name)["KeyCount"] == 1


def test_copy_source_conditions(store: Store, s3: Any) -> None:
    b = store.name
    etag = _put_source(s3, b)["ETag"]
    src = {"Bucket": b, "Key": "src.txt"}
    past = datetime.now(UTC) - timedelta(days=1)
    # The source's own Last-Modified (HTTP dates have one-second resolution): not modified
    # since then, unmodified since then. No need to wait for the clock to move on.
    later = s3.head_object(Bucket=b, Key="src.txt")["LastModified"]
    failing = [
        {"CopySourceIfMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfNoneMatch": etag},
        {"CopySourceIfNoneMatch": "*"},
        {"CopySourceIfModifiedSince": later},
        {"CopySourceIfUnmodifiedSince": past},
        {"CopySourceIfMatch": etag, "CopySourceIfNoneMatch": etag},
    ]
    for cond in failing:
        err = client_error(s3.copy_object, Bucket=b, Key="dst", CopySource=src, **cond)
        assert status_of(err) == 412, cond
        assert error_code(err) == "PreconditionFailed", cond
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 1, "a refused copy must write nothing"
    passing = [
        {"CopySourceIfMatch": etag},
        {"CopySourceIfNoneMatch": '"0123456789abcdef0123456789abcdef"'},
        {"CopySourceIfModifiedSince": past},
        {"CopySourceIfUnmodifiedSince": later},
        # S3's rule: if-match true and if-unmodified-since false -> copy
        {"CopySourceIfMatch": etag, "CopySourceIfUnmodifiedSince": past},
    ]
    for i, cond in enumerate(passing):
        s3.copy_object(Bucket=b, Key=f"ok/{i}", CopySource=src, **cond)
        assert s3.get_object(Bucket=b, Key=f"ok/{i}")["Body"].read() == b"source bytes"
    # S3's rule: if-none-match false wins over if-modified-since true -> 412
    err = client_error(s3.copy_object, Bucket=b, Key="dst", CopySource=src,
                       CopySourceIfNoneMatch=etag, CopySourceIfModifiedSince=past)
    assert status_of(err) == 412


@pytest.mark.parametrize("key", ["with space.txt", "ünïcödé/ключ ✓.txt", "a+b=c&d?e#f.txt",
                                 "100% sure", "dir//double/slash"])
def test_url_encoded_copy_sources(store: Store, s3: Any, key: str) -> None:
    b = store.name
    s3.put_object(Bucket=b, Key=key, Body=key.encode())
    s3.copy_object(Bucket=b, Key=f"copy/{key}", CopySource={"Bucket": b, "Key": key})
    assert s3.get_object(Bucket=b, Key=f"copy/{key}")["Body"].read() == key.encode()
    # by hand: the header percent-encoded (a "+" is a plus, not a space), with and without
    # the leading slash
    for n, source in enumerate((f"/{b}/{quote(key, safe='/')}", f"{b}/{quote(key, safe='')}")):
        r = send(store, "PUT", f"/{b}/{quote(f'raw{n}/{key}', safe='/')}",
                 headers={"x-amz-copy-source": source})
        assert r.status_code == 200, (source, r.text)
        got = s3.get_object(Bucket=b, Key=f"raw{n}/{key}")["Body"].read()
        assert got == key.encode(), source


def test_copy_of_a_multipart_object(store: Store, s3: Any) -> None:
    b = store.name
    parts = [os.urandom(PART), os.urandom(PART), os.urandom(12345)]
    up = s3.create_multipart_upload(Bucket=b, Key="mp", ContentType="a/b",
                                    Metadata={"k": "v"})["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=b, Key="mp", UploadId=up,
                                                     PartNumber=i, Body=d)["ETag"]}
            for i, d in enumerate(parts, 1)]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": done})
    whole = b"".join(parts)
    r = s3.copy_object(Bucket=b, Key="mp-copy", CopySource={"Bucket": b, "Key": "mp"})
    assert r["CopyObjectResult"]["ETag"] == _md5(whole)
    got = s3.get_object(Bucket=b, Key="mp-copy")
    assert got["Body"].read() == whole
    assert got["ContentType"] == "a/b" and got["Metadata"] == {"k": "v"}
    assert store.used_bytes() == 2 * len(whole)
    # the source can go away: the copy has its own bytes
    s3.delete_object(Bucket=b, Key="mp")
    store.srv.apps.gc.drain_doomed()
    assert s3.get_object(Bucket=b, Key="mp-copy")["Body"].read() == whole
    assert store.used_bytes() == len(whole)


def test_copy_checks_the_destination_quota(sqlite_server: Any) -> None:
    from sqlalchemy import update

    from objectstore.storage.sql.tables import objectstores

    src = create_store(sqlite_server)
    dst = create_store(sqlite_server, access_key_id=src.access_key, max_size_gb=1)
    s3 = src.boto()
    s3.put_object(Bucket=src.name, Key="obj", Body=b"q" * 2000)
    with sqlite_server.services.engine.begin() as conn:  # fill the destination to 1 kB short
        conn.execute(update(objectstores).where(objectstores.c.id == dst.id)
                     .values(used_bytes=GB - 1000))
    err = client_error(s3.copy_object, Bucket=dst.name, Key="obj",
                       CopySource={"Bucket": src.name, "Key": "obj"})
    assert error_code(err) == "QuotaExceeded" and status_of(err) == 403
    up = s3.create_multipart_upload(Bucket=dst.name, Key="mp")["UploadId"]
    err = client_error(s3.upload_part_copy, Bucket=dst.name, Key="mp", UploadId=up,
                       PartNumber=1, CopySource={"Bucket": src.name, "Key": "obj"})
    assert error_code(err) == "QuotaExceeded"
    assert dst.used_bytes() == GB - 1000
    assert src.used_bytes() == 2000
    # the source's room does not matter: a copy that fits the destination works
    s3.put_object(Bucket=src.name, Key="small", Body=b"s" * 900)
    s3.copy_object(Bucket=dst.name, Key="small", CopySource={"Bucket": src.name,
                                                              "Key": "small"})
    assert dst.used_bytes() == GB - 100
    assert dst.stats()["num_objects"] == 1


def test_upload_part_copy_with_ranges(store: Store, s3: Any) -> None:
    b = store.name
    # a multipart source (ranges cross its part boundaries) and a small single-part one
    sp = [os.urandom(PART), os.urandom(PART), os.urandom(3 * MIB)]
    up = s3.create_multipart_upload(Bucket=b, Key="src-mp")["UploadId"]
    done = [{"PartNumber": i, "ETag": s3.upload_part(Bucket=b, Key="src-mp", UploadId=up,
                                                     PartNumber=i, Body=d)["ETag"]}
            for i, d in enumerate(sp, 1)]
    s3.complete_multipart_upload(Bucket=b, Key="src-mp", UploadId=up,
                                 MultipartUpload={"Parts": done})
    src = b"".join(sp)
    small = b"small single-part source"
    s3.put_object(Bucket=b, Key="src small", Body=small)

    used_before = store.used_bytes()
    up = s3.create_multipart_upload(Bucket=b, Key="assembled", ContentType="x/y")["UploadId"]
    ranges = [(PART - 1000, 2 * PART - 1001), (PART + 3, len(src) - 1)]
    parts = []
    for n, (lo, hi) in enumerate(ranges, 1):
        r = s3.upload_part_copy(Bucket=b, Key="assembled", UploadId=up, PartNumber=n,
                                CopySource={"Bucket": b, "Key": "src-mp"},
                                CopySourceRange=f"bytes={lo}-{hi}")
        assert r["CopyPartResult"]["ETag"] == _md5(src[lo: hi + 1])
        parts.append({"PartNumber": n, "ETag": r["CopyPartResult"]["ETag"]})
    # no range: the whole (small) object, with a key that needs encoding
    r = s3.upload_part_copy(Bucket=b, Key="assembled", UploadId=up, PartNumber=3,
                            CopySource={"Bucket": b, "Key": "src small"})
    assert r["CopyPartResult"]["ETag"] == _md5(small)
    parts.append({"PartNumber": 3, "ETag": r["CopyPartResult"]["ETag"]})
    # copy-source conditions apply to part copies too
    err = client_error(s3.upload_part_copy, Bucket=b, Key="assembled", UploadId=up,
                       PartNumber=4, CopySource={"Bucket": b, "Key": "src small"},
                       CopySourceIfMatch='"0123456789abcdef0123456789abcdef"')
    assert status_of(err) == 412

    expected = b"".join(src[lo: hi + 1] for lo, hi in ranges) + small
    assert store.used_bytes() == used_before + len(expected)
    listed = s3.list_parts(Bucket=b, Key="assembled", UploadId=up)["Parts"]
    assert [(p["PartNumber"], p["Size"]) for p in listed] == [
        (1, PART), (2, len(src) - PART - 3), (3, len(small))]

    s3.complete_multipart_upload(Bucket=b, Key="assembled", UploadId=up,
                                 MultipartUpload={"Parts": parts})
    got = s3.get_object(Bucket=b, Key="assembled")
    assert got["ContentType"] == "x/y"
    assert got["Body"].read() == expected
    assert store.used_bytes() == used_before + len(expected)


def test_upload_part_copy_rejects_bad_ranges(store: Store, s3: Any) -> None:
    b = store.name
    s3.put_object(Bucket=b, Key="src", Body=b"0123456789")
    up = s3.create_multipart_upload(Bucket=b, Key="dst")["UploadId"]
    bad = ["bytes=5-1", "bytes=0-10", "bytes=10-12", "bytes=0-", "bytes=-5", "items=0-5",
           "bytes=a-b", "0-5"]
    for rng in bad:
        err = client_error(s3.upload_part_copy, Bucket=b, Key="dst", UploadId=up,
                           PartNumber=1, CopySource={"Bucket": b, "Key": "src"},
                           CopySourceRange=rng)
        assert status_of(err) in (400, 416), (rng, err.response)
        assert error_code(err) in ("InvalidArgument", "InvalidRange"), (rng, err.response)
    assert s3.list_parts(Bucket=b, Key="dst", UploadId=up).get("Parts", []) == []
    assert store.used_bytes() == 10
    # a valid one-byte range, and the last byte
    for n, rng, want in ((1, "bytes=0-0", b"0"), (2, "bytes=9-9", b"9")):
        r = s3.upload_part_copy(Bucket=b, Key="dst", UploadId=up, PartNumber=n,
                                CopySource={"Bucket": b, "Key": "src"}, CopySourceRange=rng)
        assert r["CopyPartResult"]["ETag"] == _md5(want)
    # a part copy into an upload that does not exist
    err = client_error(s3.upload_part_copy, Bucket=b, Key="dst", UploadId="f" * 48,
                       PartNumber=1, CopySource={"Bucket": b, "Key": "src"})
    assert error_code(err) == "NoSuchUpload"
    # the source's last-modified date is reported
    r = send(store, "PUT", f"/{b}/dst", query=f"partNumber=5&uploadId={up}",
             headers={"x-amz-copy-source": f"/{b}/src", "x-amz-copy-source-range": "bytes=1-2"})
    assert r.status_code == 200, r.text
    assert b"<LastModified>" in r.content and b"<ETag>" in r.content
    r = send(store, "PUT", f"/{b}/dst", query=f"partNumber=10001&uploadId={up}",
             headers={"x-amz-copy-source": f"/{b}/src"})
    assert r.status_code == 400 and xml_error_code(r.content) == "InvalidArgument"

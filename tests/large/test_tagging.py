"""Object tagging: x-amz-tagging on PUT, copy and CreateMultipartUpload; the tagging
sub-resource; the tag count header; S3's limits (stored tags unchanged on refusal)."""

from __future__ import annotations

from typing import Any
from urllib.parse import urlencode

from .conftest import Store, client_error, error_code, send, status_of, xml_error_code


def _tags(s3: Any, bucket: str, key: str) -> dict[str, str]:
    return {t["Key"]: t["Value"] for t in s3.get_object_tagging(Bucket=bucket,
                                                                Key=key)["TagSet"]}


def _count(resp: dict[str, Any]) -> str | None:
    return resp["ResponseMetadata"]["HTTPHeaders"].get("x-amz-tagging-count")


def test_tagging_header_on_put_copy_and_multipart(store: Store, s3: Any) -> None:
    b = store.name
    s3.put_object(Bucket=b, Key="o", Body=b"data",
                  Tagging=urlencode({"project": "apollo", "cost centre": "42 & up",
                                     "empty": ""}))
    assert _tags(s3, b, "o") == {"project": "apollo", "cost centre": "42 & up", "empty": ""}
    assert _count(s3.head_object(Bucket=b, Key="o")) == "3"
    g = s3.get_object(Bucket=b, Key="o")
    assert _count(g) == "3" and g["TagCount"] == 3
    g["Body"].read()

    # copy: tags are copied by default, replaced with x-amz-tagging-directive REPLACE
    s3.copy_object(Bucket=b, Key="copied", CopySource={"Bucket": b, "Key": "o"})
    assert _tags(s3, b, "copied") == _tags(s3, b, "o")
    s3.copy_object(Bucket=b, Key="retagged", CopySource={"Bucket": b, "Key": "o"},
                   TaggingDirective="REPLACE", Tagging="fresh=yes")
    assert _tags(s3, b, "retagged") == {"fresh": "yes"}
    assert _count(s3.head_object(Bucket=b, Key="retagged")) == "1"
    s3.copy_object(Bucket=b, Key="untagged", CopySource={"Bucket": b, "Key": "o"},
                   TaggingDirective="REPLACE")
    assert _tags(s3, b, "untagged") == {}
    assert _count(s3.head_object(Bucket=b, Key="untagged")) is None
    # onto itself, changing only the tags
    s3.copy_object(Bucket=b, Key="o", CopySource={"Bucket": b, "Key": "o"},
                   TaggingDirective="REPLACE", Tagging="self=1")
    assert _tags(s3, b, "o") == {"self": "1"}
    assert s3.get_object(Bucket=b, Key="o")["Body"].read() == b"data"

    # CreateMultipartUpload
    up = s3.create_multipart_upload(Bucket=b, Key="mp", Tagging="a=1&b=2")["UploadId"]
    e = s3.upload_part(Bucket=b, Key="mp", UploadId=up, PartNumber=1, Body=b"x")["ETag"]
    s3.complete_multipart_upload(Bucket=b, Key="mp", UploadId=up,
                                 MultipartUpload={"Parts": [{"PartNumber": 1, "ETag": e}]})
    assert _tags(s3, b, "mp") == {"a": "1", "b": "2"}
    assert _count(s3.head_object(Bucket=b, Key="mp")) == "2"


def test_put_get_delete_object_tagging(store: Store, s3: Any) -> None:
    b = store.name
    s3.put_object(Bucket=b, Key="t", Body=b"x")
    assert _tags(s3, b, "t") == {}
    assert _count(s3.head_object(Bucket=b, Key="t")) is None
    tagset = [{"Key": f"k{i}", "Value": f"v{i}"} for i in range(10)]
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": tagset})
    assert _tags(s3, b, "t") == {f"k{i}": f"v{i}" for i in range(10)}
    assert _count(s3.head_object(Bucket=b, Key="t")) == "10"
    # a put replaces the whole set
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "only",
                                                                   "Value": "<&>"}]})
    assert _tags(s3, b, "t") == {"only": "<&>"}
    r = s3.delete_object_tagging(Bucket=b, Key="t")
    assert status_of_ok(r) == 204
    assert _tags(s3, b, "t") == {}
    assert _count(s3.head_object(Bucket=b, Key="t")) is None
    # tagging a missing object
    for call in (lambda: s3.get_object_tagging(Bucket=b, Key="missing"),
                 lambda: s3.put_object_tagging(Bucket=b, Key="missing",
                                               Tagging={"TagSet": []}),
                 lambda: s3.delete_object_tagging(Bucket=b, Key="missing")):
        err = client_error(call)
        assert error_code(err) == "NoSuchKey" and status_of(err) == 404
    # tags survive a metadata-only self copy with the COPY tagging directive
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [{"Key": "keep",
                                                                   "Value": "me"}]})
    s3.copy_object(Bucket=b, Key="t", CopySource={"Bucket": b, "Key": "t"},
                   MetadataDirective="REPLACE", Metadata={"m": "1"})
    assert _tags(s3, b, "t") == {"keep": "me"}


def test_anonymous_readers_of_public_objects_cannot_read_tags(store: Store, s3: Any) -> None:
    import httpx

    b = store.name
    s3.put_object(Bucket=b, Key="pub", Body=b"public", ACL="public-read",
                  Tagging="internal=secret")
    anon = httpx.get(f"{store.s3_url}/{b}/pub", timeout=30)
    assert anon.status_code == 200 and anon.content == b"public"
    # a public-read ACL grants GetObject only, not GetObjectTagging
    anon = httpx.get(f"{store.s3_url}/{b}/pub?tagging", timeout=30)
    assert anon.status_code == 403, anon.text
    assert xml_error_code(anon.content) == "AccessDenied"
    assert b"secret" not in anon.content
    anon = httpx.delete(f"{store.s3_url}/{b}/pub?tagging", timeout=30)
    assert anon.status_code == 403
    assert _tags(s3, b, "pub") == {"internal": "secret"}


def status_of_ok(resp: dict[str, Any]) -> int:
    return resp["ResponseMetadata"]["HTTPStatusCode"]


def test_tag_limits_leave_stored_tags_unchanged(store: Store, s3: Any) -> None:
    b = store.name
    s3.put_object(Bucket=b, Key="t", Body=b"x", Tagging="orig=1")
    bad_sets = {
        "eleven tags": [{"Key": f"k{i}", "Value": "v"} for i in range(11)],
        "129-char key": [{"Key": "k" * 129, "Value": "v"}],
        "257-char value": [{"Key": "k", "Value": "v" * 257}],
        "duplicate key": [{"Key": "k", "Value": "1"}, {"Key": "k", "Value": "2"}],
    }
    for name, tagset in bad_sets.items():
        err = client_error(s3.put_object_tagging, Bucket=b, Key="t",
                           Tagging={"TagSet": tagset})
        assert status_of(err) == 400, name
        assert error_code(err) in ("InvalidTag", "BadRequest"), (name, err.response)
        assert _tags(s3, b, "t") == {"orig": "1"}, name
    # the limits themselves are fine
    s3.put_object_tagging(Bucket=b, Key="t", Tagging={"TagSet": [
        {"Key": "k" * 128, "Value": "v" * 256}]})
    assert _tags(s3, b, "t") == {"k" * 128: "v" * 256}

    # the same limits on the x-amz-tagging header: the write is refused as a whole
    bad_headers = {
        "eleven tags": urlencode({f"k{i}": "v" for i in range(11)}),
        "129-char key": urlencode({"k" * 129: "v"}),
        "257-char value": urlencode({"k": "v" * 257}),
    }
    for name, header in bad_headers.items():
        err = client_error(store.boto().put_object, Bucket=b, Key="t", Body=b"new",
                           Tagging=header)
        assert status_of(err) == 400, name
        assert error_code(err) in ("InvalidTag", "BadRequest", "InvalidArgument"), name
        err = client_error(s3.copy_object, Bucket=b, Key="t2",
                           CopySource={"Bucket": b, "Key": "t"}, TaggingDirective="REPLACE",
                           Tagging=header)
        assert status_of(err) == 400, name
        err = client_error(s3.create_multipart_upload, Bucket=b, Key="t3", Tagging=header)
        assert status_of(err) == 400, name
    assert s3.get_object(Bucket=b, Key="t")["Body"].read() == b"x"
    assert _tags(s3, b, "t") == {"k" * 128: "v" * 256}
    assert s3.list_objects_v2(Bucket=b)["KeyCount"] == 1
    assert s3.list_multipart_uploads(Bucket=b).get("Uploads", []) == []

    # malformed tagging XML, and an empty key (which the SDK will not send)
    r = send(store, "PUT", f"/{b}/t", query="tagging", body=b"<Tagging><TagSet><Tag>")
    assert r.status_code == 400 and xml_error_code(r.content) == "MalformedXML"
    r = send(store, "PUT", f"/{b}/t", query="tagging",
             body=b"<Tagging><TagSet><Tag><Key></Key><Value>v</Value></Tag></TagSet></Tagging>")
    assert r.status_code == 400 and xml_error_code(r.content) == "InvalidTag", r.text
    assert _tags(s3, b, "t") == {"k" * 128: "v" * 256}

"""Small documented S3 behaviours (issue 22), each checked with a real client against a real
server: what AWS answers, element names on the wire, errors for requests AWS refuses."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from botocore import UNSIGNED
from botocore.exceptions import ClientError

from tests.support.server import RunningServer

from .conftest import Store, boto_client, create_store, error_code, parse_error, signed, status_of


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _multipart(s3: Any, bucket: str, key: str, checksum: str | None = None
               ) -> tuple[dict[str, Any], list[dict[str, Any]], str]:
    """A two-part upload completed: (CompleteMultipartUpload's answer, parts, upload id)."""
    extra = {"ChecksumAlgorithm": checksum} if checksum else {}
    up = s3.create_multipart_upload(Bucket=bucket, Key=key, **extra)["UploadId"]
    parts = []
    for n, body in ((1, b"x" * 5 * 1024 * 1024), (2, b"y" * 10)):
        p = s3.upload_part(Bucket=bucket, Key=key, UploadId=up, PartNumber=n, Body=body, **extra)
        part = {"PartNumber": n, "ETag": p["ETag"]}
        if checksum:
            part[f"Checksum{checksum}"] = p[f"Checksum{checksum}"]
        parts.append(part)
    done = s3.complete_multipart_upload(Bucket=bucket, Key=key, UploadId=up,
                                        MultipartUpload={"Parts": parts})
    return done, parts, up


def test_object_attributes_report_the_parts_count(store: Store) -> None:
    s3 = store.boto()
    _multipart(s3, store.name, "mp")
    got = s3.get_object_attributes(Bucket=store.name, Key="mp", ObjectAttributes=["ObjectParts"])
    assert got["ObjectParts"]["TotalPartsCount"] == 2  # <PartsCount> on the wire
    raw = signed(store, "GET", f"/{store.name}/mp?attributes",
                 headers={"x-amz-object-attributes": "ObjectParts"})
    parts = ET.fromstring(raw.content).find(f"{NS}ObjectParts")
    assert parts is not None and parts.findtext(f"{NS}PartsCount") == "2", raw.text


@pytest.mark.parametrize("method", ["GET", "HEAD"])
@pytest.mark.parametrize("header", ["x-amz-server-side-encryption",
                                    "x-amz-server-side-encryption-aws-kms-key-id"])
def test_sse_request_headers_are_refused_on_reads(store: Store, method: str,
                                                  header: str) -> None:
    store.boto().put_object(Bucket=store.name, Key="k", Body=b"data")
    value = "AES256" if header == "x-amz-server-side-encryption" else "some-key"
    r = signed(store, method, f"/{store.name}/k", headers={header: value})
    assert r.status_code == 400, r.text
    if method == "GET":
        assert parse_error(r)["Code"] == "InvalidArgument"


def test_object_retention_on_a_store_without_object_lock_is_an_invalid_request(
        store: Store) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"abc")
    with pytest.raises(ClientError) as exc:
        s3.get_object_retention(Bucket=store.name, Key="k")
    assert (status_of(exc.value), error_code(exc.value)) == (400, "InvalidRequest")


@pytest.mark.parametrize("period", [{"Days": 0}, {"Years": -1}, {"Days": -5}])
def test_default_retention_periods_must_be_positive(store: Store, period: dict[str, int]
                                                   ) -> None:
    s3 = store.boto()
    s3.put_bucket_versioning(Bucket=store.name, VersioningConfiguration={"Status": "Enabled"})
    conf = {"ObjectLockEnabled": "Enabled",
            "Rule": {"DefaultRetention": {"Mode": "GOVERNANCE", **period}}}
    with pytest.raises(ClientError) as exc:
        s3.put_object_lock_configuration(Bucket=store.name, ObjectLockConfiguration=conf)
    assert (status_of(exc.value), error_code(exc.value)) == (400, "InvalidRetentionPeriod")
    with pytest.raises(ClientError) as exc:
        s3.get_object_lock_configuration(Bucket=store.name)
    assert error_code(exc.value) == "ObjectLockConfigurationNotFoundError"


@pytest.mark.parametrize("v2", [False, True])
def test_max_keys_zero_lists_nothing_and_is_not_truncated(store: Store, v2: bool) -> None:
    s3 = store.boto()
    for key in ("bar", "baz", "foo"):
        s3.put_object(Bucket=store.name, Key=key, Body=b"")
    got = (s3.list_objects_v2(Bucket=store.name, MaxKeys=0) if v2
           else s3.list_objects(Bucket=store.name, MaxKeys=0))
    assert got["IsTruncated"] is False
    assert "Contents" not in got and "CommonPrefixes" not in got
    assert "NextContinuationToken" not in got and "NextMarker" not in got


@pytest.mark.parametrize("prefix", ["\n", "a b/é", "x%2F"])
def test_list_objects_v1_echoes_the_prefix_as_sent(store: Store, prefix: str) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key=f"{prefix}k", Body=b"")
    # boto3 asks for encoding-type=url and, as AWS, decodes keys but not v1's Prefix
    got = s3.list_objects(Bucket=store.name, Prefix=prefix)
    assert got["Prefix"] == prefix
    assert [o["Key"] for o in got["Contents"]] == [f"{prefix}k"]
    assert s3.list_objects_v2(Bucket=store.name, Prefix=prefix)["Prefix"] == prefix


@pytest.mark.parametrize("path", ["/no-such-bucket-7f3a", "/no-such-bucket-7f3a/key"])
def test_anonymous_requests_to_a_missing_bucket_say_no_such_bucket(store: Store,
                                                                   path: str) -> None:
    # (a PUT of the bucket itself is CreateBucket: AccessDenied to anonymous callers)
    for method in ("GET", "PUT") if path.endswith("/key") else ("GET", "DELETE"):
        r = httpx.request(method, f"{store.s3_url}{path}", content=b"x" if method == "PUT"
                          else b"")
        assert r.status_code == 404, r.text
        assert parse_error(r)["Code"] == "NoSuchBucket"
    anonymous = store.boto(signature_version=UNSIGNED)
    with pytest.raises(ClientError) as exc:
        anonymous.head_bucket(Bucket="no-such-bucket-7f3a")
    assert status_of(exc.value) == 404


def test_bucket_notification_configuration_is_empty(store: Store) -> None:
    s3 = store.boto()
    got = s3.get_bucket_notification_configuration(Bucket=store.name)
    assert {k for k in got if k != "ResponseMetadata"} == set()
    r = signed(store, "GET", f"/{store.name}?notification")
    assert r.status_code == 200 and ET.fromstring(r.content).tag == f"{NS}NotificationConfiguration"
    # an ARN that is no event target of this server is refused as AWS words it
    # (tests/integration/test_notifications.py sets real ones)
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_notification_configuration(
            Bucket=store.name, NotificationConfiguration={"QueueConfigurations": [{
                "QueueArn": "arn:aws:sqs:us-east-1:123456789012:q",
                "Events": ["s3:ObjectCreated:*"]}]})
    assert status_of(exc.value) == 400 and error_code(exc.value) == "InvalidArgument"
    with pytest.raises(ClientError) as exc:
        s3.get_bucket_notification_configuration(Bucket="no-such-bucket-7f3a")
    assert error_code(exc.value) == "NoSuchBucket"


def test_list_buckets_pages_and_prefix(store: Store) -> None:
    from .conftest import create_store

    others = [create_store(store.srv, f"{store.name}-{n}", access_key_id=store.access_key)
              for n in ("b", "c")]
    s3 = store.boto()
    names = sorted([store.name] + [o.name for o in others])
    everything = [b["Name"] for b in s3.list_buckets()["Buckets"]]
    assert everything == sorted(everything) and set(names) <= set(everything)
    got = s3.list_buckets(Prefix=store.name)
    assert [b["Name"] for b in got["Buckets"]] == names and got["Prefix"] == store.name
    assert "ContinuationToken" not in got
    seen, token = [], None
    while True:
        page = s3.list_buckets(Prefix=store.name, MaxBuckets=1,
                               **({"ContinuationToken": token} if token else {}))
        seen += [b["Name"] for b in page["Buckets"]]
        assert len(page["Buckets"]) == 1
        token = page.get("ContinuationToken")
        if token is None:
            break
    assert seen == names
    assert s3.list_buckets(Prefix=f"{store.name}-zzz")["Buckets"] == []
    for bad in ("0", "10001", "x"):
        r = signed(store, "GET", f"/?max-buckets={bad}")
        assert r.status_code == 400 and parse_error(r)["Code"] == "InvalidArgument", r.text


def test_expected_bucket_owner_is_checked_on_every_operation(store: Store) -> None:
    s3 = store.boto()
    owner = s3.list_buckets()["Owner"]["ID"]
    b = store.name
    s3.put_object(Bucket=b, Key="k", Body=b"v")
    # the right owner: every operation proceeds
    s3.put_object(Bucket=b, Key="k2", Body=b"v", ExpectedBucketOwner=owner)
    assert s3.get_object(Bucket=b, Key="k", ExpectedBucketOwner=owner)["Body"].read() == b"v"
    s3.list_objects_v2(Bucket=b, ExpectedBucketOwner=owner)
    s3.copy_object(Bucket=b, Key="k3", CopySource={"Bucket": b, "Key": "k"},
                   ExpectedBucketOwner=owner, ExpectedSourceBucketOwner=owner)
    wrong = "0" * 64
    calls = [
        lambda: s3.get_object(Bucket=b, Key="k", ExpectedBucketOwner=wrong),
        lambda: s3.head_object(Bucket=b, Key="k", ExpectedBucketOwner=wrong),
        lambda: s3.put_object(Bucket=b, Key="new", Body=b"x", ExpectedBucketOwner=wrong),
        lambda: s3.delete_object(Bucket=b, Key="k", ExpectedBucketOwner=wrong),
        lambda: s3.list_objects_v2(Bucket=b, ExpectedBucketOwner=wrong),
        lambda: s3.get_bucket_versioning(Bucket=b, ExpectedBucketOwner=wrong),
        lambda: s3.put_object_tagging(Bucket=b, Key="k", ExpectedBucketOwner=wrong,
                                      Tagging={"TagSet": [{"Key": "a", "Value": "b"}]}),
        lambda: s3.copy_object(Bucket=b, Key="k4", CopySource={"Bucket": b, "Key": "k"},
                               ExpectedSourceBucketOwner=wrong),
    ]
    for call in calls:
        with pytest.raises(ClientError) as exc:
            call()
        assert status_of(exc.value) == 403
        if exc.value.operation_name != "HeadObject":
            assert error_code(exc.value) == "AccessDenied"
    # nothing changed
    assert sorted(o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]) == \
        ["k", "k2", "k3"]
    assert s3.get_object_tagging(Bucket=b, Key="k")["TagSet"] == []


def test_bucket_owner_enforced_refuses_every_acl_but_bucket_owner_full_control(
        store: Store) -> None:
    s3 = store.boto()
    b = store.name
    s3.put_bucket_ownership_controls(Bucket=b, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_object(Bucket=b, Key="plain", Body=b"x")
    s3.put_object(Bucket=b, Key="bofc", Body=b"x", ACL="bucket-owner-full-control")
    s3.create_multipart_upload(Bucket=b, Key="mp", ACL="bucket-owner-full-control")
    s3.copy_object(Bucket=b, Key="copy", CopySource={"Bucket": b, "Key": "plain"},
                   ACL="bucket-owner-full-control")
    refused = [
        lambda: s3.put_object(Bucket=b, Key="p", Body=b"x", ACL="private"),
        lambda: s3.put_object(Bucket=b, Key="p", Body=b"x", ACL="public-read"),
        lambda: s3.create_multipart_upload(Bucket=b, Key="p", ACL="private"),
        lambda: s3.copy_object(Bucket=b, Key="p", CopySource={"Bucket": b, "Key": "plain"},
                               ACL="private"),
        lambda: s3.put_bucket_acl(Bucket=b, ACL="private"),
        lambda: s3.put_object_acl(Bucket=b, Key="plain", ACL="private"),
    ]
    for call in refused:
        with pytest.raises(ClientError) as exc:
            call()
        assert (status_of(exc.value), error_code(exc.value)) == (
            400, "AccessControlListNotSupported")
    keys = {o["Key"] for o in s3.list_objects_v2(Bucket=b)["Contents"]}
    assert keys == {"plain", "bofc", "copy"}
    # reading ACLs still works
    assert s3.get_object_acl(Bucket=b, Key="plain")["Grants"][0]["Permission"] == "FULL_CONTROL"


@pytest.mark.parametrize(("sent", "stored"), [
    ("deflate, gzip", "deflate, gzip"), ("gzip,br", "gzip,br"), ("x-custom ;q=1", "x-custom ;q=1")])
def test_content_encoding_is_returned_verbatim(store: Store, sent: str,
                                               stored: str | None) -> None:
    # (aws-chunked, the framing of a streaming upload, is never stored: test_roundtrip)
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"data", ContentEncoding=sent)
    head = s3.head_object(Bucket=store.name, Key="k")
    assert head.get("ContentEncoding") == stored
    got = s3.get_object(Bucket=store.name, Key="k")
    assert got.get("ContentEncoding") == stored and got["Body"].read() == b"data"


def test_object_tag_sets_come_back_sorted_by_key(store: Store) -> None:
    s3 = store.boto()
    sent = [{"Key": k, "Value": v} for k, v in (("zeta", "1"), ("Alpha", "2"), ("10", "3"),
                                                 ("2", "4"), ("alpha", "5"))]
    s3.put_object(Bucket=store.name, Key="k", Body=b"")
    s3.put_object_tagging(Bucket=store.name, Key="k", Tagging={"TagSet": sent})
    got = s3.get_object_tagging(Bucket=store.name, Key="k")["TagSet"]
    assert got == sorted(sent, key=lambda t: t["Key"])
    s3.put_object(Bucket=store.name, Key="h", Body=b"", Tagging="b=1&a=2&C=3")
    assert [t["Key"] for t in s3.get_object_tagging(Bucket=store.name, Key="h")["TagSet"]] \
        == ["C", "a", "b"]


@pytest.mark.parametrize("size", [3, 300 * 1024])
def test_transfer_encoding_chunked_bodies_are_accepted(store: Store, size: int) -> None:
    from .conftest import sign_v4

    data = bytes(range(256)) * (size // 256) + b"x" * (size % 256)
    url = f"{store.s3_url}/{store.name}/chunked"

    def pieces() -> Any:
        for i in range(0, len(data), 7000):
            yield data[i:i + 7000]

    for unsigned in (False, True):
        headers = sign_v4("PUT", url, store.access_key, store.secret_key, body=data,
                          headers={"Transfer-Encoding": "chunked"}, unsigned=unsigned)
        assert (headers["X-Amz-Content-SHA256"] == "UNSIGNED-PAYLOAD") == unsigned
        r = httpx.put(url, content=pieces(), headers=headers)
        assert r.status_code == 200, r.text
        got = store.boto().get_object(Bucket=store.name, Key="chunked")
        assert got["ContentLength"] == size and got["Body"].read() == data
    # a wrong payload hash still refuses the body, and nothing is stored
    headers = sign_v4("PUT", url + "2", store.access_key, store.secret_key, body=data + b"!",
                      headers={"Transfer-Encoding": "chunked"})
    r = httpx.put(url + "2", content=pieces(), headers=headers)
    assert r.status_code == 400, r.text
    with pytest.raises(ClientError):
        store.boto().head_object(Bucket=store.name, Key="chunked2")


def test_transfer_encoding_chunked_encrypted_puts_need_a_length(store: Store) -> None:
    from .conftest import sign_v4

    url = f"{store.s3_url}/{store.name}/sealed"
    headers = sign_v4("PUT", url, store.access_key, store.secret_key, body=b"abc",
                      headers={"Transfer-Encoding": "chunked",
                               "x-amz-server-side-encryption": "AES256"})
    r = httpx.put(url, content=iter([b"a", b"bc"]), headers=headers)
    assert r.status_code == 411 and parse_error(r)["Code"] == "MissingContentLength"


def _sign_raw(store: Store, method: str, path: str, headers: dict[str, bytes]
              ) -> dict[str, bytes]:
    """SigV4 over the header bytes exactly as they go on the wire (as AWS computes it)."""
    import datetime as dt
    import hashlib
    import hmac

    from .conftest import REGION

    now = dt.datetime.now(dt.UTC)
    amz_date, day = now.strftime("%Y%m%dT%H%M%SZ"), now.strftime("%Y%m%d")
    empty = hashlib.sha256(b"").hexdigest()
    all_headers = {"host": store.host_port.encode(), "x-amz-date": amz_date.encode(),
                   "x-amz-content-sha256": empty.encode(), **headers}
    names = sorted(all_headers)
    canonical = (f"{method}\n{path}\n\n".encode()
                 + b"".join(n.encode() + b":" + all_headers[n].strip() + b"\n" for n in names)
                 + f"\n{';'.join(names)}\n{empty}".encode())
    scope = f"{day}/{REGION}/s3/aws4_request"
    to_sign = f"AWS4-HMAC-SHA256\n{amz_date}\n{scope}\n{hashlib.sha256(canonical).hexdigest()}"
    key = ("AWS4" + store.secret_key).encode()
    for part in (day, REGION, "s3", "aws4_request"):
        key = hmac.new(key, part.encode(), hashlib.sha256).digest()
    sig = hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()
    auth = (f"AWS4-HMAC-SHA256 Credential={store.access_key}/{scope}, "
            f"SignedHeaders={';'.join(names)}, Signature={sig}")
    return {**all_headers, "authorization": auth.encode()}


@pytest.mark.parametrize("value", [b"plain ascii", "café".encode(), "café".encode("latin-1"),
                                   "naïve ☃".encode()])
def test_non_ascii_user_metadata_is_signed_and_returned_as_sent(store: Store,
                                                                value: bytes) -> None:
    """A client that sends x-amz-meta-* bytes beyond ASCII (UTF-8 or Latin-1) and signs them
    as sent is authenticated, and gets the same bytes back on HEAD and GET."""
    from .conftest import raw_exchange

    path = f"/{store.name}/meta"
    headers = _sign_raw(store, "PUT", path, {"x-amz-meta-note": value})
    status, _, body = raw_exchange(
        store.s3_url, "PUT", path,
        {k: v.decode("latin-1") for k, v in {**headers, "content-length": b"0"}.items()})
    assert status == 200, body
    for method in ("HEAD", "GET"):
        signed_get = _sign_raw(store, method, path, {})
        status, got, _ = raw_exchange(store.s3_url, method, path,
                                      {k: v.decode("latin-1") for k, v in signed_get.items()})
        assert status == 200
        assert got["x-amz-meta-note"].encode("latin-1") == value


def test_lifecycle_rules_round_trip_in_the_form_they_were_put(store: Store) -> None:
    s3 = store.boto()
    rules = [
        {"ID": "legacy", "Prefix": "logs/", "Status": "Enabled",
         "Expiration": {"Days": 3}},
        {"ID": "filtered", "Filter": {"Prefix": "tmp/"}, "Status": "Enabled",
         "Expiration": {"Days": 1}},
    ]
    s3.put_bucket_lifecycle_configuration(Bucket=store.name,
                                          LifecycleConfiguration={"Rules": rules})
    got = s3.get_bucket_lifecycle_configuration(Bucket=store.name)["Rules"]
    assert got[0]["Prefix"] == "logs/" and "Filter" not in got[0]
    assert got[1]["Filter"] == {"Prefix": "tmp/"} and "Prefix" not in got[1]


@pytest.mark.parametrize(("transition", "code"), [
    ({"Transitions": [{"Days": 30, "StorageClass": "STANDARD_IA"}]}, "NotImplemented"),
    ({"Transitions": [{"Days": 30, "StorageClass": "BOGUS"}]}, "MalformedXML"),
    ({"Transitions": [{"StorageClass": "GLACIER"}]}, "MalformedXML"),
    ({"Transitions": [{"Days": -1, "StorageClass": "GLACIER"}]}, "InvalidArgument"),
    ({"NoncurrentVersionTransitions": [{"NoncurrentDays": 0, "StorageClass": "GLACIER"}]},
     "InvalidArgument"),
    ({"Transitions": [{"Days": 30, "StorageClass": "GLACIER"}],
      "Expiration": {"Days": 0}}, "InvalidArgument"),
])
def test_lifecycle_transitions_are_validated_before_not_implemented(
        store: Store, transition: dict[str, Any], code: str) -> None:
    s3 = store.boto()
    rule = {"ID": "t", "Filter": {"Prefix": ""}, "Status": "Enabled", **transition}
    with pytest.raises(ClientError) as exc:
        s3.put_bucket_lifecycle_configuration(Bucket=store.name,
                                              LifecycleConfiguration={"Rules": [rule]})
    assert error_code(exc.value) == code
    # a later invalid rule is found before the 501 of an earlier valid transition
    if code == "NotImplemented":
        bad = {"ID": "u", "Filter": {"Prefix": "x"}, "Status": "Enabled",
               "Expiration": {"Days": 0}}
        with pytest.raises(ClientError) as exc:
            s3.put_bucket_lifecycle_configuration(
                Bucket=store.name, LifecycleConfiguration={"Rules": [rule, bad]})
        assert error_code(exc.value) == "InvalidArgument"


def _v2_form(store: Store, expiration: str, **fields: str) -> dict[str, str]:
    """POST form fields with a policy expiring at ``expiration`` (signed SigV2)."""
    import base64
    import hashlib
    import hmac
    import json

    conditions: list[Any] = [{"bucket": store.name}, ["starts-with", "$key", ""]]
    conditions += [{k: v} for k, v in fields.items()]
    policy = base64.b64encode(json.dumps({"expiration": expiration,
                                          "conditions": conditions}).encode()).decode()
    sig = base64.b64encode(hmac.new(store.secret_key.encode(), policy.encode(),
                                    hashlib.sha1).digest()).decode()
    return {"key": "posted", "AWSAccessKeyId": store.access_key, "policy": policy,
            "signature": sig, **fields}


@pytest.mark.parametrize("expiration", ["{now} ", "{date}", "{now_space}", "tomorrow",
                                        "{now_noz}"])
def test_post_policy_expiration_must_be_iso8601(store: Store, expiration: str) -> None:
    import datetime as dt

    later = dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)
    value = expiration.format(
        now=later.strftime("%Y-%m-%dT%H:%M:%S.000Z"), date=later.strftime("%Y-%m-%d"),
        now_space=str(later), now_noz=later.strftime("%Y-%m-%d %H:%M:%S"))
    r = httpx.post(f"{store.s3_url}/{store.name}", data=_v2_form(store, value),
                   files={"file": ("f.txt", b"data", "text/plain")})
    assert r.status_code == 400, r.text
    assert parse_error(r)["Code"] == "InvalidPolicyDocument"
    with pytest.raises(ClientError):
        store.boto().head_object(Bucket=store.name, Key="posted")


def test_post_response_document_has_no_namespace(store: Store) -> None:
    import datetime as dt

    later = (dt.datetime.now(dt.UTC) + dt.timedelta(hours=1)).strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    for expiration in (later, later[:19] + "Z", later[:19] + "+00:00"):
        r = httpx.post(f"{store.s3_url}/{store.name}",
                       data=_v2_form(store, expiration, success_action_status="201"),
                       files={"file": ("f.txt", b"data", "text/plain")})
        assert r.status_code == 201, r.text
        root = ET.fromstring(r.content)
        assert root.tag == "PostResponse", r.text  # no xmlns, as AWS sends it
        assert root.findtext("Key") == "posted" and root.findtext("Bucket") == store.name


@pytest.mark.parametrize("versioned", [False, True])
def test_completing_a_completed_upload_again_answers_the_same(store: Store,
                                                              versioned: bool) -> None:
    s3 = store.boto()
    if versioned:
        s3.put_bucket_versioning(Bucket=store.name,
                                 VersioningConfiguration={"Status": "Enabled"})
    done, parts, up = _multipart(s3, store.name, "mp", checksum="CRC32")
    again = s3.complete_multipart_upload(Bucket=store.name, Key="mp", UploadId=up,
                                         MultipartUpload={"Parts": parts})
    assert again["ETag"] == done["ETag"]
    assert again.get("ChecksumCRC32") == done["ChecksumCRC32"]
    assert again.get("VersionId") == done.get("VersionId")
    versions = s3.list_object_versions(Bucket=store.name)["Versions"]
    assert len(versions) == 1  # nothing new was written
    # other parts than the ones completed: the upload is gone
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=store.name, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": parts[:1]})
    assert error_code(exc.value) == "NoSuchUpload"
    # once the key holds something else, the upload is gone too
    s3.put_object(Bucket=store.name, Key="mp", Body=b"other")
    with pytest.raises(ClientError) as exc:
        s3.complete_multipart_upload(Bucket=store.name, Key="mp", UploadId=up,
                                     MultipartUpload={"Parts": parts})
    assert error_code(exc.value) == "NoSuchUpload"


@pytest.mark.parametrize("algorithm", ["CRC32", "SHA256"])
def test_part_reads_return_the_parts_own_checksum(store: Store, algorithm: str) -> None:
    """GET/HEAD with partNumber and x-amz-checksum-mode: ENABLED answer that part's checksum
    (as UploadPart returned it), the whole object's is the composite one with its -N suffix,
    and GetObjectAttributes lists the parts with their checksums."""
    s3 = store.boto()
    done, parts, _ = _multipart(s3, store.name, "mp", checksum=algorithm)
    field = f"Checksum{algorithm}"
    assert done[field].endswith("-2")
    whole = s3.head_object(Bucket=store.name, Key="mp", ChecksumMode="ENABLED")
    assert (whole[field], whole["ChecksumType"]) == (done[field], "COMPOSITE")
    for n in (1, 2):
        head = s3.head_object(Bucket=store.name, Key="mp", PartNumber=n, ChecksumMode="ENABLED")
        assert head[field] == parts[n - 1][field], (n, head)
        assert head["ChecksumType"] == "COMPOSITE"
        assert head["PartsCount"] == 2
        got = s3.get_object(Bucket=store.name, Key="mp", PartNumber=n, ChecksumMode="ENABLED")
        assert got[field] == parts[n - 1][field]
        assert got["Body"].read() == (b"x" * 5 * 1024 * 1024 if n == 1 else b"y" * 10)
    attrs = s3.get_object_attributes(Bucket=store.name, Key="mp",
                                     ObjectAttributes=["ObjectParts", "Checksum"])
    assert attrs["Checksum"][field] == done[field]
    listed = attrs["ObjectParts"]
    assert listed["TotalPartsCount"] == 2
    assert [(p["PartNumber"], p["Size"], p[field]) for p in listed["Parts"]] == [
        (1, 5 * 1024 * 1024, parts[0][field]), (2, 10, parts[1][field])]
    page = s3.get_object_attributes(Bucket=store.name, Key="mp", MaxParts=1,
                                    ObjectAttributes=["ObjectParts"])["ObjectParts"]
    assert page["IsTruncated"] and page["NextPartNumberMarker"] == 1
    assert [p["PartNumber"] for p in page["Parts"]] == [1]
    rest = s3.get_object_attributes(Bucket=store.name, Key="mp", PartNumberMarker=1,
                                    ObjectAttributes=["ObjectParts"])["ObjectParts"]
    assert [p["PartNumber"] for p in rest["Parts"]] == [2] and not rest["IsTruncated"]


def test_owner_recreating_its_bucket_answers_by_signed_region(store: Store) -> None:
    """AWS: BucketAlreadyOwnedByYou (409) in every region but us-east-1, where the owner's
    CreateBucket answers 200 and resets the bucket's ACL (legacy behaviour)."""
    s3 = store.boto()
    s3.put_bucket_acl(Bucket=store.name, ACL="public-read")
    with pytest.raises(ClientError) as exc:
        s3.create_bucket(Bucket=store.name)
    assert (status_of(exc.value), error_code(exc.value)) == (409, "BucketAlreadyOwnedByYou")
    grants = s3.get_bucket_acl(Bucket=store.name)["Grants"]
    assert any(g["Grantee"].get("URI", "").endswith("AllUsers") for g in grants)
    east = boto_client(store.s3_url, store.access_key, store.secret_key, region="us-east-1")
    assert east.create_bucket(Bucket=store.name)["ResponseMetadata"]["HTTPStatusCode"] == 200
    grants = s3.get_bucket_acl(Bucket=store.name)["Grants"]
    assert [g["Permission"] for g in grants] == ["FULL_CONTROL"], grants  # reset: private
    east.create_bucket(Bucket=store.name, ACL="authenticated-read")
    grants = s3.get_bucket_acl(Bucket=store.name)["Grants"]
    assert [g["Grantee"].get("URI", "").rsplit("/", 1)[-1] for g in grants] == [
        "", "AuthenticatedUsers"]
    # someone else's bucket is BucketAlreadyExists wherever the request is signed for
    other = create_store(store.srv)
    with pytest.raises(ClientError) as exc:
        east.create_bucket(Bucket=other.name)
    assert error_code(exc.value) == "BucketAlreadyExists"


def test_acl_grants_come_back_in_the_order_they_were_put(store: Store) -> None:
    s3 = store.boto()
    s3.put_object(Bucket=store.name, Key="k", Body=b"k")
    owner = s3.get_bucket_acl(Bucket=store.name)["Owner"]
    all_users = {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"}
    auth_users = {"Type": "Group",
                  "URI": "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"}
    me = {"Type": "CanonicalUser", "ID": owner["ID"]}
    grants = [{"Grantee": auth_users, "Permission": "READ_ACP"},
              {"Grantee": all_users, "Permission": "READ"},
              {"Grantee": me, "Permission": "FULL_CONTROL"},
              {"Grantee": auth_users, "Permission": "READ"}]
    policy = {"Owner": owner, "Grants": grants}
    s3.put_bucket_acl(Bucket=store.name, AccessControlPolicy=policy)
    s3.put_object_acl(Bucket=store.name, Key="k", AccessControlPolicy=policy)

    def shape(got: list[dict[str, Any]]) -> list[tuple[str, str]]:
        return [(g["Grantee"].get("URI") or g["Grantee"].get("ID", ""), g["Permission"])
                for g in got]

    want = shape(grants)
    assert shape(s3.get_bucket_acl(Bucket=store.name)["Grants"]) == want
    assert shape(s3.get_object_acl(Bucket=store.name, Key="k")["Grants"]) == want
    # grant headers: in the order they were sent, each header's grantees as listed
    r = signed(store, "PUT", f"/{store.name}?acl", headers={
        "x-amz-grant-write": 'uri="http://acs.amazonaws.com/groups/global/AllUsers"',
        "x-amz-grant-read": f'id="{owner["ID"]}", '
                            'uri="http://acs.amazonaws.com/groups/global/AuthenticatedUsers"'})
    assert r.status_code == 200, r.text
    assert shape(s3.get_bucket_acl(Bucket=store.name)["Grants"]) == [
        (all_users["URI"], "WRITE"), (owner["ID"], "READ"), (auth_users["URI"], "READ")]

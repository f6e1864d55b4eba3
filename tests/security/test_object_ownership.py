"""Object reads and object ownership across accounts (issue 20.9), with boto3 and plain HTTP
over a real server, as on AWS:

- a store's ACL READ grant lets its grantees list the store (ListObjects, ListObjectVersions,
  ListMultipartUploads), not read its objects: a private object of a ``public-read`` store is
  403 to anonymous callers and to other accounts; an object is read by its own ACL or by a
  policy;
- ownership controls decide who owns an object another account writes: ``ObjectWriter`` (and
  a store without ownership controls) the writer; ``BucketOwnerPreferred`` the store's owner
  when the writer sends ``bucket-owner-full-control``, else the writer; ``BucketOwnerEnforced``
  the store's owner always. The owner shows in listings, GetObjectAcl, ListMultipartUploads
  and ListParts; a store's owner has no access to another account's object unless its ACL
  grants it (the policy's Allows do not reach it; its Denys do), but may always delete it.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any
from xml.etree import ElementTree as ET

import httpx
import pytest
from botocore.exceptions import ClientError

from tests.security.helpers import REGION, Store, create_store, uniq
from tests.support.clients import boto_client, error_code, status_of
from tests.support.server import RunningServer

NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


def _account(srv: RunningServer) -> tuple[Any, str]:
    """A new account with one credential: (boto3 client, its canonical id)."""
    _account_row, api_key = srv.services.accounts.create(uniq("acct"))
    with srv.api(api_key) as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("c"), "region": REGION})
    assert r.status_code == 200, r.text
    cred = r.json()
    s3 = boto_client(srv.s3_url, cred["access_key_id"], cred["secret_access_key_id"])
    return s3, s3.list_buckets()["Owner"]["ID"]


def _fails(call: Callable[[], Any]) -> tuple[str, int]:
    with pytest.raises(ClientError) as err:
        call()
    return error_code(err.value), status_of(err.value)


def _anon(store: Store, method: str, path: str, **params: str) -> httpx.Response:
    return httpx.request(method, f"{store.s3_url}/{store.name}{path}", params=params,
                         timeout=30)


def _owner_id(s3: Any) -> str:
    return str(s3.list_buckets()["Owner"]["ID"])


@pytest.fixture(scope="module")
def other(security_server: RunningServer) -> tuple[Any, str]:
    return _account(security_server)


def test_public_read_store_lists_but_keeps_private_objects_private(
        security_server: RunningServer, other: tuple[Any, str]) -> None:
    store = create_store(security_server)
    s3, name = store.boto(), store.name
    s3.put_bucket_acl(Bucket=name, ACL="public-read")
    s3.put_object(Bucket=name, Key="private.txt", Body=b"secret")
    s3.put_object(Bucket=name, Key="public.txt", Body=b"hello", ACL="public-read")
    s3.create_multipart_upload(Bucket=name, Key="pending")
    b3, _b_id = other

    for method in ("GET", "HEAD"):  # anonymous: the bucket grant lists, it does not read
        assert _anon(store, method, "/private.txt").status_code == 403
        assert _anon(store, method, "/public.txt").status_code == 200
    denied = _anon(store, "GET", "/private.txt")
    assert ET.fromstring(denied.content).findtext("Code") == "AccessDenied"
    attrs = _anon(store, "GET", "/private.txt", attributes="")
    assert attrs.status_code == 403, attrs.text
    assert _anon(store, "GET", "/private.txt", acl="").status_code == 403
    listed = _anon(store, "GET", "")
    assert listed.status_code == 200, listed.text
    keys = [k.text for k in ET.fromstring(listed.content).iter(f"{NS}Key")]
    assert keys == ["private.txt", "public.txt"]
    assert _anon(store, "GET", "", versions="").status_code == 200
    uploads = _anon(store, "GET", "", uploads="")
    assert uploads.status_code == 200, uploads.text
    assert [k.text for k in ET.fromstring(uploads.content).iter(f"{NS}Key")] == ["pending"]

    # another account: the same
    assert _fails(lambda: b3.get_object(Bucket=name, Key="private.txt")) == (
        "AccessDenied", 403)
    assert _fails(lambda: b3.head_object(Bucket=name, Key="private.txt"))[1] == 403
    assert _fails(lambda: b3.get_object_attributes(
        Bucket=name, Key="private.txt", ObjectAttributes=["ETag", "ObjectSize"]))[1] == 403
    assert b3.get_object(Bucket=name, Key="public.txt")["Body"].read() == b"hello"
    assert [o["Key"] for o in b3.list_objects_v2(Bucket=name)["Contents"]] == keys

    # the object's own ACL or a policy opens it
    s3.put_object_acl(Bucket=name, Key="private.txt", ACL="public-read")
    assert _anon(store, "GET", "/private.txt").content == b"secret"
    s3.put_object(Bucket=name, Key="by-policy.txt", Body=b"p")
    assert _anon(store, "GET", "/by-policy.txt").status_code == 403
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
            "Resource": f"arn:aws:s3:::{name}/by-policy.txt"}]}))
    assert _anon(store, "GET", "/by-policy.txt").content == b"p"


def test_bucket_read_grants_to_an_account_list_only(security_server: RunningServer,
                                                     other: tuple[Any, str]) -> None:
    store = create_store(security_server)
    s3, name = store.boto(), store.name
    b3, b_id = other
    s3.put_object(Bucket=name, Key="k", Body=b"v")
    s3.put_object(Bucket=name, Key="granted", Body=b"g", GrantRead=f'id="{b_id}"')
    s3.put_bucket_acl(Bucket=name, GrantRead=f'id="{b_id}"',
                      GrantFullControl=f'id="{_owner_id(s3)}"')
    assert [o["Key"] for o in b3.list_objects(Bucket=name)["Contents"]] == ["granted", "k"]
    assert b3.list_object_versions(Bucket=name)["Versions"]
    assert _fails(lambda: b3.get_object(Bucket=name, Key="k"))[1] == 403
    assert b3.get_object(Bucket=name, Key="granted")["Body"].read() == b"g"
    s3.put_bucket_acl(Bucket=name, ACL="authenticated-read")
    assert b3.list_objects_v2(Bucket=name)["KeyCount"] == 2
    assert _fails(lambda: b3.get_object(Bucket=name, Key="k"))[1] == 403
    assert _anon(store, "GET", "").status_code == 403


def _shared_store(srv: RunningServer, b_id: str, ownership: str | None) -> Store:
    """A store whose ACL lets account B list and write it, with ``ownership`` controls."""
    store = create_store(srv)
    s3 = store.boto()
    s3.put_bucket_acl(Bucket=store.name, GrantRead=f'id="{b_id}"',
                      GrantWrite=f'id="{b_id}"', GrantFullControl=f'id="{_owner_id(s3)}"')
    if ownership is not None:
        s3.put_bucket_ownership_controls(Bucket=store.name, OwnershipControls={
            "Rules": [{"ObjectOwnership": ownership}]})
    s3.put_object(Bucket=store.name, Key="a.txt", Body=b"a")
    return store


def _listed_owners(s3: Any, name: str) -> dict[str, dict[str, str]]:
    v2 = {o["Key"]: o["Owner"]["ID"]
          for o in s3.list_objects_v2(Bucket=name, FetchOwner=True)["Contents"]}
    v1 = {o["Key"]: o["Owner"]["ID"] for o in s3.list_objects(Bucket=name)["Contents"]}
    versions = {v["Key"]: v["Owner"]["ID"]
                for v in s3.list_object_versions(Bucket=name)["Versions"]}
    assert v1 == v2 == versions, (v1, v2, versions)
    return {"v2": v2}


def _grants(acl: dict[str, Any]) -> set[tuple[str, str]]:
    return {(g["Grantee"].get("ID") or g["Grantee"].get("URI", ""), g["Permission"])
            for g in acl["Grants"]}


@pytest.mark.parametrize("ownership", ["ObjectWriter", None])
def test_object_writer_owns_what_it_writes(security_server: RunningServer,
                                           other: tuple[Any, str],
                                           ownership: str | None) -> None:
    b3, b_id = other
    store = _shared_store(security_server, b_id, ownership)
    s3, name = store.boto(), store.name
    a_id = _owner_id(s3)
    b3.put_object(Bucket=name, Key="b.txt", Body=b"from b")
    b3.put_object(Bucket=name, Key="b-full.txt", Body=b"full", ACL="bucket-owner-full-control")
    b3.put_object(Bucket=name, Key="b-read.txt", Body=b"read", ACL="bucket-owner-read")

    owners = _listed_owners(s3, name)["v2"]
    assert owners == {"a.txt": a_id, "b.txt": b_id, "b-full.txt": b_id, "b-read.txt": b_id}
    assert _listed_owners(b3, name)["v2"] == owners

    acl = b3.get_object_acl(Bucket=name, Key="b.txt")
    assert acl["Owner"]["ID"] == b_id
    assert _grants(acl) == {(b_id, "FULL_CONTROL")}
    assert _grants(b3.get_object_acl(Bucket=name, Key="b-full.txt")) == {
        (b_id, "FULL_CONTROL"), (a_id, "FULL_CONTROL")}
    assert _grants(b3.get_object_acl(Bucket=name, Key="b-read.txt")) == {
        (b_id, "FULL_CONTROL"), (a_id, "READ")}

    # the store's owner: no access to B's private object, the access B's ACL gives it
    assert _fails(lambda: s3.get_object(Bucket=name, Key="b.txt")) == ("AccessDenied", 403)
    assert _fails(lambda: s3.head_object(Bucket=name, Key="b.txt"))[1] == 403
    assert _fails(lambda: s3.get_object_acl(Bucket=name, Key="b.txt"))[1] == 403
    assert _fails(lambda: s3.put_object_acl(Bucket=name, Key="b.txt", ACL="public-read"))[1] \
        == 403
    assert s3.get_object(Bucket=name, Key="b-full.txt")["Body"].read() == b"full"
    assert s3.get_object_acl(Bucket=name, Key="b-full.txt")["Owner"]["ID"] == b_id
    assert s3.get_object(Bucket=name, Key="b-read.txt")["Body"].read() == b"read"
    assert _fails(lambda: s3.get_object_acl(Bucket=name, Key="b-read.txt"))[1] == 403
    # ... and B reads its own, but not A's private object
    assert b3.get_object(Bucket=name, Key="b.txt")["Body"].read() == b"from b"
    assert _fails(lambda: b3.get_object(Bucket=name, Key="a.txt"))[1] == 403

    # the owner's policy: its Allows do not reach B's object, its Denys do
    policy = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/*"},
        {"Effect": "Deny", "Principal": "*", "Action": "s3:GetObject",
         "Resource": f"arn:aws:s3:::{name}/b-full.txt"}]}
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps(policy))
    assert _anon(store, "GET", "/a.txt").content == b"a"
    assert _anon(store, "GET", "/b.txt").status_code == 403
    assert _fails(lambda: b3.get_object(Bucket=name, Key="b-full.txt"))[1] == 403
    s3.delete_bucket_policy(Bucket=name)

    # B makes its object public: its ACL, with B as its owner
    b3.put_object_acl(Bucket=name, Key="b.txt", ACL="public-read")
    assert _anon(store, "GET", "/b.txt").content == b"from b"
    assert b3.get_object_acl(Bucket=name, Key="b.txt")["Owner"]["ID"] == b_id
    assert s3.get_object(Bucket=name, Key="b.txt")["Body"].read() == b"from b"
    # an ACL document may not hand the object to someone else
    assert _fails(lambda: b3.put_object_acl(Bucket=name, Key="b.txt", AccessControlPolicy={
        "Owner": {"ID": a_id}, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": a_id},
             "Permission": "FULL_CONTROL"}]}))[1] == 403

    # the store's owner may always delete
    s3.delete_object(Bucket=name, Key="b.txt")
    assert "b.txt" not in _listed_owners(s3, name)["v2"]

    # multipart: the initiator, and the object's owner to be
    up = b3.create_multipart_upload(Bucket=name, Key="mp")["UploadId"]
    listed = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [(u["Key"], u["Initiator"]["ID"], u["Owner"]["ID"]) for u in listed] == [
        ("mp", b_id, b_id)]
    parts = b3.list_parts(Bucket=name, Key="mp", UploadId=up)
    assert (parts["Initiator"]["ID"], parts["Owner"]["ID"]) == (b_id, b_id)
    etag = b3.upload_part(Bucket=name, Key="mp", UploadId=up, PartNumber=1,
                          Body=b"x" * 10)["ETag"]
    b3.complete_multipart_upload(Bucket=name, Key="mp", UploadId=up, MultipartUpload={
        "Parts": [{"PartNumber": 1, "ETag": etag}]})
    assert _listed_owners(s3, name)["v2"]["mp"] == b_id
    assert _fails(lambda: s3.get_object(Bucket=name, Key="mp"))[1] == 403
    s3_up = s3.create_multipart_upload(Bucket=name, Key="mine")["UploadId"]
    listed = b3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [(u["Key"], u["Initiator"]["ID"], u["Owner"]["ID"]) for u in listed] == [
        ("mine", a_id, a_id)]
    s3.abort_multipart_upload(Bucket=name, Key="mine", UploadId=s3_up)


def test_bucket_owner_preferred(security_server: RunningServer,
                                other: tuple[Any, str]) -> None:
    b3, b_id = other
    store = _shared_store(security_server, b_id, "BucketOwnerPreferred")
    s3, name = store.boto(), store.name
    a_id = _owner_id(s3)
    b3.put_object(Bucket=name, Key="b.txt", Body=b"b")
    b3.put_object(Bucket=name, Key="given.txt", Body=b"g", ACL="bucket-owner-full-control")
    assert _listed_owners(s3, name)["v2"] == {"a.txt": a_id, "b.txt": b_id,
                                             "given.txt": a_id}
    assert s3.get_object(Bucket=name, Key="given.txt")["Body"].read() == b"g"
    acl = s3.get_object_acl(Bucket=name, Key="given.txt")
    assert acl["Owner"]["ID"] == a_id and _grants(acl) == {(a_id, "FULL_CONTROL")}
    assert _fails(lambda: b3.get_object(Bucket=name, Key="given.txt"))[1] == 403
    assert _fails(lambda: s3.get_object(Bucket=name, Key="b.txt"))[1] == 403
    up = b3.create_multipart_upload(Bucket=name, Key="mp", ACL="bucket-owner-full-control")
    listed = s3.list_multipart_uploads(Bucket=name)["Uploads"]
    assert [(u["Initiator"]["ID"], u["Owner"]["ID"]) for u in listed] == [(b_id, a_id)]
    b3.abort_multipart_upload(Bucket=name, Key="mp", UploadId=up["UploadId"])


def test_bucket_owner_enforced_owns_everything(security_server: RunningServer,
                                               other: tuple[Any, str]) -> None:
    b3, b_id = other
    store = _shared_store(security_server, b_id, "ObjectWriter")
    s3, name = store.boto(), store.name
    a_id = _owner_id(s3)
    b3.put_object(Bucket=name, Key="before.txt", Body=b"before")
    assert _fails(lambda: s3.get_object(Bucket=name, Key="before.txt"))[1] == 403
    # ACLs can be disabled only once the bucket ACL grants nothing outside the account
    # (AWS); B's access then comes from a policy
    s3.put_bucket_acl(Bucket=name, ACL="private")
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "BucketOwnerEnforced"}]})
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": {"AWS": b_id}, "Action": ["s3:PutObject"],
            "Resource": f"arn:aws:s3:::{name}/*"}]}))
    b3.put_object(Bucket=name, Key="b.txt", Body=b"b")
    owners = _listed_owners(s3, name)["v2"]
    assert owners == {"a.txt": a_id, "before.txt": a_id, "b.txt": a_id}
    assert s3.get_object(Bucket=name, Key="b.txt")["Body"].read() == b"b"
    assert s3.get_object(Bucket=name, Key="before.txt")["Body"].read() == b"before"
    assert s3.get_object_acl(Bucket=name, Key="before.txt")["Owner"]["ID"] == a_id


def test_same_account_writers_write_for_the_store_owner(security_server: RunningServer
                                                        ) -> None:
    store = create_store(security_server)
    s3, name = store.boto(), store.name
    s3.put_bucket_ownership_controls(Bucket=name, OwnershipControls={
        "Rules": [{"ObjectOwnership": "ObjectWriter"}]})
    with store.api() as api:
        r = api.post("/v2/objectstore/credentials", json={"name": uniq("m"), "region": REGION})
    assert r.status_code == 200, r.text
    cred = r.json()
    mate = boto_client(store.s3_url, cred["access_key_id"], cred["secret_access_key_id"])
    s3.put_bucket_policy(Bucket=name, Policy=json.dumps({
        "Version": "2012-10-17", "Statement": [{
            "Effect": "Allow", "Principal": "*", "Action": "s3:PutObject",
            "Resource": f"arn:aws:s3:::{name}/*"}]}))
    mate.put_object(Bucket=name, Key="m.txt", Body=b"m")
    assert _listed_owners(s3, name)["v2"] == {"m.txt": _owner_id(s3)}
    assert s3.get_object(Bucket=name, Key="m.txt")["Body"].read() == b"m"

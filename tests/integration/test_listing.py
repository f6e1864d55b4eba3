"""ListObjects (v1), ListObjectsV2 and ListObjectVersions through boto3, checked exactly."""

from __future__ import annotations

from typing import Any
from xml.etree import ElementTree as ET

import pytest
from botocore.exceptions import ClientError
from botocore.handlers import set_list_objects_encoding_type_url

from tests.support.server import RunningServer
from tests.support.stores import create_store

from .conftest import Store, error_code, status_of


@pytest.fixture
def store(module_sqlite_server: RunningServer) -> Store:
    """A store of its own on the module's server: these tests touch nothing else (conftest)."""
    return create_store(module_sqlite_server)

KEYS = ["a/1", "a/2", "a/b/3", "a/b/4", "b", "c/x", "c/y", "d", "e/f/g"]
NS = "{http://s3.amazonaws.com/doc/2006-03-01/}"


@pytest.fixture
def filled(store: Store) -> tuple[Any, str]:
    s3 = store.boto(when_required=True)
    for key in KEYS:
        s3.put_object(Bucket=store.name, Key=key, Body=key.encode())
    return s3, store.name


def keys_of(resp: dict[str, Any]) -> list[str]:
    return [o["Key"] for o in resp.get("Contents", [])]


def prefixes_of(resp: dict[str, Any]) -> list[str]:
    return [p["Prefix"] for p in resp.get("CommonPrefixes", [])]


def test_v1_prefix_delimiter_marker(filled: tuple[Any, str]) -> None:
    s3, bucket = filled
    r = s3.list_objects(Bucket=bucket)
    assert keys_of(r) == KEYS and r["IsTruncated"] is False and r["MaxKeys"] == 1000
    r = s3.list_objects(Bucket=bucket, Delimiter="/")
    assert keys_of(r) == ["b", "d"]
    assert prefixes_of(r) == ["a/", "c/", "e/"]
    r = s3.list_objects(Bucket=bucket, Prefix="a/", Delimiter="/")
    assert keys_of(r) == ["a/1", "a/2"] and prefixes_of(r) == ["a/b/"]
    assert r["Prefix"] == "a/" and r["Delimiter"] == "/"
    r = s3.list_objects(Bucket=bucket, Marker="a/b/3")
    assert keys_of(r) == KEYS[3:] and r["Marker"] == "a/b/3"
    r = s3.list_objects(Bucket=bucket, Prefix="zzz")
    assert keys_of(r) == [] and prefixes_of(r) == []
    # Owner is the credential in v1 listings.
    owner = s3.list_objects(Bucket=bucket)["Contents"][0]["Owner"]
    assert owner["ID"] and owner["DisplayName"]


def test_v1_paging_with_and_without_delimiter(filled: tuple[Any, str]) -> None:
    s3, bucket = filled
    r = s3.list_objects(Bucket=bucket, MaxKeys=2)
    assert keys_of(r) == KEYS[:2] and r["IsTruncated"] is True
    assert "NextMarker" not in r  # only with a delimiter; clients use the last key
    # Page through by hand with Marker = the last key.
    seen: list[str] = []
    marker = ""
    while True:
        r = s3.list_objects(Bucket=bucket, MaxKeys=2, Marker=marker)
        seen += keys_of(r)
        if not r["IsTruncated"]:
            break
        marker = keys_of(r)[-1]
    assert seen == KEYS
    # With a delimiter, NextMarker is given and may be a common prefix.
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=2)
    assert prefixes_of(r) == ["a/"] and keys_of(r) == ["b"]
    assert r["IsTruncated"] is True and r["NextMarker"] == "b"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=1, Marker="b")
    assert prefixes_of(r) == ["c/"] and r["NextMarker"] == "c/"
    r = s3.list_objects(Bucket=bucket, Delimiter="/", MaxKeys=5, Marker="c/")
    assert keys_of(r) == ["d"] and prefixes_of(r) == ["e/"] and r["IsTruncated"] is False
    # boto3's paginator agrees.
    pages = s3.get_paginator("list_objects").paginate(Bucket=bucket, Delimiter="/",
                                                       PaginationConfig={"PageSize": 1})
    got_keys, got_prefixes = [], []
    for page in pages:
        got_keys += keys_of(page)
        got_prefixes += prefixes_of(page)
    assert got_keys == ["b", "d"] and got_prefixes == ["a/", "c/", "e/"]


def test_v2_continuation_start_after_and_fetch_owner(filled: tuple[Any, str]) -> None:
    s3, bucket = filled
    seen: list[str] = []
    tokens: list[str] = []
    kwargs: dict[str, Any] = {}
    while True:
        r = s3.list_objects_v2(Bucket=bucket, MaxKeys=2, **kwargs)
        assert r["KeyCount"] == len(keys_of(r)) <= 2
        seen += keys_of(r)
        if not r["IsTruncated"]:
            assert "NextContinuationToken" not in r
            break
        tokens.append(r["NextContinuationToken"])
        kwargs = {"ContinuationToken": r["NextContinuationToken"]}
        assert r.get("ContinuationToken") == (tokens[-2] if len(tokens) > 1 else None)
    assert seen == KEYS and len(tokens) == 4
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="b")
    assert keys_of(r) == KEYS[5:] and r["StartAfter"] == "b"
    # With a continuation token, start-after is ignored (minio's SDKs send both on page 2).
    r1 = s3.list_objects_v2(Bucket=bucket, MaxKeys=2)
    r = s3.list_objects_v2(Bucket=bucket, ContinuationToken=r1["NextContinuationToken"],
                           StartAfter="zzz")
    assert keys_of(r) == KEYS[2:] and r["StartAfter"] == "zzz"
    r = s3.list_objects_v2(Bucket=bucket, StartAfter="a", Prefix="a/", Delimiter="/")
    assert keys_of(r) == ["a/1", "a/2"] and prefixes_of(r) == ["a/b/"] and r["KeyCount"] == 3
    # Owner only with fetch-owner.
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=1)
    assert "Owner" not in r["Contents"][0]
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=1, FetchOwner=True)
    assert set(r["Contents"][0]["Owner"]) == {"ID", "DisplayName"}
    # Paging with a delimiter across pages of common prefixes.
    pages = s3.get_paginator("list_objects_v2").paginate(
        Bucket=bucket, Delimiter="/", PaginationConfig={"PageSize": 1})
    got: list[str] = []
    for page in pages:
        got += keys_of(page) + prefixes_of(page)
    assert got == ["a/", "b", "c/", "d", "e/"]
    with pytest.raises(ClientError) as ei:
        s3.list_objects_v2(Bucket=bucket, ContinuationToken="!!not-a-token!!")
    assert error_code(ei.value) == "InvalidArgument" and status_of(ei.value) == 400
    # max-keys=0: nothing, and not truncated (AWS), though objects exist.
    r = s3.list_objects_v2(Bucket=bucket, MaxKeys=0)
    assert r["KeyCount"] == 0 and r["IsTruncated"] is False


def test_encoding_type_url(store: Store) -> None:
    s3 = store.boto()
    odd = ["enc/sp ace", "enc/plus+sign", "enc/pct%41", "enc/ünï", "enc/amp&lt<"]
    for key in odd:
        s3.put_object(Bucket=store.name, Key=key, Body=b"x")
    raw: list[bytes] = []
    s3.meta.events.register("before-parse.s3.ListObjectsV2",
                            lambda response_dict, **_: raw.append(response_dict["body"]))
    # boto3 asks for encoding-type=url by itself and then decodes the keys it gets.
    r = s3.list_objects_v2(Bucket=store.name, Prefix="enc/", Delimiter="/")
    assert keys_of(r) == sorted(odd, key=lambda k: k.encode())
    root = ET.fromstring(raw[-1])
    wire = [c.findtext(f"{NS}Key") for c in root.iter(f"{NS}Contents")]
    assert "enc/sp%20ace" in wire and "enc/plus%2Bsign" in wire and "enc/pct%2541" in wire
    assert "enc/%C3%BCn%C3%AF" in wire and "enc/amp%26lt%3C" in wire, wire
    assert root.findtext(f"{NS}EncodingType") == "url"
    # Asked for explicitly, the keys stay encoded for the caller.
    r = s3.list_objects_v2(Bucket=store.name, Prefix="enc/sp ace", EncodingType="url")
    assert keys_of(r) == ["enc/sp%20ace"]
    # Without encoding-type the XML carries the keys escaped for XML only.
    raw.clear()
    unencoded = store.boto()
    unencoded.meta.events.unregister("before-parameter-build.s3.ListObjects",
                                     handler=set_list_objects_encoding_type_url)
    body: list[bytes] = []
    unencoded.meta.events.register("before-parse.s3.ListObjects",
                                   lambda response_dict, **_: body.append(response_dict["body"]))
    r = unencoded.list_objects(Bucket=store.name, Prefix="enc/")
    assert keys_of(r) == sorted(odd, key=lambda k: k.encode())
    assert b"<Key>enc/amp&amp;lt&lt;</Key>" in body[-1] and b"EncodingType" not in body[-1]


def test_list_object_versions_paging_with_deletes(store: Store) -> None:
    s3 = store.boto(when_required=True)
    keys = [f"v/{i:02d}" for i in range(10)]
    for key in keys:
        s3.put_object(Bucket=store.name, Key=key, Body=b"v")
    r = s3.list_object_versions(Bucket=store.name, MaxKeys=3)
    page1 = [v["Key"] for v in r["Versions"]]
    assert page1 == keys[:3] and r["IsTruncated"] is True
    assert all(v["VersionId"] == "null" and v["IsLatest"] is True for v in r["Versions"])
    assert r["NextKeyMarker"] == "v/02" and r["NextVersionIdMarker"] == "null"
    # Delete one key already returned and two not yet returned, then continue.
    for key in ("v/01", "v/03", "v/04"):
        s3.delete_object(Bucket=store.name, Key=key)
    seen = list(page1)
    marker = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    while True:
        r = s3.list_object_versions(Bucket=store.name, MaxKeys=3, **marker)
        seen += [v["Key"] for v in r.get("Versions", [])]
        if not r["IsTruncated"]:
            break
        # delete the next key that is still to come
        upcoming = [k for k in keys if k > r["NextKeyMarker"] and k not in ("v/03", "v/04")]
        if upcoming:
            s3.delete_object(Bucket=store.name, Key=upcoming[0])
            keys.remove(upcoming[0])
        marker = {"KeyMarker": r["NextKeyMarker"], "VersionIdMarker": r["NextVersionIdMarker"]}
    expected = [k for k in keys if k not in ("v/03", "v/04")]
    assert seen == expected, seen
    assert len(seen) == len(set(seen))
    remaining = [k for k in expected if k != "v/01"]
    r = s3.list_object_versions(Bucket=store.name, Prefix="v/0", Delimiter="/")
    assert [v["Key"] for v in r["Versions"]] == [k for k in remaining if k.startswith("v/0")]
    assert "DeleteMarkers" not in r
    with pytest.raises(ClientError) as ei:
        s3.list_object_versions(Bucket=store.name, VersionIdMarker="null")
    assert error_code(ei.value) == "InvalidArgument"


def test_minio_lists_more_than_a_page_of_digit_keys(store: Store) -> None:
    """minio-py over 1,050 keys starting with digits (the issue 22 bug: page 2 of a V2
    listing carries both continuation-token and start-after; start-after must not win):
    every key once, in order, with and without start-after, V2 and V1, recursive and by
    "directory"."""
    from concurrent.futures import ThreadPoolExecutor

    from minio import Minio

    from .conftest import REGION

    keys = [f"{2023 + i % 3}/{i // 3 % 12 + 1:02d}/{i:05d}.log" for i in range(1050)]
    s3 = store.boto(when_required=True)
    with ThreadPoolExecutor(8) as pool:
        list(pool.map(lambda k: s3.put_object(Bucket=store.name, Key=k, Body=b""), keys))
    client = Minio(store.host_port, access_key=store.access_key, secret_key=store.secret_key,
                   secure=False, region=REGION)
    ordered = sorted(keys)

    def names(**kwargs: Any) -> list[str]:
        return [o.object_name for o in client.list_objects(store.name, **kwargs)]

    assert names(recursive=True) == ordered
    assert names(recursive=True, use_api_v1=True) == ordered
    after = ordered[20]
    assert names(recursive=True, start_after=after) == ordered[21:]  # still two pages
    assert names(recursive=True, start_after="2") == ordered  # sorts before every key
    assert names(recursive=True, prefix="2024/", start_after="2024/0") == [
        k for k in ordered if k.startswith("2024/")]
    assert names() == ["2023/", "2024/", "2025/"]
    assert names(prefix="2025/") == [f"2025/{m:02d}/" for m in range(1, 13)]

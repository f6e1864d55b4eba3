"""objectstore.testing: the pytest plugin's fixtures (loaded through its entry point) and the
context manager, used as a project testing its own S3 code would."""

from __future__ import annotations

from typing import Any

import pytest
from botocore.exceptions import ClientError

from objectstore.testing import TestStore, local_objectstore


def test_the_fixtures_give_a_real_store_and_client(objectstore_store: TestStore,
                                                   objectstore_s3: Any) -> None:
    objectstore_s3.put_object(Bucket=objectstore_store.name, Key="greeting", Body=b"hello")
    got = objectstore_s3.get_object(Bucket=objectstore_store.name, Key="greeting")
    assert got["Body"].read() == b"hello"


def test_each_test_gets_a_fresh_store(objectstore_store: TestStore, objectstore_s3: Any) -> None:
    assert objectstore_s3.list_objects_v2(Bucket=objectstore_store.name)["KeyCount"] == 0


def test_signatures_are_checked(objectstore_store: TestStore) -> None:
    import boto3

    wrong = boto3.client("s3", endpoint_url=objectstore_store.endpoint, region_name="LON1",
                         aws_access_key_id=objectstore_store.access_key_id,
                         aws_secret_access_key="x" * 40)
    with pytest.raises(ClientError) as err:
        wrong.list_objects_v2(Bucket=objectstore_store.name)
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"


def test_context_manager_without_pytest_fixtures_enforces_quota() -> None:
    with local_objectstore(account_quota_gb=3) as server:
        with server.api() as api:
            assert api.get("/v2/quota").status_code == 200
        store = server.new_store(size_gb=2)
        with pytest.raises(Exception, match="quota"):
            server.new_store(size_gb=2)  # 4 GB > the 3 GB account quota
        s3 = store.boto3_client()
        s3.put_object(Bucket=store.name, Key="a", Body=b"1")
        assert s3.head_object(Bucket=store.name, Key="a")["ContentLength"] == 1

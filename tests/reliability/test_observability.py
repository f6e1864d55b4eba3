"""Metrics, access logs, and no secret in any log line of a full run."""

from __future__ import annotations

import json
import logging

import boto3
import httpx
import pytest
from botocore.exceptions import ClientError


def test_metrics_access_log_and_no_secrets(sqlite_server, caplog) -> None:
    caplog.set_level(logging.DEBUG)
    srv = sqlite_server
    with srv.api() as api:
        store = api.post("/v2/objectstores", json={"name": "obs-b", "region": "LON1"}).json()
        cred = api.get(f"/v2/objectstore/credentials/{store['owner_info']['credential_id']}")
        cred = cred.json()
        rotated = api.put(f"/v2/objectstore/credentials/{cred['id']}",
                          json={"secret_access_key_id": "NewSecretValue0123456789abcdefABCDEF"})
        assert rotated.status_code == 200
    ak, sk = cred["access_key_id"], "NewSecretValue0123456789abcdefABCDEF"
    s3 = boto3.client("s3", endpoint_url=srv.s3_url, aws_access_key_id=ak,
                      aws_secret_access_key=sk, region_name="LON1")
    s3.put_object(Bucket="obs-b", Key="k", Body=b"12345")
    url = s3.generate_presigned_url("get_object", Params={"Bucket": "obs-b", "Key": "k"})
    assert httpx.get(url).content == b"12345"
    bad = boto3.client("s3", endpoint_url=srv.s3_url, aws_access_key_id=ak,
                       aws_secret_access_key="wrong" + sk, region_name="LON1")
    with pytest.raises(ClientError) as err:
        bad.get_object(Bucket="obs-b", Key="k")
    assert err.value.response["Error"]["Code"] == "SignatureDoesNotMatch"

    metrics = httpx.get(f"{srv.api_url}/metrics",
                        headers={"Authorization": f"bearer {srv.api_key}"}).text  # operator
    assert 'objectstore_requests_total{operation="PutObject",plane="s3",status="200"} 1.0' \
        in metrics
    assert 'objectstore_received_bytes_total{operation="PutObject",plane="s3"} 5.0' in metrics
    assert 'objectstore_store_used_bytes{region="LON1",store="obs-b"} 5.0' in metrics
    assert 'objectstore_store_objects{region="LON1",store="obs-b"} 1.0' in metrics

    lines = [r.getMessage() for r in caplog.records if r.name == "objectstore.access"]
    entries = [json.loads(line) for line in lines]
    ops = [e["op"] for e in entries if e["plane"] == "s3"]
    assert "PutObject" in ops and "GetObject" in ops
    assert all(len(e["request_id"]) == 16 for e in entries)

    server_side = ("objectstore", "uvicorn", "sqlalchemy", "alembic", "starlette")
    everything = "\n".join(r.getMessage() for r in caplog.records
                            if r.name.startswith(server_side))
    assert "objectstore.access" in {r.name for r in caplog.records}
    signature = url.split("X-Amz-Signature=")[1].split("&")[0]
    for secret in (srv.api_key, sk, cred["secret_access_key_id"], signature):
        assert secret not in everything

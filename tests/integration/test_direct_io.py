"""OBJECTSTORE_DIRECT_IO=true (blob files written with O_DIRECT past their first MiB), over a
real server with boto3 at its defaults: single PUTs and multipart parts of sizes around the
cached first MiB and the 1 MiB stage read back whole, ranged reads included, and fsck
finds every blob whole."""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import httpx
import pytest
from botocore.config import Config

from tests.support.proc import ServerProcess

REGION = "LON1"
MIB = 1024 * 1024


@pytest.fixture(scope="module")
def s3(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Any]:
    server = ServerProcess(tmp_path_factory.mktemp("direct") / "data",
                           extra_env={"OBJECTSTORE_DIRECT_IO": "true"})
    server.start(60)
    try:
        with httpx.Client(base_url=server.api_url, timeout=30,
                          headers={"Authorization": f"bearer {server.api_key}"}) as api:
            r = api.post("/v2/objectstores", json={"name": "direct", "region": REGION})
            assert r.status_code == 200, r.text
            cred = api.get(f"/v2/objectstore/credentials/{r.json()['owner_info']['credential_id']}",
                           params={"region": REGION}).json()
        yield boto3.client("s3", endpoint_url=server.s3_url, region_name=REGION,
                           aws_access_key_id=cred["access_key_id"],
                           aws_secret_access_key=cred["secret_access_key_id"],
                           config=Config(retries={"total_max_attempts": 1}))
    finally:
        server.stop()
    fsck = server.run_cli("fsck")
    assert fsck.returncode == 0, fsck.stdout + fsck.stderr


@pytest.mark.parametrize("size", [MIB - 1, MIB + 1, 3 * MIB + 4095, 9 * MIB + 4096])
def test_single_puts_read_back_whole(s3: Any, size: int) -> None:
    data = os.urandom(size)
    s3.put_object(Bucket="direct", Key=f"k{size}", Body=data)
    got = s3.get_object(Bucket="direct", Key=f"k{size}")
    assert got["Body"].read() == data
    assert got["ETag"].strip('"') == hashlib.md5(data).hexdigest()  # noqa: S324
    start = size // 2 - 7
    part = s3.get_object(Bucket="direct", Key=f"k{size}", Range=f"bytes={start}-{start + 9000}")
    assert part["Body"].read() == data[start:start + 9001]


def test_multipart_parts_read_back_whole(s3: Any, tmp_path: Path) -> None:
    parts = [os.urandom(5 * MIB + 17), os.urandom(2 * MIB + 1)]
    up = s3.create_multipart_upload(Bucket="direct", Key="mp")
    done = [{"PartNumber": i + 1, "ETag": s3.upload_part(
        Bucket="direct", Key="mp", UploadId=up["UploadId"], PartNumber=i + 1,
        Body=p)["ETag"]} for i, p in enumerate(parts)]
    s3.complete_multipart_upload(Bucket="direct", Key="mp", UploadId=up["UploadId"],
                                 MultipartUpload={"Parts": done})
    assert s3.get_object(Bucket="direct", Key="mp")["Body"].read() == b"".join(parts)

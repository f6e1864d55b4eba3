"""Multipart through other clients: s3cmd (SigV2, as Civo's export configures it, and SigV4)
and the MinIO SDK (multipart put of known and unknown length, compose = UploadPartCopy)."""

from __future__ import annotations

import io
import os
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from .conftest import MIB, REGION, Store, binary, clean_env, file_md5, random_file, run


@pytest.mark.parametrize("sigv2", [True, False], ids=["sigv2", "sigv4"])
def test_s3cmd_multipart_put_get(store: Store, tmp_path: Path, sigv2: bool) -> None:
    host = urlsplit(store.s3_url).netloc
    cfg = tmp_path / "s3cfg"
    cfg.write_text(
        "[default]\n"
        f"access_key = {store.access_key}\nsecret_key = {store.secret_key}\n"
        f"bucket_location = {REGION}\nhost_base = {host}\nhost_bucket = {host}\n"
        f"use_https = False\nsignature_v2 = {sigv2}\n")
    src = tmp_path / "file.bin"
    digest = random_file(src, 12 * MIB + 3, seed=7)
    base = [binary("python"), binary("s3cmd"), "-c", str(cfg), "--no-progress"]
    run([*base, "put", "--multipart-chunk-size-mb=5", str(src), f"s3://{store.name}/s3cmd.bin"],
        clean_env(tmp_path))
    head = store.boto().head_object(Bucket=store.name, Key="s3cmd.bin")
    assert head["ETag"].strip('"').endswith("-3"), head["ETag"]
    dst = tmp_path / "back.bin"
    run([*base, "get", f"s3://{store.name}/s3cmd.bin", str(dst)], clean_env(tmp_path))
    assert file_md5(dst) == digest
    assert store.used_bytes() == 12 * MIB + 3


def test_minio_multipart_and_compose(store: Store) -> None:
    from minio import Minio
    from minio.commonconfig import ComposeSource

    m = Minio(urlsplit(store.s3_url).netloc, access_key=store.access_key,
              secret_key=store.secret_key, secure=False, region=REGION)
    data = os.urandom(12 * MIB + 5)
    r = m.put_object(store.name, "m/known", io.BytesIO(data), len(data), part_size=5 * MIB,
                     metadata={"x-amz-meta-origin": "minio"})
    assert r.etag.endswith("-3")
    assert m.get_object(store.name, "m/known").read() == data
    r = m.put_object(store.name, "m/stream", io.BytesIO(data), -1, part_size=5 * MIB)
    assert r.etag.endswith("-3")
    assert m.stat_object(store.name, "m/stream").size == len(data)
    # compose: CreateMultipartUpload + UploadPartCopy (with ranges) + Complete
    r = m.compose_object(store.name, "m/composed", [
        ComposeSource(store.name, "m/known"),
        ComposeSource(store.name, "m/stream", offset=7, length=1000)])
    assert m.get_object(store.name, "m/composed").read() == data + data[7:1007]
    assert store.used_bytes() == 3 * len(data) + 1000
    assert store.boto().list_multipart_uploads(Bucket=store.name).get("Uploads", []) == []

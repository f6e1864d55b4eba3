"""A real objectstore server for tests of code that uses S3: both planes on ephemeral
loopback ports, in a temp dir, with signatures and quotas enforced (unlike a mock).

    from objectstore.testing import local_objectstore

    with local_objectstore() as server:
        store = server.new_store()
        s3 = store.boto3_client()   # needs boto3 installed
        s3.put_object(Bucket=store.name, Key="k", Body=b"v")

With pytest the plugin (entry point ``objectstore``) gives the fixtures
``objectstore_server`` (session), ``objectstore_store`` and ``objectstore_s3`` (per test).
"""

from __future__ import annotations

from .server import LocalObjectStore, TestStore, local_objectstore

__all__ = ["LocalObjectStore", "TestStore", "local_objectstore"]

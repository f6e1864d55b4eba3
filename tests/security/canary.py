"""Canary objects in another tenant's store, re-checked after every attack test.

Each attack test runs with a victim: a store of an account the attacker has nothing to do
with, holding fresh canary objects (random bytes, one private, one with its own public-read
ACL, one in a folder), a bucket policy and a bucket ACL. After the test the canaries are read
back with the victim's own keys: bytes, ETag, object ACLs, the bucket policy and ACL, and the
listing must be exactly as written, whatever the attack did (``CanaryDamaged`` otherwise).

Use it through the ``canaries`` fixture (tests/security/conftest.py)::

    def test_something(store, canaries): ...
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass, field
from typing import Any

from tests.security.helpers import REGION, uniq
from tests.support import stores
from tests.support.server import RunningServer


class CanaryDamaged(AssertionError):
    pass


def _acl(resp: dict[str, Any]) -> tuple[str, tuple[tuple[str, str], ...]]:
    grants = sorted((json.dumps(g["Grantee"], sort_keys=True), g["Permission"])
                    for g in resp["Grants"])
    return resp["Owner"]["ID"], tuple(grants)


@dataclass
class Victim:
    """A store of its own account (not the attacker's) and its owner's S3 client."""

    srv: RunningServer
    store: stores.Store
    api_key: str
    s3: Any = field(repr=False)


def make_victim(srv: RunningServer) -> Victim:
    _row, api_key = srv.services.accounts.create(uniq("victim"))
    st = stores.create_store(srv, api_key=api_key, prefix="canary", max_size_gb=1)
    return Victim(srv, st, api_key, st.boto())


@dataclass
class Canaries:
    victim: Victim
    objects: dict[str, bytes]
    etags: dict[str, str] = field(default_factory=dict)
    acls: dict[str, Any] = field(default_factory=dict)
    policy: str = ""
    bucket_acl: Any = None

    @property
    def bucket(self) -> str:
        return self.victim.store.name

    def plant(self) -> None:
        s3, bucket = self.victim.s3, self.bucket
        for key, data in self.objects.items():
            acl = "public-read" if key.endswith("public") else "private"
            r = s3.put_object(Bucket=bucket, Key=key, Body=data, ACL=acl)
            self.etags[key] = r["ETag"]
        self.policy = json.dumps({"Version": "2012-10-17", "Statement": [{
            "Sid": "DenySealed", "Effect": "Deny", "Principal": "*",
            "Action": "s3:GetObject", "Resource": f"arn:aws:s3:::{bucket}/sealed/*"}]})
        s3.put_bucket_policy(Bucket=bucket, Policy=self.policy)
        self.record()

    def record(self) -> None:
        s3, bucket = self.victim.s3, self.bucket
        self.acls = {k: _acl(s3.get_object_acl(Bucket=bucket, Key=k)) for k in self.objects}
        self.bucket_acl = _acl(s3.get_bucket_acl(Bucket=bucket))

    def check(self) -> None:
        """Raise CanaryDamaged unless every canary is exactly as planted."""
        s3, bucket, problems = self.victim.s3, self.bucket, []
        listed = {o["Key"]: o["ETag"] for o in
                  s3.list_objects_v2(Bucket=bucket).get("Contents", [])}
        if listed != self.etags:
            problems.append(f"listing {listed} != {self.etags}")
        for key, data in self.objects.items():
            try:
                r = s3.get_object(Bucket=bucket, Key=key)
                body = r["Body"].read()
            except Exception as exc:  # noqa: BLE001 - any failure is damage
                problems.append(f"{key}: unreadable ({exc})")
                continue
            if hashlib.sha256(body).digest() != hashlib.sha256(data).digest():
                problems.append(f"{key}: bytes changed ({len(body)} bytes, not {len(data)})")
            if r["ETag"] != self.etags[key]:
                problems.append(f"{key}: ETag {r['ETag']} != {self.etags[key]}")
            acl = _acl(s3.get_object_acl(Bucket=bucket, Key=key))
            if acl != self.acls[key]:
                problems.append(f"{key}: ACL {acl} != {self.acls[key]}")
        try:
            policy = s3.get_bucket_policy(Bucket=bucket)["Policy"]
        except Exception as exc:  # noqa: BLE001
            policy = f"<{exc}>"
        if not policy.startswith("{") or json.loads(policy) != json.loads(self.policy):
            problems.append(f"bucket policy changed: {policy[:200]}")
        bucket_acl = _acl(s3.get_bucket_acl(Bucket=bucket))
        if bucket_acl != self.bucket_acl:
            problems.append(f"bucket ACL {bucket_acl} != {self.bucket_acl}")
        with self.victim.srv.api(self.victim.api_key) as api:
            r = api.get(f"/v2/objectstores/{self.victim.store.id}", params={"region": REGION})
        if r.status_code != 200 or r.json().get("name") != bucket:
            problems.append(f"store record: {r.status_code} {r.text[:200]}")
        if problems:
            raise CanaryDamaged("another tenant's canaries changed:\n  " + "\n  ".join(problems))

    def remove(self) -> None:
        for key in self.objects:
            self.victim.s3.delete_object(Bucket=self.bucket, Key=key)


def plant(victim: Victim) -> Canaries:
    tag = uniq("c")
    objects = {
        f"canary/private-{tag}": os.urandom(1000),
        f"canary/public-{tag}-public": os.urandom(100),
        f"canary/large-{tag}": os.urandom(300 * 1024),  # a blob file, not an inline row
    }
    c = Canaries(victim, objects)
    c.plant()
    return c

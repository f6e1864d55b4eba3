"""The canary check itself: it notices each kind of damage it is there for."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from tests.security.canary import Canaries, CanaryDamaged, Victim, plant


def _key(c: Canaries, kind: str) -> str:
    return next(k for k in c.objects if f"/{kind}-" in k)


DAMAGE: dict[str, Callable[[Any, Canaries], object]] = {
    "bytes": lambda s3, c: s3.put_object(Bucket=c.bucket, Key=_key(c, "private"),
                                         Body=b"overwritten"),
    "deleted": lambda s3, c: s3.delete_object(Bucket=c.bucket, Key=_key(c, "large")),
    "object ACL": lambda s3, c: s3.put_object_acl(Bucket=c.bucket, Key=_key(c, "private"),
                                                  ACL="public-read"),
    "policy": lambda s3, c: s3.delete_bucket_policy(Bucket=c.bucket),
    "bucket ACL": lambda s3, c: s3.put_bucket_acl(Bucket=c.bucket, ACL="public-read"),
    "extra object": lambda s3, c: s3.put_object(Bucket=c.bucket, Key="canary/new", Body=b"x"),
}


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_canary_check_notices(victim: Victim, damage: str) -> None:
    c = plant(victim)
    c.check()  # intact
    DAMAGE[damage](victim.s3, c)
    with pytest.raises(CanaryDamaged):
        c.check()
    # clean up for the next case
    victim.s3.put_bucket_acl(Bucket=c.bucket, ACL="private")
    victim.s3.delete_object(Bucket=c.bucket, Key="canary/new")
    c.remove()

"""Who a caller is, in the names policies and ACLs use for it."""

from __future__ import annotations

import hashlib

from ...domain.models import Credential


def canonical_id(credential_id: str) -> str:
    """The canonical user ID of a credential (the Owner ID listings and ACLs show)."""
    return hashlib.sha256(f"objectstore-owner:{credential_id}".encode()).hexdigest()


def principal_names(cred: Credential | None) -> frozenset[str]:
    """Every name a bucket policy may use for ``cred``: its canonical ID, the IAM user ARN
    of that ID, its access key id, its account's id and account root ARN. Anonymous callers
    have none (only ``*`` matches them)."""
    if cred is None:
        return frozenset()
    cid = canonical_id(cred.id)
    return frozenset({cid, f"arn:aws:iam:::user/{cid}", cred.access_key_id, cred.account_id,
                      f"arn:aws:iam::{cred.account_id}:root"})

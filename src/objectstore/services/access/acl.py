"""Access control lists: canned ACLs, explicit grants, and whether a grant list gives a
caller a permission.

A bucket's or object's ACL is either a canned name (the ``acl`` column, grants None) or a
complete list of grants (kept as set, returned exactly as set). A canned ACL's grants are
relative to the owner of the bucket or object; ``bucket-owner-read`` /
``bucket-owner-full-control`` also grant the store's owner, when it is not the object's.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from .actions import FULL_CONTROL, PERMISSIONS, READ, READ_ACP, WRITE, WRITE_ACP
from .principals import canonical_id

ALL_USERS = "http://acs.amazonaws.com/groups/global/AllUsers"
AUTHENTICATED_USERS = "http://acs.amazonaws.com/groups/global/AuthenticatedUsers"
LOG_DELIVERY = "http://acs.amazonaws.com/groups/s3/LogDelivery"
GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS, LOG_DELIVERY})
PUBLIC_GROUPS = frozenset({ALL_USERS, AUTHENTICATED_USERS})

CANNED = ("private", "public-read", "public-read-write", "authenticated-read",
          "bucket-owner-read", "bucket-owner-full-control")
PUBLIC_CANNED = frozenset({"public-read", "public-read-write", "authenticated-read"})
MAX_GRANTS = 100  # S3's limit per ACL

CANONICAL, GROUP, EMAIL = "CanonicalUser", "Group", "AmazonCustomerByEmail"


@dataclass(frozen=True)
class Grant:
    kind: str        # CanonicalUser | Group | AmazonCustomerByEmail
    value: str       # canonical id | group URI | email (an account name)
    permission: str  # READ | WRITE | READ_ACP | WRITE_ACP | FULL_CONTROL
    account: str = ""  # the account an email grant resolved to
    display: str = ""

    def to_json(self) -> dict[str, str]:
        out = {"kind": self.kind, "value": self.value, "permission": self.permission}
        if self.account:
            out["account"] = self.account
        if self.display:
            out["display"] = self.display
        return out

    @staticmethod
    def from_json(d: dict[str, str]) -> Grant:
        return Grant(d["kind"], d["value"], d["permission"], d.get("account", ""),
                     d.get("display", ""))

    @property
    def public(self) -> bool:
        return self.kind == GROUP and self.value in PUBLIC_GROUPS


def canned_grants(acl: str, owner_credential_id: str, bucket_owner_id: str | None = None
                  ) -> list[Grant]:
    """The grants a canned ACL stands for (owner FULL_CONTROL first, as S3 lists them);
    ``bucket_owner_id``: the store's owner, for an object another credential owns."""
    grants = [Grant(CANONICAL, canonical_id(owner_credential_id), FULL_CONTROL)]
    if bucket_owner_id is not None and bucket_owner_id != owner_credential_id and acl in (
            "bucket-owner-read", "bucket-owner-full-control"):
        grants.append(Grant(CANONICAL, canonical_id(bucket_owner_id),
                            READ if acl == "bucket-owner-read" else FULL_CONTROL))
    if acl in ("public-read", "public-read-write"):
        grants.append(Grant(GROUP, ALL_USERS, READ))
    if acl == "public-read-write":
        grants.append(Grant(GROUP, ALL_USERS, WRITE))
    if acl == "authenticated-read":
        grants.append(Grant(GROUP, AUTHENTICATED_USERS, READ))
    return grants


def grants_from_json(doc: object) -> list[Grant] | None:
    if not isinstance(doc, list):
        return None
    return [Grant.from_json(g) for g in doc if isinstance(g, dict)]


def effective(acl: str, grants: list[dict[str, str]] | list[Grant] | None,
              owner_credential_id: str, bucket_owner_id: str | None = None) -> list[Grant]:
    if grants is None:
        return canned_grants(acl, owner_credential_id, bucket_owner_id)
    return [g if isinstance(g, Grant) else Grant.from_json(g) for g in grants]


def is_public(acl: str, grants: Iterable[Grant] | None) -> bool:
    if grants is not None:
        return any(g.public for g in grants)
    return acl in PUBLIC_CANNED


def canned_equivalent(grants: list[Grant], owner_credential_id: str) -> str | None:
    """The canned ACL these grants are exactly, if any (stored as the name, then)."""
    for name in ("private", "public-read", "public-read-write", "authenticated-read"):
        if canned_grants(name, owner_credential_id) == grants:
            return name
    return None


def implies(granted: str, wanted: str) -> bool:
    return granted in (wanted, FULL_CONTROL)


def permits(grants: Iterable[Grant], permission: str, *, credential_id: str | None,
            account_id: str | None, ignore_public: bool = False) -> bool:
    """Whether a grant gives the caller (None: anonymous) ``permission``."""
    cid = canonical_id(credential_id) if credential_id else None
    for g in grants:
        if not implies(g.permission, permission):
            continue
        if g.kind == GROUP:
            if ignore_public and g.value in PUBLIC_GROUPS:
                continue
            if g.value == ALL_USERS or (g.value == AUTHENTICATED_USERS and cid is not None):
                return True
        elif (g.kind == CANONICAL and cid is not None and g.value == cid) or (
                g.kind == EMAIL and account_id is not None and g.account == account_id):
            return True
    return False


__all__ = ["ALL_USERS", "AUTHENTICATED_USERS", "CANNED", "FULL_CONTROL", "GROUPS", "Grant",
           "PERMISSIONS", "READ", "READ_ACP", "WRITE", "WRITE_ACP", "canned_grants",
           "effective", "is_public", "permits"]

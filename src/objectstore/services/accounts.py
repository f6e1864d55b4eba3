"""Accounts and their API keys."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

from sqlalchemy import Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import AccountExists, AccountNotFound, InvalidInput, Unauthenticated
from ..domain.models import Account
from ..domain.names import generate_api_key
from ..storage.sql.engine import writing
from ..storage.sql.tables import accounts, credentials, objectstores
from .cache import MISS, Missing, SharedGeneration, TtlCache
from .secrets import api_key_matches, hash_api_key

CACHE_TTL_S = 1.0


def _row_to_account(row: object) -> Account:
    m = row._mapping  # type: ignore[attr-defined]
    return Account(m["id"], m["name"], m["quota_gb"], m["created_at"])


class AccountService:
    def __init__(self, engine: Engine, default_quota_gb: int,
                 shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        self.default_quota_gb = default_quota_gb
        # SHA-256 of a key that matched -> (its account, the stored hash); wrong keys are
        # never cached (each one reads the database). Cleared by any change, in any process.
        self._cache: TtlCache[str, tuple[Account, str]] = TtlCache(CACHE_TTL_S, shared=shared)

    def invalidate(self) -> None:
        self._cache.clear()

    def create(
        self, name: str, api_key: str | None = None, quota_gb: int | None = None
    ) -> tuple[Account, str]:
        if not name or len(name) > 255:
            raise InvalidInput("account name must be 1-255 characters", "name")
        if api_key is not None and len(api_key) < 8:
            raise InvalidInput("API key must be at least 8 characters", "api_key")
        key = api_key or generate_api_key()
        acc = Account(
            str(uuid.uuid4()), name, quota_gb or self.default_quota_gb, datetime.now(UTC)
        )
        try:
            with writing(self.engine) as conn:
                conn.execute(
                    accounts.insert().values(
                        id=acc.id,
                        name=acc.name,
                        api_key_hash=hash_api_key(key),
                        quota_gb=acc.quota_gb,
                        created_at=acc.created_at,
                    )
                )
        except IntegrityError as exc:
            raise AccountExists(f"account {name!r} or its API key already exists") from exc
        self.invalidate()
        return acc, key

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(accounts)).scalar_one())

    def cached(self, api_key: str | None) -> Account | Missing:
        """The account of a key that matched recently, or ``MISS``; no I/O (callable on the
        event loop). The presented key is still checked against the stored hash in constant
        time."""
        if not api_key:
            return MISS
        hit = self._cache.get(hash_api_key(api_key))
        if hit is MISS or not api_key_matches(api_key, hit[1]):
            return MISS
        return hit[0]

    def authenticate(self, api_key: str | None) -> Account:
        if not api_key:
            raise Unauthenticated("missing API key")
        hit = self.cached(api_key)
        if hit is not MISS:
            return hit
        generation = self._cache.generation()
        digest = hash_api_key(api_key)
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.api_key_hash == digest)).first()
        if row is None or not api_key_matches(api_key, row._mapping["api_key_hash"]):
            raise Unauthenticated("invalid API key")
        account = _row_to_account(row)
        self._cache.put(digest, (account, row._mapping["api_key_hash"]), generation)
        return account

    def list(self) -> list[Account]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(accounts).order_by(accounts.c.created_at)).all()
        return [_row_to_account(r) for r in rows]

    def get_by_name(self, name: str) -> Account:
        with self.engine.connect() as conn:
            row = conn.execute(select(accounts).where(accounts.c.name == name)).first()
        if row is None:
            raise AccountNotFound(f"no account named {name!r}")
        return _row_to_account(row)

    def set_api_key(self, name: str, api_key: str) -> None:
        with writing(self.engine) as conn:
            res = conn.execute(accounts.update().where(accounts.c.name == name)
                               .values(api_key_hash=hash_api_key(api_key)))
        self.invalidate()
        if res.rowcount != 1:
            raise AccountNotFound(f"no account named {name!r}")

    def set_quota(self, account_id: str, quota_gb: int) -> None:
        with writing(self.engine) as conn:
            conn.execute(
                accounts.update().where(accounts.c.id == account_id).values(quota_gb=quota_gb)
            )
        self.invalidate()

    def delete_empty(self, account_id: str) -> None:
        """Delete an account that has no stores left (callers delete stores first)."""
        with writing(self.engine) as conn:
            left = conn.execute(
                select(func.count()).select_from(objectstores)
                .where(objectstores.c.account_id == account_id)
            ).scalar_one()
            if left:
                raise InvalidInput("account still has object stores")
            conn.execute(delete(credentials).where(credentials.c.account_id == account_id))
            conn.execute(delete(accounts).where(accounts.c.id == account_id))
        self.invalidate()

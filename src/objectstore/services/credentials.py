"""Object store credentials: S3 access keys, their secrets, caps and suspension."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Connection, Engine, delete, func, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import CredentialExists, CredentialInUse, CredentialNotFound, InvalidInput
from ..domain.models import Credential, Page
from ..domain.names import (
    generate_access_key,
    generate_secret,
    is_id,
    validate_access_key,
    validate_secret,
)
from ..storage.sql.engine import writing
from ..storage.sql.tables import credentials, objectstores
from .cache import Missing, SharedGeneration, TtlCache
from .secrets import SecretBox

CACHE_TTL_S = 1.0


@dataclass(frozen=True)
class CredentialUpdate:
    name: str | None = None
    access_key_id: str | None = None
    secret_access_key: str | None = None
    max_size_gb: int | None = None
    suspended: bool | None = None


class CredentialService:
    def __init__(self, engine: Engine, box: SecretBox,
                 shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        self.box = box
        self._cache: TtlCache[str, Credential | None] = TtlCache(CACHE_TTL_S, shared=shared)

    # -- rows ---------------------------------------------------------------------------------
    def from_row(self, row: Any) -> Credential:
        m = row._mapping
        return Credential(
            id=m["id"],
            account_id=m["account_id"],
            region=m["region"],
            name=m["name"],
            access_key_id=m["access_key_id"],
            secret_access_key=self.box.open(m["secret_enc"]),
            max_size_gb=m["max_size_gb"],
            suspended=bool(m["suspended"]),
            used_bytes=int(m["used_bytes"]),
            created_at=m["created_at"],
        )

    def invalidate(self) -> None:
        self._cache.clear()

    # -- used by the S3 plane -------------------------------------------------------------------
    def cached(self, access_key_id: str) -> Credential | None | Missing:
        """The cached lookup, or ``MISS``; no I/O (callable on the event loop)."""
        return self._cache.get(access_key_id)

    async def by_access_key_async(self, access_key_id: str) -> Credential | None:
        """``by_access_key`` from the event loop: a cache hit costs no thread hop."""
        if "\x00" in access_key_id:
            return None
        return await self._cache.get_or_load_async(
            access_key_id, lambda: self._load_by_access_key(access_key_id))

    def by_access_key(self, access_key_id: str) -> Credential | None:
        """Cached for at most CACHE_TTL_S; local changes invalidate at once."""
        if "\x00" in access_key_id:  # no key has one, and PostgreSQL refuses to compare it
            return None
        return self._cache.get_or_load(access_key_id,
                                       lambda: self._load_by_access_key(access_key_id))

    def _load_by_access_key(self, access_key_id: str) -> Credential | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(credentials).where(credentials.c.access_key_id == access_key_id)
            ).first()
        return self.from_row(row) if row is not None else None

    # -- management -----------------------------------------------------------------------------
    def insert(
        self,
        conn: Connection,
        account_id: str,
        region: str,
        name: str,
        access_key_id: str | None = None,
        secret: str | None = None,
        max_size_gb: int | None = None,
    ) -> Credential:
        if not name or len(name) > 255:
            raise InvalidInput("name is required (1-255 characters)", "name")
        ak = validate_access_key(access_key_id) if access_key_id else generate_access_key()
        sk = validate_secret(secret) if secret else generate_secret()
        if max_size_gb is not None and max_size_gb <= 0:
            raise InvalidInput("max_size_gb must be a positive integer", "max_size_gb")
        cred = Credential(
            str(uuid.uuid4()), account_id, region, name, ak, sk, max_size_gb, False, 0,
            datetime.now(UTC),
        )
        if conn.execute(
            select(credentials.c.id).where(credentials.c.access_key_id == ak)
        ).first():
            raise CredentialExists(f"access key {ak} is already in use")
        try:
            with conn.begin_nested():
                conn.execute(
                    credentials.insert().values(
                        id=cred.id, account_id=account_id, region=region, name=name,
                        access_key_id=ak, secret_enc=self.box.seal(sk), max_size_gb=max_size_gb,
                        suspended=False, used_bytes=0, created_at=cred.created_at,
                    )
                )
        except IntegrityError as exc:
            raise CredentialExists(f"access key {ak} is already in use") from exc
        return cred

    def create(self, account_id: str, region: str, name: str, access_key_id: str | None,
               secret: str | None, max_size_gb: int | None) -> Credential:
        with writing(self.engine) as conn:
            cred = self.insert(conn, account_id, region, name, access_key_id, secret, max_size_gb)
        self.invalidate()
        return cred

    def _where(self, account_id: str, region: str | None) -> list[Any]:
        conds = [credentials.c.account_id == account_id]
        if region is not None:
            conds.append(credentials.c.region == region)
        return conds

    def list(self, account_id: str, region: str, page: int, per_page: int) -> Page[Credential]:
        conds = self._where(account_id, region)
        with self.engine.connect() as conn:
            total = conn.execute(select(func.count()).select_from(credentials).where(*conds))
            total_n = int(total.scalar_one())
            rows = conn.execute(
                select(credentials).where(*conds)
                .order_by(credentials.c.created_at, credentials.c.id)
                .limit(per_page).offset((page - 1) * per_page)
            ).all()
        return Page(page, per_page, total_n, [self.from_row(r) for r in rows])

    def get_in(self, conn: Connection, account_id: str, cred_id: str,
               region: str | None = None, *, lock: bool = False) -> Credential:
        if not is_id(cred_id):  # e.g. NUL bytes, which PostgreSQL refuses to compare
            raise CredentialNotFound(f"credential {cred_id} was not found")
        q = select(credentials).where(credentials.c.id == cred_id, *self._where(account_id, region))
        if lock:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise CredentialNotFound(f"credential {cred_id} was not found")
        return self.from_row(row)

    def get(self, account_id: str, cred_id: str, region: str | None = None) -> Credential:
        with self.engine.connect() as conn:
            return self.get_in(conn, account_id, cred_id, region)

    def names(self, cred_ids: Sequence[str]) -> dict[str, str]:
        """The names of these credentials, whatever their account (the display names of
        owners in S3 listings and ACLs); an id that names none is left out."""
        wanted = [i for i in cred_ids if is_id(i)]
        if not wanted:
            return {}
        with self.engine.connect() as conn:
            rows = conn.execute(select(credentials.c.id, credentials.c.name)
                                .where(credentials.c.id.in_(wanted))).all()
        return {row.id: row.name for row in rows}

    def find_by_access_key_in(self, conn: Connection, account_id: str, region: str,
                              access_key_id: str) -> Credential:
        """For a write that makes this credential own a store: the row is key-share locked,
        so a concurrent delete either waits for us (and then sees the store) or wins first
        (and then we find nothing) instead of our commit failing on the foreign key."""
        row = conn.execute(
            select(credentials).where(
                credentials.c.access_key_id == access_key_id, *self._where(account_id, region)
            ).with_for_update(read=True, key_share=True)
        ).first()
        if row is None:
            raise CredentialNotFound(
                f"no credential with access key {access_key_id} in region {region}"
            )
        return self.from_row(row)

    def update(self, account_id: str, cred_id: str, region: str | None,
               change: CredentialUpdate) -> Credential:
        with writing(self.engine) as conn:
            cred = self.get_in(conn, account_id, cred_id, region, lock=True)
            values: dict[str, Any] = {}
            if change.name is not None and change.name != cred.name:
                if not change.name or len(change.name) > 255:
                    raise InvalidInput("name must be 1-255 characters", "name")
                values["name"] = change.name
            if change.access_key_id and change.access_key_id != cred.access_key_id:
                ak = validate_access_key(change.access_key_id)
                clash = conn.execute(
                    select(credentials.c.id).where(credentials.c.access_key_id == ak)
                ).first()
                if clash:
                    raise CredentialExists(f"access key {ak} is already in use")
                values["access_key_id"] = ak
            if change.secret_access_key and change.secret_access_key != cred.secret_access_key:
                values["secret_enc"] = self.box.seal(validate_secret(change.secret_access_key))
            if change.max_size_gb is not None:
                if change.max_size_gb < 0:
                    raise InvalidInput("max_size_gb must not be negative", "max_size_gb")
                # 0 means "no cap" (Terraform sends 0 for unset)
                values["max_size_gb"] = change.max_size_gb or None
            if change.suspended is not None:
                values["suspended"] = change.suspended
            if values:
                try:
                    with conn.begin_nested():
                        conn.execute(
                            credentials.update().where(credentials.c.id == cred.id).values(**values)
                        )
                except IntegrityError as exc:
                    raise CredentialExists("access key is already in use") from exc
            cred = self.get_in(conn, account_id, cred_id)
        self.invalidate()
        return cred

    def delete(self, account_id: str, cred_id: str, region: str | None) -> None:
        with writing(self.engine) as conn:
            cred = self.get_in(conn, account_id, cred_id, region, lock=True)
            owned = conn.execute(
                select(func.count()).select_from(objectstores)
                .where(objectstores.c.credential_id == cred.id)
            ).scalar_one()
            if owned:
                raise CredentialInUse(
                    f"credential {cred.name} owns {owned} object store(s); "
                    "delete them or move them to another credential first"
                )
            conn.execute(delete(credentials).where(credentials.c.id == cred.id))
        self.invalidate()

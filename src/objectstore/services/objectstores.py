"""Object stores (S3 buckets): creation inside the account quota, ownership, size, deletion."""

from __future__ import annotations

import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from anyio.to_thread import run_sync
from sqlalchemy import Connection, Engine, delete, func, insert, select
from sqlalchemy.exc import IntegrityError

from ..domain.errors import (
    InvalidInput,
    QuotaExceeded,
    SizeBelowUsage,
    StoreConflict,
    StoreExists,
    StoreLocked,
    StoreNotEmpty,
    StoreNotFound,
)
from ..domain.models import GB, Credential, ObjectStore, Page, StoreWithOwner, blobs_of
from ..domain.names import is_id, validate_store_name
from ..storage.sql.engine import writing
from ..storage.sql.tables import (
    accounts,
    bucket_configs,
    credentials,
    doomed_blobs,
    object_versions,
    objects,
    objectstores,
    parts,
    uploads,
)
from .bucket_configs import write_in as write_config_in
from .cache import SharedGeneration, TtlCache
from .credentials import CredentialService


@dataclass(frozen=True)
class StoreStats:
    size_kb_utilised: int
    max_size_kb: int
    num_objects: int


Stores = list[ObjectStore]  # (the service has a method named list)


def store_from_row(row: Any) -> ObjectStore:
    m = row._mapping
    return ObjectStore(
        id=m["id"], account_id=m["account_id"], region=m["region"], name=m["name"],
        max_size_gb=int(m["max_size_gb"]), credential_id=m["credential_id"],
        owns_credential=bool(m["owns_credential"]), used_bytes=int(m["used_bytes"]),
        object_count=int(m["object_count"]), acl=m["acl"], created_at=m["created_at"],
        versioning=m["versioning"],
    )


def queue_store_blobs(conn: Connection, store_id: str, now: datetime) -> None:
    """Queue every blob of a store (objects, manifests, parts) for the GC, in this transaction."""
    blob_ids: set[str] = set()
    for table in (objects, object_versions):
        for blob_id, manifest in conn.execute(
            select(table.c.blob_id, table.c.parts).where(table.c.store_id == store_id)
        ):
            blob_ids.update(blobs_of(blob_id, manifest))
    upload_ids = select(uploads.c.id).where(uploads.c.store_id == store_id)
    part_blobs = select(parts.c.blob_id).where(parts.c.upload_id.in_(upload_ids))
    blob_ids.update(r[0] for r in conn.execute(part_blobs))
    if blob_ids:
        conn.execute(insert(doomed_blobs), [{"blob_id": b, "queued_at": now} for b in blob_ids])
    conn.execute(delete(parts).where(parts.c.upload_id.in_(upload_ids)))
    conn.execute(delete(uploads).where(uploads.c.store_id == store_id))
    conn.execute(delete(objects).where(objects.c.store_id == store_id))
    conn.execute(delete(object_versions).where(object_versions.c.store_id == store_id))
    conn.execute(delete(bucket_configs).where(bucket_configs.c.store_id == store_id))


def _has_locked_versions(conn: Connection, store_id: str, now: datetime) -> bool:
    for table in (objects, object_versions):
        row = conn.execute(select(table.c.key).where(
            table.c.store_id == store_id,
            (table.c.legal_hold.is_(True)) | (table.c.lock_until > now)).limit(1)).first()
        if row is not None:
            return True
    return False


def _lock_enabled(conn: Connection, store_id: str) -> bool:
    return conn.execute(select(bucket_configs.c.store_id).where(
        bucket_configs.c.store_id == store_id,
        bucket_configs.c.name == "object-lock")).first() is not None


class ObjectStoreService:
    def __init__(self, engine: Engine, creds: CredentialService, default_size_gb: int,
                 shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        self.creds = creds
        self.default_size_gb = default_size_gb
        self._by_name: TtlCache[str, Stores] = TtlCache(1.0, shared=shared)

    # -- reads ----------------------------------------------------------------------------------
    def _with_owner(self, conn: Connection, store: ObjectStore) -> StoreWithOwner:
        row = conn.execute(
            select(credentials).where(credentials.c.id == store.credential_id)
        ).first()
        assert row is not None, "store without owner credential"
        return StoreWithOwner(store, self.creds.from_row(row))

    def list(self, account_id: str, region: str, page: int, per_page: int) -> Page[StoreWithOwner]:
        conds = [objectstores.c.account_id == account_id, objectstores.c.region == region]
        with self.engine.connect() as conn:
            total = int(
                conn.execute(select(func.count()).select_from(objectstores).where(*conds))
                .scalar_one()
            )
            rows = conn.execute(
                select(objectstores).where(*conds)
                .order_by(objectstores.c.created_at, objectstores.c.id)
                .limit(per_page).offset((page - 1) * per_page)
            ).all()
            stores = [store_from_row(r) for r in rows]
            # the owners in a query per 500 stores, not one per store
            ids = sorted({st.credential_id for st in stores})
            owners = {r._mapping["id"]: self.creds.from_row(r)
                      for i in range(0, len(ids), 500)
                      for r in conn.execute(select(credentials)
                                            .where(credentials.c.id.in_(ids[i:i + 500])))}
        assert all(st.credential_id in owners for st in stores), "store without owner"
        return Page(page, per_page, total,
                    [StoreWithOwner(st, owners[st.credential_id]) for st in stores])

    def get_in(self, conn: Connection, account_id: str, store_id: str, region: str | None,
               *, lock: bool = False) -> ObjectStore:
        if not is_id(store_id):  # e.g. NUL bytes, which PostgreSQL refuses to compare
            raise StoreNotFound(f"object store {store_id} was not found")
        q = select(objectstores).where(
            objectstores.c.id == store_id, objectstores.c.account_id == account_id
        )
        if region is not None:
            q = q.where(objectstores.c.region == region)
        if lock:
            q = q.with_for_update()
        row = conn.execute(q).first()
        if row is None:
            raise StoreNotFound(f"object store {store_id} was not found")
        return store_from_row(row)

    def get(self, account_id: str, store_id: str, region: str | None) -> StoreWithOwner:
        with self.engine.connect() as conn:
            return self._with_owner(conn, self.get_in(conn, account_id, store_id, region))

    def by_name(self, name: str) -> Stores:
        """All stores with this bucket name, case-insensitively (one per region at most: no
        two stores of a region differ only by case), read now. Where an earlier release let
        two in that differ only by case (``case_clash``), the exact spelling wins,
        else the one that was there first."""
        if "\x00" in name:  # no store name has one, and PostgreSQL refuses to compare it
            return []
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(objectstores).where(func.lower(objectstores.c.name) == name.lower())
                .order_by(objectstores.c.case_clash, objectstores.c.created_at)).all()
        found = [store_from_row(r) for r in rows]
        if len(found) <= 1:
            return found
        by_region: dict[str, ObjectStore] = {}
        for s in found:
            cur = by_region.get(s.region)
            if cur is None or (s.name == name and cur.name != name):
                by_region[s.region] = s
        return list(by_region.values())

    def by_id(self, store_id: str) -> ObjectStore | None:
        """The store with this ID, in any account and region (admin commands)."""
        if not is_id(store_id):
            return None
        with self.engine.connect() as conn:
            row = conn.execute(select(objectstores).where(objectstores.c.id == store_id)).first()
        return None if row is None else store_from_row(row)

    def resolve_bucket(self, name: str) -> Stores:
        """``by_name`` for the S3 request path: cached up to 1 s and cleared at once by any
        local change to stores. Usage figures in the result may be that old; every write
        re-checks usage in its own transaction."""
        return self._by_name.get_or_load(name, lambda: self.by_name(name))

    async def resolve_bucket_async(self, name: str) -> Stores:
        """``resolve_bucket`` from the event loop: a cache hit costs no thread hop."""
        return await self._by_name.get_or_load_async(name, lambda: self.by_name(name))

    def changed(self) -> None:
        self._by_name.clear()
        self.creds.invalidate()

    def for_credential(self, cred: Credential) -> Stores:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(objectstores).where(objectstores.c.credential_id == cred.id)
                .order_by(objectstores.c.name)
            ).all()
        return [store_from_row(r) for r in rows]

    def allocation(self, account_id: str) -> tuple[int, int]:
        """(GB allocated to the account's stores, number of stores)."""
        with self.engine.connect() as conn:
            gb, count = conn.execute(
                select(func.coalesce(func.sum(objectstores.c.max_size_gb), 0), func.count())
                .where(objectstores.c.account_id == account_id)
            ).one()
        return int(gb), int(count)

    def stats(self, account_id: str, store_id: str, region: str | None) -> StoreStats:
        with self.engine.connect() as conn:
            s = self.get_in(conn, account_id, store_id, region)
        return StoreStats(s.used_bytes // 1000, s.max_size_gb * GB // 1000, s.object_count)

    # -- writes ---------------------------------------------------------------------------------
    def _check_account_quota(self, conn: Connection, account_id: str, extra_gb: int) -> None:
        quota = conn.execute(
            select(accounts.c.quota_gb).where(accounts.c.id == account_id).with_for_update()
        ).scalar_one()
        used = conn.execute(
            select(func.coalesce(func.sum(objectstores.c.max_size_gb), 0))
            .where(objectstores.c.account_id == account_id)
        ).scalar_one()
        if int(used) + extra_gb > int(quota):
            raise QuotaExceeded(
                f"object store quota exceeded: {int(used)} GB of {int(quota)} GB allocated, "
                f"{extra_gb} GB more requested"
            )

    def create(self, account_id: str, region: str, name: object, size_gb: int | None,
               access_key_id: str | None, acl: str = "private",
               owner: Credential | None = None, versioning: str | None = None,
               documents: Mapping[str, Any] | None = None) -> StoreWithOwner:
        """A new store; ``versioning`` and its configuration ``documents`` (bucket_configs)
        are written in the same transaction (all of it, or none)."""
        name = validate_store_name(name)
        size = self.default_size_gb if size_gb is None else size_gb
        if size <= 0:
            raise InvalidInput("size must be a positive integer number of GB", "max_size_gb")
        now = datetime.now(UTC)
        try:
            with writing(self.engine) as conn:
                self._check_account_quota(conn, account_id, size)
                if conn.execute(
                    select(objectstores.c.id).where(
                        objectstores.c.region == region,
                        func.lower(objectstores.c.name) == name.lower(),
                    )
                ).first():  # names that differ only by case are the same name
                    raise StoreExists(f"an object store named {name} already exists in {region}")
                own = False
                if owner is None and access_key_id:
                    owner = self.creds.find_by_access_key_in(conn, account_id, region,
                                                             access_key_id)
                elif owner is None:
                    owner = self.creds.insert(conn, account_id, region, name)
                    own = True
                store = ObjectStore(str(uuid.uuid4()), account_id, region, name, size, owner.id,
                                    own, 0, 0, acl, now, versioning)
                conn.execute(objectstores.insert().values(
                    id=store.id, account_id=account_id, region=region, name=name,
                    max_size_gb=size, credential_id=owner.id, owns_credential=own,
                    used_bytes=0, object_count=0, acl=acl, created_at=now,
                    versioning=versioning,
                ))
                for doc_name, document in (documents or {}).items():
                    write_config_in(conn, store.id, doc_name, document)
        except IntegrityError as exc:
            raise StoreExists(f"an object store named {name} already exists in {region}") from exc
        self.changed()
        return StoreWithOwner(store, owner)

    def update(self, account_id: str, store_id: str, region: str | None,
               size_gb: int | None, access_key_id: str | None) -> StoreWithOwner:
        with writing(self.engine) as conn:
            store = self.get_in(conn, account_id, store_id, region, lock=True)
            if size_gb is not None and size_gb < 0:
                raise InvalidInput("max_size_gb must be a positive integer", "max_size_gb")
            if size_gb and size_gb != store.max_size_gb:
                if size_gb * GB < store.used_bytes:
                    raise SizeBelowUsage(
                        f"cannot shrink to {size_gb} GB: {store.used_bytes} bytes are stored"
                    )
                if size_gb > store.max_size_gb:
                    self._check_account_quota(conn, account_id, size_gb - store.max_size_gb)
                conn.execute(objectstores.update().where(objectstores.c.id == store.id)
                             .values(max_size_gb=size_gb))
            owner = self.creds.get_in(conn, account_id, store.credential_id)
            if access_key_id and access_key_id != owner.access_key_id:
                new_owner = self.creds.find_by_access_key_in(conn, account_id, store.region,
                                                             access_key_id)
                self._move_usage(conn, store, owner, new_owner)
                if store.owns_credential:
                    self._drop_private_credential(conn, store, owner)
            store = self.get_in(conn, account_id, store_id, None)
            result = self._with_owner(conn, store)
        self.changed()
        return result

    def _move_usage(self, conn: Connection, store: ObjectStore, old: Credential,
                    new: Credential) -> None:
        conn.execute(credentials.update().where(credentials.c.id == old.id)
                     .values(used_bytes=credentials.c.used_bytes - store.used_bytes))
        conn.execute(credentials.update().where(credentials.c.id == new.id)
                     .values(used_bytes=credentials.c.used_bytes + store.used_bytes))
        conn.execute(objectstores.update().where(objectstores.c.id == store.id)
                     .values(credential_id=new.id, owns_credential=False))

    def _drop_private_credential(self, conn: Connection, store: ObjectStore,
                                 cred: Credential) -> None:
        still = conn.execute(
            select(func.count()).select_from(objectstores)
            .where(objectstores.c.credential_id == cred.id, objectstores.c.id != store.id)
        ).scalar_one()
        if not still:
            conn.execute(delete(credentials).where(credentials.c.id == cred.id))

    def delete(self, account_id: str, store_id: str, region: str | None,
               *, require_empty: bool = False) -> None:
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            store = self.get_in(conn, account_id, store_id, region, lock=True)
            self._delete_locked(conn, store, now, require_empty=require_empty)
        self.changed()

    def delete_by_id(self, store_id: str, *, require_empty: bool) -> None:
        """Delete without an account check (the S3 plane has already authorised it)."""
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            row = conn.execute(
                select(objectstores).where(objectstores.c.id == store_id).with_for_update()
            ).first()
            if row is None:
                raise StoreNotFound("the object store does not exist")
            self._delete_locked(conn, store_from_row(row), now, require_empty=require_empty)
        self.changed()

    def _delete_locked(self, conn: Connection, store: ObjectStore, now: datetime, *,
                       require_empty: bool) -> None:
        if require_empty:
            # Any version or delete marker keeps a store; unfinished uploads do not (they
            # are aborted with it, as on S3).
            has_obj = conn.execute(
                select(objects.c.key).where(objects.c.store_id == store.id).limit(1)
            ).first() or conn.execute(
                select(object_versions.c.key).where(object_versions.c.store_id == store.id)
                .limit(1)
            ).first()
            if has_obj:
                raise StoreNotEmpty("The bucket you tried to delete is not empty. You must "
                                    "delete all versions in the bucket.")
        if _has_locked_versions(conn, store.id, now):
            raise StoreLocked("The object store holds object versions under retention or "
                              "legal hold; it cannot be deleted until they are released.")
        queue_store_blobs(conn, store.id, now)
        conn.execute(credentials.update().where(credentials.c.id == store.credential_id)
                     .values(used_bytes=credentials.c.used_bytes - store.used_bytes))
        conn.execute(delete(objectstores).where(objectstores.c.id == store.id))
        if store.owns_credential:
            owner = self.creds.get_in(conn, store.account_id, store.credential_id)
            self._drop_private_credential(conn, store, owner)

    def has_locked_versions(self, store_id: str) -> bool:
        """Whether any version of the store is under retention or legal hold now."""
        with self.engine.connect() as conn:
            return _has_locked_versions(conn, store_id, datetime.now(UTC))

    # -- from the event loop (the S3 plane): the service picks the thread ----------------------
    async def for_credential_async(self, cred: Credential) -> Stores:
        return await run_sync(self.for_credential, cred)

    async def by_name_async(self, name: str) -> Stores:
        return await run_sync(self.by_name, name)

    async def create_async(self, account_id: str, region: str, name: str, *, acl: str,
                           owner: Credential, versioning: str | None = None,
                           documents: Mapping[str, Any] | None = None) -> StoreWithOwner:
        return await run_sync(lambda: self.create(account_id, region, name, None, None,
                                                  acl=acl, owner=owner, versioning=versioning,
                                                  documents=documents))

    async def delete_empty_async(self, store_id: str) -> None:
        """Delete a store that holds no version (its unfinished uploads are aborted)."""
        await run_sync(lambda: self.delete_by_id(store_id, require_empty=True))

    async def set_versioning_async(self, store_id: str, status: str) -> None:
        await run_sync(self.set_versioning, store_id, status)

    async def set_acl_async(self, store_id: str, acl: str, grants: Sequence[Any] | None
                            ) -> None:
        await run_sync(self.set_acl, store_id, acl, grants)

    def set_versioning(self, store_id: str, status: str) -> None:
        """Enable or suspend versioning. Suspending a store that was never versioned makes it
        Suspended, as on S3 (GetBucketVersioning then says so, and a DELETE leaves a null
        delete marker)."""
        if status not in ("Enabled", "Suspended"):
            raise InvalidInput("versioning status must be Enabled or Suspended", "Status")
        with writing(self.engine) as conn:
            row = conn.execute(select(objectstores.c.versioning)
                               .where(objectstores.c.id == store_id)).first()
            if row is None:
                raise StoreNotFound("The specified bucket does not exist")
            if status == "Suspended" and _lock_enabled(conn, store_id):
                raise StoreConflict("An Object Lock configuration is present on this bucket, "
                                    "so the versioning state cannot be changed.")
            conn.execute(objectstores.update().where(objectstores.c.id == store_id)
                         .values(versioning=status))
        self.changed()

    def set_acl(self, store_id: str, acl: str, grants: Sequence[Any] | None) -> None:
        """The store's canned ACL and its explicit grants (None: none), in one transaction."""
        with writing(self.engine) as conn:
            conn.execute(objectstores.update().where(objectstores.c.id == store_id)
                         .values(acl=acl))
            write_config_in(conn, store_id, "acl-grants", grants)
        self.changed()

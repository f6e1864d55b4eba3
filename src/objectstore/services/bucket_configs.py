"""A store's configuration documents by sub-resource ("lifecycle", "object-lock", "policy",
"cors", "public-access-block", "ownership", "encryption", "tagging"), kept as JSON text in
``bucket_configs``. Reads on the request path are cached (1 s at most; any local change
clears the cache in every process on the data dir at once)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar, cast

from anyio.to_thread import run_sync
from sqlalchemy import Connection, Engine, delete, select

from ..storage.sql.engine import writing
from ..storage.sql.tables import bucket_configs
from .cache import SharedGeneration, TtlCache

T = TypeVar("T")
NAMES = frozenset({"lifecycle", "object-lock", "policy", "cors", "public-access-block",
                   "ownership", "encryption", "tagging", "acl-grants", "website",
                   "notification"})


class StoreDocuments:
    """All of one store's documents, as read together, and what callers derived from them
    (parsed policies, ...), kept as long as the documents are."""

    __slots__ = ("docs", "_memo")

    def __init__(self, docs: dict[str, Any]) -> None:
        self.docs = docs
        self._memo: dict[str, Any] = {}

    def derived(self, what: str, build: Callable[[dict[str, Any]], T]) -> T:
        """``build(docs)``, computed once per reading of the documents."""
        try:
            return cast(T, self._memo[what])
        except KeyError:
            value = self._memo[what] = build(self.docs)
            return value


def write_in(conn: Connection, store_id: str, name: str, document: Any) -> bool:
    """Set (``document`` None: remove) one of a store's documents in the caller's
    transaction, so it commits with the rest of the request's changes; whether a row
    changed. The caller clears the caches once it has committed."""
    if name not in NAMES:
        raise ValueError(f"unknown bucket configuration {name!r}")
    where = (bucket_configs.c.store_id == store_id, bucket_configs.c.name == name)
    if document is None:
        return bool(conn.execute(delete(bucket_configs).where(*where)).rowcount)
    text = json.dumps(document, separators=(",", ":"), sort_keys=True)
    now = datetime.now(UTC)
    if not conn.execute(bucket_configs.update().where(*where)
                        .values(document=text, updated_at=now)).rowcount:
        conn.execute(bucket_configs.insert().values(
            store_id=store_id, name=name, document=text, updated_at=now))
    return True


class BucketConfigService:
    def __init__(self, engine: Engine, shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        # one entry per store (all its documents): a request that needs several documents
        # (access, lifecycle, lock, encryption, CORS) costs one cache lookup per need
        self._cache: TtlCache[str, StoreDocuments] = TtlCache(1.0, shared=shared)

    @staticmethod
    def _check(name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown bucket configuration {name!r}")

    def documents(self, store_id: str) -> StoreDocuments:
        return self._cache.get_or_load(store_id, lambda: self._load(store_id))

    async def documents_async(self, store_id: str) -> StoreDocuments:
        return await self._cache.get_or_load_async(store_id, lambda: self._load(store_id))

    def _load(self, store_id: str) -> StoreDocuments:
        with self.engine.connect() as conn:
            rows = conn.execute(select(bucket_configs.c.name, bucket_configs.c.document)
                                .where(bucket_configs.c.store_id == store_id)).all()
        return StoreDocuments({name: json.loads(doc) for name, doc in rows})

    def get(self, store_id: str, name: str) -> Any:
        """The document (decoded JSON), or None when the store has none."""
        self._check(name)
        return self.documents(store_id).docs.get(name)

    async def get_async(self, store_id: str, name: str) -> Any:
        self._check(name)
        return (await self.documents_async(store_id)).docs.get(name)

    def put(self, store_id: str, name: str, document: Any) -> None:
        with writing(self.engine) as conn:
            write_in(conn, store_id, name, document)
        self._cache.clear()

    async def put_async(self, store_id: str, name: str, document: Any) -> None:
        await run_sync(self.put, store_id, name, document)

    def delete(self, store_id: str, name: str) -> bool:
        with writing(self.engine) as conn:
            gone = write_in(conn, store_id, name, None)
        self._cache.clear()
        return gone

    async def delete_async(self, store_id: str, name: str) -> bool:
        return await run_sync(self.delete, store_id, name)

    def stores_with(self, name: str) -> list[str]:
        """Ids of the stores that have a ``name`` document (for background workers)."""
        self._check(name)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(bucket_configs.c.store_id)
                                                .where(bucket_configs.c.name == name))]

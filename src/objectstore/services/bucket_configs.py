"""A store's configuration documents by sub-resource ("lifecycle", "object-lock", "policy",
"cors", "public-access-block", "ownership", "encryption", "tagging"), kept as JSON text in
``bucket_configs``. Reads on the request path are cached (1 s at most; any local change
clears the cache in every process on the data dir at once)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from anyio.to_thread import run_sync
from sqlalchemy import Engine, delete, select

from ..storage.sql.engine import writing
from ..storage.sql.tables import bucket_configs
from .cache import MISS, SharedGeneration, TtlCache

NAMES = frozenset({"lifecycle", "object-lock", "policy", "cors", "public-access-block",
                   "ownership", "encryption", "tagging", "acl-grants"})


class BucketConfigService:
    def __init__(self, engine: Engine, shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        self._cache: TtlCache[tuple[str, str], Any] = TtlCache(1.0, shared=shared)

    @staticmethod
    def _check(name: str) -> None:
        if name not in NAMES:
            raise ValueError(f"unknown bucket configuration {name!r}")

    def get(self, store_id: str, name: str) -> Any:
        """The document (decoded JSON), or None when the store has none."""
        self._check(name)
        hit = self._cache.get((store_id, name))
        if hit is not MISS:
            return hit
        generation = self._cache.generation()
        with self.engine.connect() as conn:
            row = conn.execute(select(bucket_configs.c.document).where(
                bucket_configs.c.store_id == store_id, bucket_configs.c.name == name)).first()
        value = json.loads(row[0]) if row is not None else None
        self._cache.put((store_id, name), value, generation)
        return value

    async def get_async(self, store_id: str, name: str) -> Any:
        hit = self._cache.get((store_id, name))
        if hit is not MISS:
            return hit
        return await run_sync(self.get, store_id, name)

    def put(self, store_id: str, name: str, document: Any) -> None:
        self._check(name)
        text = json.dumps(document, separators=(",", ":"), sort_keys=True)
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            changed = conn.execute(bucket_configs.update().where(
                bucket_configs.c.store_id == store_id, bucket_configs.c.name == name)
                .values(document=text, updated_at=now)).rowcount
            if not changed:
                conn.execute(bucket_configs.insert().values(
                    store_id=store_id, name=name, document=text, updated_at=now))
        self._cache.clear()

    async def put_async(self, store_id: str, name: str, document: Any) -> None:
        await run_sync(self.put, store_id, name, document)

    def delete(self, store_id: str, name: str) -> bool:
        self._check(name)
        with writing(self.engine) as conn:
            gone = conn.execute(delete(bucket_configs).where(
                bucket_configs.c.store_id == store_id, bucket_configs.c.name == name)).rowcount
        self._cache.clear()
        return bool(gone)

    async def delete_async(self, store_id: str, name: str) -> bool:
        return await run_sync(self.delete, store_id, name)

    def stores_with(self, name: str) -> list[str]:
        """Ids of the stores that have a ``name`` document (for background workers)."""
        self._check(name)
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(select(bucket_configs.c.store_id)
                                                .where(bucket_configs.c.name == name))]

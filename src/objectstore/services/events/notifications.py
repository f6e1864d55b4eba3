"""A store's notification configurations as the write path reads them (cached with the
store's other documents), and the recordings the object engine opens for its writes."""

from __future__ import annotations

from collections.abc import Callable

from ...domain.models import ObjectStore
from ...domain.notifications import configurations_from_json
from ..bucket_configs import BucketConfigService, StoreDocuments
from .outbox import Recording, Routes

CONFIG = "notification"


def _configurations(docs: StoreDocuments) -> Routes:
    """The store's configurations, kept with its documents (their routes per event name
    worked out once, not per write)."""
    return docs.derived(CONFIG, lambda d: Routes(configurations_from_json(d.get(CONFIG))))


class Notifications:
    def __init__(self, configs: BucketConfigService) -> None:
        self.configs = configs
        # called with the targets for which this process recorded events: its deliverer (if
        # it leads) wakes those targets' loops at once (and no other's)
        self.on_recorded: Callable[[set[str]], None] | None = None

    async def recording(self, store: ObjectStore, cause: str | None) -> Recording | None:
        """A recording for a write made for ``cause`` on ``store``; None when the store
        announces nothing (no outbox work at all then)."""
        if cause is None:
            return None
        found = _configurations(await self.configs.documents_async(store.id))
        return Recording(store, found, cause) if found else None

    def recording_sync(self, store: ObjectStore, cause: str) -> Recording | None:
        found = _configurations(self.configs.documents(store.id))
        return Recording(store, found, cause) if found else None

    def recorded(self, rec: Recording | None) -> None:
        """After the commit: wake the deliverer for the targets that got events."""
        if rec is not None and rec.recorded:
            wake = self.on_recorded
            if wake is not None:
                wake(rec.targets)

"""Regions: configured list, case-insensitive lookup, object-store feature flag."""

from __future__ import annotations

from ..config import RegionConfig
from ..domain.errors import RegionFeatureNotSupported, RegionNotFound


class RegionService:
    def __init__(self, regions: list[RegionConfig]) -> None:
        self.regions = regions
        self._by_code = {r.code: r for r in regions}
        self.default = next(r for r in regions if r.default)

    def resolve(self, code: str | None) -> RegionConfig:
        """Find a region; ``None`` or ``""`` means the default region."""
        if code is None or str(code).strip() == "":
            return self.default
        region = self._by_code.get(str(code).strip().upper())
        if region is None:
            raise RegionNotFound(f"region {code!r} was not found")
        return region

    def for_object_stores(self, code: str | None) -> RegionConfig:
        region = self.resolve(code)
        if not region.object_store:
            raise RegionFeatureNotSupported(
                f"object stores are not available in region {region.code}"
            )
        return region

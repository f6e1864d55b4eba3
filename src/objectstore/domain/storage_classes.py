"""S3 storage classes: the names AWS accepts in ``x-amz-storage-class`` (and reports in
listings). This server has one tier: a class is recorded per version and reported, not
acted on (a class may map to a blob-store tier in a later release)."""

from __future__ import annotations

STANDARD = "STANDARD"
STORAGE_CLASSES = frozenset({
    STANDARD, "REDUCED_REDUNDANCY", "STANDARD_IA", "ONEZONE_IA", "INTELLIGENT_TIERING",
    "GLACIER", "DEEP_ARCHIVE", "OUTPOSTS", "GLACIER_IR", "SNOW", "EXPRESS_ONEZONE",
})


def stored(name: str) -> str | None:
    """What a version records for class ``name`` (one of ``STORAGE_CLASSES``): None for
    STANDARD, so versions written before classes were recorded need no rewrite."""
    return None if name == STANDARD else name


def reported(recorded: str | None) -> str:
    """The class a version reports."""
    return recorded or STANDARD

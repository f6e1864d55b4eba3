"""Ordered prefix/delimiter listings (latest versions, and all versions) over the metadata
index, seeking past common prefixes."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from ...domain.models import ListedObject

# fetch(after, prefix, limit) -> objects with key > after (or >= prefix when after is None)
Fetch = Callable[[str | None, str, int], list[ListedObject]]


@dataclass
class Listing:
    objects: list[ListedObject] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    last: str | None = None  # the last key or common prefix returned (next marker)


def skip_past(prefix: str) -> str:
    """The smallest string greater than every string that starts with ``prefix``... minus one:
    keys > result are exactly the keys after all keys starting with ``prefix``."""
    return prefix + "\U0010ffff"


def common_prefix(key: str, prefix: str, delimiter: str) -> str | None:
    if not delimiter:
        return None
    idx = key.find(delimiter, len(prefix))
    return None if idx < 0 else key[: idx + len(delimiter)]


def list_keys(fetch: Fetch, *, prefix: str = "", delimiter: str = "", after: str | None = None,
              max_keys: int = 1000, batch: int = 1000) -> Listing:
    out = Listing()
    cursor = after
    skipping: str | None = None  # the common prefix last returned: its keys are passed over
    if cursor is not None and delimiter:
        cp = common_prefix(cursor, prefix, delimiter)
        if cp is not None and cursor == cp:
            cursor, skipping = skip_past(cp), cp
    if max_keys <= 0:
        rows = fetch(cursor, prefix, 1)
        out.truncated = bool(rows) and rows[0].key.startswith(prefix)
        return out
    while True:
        # one row more than the page still needs tells whether the listing is truncated
        wanted = max_keys - len(out.objects) - len(out.prefixes) + 1
        rows = fetch(cursor, prefix, min(batch, wanted))
        if not rows:
            return out
        for meta in rows:
            if not meta.key.startswith(prefix):
                return out
            if skipping is not None and meta.key.startswith(skipping):
                cursor = meta.key  # a key past the seek point (holds U+10FFFF): still skip
                continue
            if len(out.objects) + len(out.prefixes) >= max_keys:
                out.truncated = True
                return out
            cp = common_prefix(meta.key, prefix, delimiter)
            if cp is not None:
                out.prefixes.append(cp)
                out.last = skipping = cp
                cursor = skip_past(cp)
                break  # seek past every key under this prefix
            out.objects.append(meta)
            out.last = cursor = meta.key
        else:
            if len(rows) < min(batch, wanted):
                return out


# fetch(after_key, after_vseq, prefix, limit) -> versions with (key, vseq) > (after_key,
# after_vseq) and key >= prefix, in (key, vseq) order: newest first within a key.
FetchVersions = Callable[[str, str, str, int], list[ListedObject]]
AFTER_ALL = "~"  # sorts after every vseq (hex digits): (key, AFTER_ALL) skips all of key


@dataclass
class VersionListing:
    versions: list[ListedObject] = field(default_factory=list)
    prefixes: list[str] = field(default_factory=list)
    truncated: bool = False
    next_key: str | None = None
    next_version_id: str | None = None


def list_versions(fetch: FetchVersions, *, prefix: str = "", delimiter: str = "",
                  after: tuple[str, str] = ("", ""), max_keys: int = 1000,
                  batch: int = 1000) -> VersionListing:
    """Versions and common prefixes strictly after ``after`` = (key, vseq)."""
    out = VersionListing()
    key, vseq = after
    skipping: str | None = None
    if key and delimiter:
        cp = common_prefix(key, prefix, delimiter)
        if cp is not None and key == cp:
            key, vseq, skipping = skip_past(cp), AFTER_ALL, cp
    while True:
        wanted = max_keys - len(out.versions) - len(out.prefixes) + 1
        rows = fetch(key, vseq, prefix, min(batch, max(wanted, 1)))
        if not rows:
            return out
        for v in rows:
            if not v.key.startswith(prefix):
                return out
            if skipping is not None and v.key.startswith(skipping):
                key, vseq = v.key, v.vseq
                continue
            if len(out.versions) + len(out.prefixes) >= max_keys:
                out.truncated = True
                return out
            cp = common_prefix(v.key, prefix, delimiter)
            if cp is not None:
                out.prefixes.append(cp)
                out.next_key, out.next_version_id = cp, None
                skipping = cp
                key, vseq = skip_past(cp), AFTER_ALL
                break
            out.versions.append(v)
            out.next_key, out.next_version_id = v.key, v.version_id
            key, vseq = v.key, v.vseq
        else:
            if len(rows) < min(batch, max(wanted, 1)):
                return out

"""Version order: every version of a key gets a ``vseq`` that sorts newest first.

A vseq is 16 hex digits of (2^64 - 1 - microseconds since the epoch) and 8 random hex
digits; it is also the public version id of a non-null version (opaque to clients, and
listing a key's versions in vseq order lists them newest first, as S3 does). A new version
always sorts before the key's current one, even if the clock stepped back.
"""

from __future__ import annotations

import re
import secrets
import time

from ...domain.models import NULL_VERSION

_MAX = 2**64 - 1
VSEQ_RE = re.compile(r"[0-9a-f]{24}")


def _micros(vseq: str) -> int:
    return _MAX - int(vseq[:16], 16)


def next_vseq(newest: str | None, now_us: int | None = None) -> str:
    """A vseq newer than ``newest`` (the key's current one, if any)."""
    us = time.time_ns() // 1000 if now_us is None else now_us
    if newest and VSEQ_RE.fullmatch(newest):
        us = max(us, _micros(newest) + 1)
    return f"{_MAX - us:016x}{secrets.token_hex(4)}"


def is_valid_version_id(version_id: str) -> bool:
    return version_id == NULL_VERSION or bool(VSEQ_RE.fullmatch(version_id))

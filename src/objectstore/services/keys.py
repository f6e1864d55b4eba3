"""Keys for encryption at rest: the server master key ring (SSE-S3, and what wraps the KMS
keys) and the built-in key service's named KMS keys (SSE-KMS).

Key hierarchy: every encrypted object version has its own random data key; the data key is
stored wrapped (AES-256-GCM) by a master key (SSE-S3), by a KMS key (SSE-KMS) or by the
customer's key (SSE-C, never stored). KMS keys are stored wrapped by a master key. The
master key ring is a JSON file in the data dir (mode 0600), created at first start, or a key
given by setting (``OBJECTSTORE_SSE_MASTER_KEY``). ``rotate`` adds a master key that new
data keys use (old ones stay readable); ``rewrap`` re-wraps stored data keys and KMS keys
under the active master key without touching object bytes. Keys are never logged.
"""

from __future__ import annotations

import base64
import binascii
import contextlib
import fcntl
import hashlib
import json
import os
import secrets
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import Engine, select, tuple_, update

from ..domain.encryption import KmsKeyDisabled, KmsKeyExists, KmsKeyNotFound, MasterKeyMissing
from ..domain.errors import InvalidInput
from ..storage.sql.engine import writing
from ..storage.sql.tables import kms_keys, object_versions, objects, uploads
from .cache import MISS, SharedGeneration, TtlCache
from .crypto import KeyMismatch, new_key, unwrap, wrap

KEYRING_FILE = "sse-keyring.json"
DEFAULT_KMS_ALIAS = "aws/s3"
_ALIAS_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789/_-")


def parse_master_key(value: str) -> bytes:
    """A master key given by setting: 32 bytes, base64 (standard or URL-safe)."""
    try:
        raw = base64.b64decode(value.strip().replace("-", "+").replace("_", "/"),
                               validate=True)
    except (ValueError, binascii.Error):
        raw = b""
    if len(raw) != 32:
        raise ValueError("must be 32 random bytes in base64 (make one with `python -c 'import "
                         "os, base64; print(base64.b64encode(os.urandom(32)).decode())'`)")
    return raw


def _master_aad(kid: str, purpose: bytes) -> bytes:
    return b"objectstore-master|" + kid.encode() + b"|" + purpose


class MasterKeyRing:
    """The server master keys by id; one of them is active (wraps new data keys)."""

    def __init__(self, path: Path, configured: str | None = None) -> None:
        self.path = path
        self._lock = threading.Lock()
        self._keys: dict[str, bytes] = {}
        self._active = ""
        self._stamp: tuple[float, int] | None = None
        self._checked = 0.0
        self._configured: tuple[str, bytes] | None = None
        if configured:
            raw = parse_master_key(configured)
            self._configured = ("mk-s-" + hashlib.sha256(raw).hexdigest()[:10], raw)
        self._load(create=self._configured is None)

    # -- the file -------------------------------------------------------------------------------
    @contextlib.contextmanager
    def _flock(self) -> Iterator[None]:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(str(self.path) + ".lock", os.O_RDWR | os.O_CREAT, 0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX)
            yield
        finally:
            os.close(fd)

    def _read_file(self) -> dict[str, Any]:
        return dict(json.loads(self.path.read_text()))

    def _write_file(self, doc: dict[str, Any]) -> None:
        tmp = self.path.with_name(self.path.name + f".tmp-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            os.write(fd, json.dumps(doc, indent=1).encode() + b"\n")
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(tmp, self.path)
        dfd = os.open(self.path.parent, os.O_RDONLY)
        try:
            os.fsync(dfd)
        finally:
            os.close(dfd)

    @staticmethod
    def _new_entry() -> tuple[str, dict[str, str]]:
        kid = "mk-" + secrets.token_hex(5)
        return kid, {"key": base64.b64encode(new_key()).decode(),
                     "created": datetime.now(UTC).isoformat()}

    def _load(self, *, create: bool) -> None:
        with self._lock:
            if not self.path.exists() and create:
                with self._flock():
                    if not self.path.exists():
                        kid, entry = self._new_entry()
                        self._write_file({"version": 1, "active": kid,
                                          "keys": {kid: entry}})
            keys: dict[str, bytes] = {}
            active = ""
            if self.path.exists():
                st = os.stat(self.path)
                if st.st_mode & 0o077:
                    os.chmod(self.path, 0o600)  # never readable by others
                doc = self._read_file()
                keys = {k: base64.b64decode(v["key"]) for k, v in doc["keys"].items()}
                active = doc["active"]
                self._stamp = (st.st_mtime, st.st_ino)
            if self._configured is not None:
                kid, raw = self._configured
                keys[kid] = raw
                active = kid
            if not keys:
                raise RuntimeError(f"no master key: {self.path} is missing")
            self._keys, self._active = keys, active

    def _fresh(self) -> None:
        """Pick up a rotation made by another process (checked at most once a second)."""
        now = time.monotonic()
        if now - self._checked < 1.0:
            return
        self._checked = now
        try:
            st = os.stat(self.path)
        except FileNotFoundError:
            return
        if self._stamp != (st.st_mtime, st.st_ino):
            self._load(create=False)

    # -- use --------------------------------------------------------------------------------------
    @property
    def active_id(self) -> str:
        self._fresh()
        return self._active

    def ids(self) -> list[str]:
        self._fresh()
        return sorted(self._keys)

    def key(self, kid: str) -> bytes:
        self._fresh()
        found = self._keys.get(kid)
        if found is None:
            self._load(create=False)
            found = self._keys.get(kid)
        if found is None:
            raise MasterKeyMissing(f"The master key {kid} is not in the key ring")
        return found

    def wrap(self, secret: bytes, purpose: bytes) -> tuple[str, str]:
        """(master key id, ``secret`` wrapped by the active master key for ``purpose``)."""
        kid = self.active_id
        return kid, wrap(self.key(kid), secret, _master_aad(kid, purpose))

    def unwrap(self, kid: str, token: str, purpose: bytes) -> bytes:
        return unwrap(self.key(kid), token, _master_aad(kid, purpose))

    def rotate(self) -> str:
        """Add a new master key and make it the active one; its id."""
        if self._configured is not None:
            raise RuntimeError("the active master key comes from OBJECTSTORE_SSE_MASTER_KEY: "
                               "change that setting (keep the old key in the key ring file) "
                               "to rotate")
        with self._flock():
            doc = self._read_file()
            kid, entry = self._new_entry()
            doc["keys"][kid] = entry
            doc["active"] = kid
            self._write_file(doc)
        self._load(create=False)
        return kid

    def describe(self) -> list[dict[str, Any]]:
        """The ring's key ids (never the keys), the active one marked."""
        doc = self._read_file() if self.path.exists() else {"keys": {}}
        out = [{"id": k, "created": v.get("created", ""), "active": k == self.active_id}
               for k, v in doc["keys"].items()]
        if self._configured is not None:
            out.append({"id": self._configured[0], "created": "(setting)", "active": True})
        return out


@dataclass(frozen=True)
class KmsKey:
    id: str
    account_id: str
    alias: str
    description: str
    enabled: bool
    created_at: datetime
    material: str
    master_key_id: str

    def arn(self, region: str) -> str:
        return f"arn:aws:kms:{region}:{self.account_id}:key/{self.id}"

    def public(self, region: str) -> dict[str, Any]:
        return {"id": self.id, "arn": self.arn(region), "alias": f"alias/{self.alias}",
                "description": self.description, "enabled": self.enabled,
                "created_at": self.created_at.isoformat()}


def _kms_key(row: Any) -> KmsKey:
    m = row._mapping
    created = m["created_at"]
    return KmsKey(m["id"], m["account_id"], m["alias"], m["description"], bool(m["enabled"]),
                  created if created.tzinfo else created.replace(tzinfo=UTC), m["material"],
                  m["master_key_id"])


def _key_purpose(key_id: str) -> bytes:
    return b"kms-key|" + key_id.encode()


class KeyService:
    """The master key ring plus the KMS keys of every account."""

    def __init__(self, engine: Engine, ring: MasterKeyRing,
                 shared: SharedGeneration | None = None) -> None:
        self.engine = engine
        self.ring = ring
        self._cache: TtlCache[tuple[str, str], KmsKey | None] = TtlCache(1.0, shared=shared)

    # -- KMS keys ---------------------------------------------------------------------------------
    @staticmethod
    def _alias(name: str) -> str:
        alias = name.strip().removeprefix("alias/")
        if not alias or len(alias) > 250 or not set(alias) <= _ALIAS_CHARS \
                or alias.startswith("aws/") and alias != DEFAULT_KMS_ALIAS:
            raise InvalidInput("a key alias is 1-250 letters, digits, '/', '_' or '-' (not "
                               "starting with aws/)", "alias")
        return alias

    def create(self, account_id: str, alias: str, description: str = "") -> KmsKey:
        alias = self._alias(alias)
        kid = str(uuid.uuid4())
        mk, material = self.ring.wrap(new_key(), _key_purpose(kid))
        now = datetime.now(UTC)
        with writing(self.engine) as conn:
            if conn.execute(select(kms_keys.c.id).where(
                    kms_keys.c.account_id == account_id, kms_keys.c.alias == alias)).first():
                raise KmsKeyExists(f"A key with the alias alias/{alias} already exists")
            conn.execute(kms_keys.insert().values(
                id=kid, account_id=account_id, alias=alias, description=description[:1000],
                enabled=True, material=material, master_key_id=mk, created_at=now))
        self._cache.clear()
        return KmsKey(kid, account_id, alias, description[:1000], True, now, material, mk)

    def list(self, account_id: str) -> list[KmsKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(select(kms_keys).where(kms_keys.c.account_id == account_id)
                                .order_by(kms_keys.c.alias)).all()
        return [_kms_key(r) for r in rows]

    @staticmethod
    def _parse_ref(ref: str) -> tuple[str, str]:
        """("id" | "alias", value) of a key id, key ARN, alias name or alias ARN."""
        ref = ref.strip()
        if ref.startswith("arn:"):
            parts = ref.split(":", 5)
            if len(parts) != 6 or parts[2] != "kms":
                raise KmsKeyNotFound(f"Invalid keyId {ref}")
            ref = parts[5]
            if ref.startswith("key/"):
                return "id", ref[4:]
        if ref.startswith("alias/"):
            return "alias", ref[6:]
        return "id", ref

    def find(self, account_id: str, ref: str) -> KmsKey:
        """The account's key named by id, ARN or alias (cached for a second)."""
        hit = self._cache.get((account_id, ref))
        if hit is not MISS:
            if hit is None:
                raise KmsKeyNotFound(f"Invalid keyId {ref}")
            return hit
        generation = self._cache.generation()
        kind, value = self._parse_ref(ref)
        column = kms_keys.c.id if kind == "id" else kms_keys.c.alias
        with self.engine.connect() as conn:
            row = conn.execute(select(kms_keys).where(kms_keys.c.account_id == account_id,
                                                      column == value)).first()
        found = _kms_key(row) if row is not None else None
        self._cache.put((account_id, ref), found, generation)
        if found is None:
            raise KmsKeyNotFound(f"Invalid keyId {ref}")
        return found

    def find_by_id(self, key_id: str) -> KmsKey:
        """A key by its id, whatever its account (the id a stored object names)."""
        hit = self._cache.get(("", key_id))
        if hit is not MISS and hit is not None:
            return hit
        generation = self._cache.generation()
        with self.engine.connect() as conn:
            row = conn.execute(select(kms_keys).where(kms_keys.c.id == key_id)).first()
        if row is None:
            raise KmsKeyNotFound(f"Invalid keyId {key_id}")
        found = _kms_key(row)
        self._cache.put(("", key_id), found, generation)
        return found

    def default_key(self, account_id: str) -> KmsKey:
        """The account's ``aws/s3`` key (made on first use), as AWS's default SSE-KMS key."""
        try:
            return self.find(account_id, f"alias/{DEFAULT_KMS_ALIAS}")
        except KmsKeyNotFound:
            pass
        try:
            return self.create(account_id, DEFAULT_KMS_ALIAS, "Default key for SSE-KMS")
        except KmsKeyExists:  # made meanwhile by another request
            return self.find(account_id, f"alias/{DEFAULT_KMS_ALIAS}")

    def set_enabled(self, account_id: str, ref: str, enabled: bool) -> KmsKey:
        key = self.find(account_id, ref)
        with writing(self.engine) as conn:
            conn.execute(update(kms_keys).where(kms_keys.c.id == key.id)
                         .values(enabled=enabled))
        self._cache.clear()
        return self.find(account_id, key.id)

    def material(self, key: KmsKey) -> bytes:
        """The key's 32 bytes, if it is enabled."""
        if not key.enabled:
            raise KmsKeyDisabled(f"{key.id} is disabled.")
        try:
            return self.ring.unwrap(key.master_key_id, key.material, _key_purpose(key.id))
        except KeyMismatch as exc:
            raise RuntimeError(f"KMS key {key.id} does not open with its master key") from exc

    # -- rewrap -------------------------------------------------------------------------------
    def rewrap(self, rewrap_sse: Any) -> dict[str, int]:
        """Re-wrap under the active master key every KMS key and (through ``rewrap_sse``:
        sse dict -> new sse dict or None when unchanged) every stored data key; object bytes
        are not read. Returns counts."""
        active = self.ring.active_id
        counts = {"kms_keys": 0, "versions": 0, "uploads": 0}
        with self.engine.connect() as conn:
            keys = [_kms_key(r) for r in conn.execute(select(kms_keys)).all()]
        for key in keys:
            if key.master_key_id == active:
                continue
            secret = self.ring.unwrap(key.master_key_id, key.material, _key_purpose(key.id))
            mk, material = self.ring.wrap(secret, _key_purpose(key.id))
            with writing(self.engine) as conn:
                conn.execute(update(kms_keys).where(
                    kms_keys.c.id == key.id, kms_keys.c.master_key_id == key.master_key_id)
                    .values(material=material, master_key_id=mk))
            counts["kms_keys"] += 1
        for table in (objects, object_versions):
            after: tuple[str, str, str] = ("", "", "")
            while True:
                with self.engine.connect() as conn:
                    rows = conn.execute(
                        select(table.c.store_id, table.c.key, table.c.vseq, table.c.sse)
                        .where(tuple_(table.c.store_id, table.c.key, table.c.vseq) > after)
                        .order_by(table.c.store_id, table.c.key, table.c.vseq)
                        .limit(500)).all()
                if not rows:
                    break
                for sid, key_name, vseq, sse in rows:
                    after = (sid, key_name, vseq)
                    new = rewrap_sse(sse) if sse else None
                    if new is None:
                        continue
                    with writing(self.engine) as conn:
                        changed = conn.execute(update(table).where(
                            table.c.store_id == sid, table.c.key == key_name,
                            table.c.vseq == vseq).values(sse=new)).rowcount
                    counts["versions"] += changed
        with self.engine.connect() as conn:
            ups = conn.execute(select(uploads.c.id, uploads.c.options)).all()
        for upload_id, options in ups:
            sse = (options or {}).get("sse") if isinstance(options, dict) else None
            new = rewrap_sse(sse) if sse else None
            if new is None:
                continue
            with writing(self.engine) as conn:
                conn.execute(update(uploads).where(uploads.c.id == upload_id)
                             .values(options={**options, "sse": new}))
            counts["uploads"] += 1
        self._cache.clear()
        return counts

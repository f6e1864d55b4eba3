"""SQLAlchemy Core schema. Alembic migrations in ``migrations/`` create it."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    Boolean,
    Column,
    DateTime,
    Float,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    TypeDecorator,
    UniqueConstraint,
    func,
)

metadata = MetaData()


class UTCDateTime(TypeDecorator[datetime]):
    """Timezone-aware UTC datetimes on every backend (SQLite drops the offset)."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value

    def process_result_value(self, value: datetime | None, dialect: Any) -> datetime | None:
        if value is not None and value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value


# Object keys sort in UTF-8 byte order, as S3 lists them: SQLite's default BINARY collation does
# that; PostgreSQL needs the "C" collation.
KeyType = String(1024).with_variant(String(1024, collation="C"), "postgresql")
NameType = String(63).with_variant(String(63, collation="C"), "postgresql")

accounts = Table(
    "accounts",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("name", String(255), nullable=False, unique=True),
    Column("api_key_hash", String(64), nullable=False, unique=True),
    Column("quota_gb", BigInteger, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
)

credentials = Table(
    "credentials",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", String(255), nullable=False),
    Column("access_key_id", String(128), nullable=False, unique=True),
    Column("secret_enc", Text, nullable=False),
    Column("max_size_gb", BigInteger, nullable=True),
    Column("suspended", Boolean, nullable=False, default=False),
    Column("used_bytes", BigInteger, nullable=False, default=0),
    Column("created_at", UTCDateTime(), nullable=False),
    Index("ix_credentials_account_region", "account_id", "region"),
)

objectstores = Table(
    "objectstores",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), ForeignKey("accounts.id"), nullable=False),
    Column("region", String(32), nullable=False),
    Column("name", NameType, nullable=False),
    Column("max_size_gb", BigInteger, nullable=False),
    Column("credential_id", String(36), ForeignKey("credentials.id"), nullable=False),
    Column("owns_credential", Boolean, nullable=False, default=False),
    Column("used_bytes", BigInteger, nullable=False, default=0),
    Column("object_count", BigInteger, nullable=False, default=0),
    Column("acl", String(32), nullable=False, default="private"),
    Column("created_at", UTCDateTime(), nullable=False),
    # None: versioning never configured; "Enabled" or "Suspended" once it was set.
    Column("versioning", String(16), nullable=True),
    # "" for every store, except one that an earlier release let in beside another of its
    # region whose name differs only by case: its own id (migration c5e7a9b1d3f5), which
    # keeps it out of the way of the case-insensitive unique index below.
    Column("case_clash", String(36), nullable=False, default="", server_default=""),
    UniqueConstraint("region", "name", name="uq_objectstores_region_name"),
    Index("ix_objectstores_account_region", "account_id", "region"),
)
# No two stores of a region differ only by case (S3 clients lower-case virtual-hosted names,
# and one tenant's "B-MAIN" beside another's "b-main" invites confusion); also the index of
# the (case-insensitive) lookups by name.
Index("uq_objectstores_lower_name", func.lower(objectstores.c.name), objectstores.c.region,
      objectstores.c.case_clash, unique=True)


def _object_columns() -> list[Column[Any]]:
    """The columns an object version has (the same in ``objects`` and ``object_versions``)."""
    return [
        Column("blob_id", String(64), nullable=False),
        Column("size", BigInteger, nullable=False),
        Column("etag", String(80), nullable=False),
        Column("last_modified", UTCDateTime(), nullable=False),
        Column("content_type", String(255), nullable=False),
        Column("headers", JSON, nullable=False),
        Column("user_meta", JSON, nullable=False),
        Column("checksums", JSON, nullable=False),
        Column("checksum_type", String(16), nullable=True),
        Column("acl", String(32), nullable=False),
        Column("parts", JSON, nullable=True),
        Column("tags", JSON, nullable=False),
        # Small objects' bytes, committed with their row (no blob file): blob_id is "" then.
        Column("data", LargeBinary, nullable=True),
        # "null" or the version's id; vseq orders a key's versions newest first (it equals
        # the version id of non-null versions).
        Column("version_id", String(64), nullable=False),
        Column("delete_marker", Boolean, nullable=False),
        # Object lock: "GOVERNANCE" / "COMPLIANCE" until lock_until; a legal hold.
        Column("lock_mode", String(16), nullable=True),
        Column("lock_until", UTCDateTime(), nullable=True),
        Column("legal_hold", Boolean, nullable=False, default=False),
        # Explicit ACL grants beyond the canned ``acl`` (list of {grantee, permission}).
        Column("grants", JSON, nullable=True),
        # Server-side encryption of this version's bytes (mode, wrapped data key, ...).
        Column("sse", JSON, nullable=True),
        # The credential that owns this version when it is not the store's owner (an object
        # another account wrote under ObjectWriter / BucketOwnerPreferred); null: the store's.
        Column("owner", String(36), nullable=True),
        # CRC32C of every 1 MiB block of each blob, packed 4 bytes a block
        # (services/engine/blocks.py); null: written before block checksums (or no blob).
        Column("blocks", LargeBinary, nullable=True),
        # The S3 storage class the version was written with (domain/storage_classes.py);
        # null: STANDARD (every version written before storage classes were recorded).
        Column("storage_class", String(32), nullable=True),
    ]


# The latest version of every key (unversioned stores have only these rows): the hot path
# reads and writes one row by primary key, as before versioning.
objects = Table(
    "objects",
    metadata,
    Column("store_id", String(36), primary_key=True),
    Column("key", KeyType, primary_key=True),
    *_object_columns(),
    Column("vseq", String(32), nullable=False),
)

# Noncurrent versions (and noncurrent delete markers) of versioned stores.
object_versions = Table(
    "object_versions",
    metadata,
    Column("store_id", String(36), primary_key=True),
    Column("key", KeyType, primary_key=True),
    Column("vseq", String(32), primary_key=True),
    *_object_columns(),
)

# Blob ids whose bytes must be removed once nothing names them (deleted stores, overwrites).
# The GC drains this table; a crash between commit and unlink leaves the row for the next pass.
doomed_blobs = Table(
    "doomed_blobs",
    metadata,
    Column("blob_id", String(64), primary_key=True),
    Column("queued_at", UTCDateTime(), nullable=False),
    Column("attempts", Integer, nullable=False, default=0),  # failed deletions so far
)

# A store's configuration documents by sub-resource name ("lifecycle", "object-lock",
# "policy", "cors", "public-access-block", "ownership", "encryption", "tagging"): the
# document as the store keeps it (JSON text).
bucket_configs = Table(
    "bucket_configs",
    metadata,
    Column("store_id", String(36), primary_key=True),
    Column("name", String(32), primary_key=True),
    Column("document", Text, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

# Background workers' progress (e.g. the lifecycle worker's cursor), so a restarted worker
# resumes where the last one stopped.
worker_state = Table(
    "worker_state",
    metadata,
    Column("name", String(64), primary_key=True),
    Column("state", JSON, nullable=False),
    Column("updated_at", UTCDateTime(), nullable=False),
)

uploads = Table(
    "uploads",
    metadata,
    Column("id", String(64), primary_key=True),
    Column("store_id", String(36), nullable=False),
    Column("key", KeyType, nullable=False),
    Column("initiated", UTCDateTime(), nullable=False),
    Column("content_type", String(255), nullable=False),
    Column("headers", JSON, nullable=False),
    Column("user_meta", JSON, nullable=False),
    Column("checksum_algorithm", String(16), nullable=True),
    Column("checksum_type", String(16), nullable=True),
    Column("acl", String(32), nullable=False),
    Column("tags", JSON, nullable=False),
    Column("state", String(16), nullable=False, default="open"),
    # Further settings of the object to be (lock, grants, encryption), as JSON.
    Column("options", JSON, nullable=True),
    Index("ix_uploads_store_key", "store_id", "key", "id"),
)

parts = Table(
    "parts",
    metadata,
    Column("upload_id", String(64), ForeignKey("uploads.id"), primary_key=True),
    Column("part_number", Integer, primary_key=True),
    Column("blob_id", String(64), nullable=False),
    Column("size", BigInteger, nullable=False),
    Column("etag", String(80), nullable=False),
    Column("checksums", JSON, nullable=False),
    Column("last_modified", UTCDateTime(), nullable=False),
    # The part blob's block checksums (as ``objects.blocks``); null: unsealed parts written
    # before block checksums, and sealed parts.
    Column("blocks", LargeBinary, nullable=True),
)


# SSE-KMS: the built-in key service's named keys (per account). ``material`` is the key's
# 32 bytes wrapped by the server master key ``master_key_id`` (services/keys.py); disabled
# keys open nothing until enabled again.
kms_keys = Table(
    "kms_keys",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False),
    Column("alias", String(255), nullable=False),
    Column("description", Text, nullable=False, default=""),
    Column("enabled", Boolean, nullable=False, default=True),
    Column("material", Text, nullable=False),
    Column("master_key_id", String(64), nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    UniqueConstraint("account_id", "alias", name="uq_kms_keys_account_alias"),
)


# Console sessions, shared by every worker and gateway on the database. The cookie's token is
# never stored: only its SHA-256 (``token_hash``). Times are epoch seconds.
console_sessions = Table(
    "console_sessions",
    metadata,
    Column("token_hash", String(64), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("csrf", String(64), nullable=False),
    Column("created_at", Float, nullable=False),
    Column("last_seen", Float, nullable=False),
    Column("flash", Text, nullable=True),
)

# The console's sign-in throttle: recent failed (or in-flight) sign-ins per client (an IPv4
# address or an IPv6 /64), as space-separated epoch seconds, newest last.
signin_failures = Table(
    "signin_failures",
    metadata,
    Column("client", String(64), primary_key=True),
    Column("failures", Text, nullable=False),
    Column("last_at", Float, nullable=False, index=True),
)

# Bucket event notifications (services/events, docs/notifications.md). A target belongs to an
# account; ``endpoint`` is shown (a password in it replaced by ***), ``sealed`` holds the
# secrets (the full endpoint URL and the auth token) encrypted with the server key. The
# delivery counters live on the row (one UPDATE per delivered batch; every gateway sees them).
event_targets = Table(
    "event_targets",
    metadata,
    Column("id", String(36), primary_key=True),
    Column("account_id", String(36), nullable=False, index=True),
    Column("name", String(255), nullable=False),
    Column("region", String(32), nullable=False),
    Column("type", String(16), nullable=False),
    Column("endpoint", Text, nullable=False),
    Column("options", JSON, nullable=False),
    Column("sealed", Text, nullable=False),
    Column("created_at", UTCDateTime(), nullable=False),
    Column("delivered", BigInteger, nullable=False, default=0),
    Column("retried", BigInteger, nullable=False, default=0),
    Column("failed", BigInteger, nullable=False, default=0),
    Column("last_error", Text, nullable=True),
    Column("last_error_at", UTCDateTime(), nullable=True),
)

# The outbox: one row per (change, target), written in the transaction of the change it
# describes; the deliverer deletes it once the target has acknowledged it. ``id`` orders the
# events (the S3 ``sequencer``: per key it grows, the key's writers being serialised).
event_outbox = Table(
    "event_outbox",
    metadata,
    Column("id", BigInteger().with_variant(Integer, "sqlite"), primary_key=True,
           autoincrement=True),
    Column("target_id", String(36), nullable=False),
    Column("store_id", String(36), nullable=False),
    Column("key", KeyType, nullable=False),
    Column("record", Text, nullable=False),
    Column("created_at", Float, nullable=False),
    # how many events the row holds (services/events/outbox.py): a backlog is their sum
    Column("events", Integer, nullable=False, server_default="1"),
    Index("ix_event_outbox_target_id", "target_id", "id"),
    # ids are never reused, even once the outbox is empty (SQLite's plain rowid would start
    # again below ids already delivered: a key's sequencer would go backwards)
    sqlite_autoincrement=True,
)

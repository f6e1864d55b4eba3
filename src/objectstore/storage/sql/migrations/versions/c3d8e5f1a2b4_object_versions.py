"""object versioning: version columns on objects, object_versions, store versioning state;
per-version lock/ACL-grant/encryption columns, per-store configuration documents, worker state

Revision ID: c3d8e5f1a2b4
Revises: b7c41d2e9f10
Create Date: 2026-12-02 17:00:00.000000

Existing objects become the "null" version of their key (as on S3 for objects written before
versioning was enabled), with the oldest possible version order, so every version written
later sorts before them. Store sizes stay the same number of GB (now decimal gigabytes).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "c3d8e5f1a2b4"
down_revision = "b7c41d2e9f10"
branch_labels = None
depends_on = None

OLDEST_VSEQ = "ffffffffffffffff00000000"


def _key_type() -> sa.types.TypeEngine[str]:
    return sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")


def _version_extras() -> list[sa.Column[object]]:
    """Object lock, full ACL grants and encryption of a version (null when unused)."""
    return [
        sa.Column("lock_mode", sa.String(16), nullable=True),
        sa.Column("lock_until", sa.DateTime(timezone=True), nullable=True),
        sa.Column("legal_hold", sa.Boolean(), nullable=False, server_default=sa.false()),
        sa.Column("grants", sa.JSON(), nullable=True),
        sa.Column("sse", sa.JSON(), nullable=True),
    ]


def upgrade() -> None:
    with op.batch_alter_table("objectstores") as batch:
        batch.add_column(sa.Column("versioning", sa.String(16), nullable=True))
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("version_id", sa.String(64), nullable=False,
                                   server_default="null"))
        batch.add_column(sa.Column("delete_marker", sa.Boolean(), nullable=False,
                                   server_default=sa.false()))
        batch.add_column(sa.Column("vseq", sa.String(32), nullable=False,
                                   server_default=OLDEST_VSEQ))
        for column in _version_extras():
            batch.add_column(column)
    with op.batch_alter_table("uploads") as batch:
        batch.add_column(sa.Column("options", sa.JSON(), nullable=True))
    with op.batch_alter_table("doomed_blobs") as batch:
        batch.add_column(sa.Column("attempts", sa.Integer(), nullable=False,
                                   server_default="0"))
    op.create_table(
        "bucket_configs",
        sa.Column("store_id", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(32), primary_key=True),
        sa.Column("document", sa.Text(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "worker_state",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
    )
    op.create_table(
        "object_versions",
        sa.Column("store_id", sa.String(36), primary_key=True),
        sa.Column("key", _key_type(), primary_key=True),
        sa.Column("vseq", sa.String(32), primary_key=True),
        sa.Column("blob_id", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("etag", sa.String(80), nullable=False),
        sa.Column("last_modified", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content_type", sa.String(255), nullable=False),
        sa.Column("headers", sa.JSON(), nullable=False),
        sa.Column("user_meta", sa.JSON(), nullable=False),
        sa.Column("checksums", sa.JSON(), nullable=False),
        sa.Column("checksum_type", sa.String(16), nullable=True),
        sa.Column("acl", sa.String(32), nullable=False),
        sa.Column("parts", sa.JSON(), nullable=True),
        sa.Column("tags", sa.JSON(), nullable=False),
        sa.Column("data", sa.LargeBinary(), nullable=True),
        sa.Column("version_id", sa.String(64), nullable=False),
        sa.Column("delete_marker", sa.Boolean(), nullable=False),
        *_version_extras(),
    )


def downgrade() -> None:
    op.drop_table("object_versions")
    op.drop_table("worker_state")
    op.drop_table("bucket_configs")
    with op.batch_alter_table("doomed_blobs") as batch:
        batch.drop_column("attempts")
    with op.batch_alter_table("uploads") as batch:
        batch.drop_column("options")
    with op.batch_alter_table("objects") as batch:
        for name in ("sse", "grants", "legal_hold", "lock_until", "lock_mode"):
            batch.drop_column(name)
        batch.drop_column("vseq")
        batch.drop_column("delete_marker")
        batch.drop_column("version_id")
    with op.batch_alter_table("objectstores") as batch:
        batch.drop_column("versioning")

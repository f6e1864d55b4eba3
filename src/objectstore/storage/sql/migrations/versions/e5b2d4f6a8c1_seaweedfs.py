"""scale-out: SeaweedFS chunk lists, the cluster-wide cache change counter

Revision ID: e5b2d4f6a8c1
Revises: c3d8e5f1a2b4
Create Date: 2026-12-02 18:00:00.000000

- ``blob_chunks``: the needles of each SeaweedFS blob (storage/seaweedfs/tables.py).
- ``change_versions``: one counter per name ("cache"), bumped by every change that must clear
  the credential/store/config caches of every gateway; the truth that LISTEN/NOTIFY prompts
  gateways to re-read (services/notify.py).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "e5b2d4f6a8c1"
down_revision = "c3d8e5f1a2b4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "blob_chunks",
        sa.Column("blob_id", sa.String(64), primary_key=True),
        sa.Column("seq", sa.Integer(), primary_key=True),
        sa.Column("fid", sa.String(64), nullable=False),
        sa.Column("size", sa.BigInteger(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
    )
    op.create_table(
        "change_versions",
        sa.Column("name", sa.String(64), primary_key=True),
        sa.Column("version", sa.BigInteger(), nullable=False),
    )
    op.bulk_insert(sa.table("change_versions", sa.column("name", sa.String()),
                            sa.column("version", sa.BigInteger())),
                   [{"name": "cache", "version": 0}])


def downgrade() -> None:
    op.drop_table("change_versions")
    op.drop_table("blob_chunks")

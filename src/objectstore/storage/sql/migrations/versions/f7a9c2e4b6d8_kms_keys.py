"""encryption at rest: the built-in key service's named KMS keys

Revision ID: f7a9c2e4b6d8
Revises: e5b2d4f6a8c1
Create Date: 2026-12-02 19:00:00.000000

Object versions' encryption settings live in the existing ``sse`` JSON columns and uploads'
in ``uploads.options``; only SSE-KMS keys need a table.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "f7a9c2e4b6d8"
down_revision = "e5b2d4f6a8c1"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "kms_keys",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("alias", sa.String(255), nullable=False),
        sa.Column("description", sa.Text(), nullable=False),
        sa.Column("enabled", sa.Boolean(), nullable=False),
        sa.Column("material", sa.Text(), nullable=False),
        sa.Column("master_key_id", sa.String(64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.UniqueConstraint("account_id", "alias", name="uq_kms_keys_account_alias"),
    )


def downgrade() -> None:
    op.drop_table("kms_keys")

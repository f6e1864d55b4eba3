"""small objects' bytes inline in the objects row

Revision ID: b7c41d2e9f10
Revises: a9165695039d
Create Date: 2026-11-27 04:20:00.000000
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b7c41d2e9f10"
down_revision = "a9165695039d"
branch_labels = None
depends_on = None


def upgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.add_column(sa.Column("data", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("objects") as batch:
        batch.drop_column("data")

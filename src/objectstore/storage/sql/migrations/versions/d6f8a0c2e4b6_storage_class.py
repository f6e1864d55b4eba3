"""storage class: the S3 storage class each object version was written with

Revision ID: d6f8a0c2e4b6
Revises: c5e7a9b1d3f5
Create Date: 2026-12-06 13:50:00.000000

A nullable column on ``objects`` and ``object_versions``: null means STANDARD, so every
version written before (all of them STANDARD) keeps its row as it is; nothing is rewritten.
A multipart upload's class travels in ``uploads.options`` (JSON): no column there.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d6f8a0c2e4b6"
down_revision = "c5e7a9b1d3f5"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("objects", "object_versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("storage_class", sa.String(32), nullable=True))


def downgrade() -> None:
    for table in ("objects", "object_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("storage_class")

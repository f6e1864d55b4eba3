"""block checksums: CRC32C of every 1 MiB block of a version's (or a part's) blobs

Revision ID: b2d4f6a8c0e1
Revises: a1c3e5f7b9d2
Create Date: 2026-12-06 13:30:00.000000

Reads check every block they touch against these (services/engine/blocks.py). Existing
versions and parts get null: they were written before block checksums and keep reading
(whole-object reads are still checked against their full-object checksum; ``fsck`` reports
their blocks as unverifiable). Nothing is rewritten.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "b2d4f6a8c0e1"
down_revision = "a1c3e5f7b9d2"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("objects", "object_versions", "parts"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("blocks", sa.LargeBinary(), nullable=True))


def downgrade() -> None:
    for table in ("objects", "object_versions", "parts"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("blocks")

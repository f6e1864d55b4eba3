"""object ownership: the credential that owns an object version written by another account

Revision ID: a1c3e5f7b9d2
Revises: d4e6f8a0b2c4
Create Date: 2026-12-06 13:00:00.000000

Under the ObjectWriter and BucketOwnerPreferred ownership controls an object written by
another account is that account's (as on S3). ``owner`` is null for every existing version
and upload: they stay the store owner's (nothing is rewritten). Uploads keep their initiator
and the owner to be in ``uploads.options``.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a1c3e5f7b9d2"
down_revision = "d4e6f8a0b2c4"
branch_labels = None
depends_on = None


def upgrade() -> None:
    for table in ("objects", "object_versions"):
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("owner", sa.String(36), nullable=True))


def downgrade() -> None:
    for table in ("objects", "object_versions"):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("owner")

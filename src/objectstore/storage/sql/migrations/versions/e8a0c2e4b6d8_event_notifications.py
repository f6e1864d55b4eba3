"""bucket event notifications: targets and the outbox

Revision ID: e8a0c2e4b6d8
Revises: d6f8a0c2e4b6
Create Date: 2026-12-06 15:45:00.000000

Two new tables, nothing rewritten: ``event_targets`` (an account's webhook, AMQP, NATS and
Redis targets, their secrets sealed with the server key, their delivery counters) and
``event_outbox`` (one row per change and target, written in the change's transaction and
deleted once delivered). A bucket's notification configuration is a ``bucket_configs``
document ("notification"), which needs no schema change.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

KeyType = sa.String(1024).with_variant(sa.String(1024, collation="C"), "postgresql")

revision = "e8a0c2e4b6d8"
down_revision = "d6f8a0c2e4b6"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "event_targets",
        sa.Column("id", sa.String(36), primary_key=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("name", sa.String(255), nullable=False),
        sa.Column("region", sa.String(32), nullable=False),
        sa.Column("type", sa.String(16), nullable=False),
        sa.Column("endpoint", sa.Text(), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("sealed", sa.Text(), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("delivered", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("retried", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("failed", sa.BigInteger(), nullable=False, server_default="0"),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("last_error_at", sa.DateTime(timezone=True), nullable=True),
    )
    op.create_index("ix_event_targets_account_id", "event_targets", ["account_id"])
    op.create_table(
        "event_outbox",
        sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
                  primary_key=True, autoincrement=True),
        sa.Column("target_id", sa.String(36), nullable=False),
        sa.Column("store_id", sa.String(36), nullable=False),
        sa.Column("key", KeyType, nullable=False),
        sa.Column("record", sa.Text(), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        # SQLite: AUTOINCREMENT, so an id (the S3 sequencer) is never reused once the outbox
        # is empty
        sqlite_autoincrement=True,
    )
    op.create_index("ix_event_outbox_target_id", "event_outbox", ["target_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_event_outbox_target_id", table_name="event_outbox")
    op.drop_table("event_outbox")
    op.drop_index("ix_event_targets_account_id", table_name="event_targets")
    op.drop_table("event_targets")

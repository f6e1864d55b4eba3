"""event outbox rows hold several events

Revision ID: a3c5e7f9b1d2
Revises: e8a0c2e4b6d8
Create Date: 2026-12-06 22:30:00.000000

An ``event_outbox`` row now holds the events of one group-commit batch for one target and
store, in a compact form rendered when sent (services/events/outbox.py). The new ``events``
column counts them (a backlog is their sum); rows already there hold one rendered record
each, so they count 1 — the server default — and are still delivered as they are.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "a3c5e7f9b1d2"
down_revision = "e8a0c2e4b6d8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    # a plain ADD COLUMN, never a copy of the table: SQLite's AUTOINCREMENT counter (the
    # sequencers already handed out) must stay as it is
    op.add_column("event_outbox", sa.Column("events", sa.Integer(), nullable=False,
                                            server_default="1"))


def downgrade() -> None:
    with op.batch_alter_table("event_outbox") as batch:
        batch.drop_column("events")

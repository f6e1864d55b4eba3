"""console sessions and the sign-in throttle in the database

Revision ID: d4e6f8a0b2c4
Revises: f7a9c2e4b6d8
Create Date: 2026-12-06 13:00:00.000000

Both used to live in each process (the throttle) or in a SQLite file of the data dir (the
sessions): with several workers a guesser spread its tries over them, and a session made on
one gateway was unknown to the next. Now every worker and gateway shares them. Sessions of
the old file are not carried over (signing in again is the whole cost).
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "d4e6f8a0b2c4"
down_revision = "f7a9c2e4b6d8"
branch_labels = None
depends_on = None


def upgrade() -> None:
    op.create_table(
        "console_sessions",
        sa.Column("token_hash", sa.String(64), primary_key=True),
        sa.Column("account_id", sa.String(36), nullable=False),
        sa.Column("csrf", sa.String(64), nullable=False),
        sa.Column("created_at", sa.Float(), nullable=False),
        sa.Column("last_seen", sa.Float(), nullable=False),
        sa.Column("flash", sa.Text(), nullable=True),
    )
    op.create_index("ix_console_sessions_account_id", "console_sessions", ["account_id"])
    op.create_table(
        "signin_failures",
        sa.Column("client", sa.String(64), primary_key=True),
        sa.Column("failures", sa.Text(), nullable=False),
        sa.Column("last_at", sa.Float(), nullable=False),
    )
    op.create_index("ix_signin_failures_last_at", "signin_failures", ["last_at"])


def downgrade() -> None:
    op.drop_index("ix_signin_failures_last_at", table_name="signin_failures")
    op.drop_table("signin_failures")
    op.drop_index("ix_console_sessions_account_id", table_name="console_sessions")
    op.drop_table("console_sessions")

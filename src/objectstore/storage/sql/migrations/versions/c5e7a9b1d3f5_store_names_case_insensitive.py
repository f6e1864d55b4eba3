"""store names are unique per region whatever their case

Revision ID: c5e7a9b1d3f5
Revises: b2d4f6a8c0e1
Create Date: 2026-12-06 13:30:00.000000

No two stores of a region may differ only by case (issue 20.8: S3 CreateBucket let one
tenant make ``B-MAIN`` beside another's ``b-main``). A unique index on
``(lower(name), region, case_clash)`` enforces it; it replaces the index on ``name`` for
lookups, which are case-insensitive now (virtual-hosted names arrive lower-cased).

A database where an earlier release already let such a pair in keeps both stores as they
are, reachable by their exact names (renaming a tenant's bucket under it would break its
clients; refusing to start would take every tenant down): of each group of names that
differ only by case, the oldest store keeps ``case_clash`` "" and each later one gets its
own id there, so the pair fits the index while no new store can join the group. Each such
store is logged as a warning when the migration runs.
"""

from __future__ import annotations

import logging

import sqlalchemy as sa
from alembic import op

revision = "c5e7a9b1d3f5"
down_revision = "b2d4f6a8c0e1"
branch_labels = None
depends_on = None

log = logging.getLogger("objectstore.migrations")


def upgrade() -> None:
    with op.batch_alter_table("objectstores") as batch:
        batch.add_column(sa.Column("case_clash", sa.String(36), nullable=False,
                                   server_default=""))
    t = sa.table("objectstores", sa.column("id"), sa.column("region"), sa.column("name"),
                 sa.column("created_at"), sa.column("case_clash"))
    conn = op.get_bind()
    first: dict[tuple[str, str], str] = {}
    clashes: list[str] = []
    for sid, region, name in conn.execute(
            sa.select(t.c.id, t.c.region, t.c.name).order_by(t.c.created_at, t.c.id)):
        group = (region, name.lower())
        if group in first:
            log.warning("store %s (%r in %s) differs only by case from %r: both are kept, "
                        "reachable by their exact names; no new store may join them",
                        sid, name, region, first[group])
            clashes.append(sid)
        else:
            first[group] = name
    for sid in clashes:
        conn.execute(t.update().where(t.c.id == sid).values(case_clash=sid))
    op.drop_index("ix_objectstores_name", table_name="objectstores")
    op.create_index("uq_objectstores_lower_name", "objectstores",
                    [sa.text("lower(name)"), "region", "case_clash"], unique=True)


def downgrade() -> None:
    op.drop_index("uq_objectstores_lower_name", table_name="objectstores")
    op.create_index("ix_objectstores_name", "objectstores", ["name"], unique=False)
    with op.batch_alter_table("objectstores") as batch:
        batch.drop_column("case_clash")

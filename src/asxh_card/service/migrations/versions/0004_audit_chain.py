"""hash-chained audit log, signed checkpoints, append-only triggers

Revision ID: 0004
Revises: 0003
Create Date: 2026-12-05

Existing entries are chained in id order. From here on the database refuses UPDATE, DELETE
(and on PostgreSQL TRUNCATE) of audit entries and checkpoints with a trigger.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

_TABLES = ("audit_events", "audit_checkpoints")


def upgrade() -> None:
    """Apply."""
    from asxh_card.service.audit import GENESIS, entry_hash  # noqa: PLC0415

    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.add_column(sa.Column("seq", sa.Integer(), nullable=True))
        batch_op.add_column(sa.Column("prev_hash", sa.String(length=64), nullable=True))
        batch_op.add_column(sa.Column("entry_hash", sa.String(length=64), nullable=True))
        batch_op.create_unique_constraint(batch_op.f("uq_audit_events_seq"), ["seq"])
    op.create_table(
        "audit_head",
        sa.Column("id", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_audit_head")),
    )
    op.create_table(
        "audit_checkpoints",
        sa.Column("seq", sa.Integer(), autoincrement=False, nullable=False),
        sa.Column("entry_hash", sa.String(length=64), nullable=False),
        sa.Column("signed_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("signature", sa.String(length=200), nullable=False),
        sa.PrimaryKeyConstraint("seq", name=op.f("pk_audit_checkpoints")),
    )
    bind = op.get_bind()
    from asxh_card.service.db import UTCDateTime  # noqa: PLC0415

    events = sa.table(
        "audit_events",
        *(sa.column(n) for n in ("id", "actor", "role", "action", "object_type", "object_id")),
        *(sa.column(n) for n in ("province", "request_id")),
        sa.column("at", UTCDateTime()),
        sa.column("detail", sa.JSON()),
    )
    rows = bind.execute(sa.select(events).order_by(events.c.id)).mappings()
    previous, seq = GENESIS, 0
    for row in list(rows):
        seq += 1
        digest = entry_hash(dict(row) | {"seq": seq}, previous)
        bind.execute(
            sa.text(
                "UPDATE audit_events SET seq = :seq, prev_hash = :prev, entry_hash = :hash "
                "WHERE id = :id"
            ),
            {"seq": seq, "prev": previous, "hash": digest, "id": row["id"]},
        )
        previous = digest
    bind.execute(
        sa.text("INSERT INTO audit_head (id, seq, entry_hash) VALUES (1, :seq, :hash)"),
        {"seq": seq, "hash": previous},
    )
    if bind.dialect.name == "postgresql":
        op.execute(
            "CREATE FUNCTION asxh_audit_append_only() RETURNS trigger LANGUAGE plpgsql AS "
            "$$ BEGIN RAISE EXCEPTION 'audit entries are append-only'; END $$"
        )
        for table in _TABLES:
            op.execute(
                f"CREATE TRIGGER {table}_append_only BEFORE UPDATE OR DELETE ON {table} "
                "FOR EACH ROW EXECUTE FUNCTION asxh_audit_append_only()"
            )
            op.execute(
                f"CREATE TRIGGER {table}_no_truncate BEFORE TRUNCATE ON {table} "
                "FOR EACH STATEMENT EXECUTE FUNCTION asxh_audit_append_only()"
            )
    else:
        for table in _TABLES:
            for event in ("UPDATE", "DELETE"):
                op.execute(
                    f"CREATE TRIGGER {table}_no_{event.lower()} BEFORE {event} ON {table} "
                    "BEGIN SELECT RAISE(ABORT, 'audit entries are append-only'); END"
                )


def downgrade() -> None:
    """Revert."""
    bind = op.get_bind()
    if bind.dialect.name == "postgresql":
        for table in _TABLES:
            op.execute(f"DROP TRIGGER {table}_append_only ON {table}")
            op.execute(f"DROP TRIGGER {table}_no_truncate ON {table}")
        op.execute("DROP FUNCTION asxh_audit_append_only()")
    else:
        for table in _TABLES:
            for event in ("update", "delete"):
                op.execute(f"DROP TRIGGER {table}_no_{event}")
    op.drop_table("audit_checkpoints")
    op.drop_table("audit_head")
    with op.batch_alter_table("audit_events", schema=None) as batch_op:
        batch_op.drop_constraint(batch_op.f("uq_audit_events_seq"), type_="unique")
        batch_op.drop_column("entry_hash")
        batch_op.drop_column("prev_hash")
        batch_op.drop_column("seq")

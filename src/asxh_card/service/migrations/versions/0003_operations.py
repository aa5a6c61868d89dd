"""operations: operator token versions, bulk import jobs and their rejected rows

Revision ID: 0003
Revises: 0002
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision = "0002"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.add_column(
            sa.Column("token_version", sa.Integer(), nullable=False, server_default="0")
        )
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.add_column(sa.Column("import_job_id", sa.Integer(), nullable=True))
        batch_op.create_index(batch_op.f("ix_cards_import_job_id"), ["import_job_id"], unique=False)
    op.create_table(
        "import_jobs",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("resume_key", sa.String(length=64), nullable=False),
        sa.Column("filename", sa.String(length=200), nullable=False),
        sa.Column("province", sa.String(length=2), nullable=False),
        sa.Column("options", sa.JSON(), nullable=False),
        sa.Column("state", sa.String(length=10), nullable=False),
        sa.Column("total_rows", sa.Integer(), nullable=False),
        sa.Column("next_row", sa.Integer(), nullable=False),
        sa.Column("counts", sa.JSON(), nullable=False),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_by", sa.String(length=64), nullable=False),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("finished_at", sa.DateTime(timezone=True), nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_jobs")),
        sa.UniqueConstraint("resume_key", name=op.f("uq_import_jobs_resume_key")),
    )
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_jobs_province"), ["province"], unique=False)
    op.create_table(
        "import_rejections",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("job_id", sa.Integer(), nullable=False),
        sa.Column("row", sa.Integer(), nullable=False),
        sa.Column("field", sa.String(length=40), nullable=False),
        sa.Column("reason_vi", sa.String(length=300), nullable=False),
        sa.Column("reason_en", sa.String(length=300), nullable=False),
        sa.ForeignKeyConstraint(
            ["job_id"],
            ["import_jobs.id"],
            name=op.f("fk_import_rejections_job_id_import_jobs"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_import_rejections")),
    )
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.create_index(batch_op.f("ix_import_rejections_job_id"), ["job_id"], unique=False)


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("import_rejections", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_rejections_job_id"))
    op.drop_table("import_rejections")
    with op.batch_alter_table("import_jobs", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_import_jobs_province"))
    op.drop_table("import_jobs")
    with op.batch_alter_table("cards", schema=None) as batch_op:
        batch_op.drop_index(batch_op.f("ix_cards_import_job_id"))
        batch_op.drop_column("import_job_id")
    with op.batch_alter_table("operators", schema=None) as batch_op:
        batch_op.drop_column("token_version")

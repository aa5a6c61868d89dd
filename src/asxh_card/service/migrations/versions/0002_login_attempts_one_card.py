"""login attempts shared by workers; one current card per person and issuer

Revision ID: 0002
Revises: 0001
Create Date: 2026-12-05
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0002"
down_revision = "0001"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    op.create_table(
        "login_attempts",
        sa.Column("kind", sa.String(length=10), nullable=False),
        sa.Column("subject", sa.String(length=100), nullable=False),
        sa.Column("window_start", sa.DateTime(timezone=True), nullable=False),
        sa.Column("count", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("kind", "subject", name=op.f("pk_login_attempts")),
    )


def downgrade() -> None:
    """Revert."""
    op.drop_table("login_attempts")

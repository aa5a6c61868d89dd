"""BHYT beneficiary group beside the entitlement

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

``entitlements.bhyt_group``: the BHYT beneficiary group code (mã đối tượng, two letters, one
of asxh_card/data/bhyt_groups.json), from which the benefit level follows. Sensitive: it stays
in the database and never goes on a card. Indexed with the province for the list of cards
whose level is out of date.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bhyt_group", sa.String(length=2), nullable=True))
        batch_op.create_index(
            "ix_entitlements_province_bhyt_group", ["province", "bhyt_group"], unique=False
        )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_province_bhyt_group")
        batch_op.drop_column("bhyt_group")

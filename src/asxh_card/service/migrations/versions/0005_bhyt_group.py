"""BHYT beneficiary group beside the entitlement

Revision ID: 0005
Revises: 0004
Create Date: 2026-12-05

``entitlements.bhyt_group``: the BHYT beneficiary group code (mã đối tượng, two letters, one
of asxh_card/data/bhyt_groups.json), from which the benefit level follows. Sensitive: it stays
in the database and never goes on a card. Indexed with the province for the list of cards
whose level is out of date.

BHYT entitlements whose free-text ``category`` is one of the 54 group codes (as the API example
and the import file recorded them before) get that code as their group, so the province's list
of outdated levels includes them. The codes are frozen here: a later data file does not change
what this migration did.
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision = "0004"
branch_labels = None
depends_on = None

#: The 54 codes of asxh_card/data/bhyt_groups.json when this migration was written.
_CODES = [
    "AK",
    "BA",
    "BT",
    "CA",
    "CB",
    "CC",
    "CH",
    "CK",
    "CN",
    "CS",
    "CT",
    "CY",
    "DK",
    "DN",
    "DS",
    "DT",
    "GB",
    "GD",
    "HC",
    "HD",
    "HG",
    "HK",
    "HN",
    "HS",
    "HT",
    "HX",
    "KC",
    "LH",
    "LS",
    "MS",
    "ND",
    "NN",
    "NO",
    "PV",
    "QN",
    "SV",
    "TA",
    "TB",
    "TC",
    "TD",
    "TE",
    "TG",
    "TH",
    "TK",
    "TN",
    "TQ",
    "TS",
    "TU",
    "TV",
    "TY",
    "XB",
    "XD",
    "XK",
    "XN",
]


def upgrade() -> None:
    """Apply."""
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.add_column(sa.Column("bhyt_group", sa.String(length=2), nullable=True))
        batch_op.create_index(
            "ix_entitlements_province_bhyt_group", ["province", "bhyt_group"], unique=False
        )
    entitlements = sa.table(
        "entitlements",
        sa.column("programme", sa.String),
        sa.column("category", sa.String),
        sa.column("bhyt_group", sa.String),
    )
    code = sa.func.upper(sa.func.trim(entitlements.c.category))
    op.execute(
        entitlements.update()
        .where(entitlements.c.programme == "BHYT", code.in_(_CODES))
        .values(bhyt_group=code)
    )


def downgrade() -> None:
    """Revert."""
    with op.batch_alter_table("entitlements", schema=None) as batch_op:
        batch_op.drop_index("ix_entitlements_province_bhyt_group")
        batch_op.drop_column("bhyt_group")

"""Offices gain the ``community`` tier: community service centers between township and village.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-30

Written by hand to match models/db.py. Only the tier check of ``offices`` changes; the offices
themselves move under their centers when they are loaded again (``daiban offices load``).
SQLite cannot alter a check constraint: there the table is copied into one with the new check.
The downgrade hangs every village of a center back under the center's township and removes the
centers, so that the old check holds again.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0003"
down_revision: str | Sequence[str] | None = "0002"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_TIERS = ("village", "township", "city")
NEW_TIERS = ("village", "community", "township", "city")


def _check(tiers: Sequence[str]) -> str:
    return "tier IN (" + ", ".join(f"'{tier}'" for tier in tiers) + ")"


def _offices(tiers: Sequence[str]) -> sa.Table:
    return sa.Table(
        "offices",
        sa.MetaData(),
        sa.Column("code", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("urban", sa.Boolean(), nullable=False),
        sa.CheckConstraint(_check(tiers), name="ck_offices_tier"),
        sa.Index("ix_offices_parent", "parent"),
    )


def _set_tiers(tiers: Sequence[str]) -> None:
    if op.get_bind().dialect.name == "sqlite":
        with op.batch_alter_table("offices", copy_from=_offices(tiers), recreate="always"):
            pass
        return
    op.drop_constraint("ck_offices_tier", "offices", type_="check")
    op.create_check_constraint("ck_offices_tier", "offices", _check(tiers))


def upgrade() -> None:
    _set_tiers(NEW_TIERS)


def downgrade() -> None:
    op.execute(
        "UPDATE offices SET parent = (SELECT c.parent FROM offices c WHERE c.code = offices.parent)"
        " WHERE parent IN (SELECT code FROM offices WHERE tier = 'community')"
    )
    op.execute("DELETE FROM offices WHERE tier = 'community'")
    _set_tiers(OLD_TIERS)

"""The access record ``access_record``: who read a resident's unmasked data.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-30

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0005"
down_revision: str | Sequence[str] | None = "0004"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "access_record",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("sub", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("office", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("endpoint", sa.String(), nullable=False),
    )
    op.create_index("ix_access_record_request_at", "access_record", ["request_id", "at"])
    op.create_index("ix_access_record_township_at", "access_record", ["township", "at"])
    op.create_index("ix_access_record_city_at", "access_record", ["city", "at"])


def downgrade() -> None:
    op.drop_table("access_record")

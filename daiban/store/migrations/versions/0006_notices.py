"""Written notices (文书) and their gapless number counters.

Revision ID: 0006
Revises: 0005
Create Date: 2026-11-30

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0006"
down_revision: str | Sequence[str] | None = "0005"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "notices",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("office", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("issued_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("content", sa.JSON(), nullable=False),
        sa.Column("sha256", sa.String(), nullable=False),
        sa.UniqueConstraint("key", name="uq_notices_key"),
        sa.UniqueConstraint("number", name="uq_notices_number"),
        sa.UniqueConstraint("sha256", name="uq_notices_sha256"),
        sa.UniqueConstraint(
            "office", "kind", "year", "seq", name="uq_notices_office_kind_year_seq"
        ),
    )
    op.create_index("ix_notices_request_issued", "notices", ["request_id", "issued_at"])
    op.create_table(
        "notice_counters",
        sa.Column("office", sa.String(), primary_key=True),
        sa.Column("kind", sa.String(), primary_key=True),
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("last", sa.Integer(), nullable=False),
    )


def downgrade() -> None:
    op.drop_table("notice_counters")
    op.drop_index("ix_notices_request_issued", table_name="notices")
    op.drop_table("notices")

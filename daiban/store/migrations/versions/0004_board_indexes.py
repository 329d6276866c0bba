"""Partial indexes on open requests for the supervisor's board: its cards (open requests by
township and rung) and what falls due today, at a million read-model rows.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0004"
down_revision: str | Sequence[str] | None = "0003"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index(
        "ix_requests_open_board",
        "requests",
        ["city", "township", "overdue"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )
    op.create_index(
        "ix_requests_open_deadline",
        "requests",
        ["deadline", "id"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_requests_open_deadline", table_name="requests")
    op.drop_index("ix_requests_open_board", table_name="requests")

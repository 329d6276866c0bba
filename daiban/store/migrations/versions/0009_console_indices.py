"""A partial index on open requests by township for the board of a township supervisor: the
board's cards filter on ``township`` alone there, which ``ix_requests_open_board`` (led by
``city``) cannot serve, so at a million rows the cards read the township's whole history.

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0009"
down_revision: str | Sequence[str] | None = "0008"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")


def upgrade() -> None:
    op.create_index(
        "ix_requests_open_township",
        "requests",
        ["township", "overdue"],
        postgresql_where=OPEN,
        sqlite_where=OPEN,
    )


def downgrade() -> None:
    op.drop_index("ix_requests_open_township", table_name="requests")

"""Partial indexes on open requests for the supervisor's board, led by the scope's column.

A township supervisor's cards filter on ``township`` alone, which ``ix_requests_open_board`` (led
by ``city``) cannot serve: without it they read the township's whole history (220 ms at a million
requests on SQLite). What falls due today filters on the scope's column and a range of deadlines:
``ix_requests_open_deadline`` alone made SQLite choose the scope's index and sort every open
request of the city (16 ms); ``(city | township, deadline, id)`` answers it from the range (0.2 ms).

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0012"
down_revision: str | Sequence[str] | None = "0011"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = sa.text("status = 'open'")
INDEXES = {
    "ix_requests_open_township": ["township", "overdue"],
    "ix_requests_open_city_deadline": ["city", "deadline", "id"],
    "ix_requests_open_township_deadline": ["township", "deadline", "id"],
}


def upgrade() -> None:
    for name, columns in INDEXES.items():
        op.create_index(name, "requests", columns, postgresql_where=OPEN, sqlite_where=OPEN)


def downgrade() -> None:
    for name in reversed(INDEXES):
        op.drop_index(name, table_name="requests")

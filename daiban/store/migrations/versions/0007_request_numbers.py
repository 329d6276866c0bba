"""Request numbers (办件编号): a counter per city and day, the number on the read model and on
the idempotency key that gave it.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
Requests registered before keep no number.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0007"
down_revision: str | Sequence[str] | None = "0006"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def upgrade() -> None:
    op.create_table(
        "request_number_counters",
        sa.Column("city", sa.String(), primary_key=True),
        sa.Column("day", sa.String(), primary_key=True),
        sa.Column("last", sa.Integer(), nullable=False),
    )
    op.add_column("requests", sa.Column("number", sa.String(), nullable=True))
    op.create_index("uq_requests_number", "requests", ["number"], unique=True)
    op.add_column("idempotency_keys", sa.Column("number", sa.String(), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("idempotency_keys") as batch:
        batch.drop_column("number")
    op.drop_index("uq_requests_number", table_name="requests")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("number")
    op.drop_table("request_number_counters")

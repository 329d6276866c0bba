"""The resident's own voice (docs/design.md §4): each rating's channel and tiers, the rollup's
count of ratings the agent entered unconfirmed, the rating links sent at delivery and the
one-time confirmation codes (both kept as keyed hashes), and sealed texts to residents in the
outbox.

Revision ID: 0011
Revises: 0010
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
Ratings recorded before have no channel: they count as they always did (the rollup needs no
rebuild, its new column is zero for them).
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0011"
down_revision: str | Sequence[str] | None = "0010"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.add_column("requests", sa.Column("rating_channel", sa.String(), nullable=True))
    op.add_column(
        "request_stats_daily",
        sa.Column("agent_unconfirmed", sa.Integer(), nullable=False, server_default="0"),
    )
    op.add_column("ratings", sa.Column("channel", sa.String(), nullable=True))
    op.add_column("ratings", sa.Column("tiers", sa.JSON(), nullable=True))
    op.add_column("notification_outbox", sa.Column("sealed", sa.JSON(), nullable=True))
    op.create_table(
        "rating_links",
        sa.Column("code_hash", sa.String(length=64), primary_key=True),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("event_key", sa.String(), nullable=False, unique=True),
        sa.Column("village", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
    )
    op.create_index("ix_rating_links_request_id", "rating_links", ["request_id"])
    op.create_table(
        "rating_codes",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("code_id", sa.String(), nullable=False),
        sa.Column("code_hash", sa.String(length=64), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        _timestamp("created_at"),
        _timestamp("expires_at"),
        _timestamp("used_at", nullable=True),
    )


def downgrade() -> None:
    op.drop_table("rating_codes")
    op.drop_index("ix_rating_links_request_id", table_name="rating_links")
    op.drop_table("rating_links")
    with op.batch_alter_table("notification_outbox") as batch:
        batch.drop_column("sealed")
    with op.batch_alter_table("ratings") as batch:
        batch.drop_column("tiers")
        batch.drop_column("channel")
    with op.batch_alter_table("request_stats_daily") as batch:
        batch.drop_column("agent_unconfirmed")
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("rating_channel")

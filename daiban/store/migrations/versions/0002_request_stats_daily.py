"""Per-day statistics rollup ``request_stats_daily``, backfilled from ``requests``.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-28

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.

The backfill groups by the date of ``created_at`` in the offices' time zone, which env.py passes
in ``config.attributes["timezone"]`` (``DAIBAN_TIMEZONE``): the same sums as ``daiban db
rebuild-stats`` (daiban/store/rollup.py). Read-model writes of a previous release's workers during or
after this migration do not move the rollup: run that command once they have stopped.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision: str = "0002"
down_revision: str | Sequence[str] | None = "0001"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

STATS = (
    "total", "completed", "on_time_true", "on_time_count", "working_days_sum",
    "working_days_count", "reminder", "yellow", "red", "rating_1", "rating_2", "rating_3",
    "rating_4", "rating_5", "rated", "rectified_true",
)  # fmt: skip

# One expression per column of STATS, over one read-model row each.
SUMS = (
    "count(*)",
    "sum(CASE WHEN stage = 'completed' THEN 1 ELSE 0 END)",
    "sum(CASE WHEN on_time IS TRUE THEN 1 ELSE 0 END)",
    "count(on_time)",
    "coalesce(sum(working_days), 0)",
    "count(working_days)",
    "coalesce(sum(reminder_count), 0)",
    "coalesce(sum(yellow_count), 0)",
    "coalesce(sum(red_count), 0)",
    *(f"sum(CASE WHEN rating_score = {n} THEN 1 ELSE 0 END)" for n in range(1, 6)),
    "count(rating_score)",
    "sum(CASE WHEN rectified IS TRUE THEN 1 ELSE 0 END)",
)


def _local_date(value: str | None, tz_name: str) -> str | None:
    # SQLite stores timestamps as naive UTC text and has no time zones (as daiban.store.rollup does).
    if value is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz_name)).date().isoformat()


def upgrade() -> None:
    op.create_table(
        "request_stats_daily",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("township", sa.String(), primary_key=True),
        sa.Column("city", sa.String(), primary_key=True),
        *(sa.Column(name, sa.Integer(), nullable=False) for name in STATS),
    )
    timezone = context.config.attributes["timezone"]
    if op.get_context().dialect.name == "sqlite":
        if not context.is_offline_mode():
            connection = op.get_bind().connection.driver_connection
            connection.create_function("daiban_local_date", 2, _local_date, deterministic=True)
        day = "daiban_local_date(created_at, :tz)"
    else:
        day = "CAST(timezone(:tz, created_at) AS DATE)"
    op.execute(
        sa.text(
            f"INSERT INTO request_stats_daily (day, township, city, {', '.join(STATS)}) "
            f"SELECT day, township, city, {', '.join(SUMS)} "
            f"FROM (SELECT {day} AS day, * FROM requests) AS r "
            "GROUP BY day, township, city"
        ).bindparams(tz=timezone)
    )


def downgrade() -> None:
    op.drop_table("request_stats_daily")

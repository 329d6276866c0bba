"""Callbacks and appeals of bad ratings in the read model and the statistics rollup.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
``requests`` gains ``called_back`` (null: no callback was owed, as for every request rated before
callbacks were recorded) and ``appeal_upheld``, taken from the ``ratings`` whose appeal was upheld;
``request_stats_daily`` gains their sums, the upheld ones counted at once with the day of
``created_at`` in the offices' time zone (env.py passes ``DAIBAN_TIMEZONE``), as
daiban/store/rollup.py counts them.
"""

from collections.abc import Sequence
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from alembic import context, op

# revision identifiers, used by Alembic.
revision: str = "0010"
down_revision: str | Sequence[str] | None = "0009"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

SUMS = ("callback_due", "called_back", "appeal_upheld")


def _local_date(value: str | None, tz_name: str) -> str | None:
    # SQLite stores timestamps as naive UTC text and has no time zones (as daiban.store.rollup does).
    if value is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return moment.astimezone(ZoneInfo(tz_name)).date().isoformat()


def _day() -> str:
    if op.get_context().dialect.name == "sqlite":
        if not context.is_offline_mode():
            connection = op.get_bind().connection.driver_connection
            connection.create_function("daiban_local_date", 2, _local_date, deterministic=True)
        return "daiban_local_date(created_at, :tz)"
    return "CAST(timezone(:tz, created_at) AS DATE)"


def upgrade() -> None:
    with op.batch_alter_table("requests") as batch:
        batch.add_column(sa.Column("called_back", sa.Boolean(), nullable=True))
        batch.add_column(
            sa.Column("appeal_upheld", sa.Boolean(), nullable=False, server_default=sa.false())
        )
    with op.batch_alter_table("request_stats_daily") as batch:
        for name in SUMS:
            batch.add_column(sa.Column(name, sa.Integer(), nullable=False, server_default="0"))
    op.execute(
        "UPDATE requests SET appeal_upheld = TRUE WHERE id IN "
        "(SELECT request_id FROM ratings WHERE appeal = 'upheld')"
    )
    timezone = context.config.attributes["timezone"]
    op.execute(
        sa.text(
            "UPDATE request_stats_daily SET appeal_upheld = ("
            f"SELECT count(*) FROM (SELECT {_day()} AS day, township, city FROM requests "
            "WHERE appeal_upheld) AS r WHERE r.day = request_stats_daily.day "
            "AND r.township = request_stats_daily.township AND r.city = request_stats_daily.city)"
        ).bindparams(tz=timezone)
    )


def downgrade() -> None:
    with op.batch_alter_table("request_stats_daily") as batch:
        for name in SUMS:
            batch.drop_column(name)
    with op.batch_alter_table("requests") as batch:
        batch.drop_column("appeal_upheld")
        batch.drop_column("called_back")

"""Supervision orders (督办单), the ``warning`` rung among a request's overdue levels, and
``notice`` rows in the ledger (a written notice's number and SHA-256).

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-01

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
SQLite cannot alter a check constraint: there ``requests`` and ``supervision_ledger`` are copied
into tables with the new checks (batch mode). Order numbers count in ``notice_counters`` under the kind ``order``.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0008"
down_revision: str | Sequence[str] | None = "0007"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OLD_LEVELS = ("none", "reminder", "yellow", "red", "statutory")
NEW_LEVELS = ("none", "reminder", "warning", "yellow", "red", "statutory")


def _check(levels: Sequence[str]) -> str:
    return "overdue IN (" + ", ".join(f"'{level}'" for level in levels) + ")"


OLD_KINDS = ("stage", "action", "escalation", "rating", "rectification")
NEW_KINDS = (*OLD_KINDS, "notice")


def _set_levels(levels: Sequence[str]) -> None:
    with op.batch_alter_table("requests") as batch:
        batch.drop_constraint("ck_requests_overdue", type_="check")
        batch.create_check_constraint("ck_requests_overdue", _check(levels))


def _set_kinds(kinds: Sequence[str]) -> None:
    check = "kind IN (" + ", ".join(f"'{kind}'" for kind in kinds) + ")"
    with op.batch_alter_table("supervision_ledger") as batch:
        batch.drop_constraint("ck_supervision_ledger_kind", type_="check")
        batch.create_check_constraint("ck_supervision_ledger_kind", check)


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    _set_levels(NEW_LEVELS)
    _set_kinds(NEW_KINDS)
    op.create_table(
        "supervision_orders",
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("issuing_office", sa.String(), nullable=False),
        sa.Column("office", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("year", sa.Integer(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("reason", sa.String(), nullable=False),
        sa.Column("issued_by", sa.String(), nullable=False),
        _timestamp("issued_at"),
        _timestamp("respond_by"),
        sa.Column("clock", sa.String(), nullable=True),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("reply", sa.String(), nullable=True),
        _timestamp("replied_at", nullable=True),
        sa.Column("returned", sa.Integer(), nullable=False),
        sa.Column("overdue", sa.Boolean(), nullable=False),
        sa.Column("outcome", sa.String(), nullable=True),
        _timestamp("closed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.UniqueConstraint("number", name="uq_supervision_orders_number"),
        sa.UniqueConstraint(
            "issuing_office", "year", "seq", name="uq_supervision_orders_office_year_seq"
        ),
        sa.CheckConstraint(
            "status IN ('open', 'replied', 'closed')", name="ck_supervision_orders_status"
        ),
    )
    op.create_index(
        "ix_supervision_orders_respond", "supervision_orders", ["respond_by", "key"]
    )
    op.create_index(
        "ix_supervision_orders_office_respond",
        "supervision_orders",
        ["office", "respond_by", "key"],
    )
    op.create_index("ix_supervision_orders_request", "supervision_orders", ["request_id"])


def downgrade() -> None:
    op.drop_index("ix_supervision_orders_request", table_name="supervision_orders")
    op.drop_index("ix_supervision_orders_office_respond", table_name="supervision_orders")
    op.drop_index("ix_supervision_orders_respond", table_name="supervision_orders")
    op.drop_table("supervision_orders")
    op.execute("UPDATE requests SET overdue = 'reminder' WHERE overdue = 'warning'")
    _set_levels(OLD_LEVELS)
    # Notice rows are links of their requests' hash chains: never edited or removed. While any
    # exists, the ledger keeps the wider check.
    notice = sa.text("SELECT 1 FROM supervision_ledger WHERE kind = 'notice' LIMIT 1")
    if op.get_bind().execute(notice).first() is None:
        _set_kinds(OLD_KINDS)

"""Initial schema: offices, calendar, read model, supervision ledger, ratings, outbox, idempotency.

Revision ID: 0001
Revises:
Create Date: 2026-11-27

Written by hand to match models/db.py; tests/store compares the two with alembic's autogenerate.
"""

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

# revision identifiers, used by Alembic.
revision: str = "0001"
down_revision: str | Sequence[str] | None = None
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def _big_id() -> sa.Column:
    # BIGINT on PostgreSQL; INTEGER on SQLite, where only INTEGER PRIMARY KEY autoincrements.
    return sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    )


def upgrade() -> None:
    op.create_table(
        "offices",
        sa.Column("code", sa.String(), primary_key=True),
        sa.Column("name", sa.String(), nullable=False),
        sa.Column("tier", sa.String(), nullable=False),
        sa.Column("parent", sa.String(), nullable=True),
        sa.Column("urban", sa.Boolean(), nullable=False),
        sa.CheckConstraint("tier IN ('village', 'township', 'city')", name="ck_offices_tier"),
    )
    op.create_index("ix_offices_parent", "offices", ["parent"])

    op.create_table(
        "calendar_overrides",
        sa.Column("day", sa.Date(), primary_key=True),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("note", sa.String(), nullable=False),
        _timestamp("updated_at"),
        sa.CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_overrides_kind"),
    )

    op.create_table(
        "calendar_years",
        sa.Column("year", sa.Integer(), primary_key=True, autoincrement=False),
        sa.Column("note", sa.String(), nullable=False),
        _timestamp("loaded_at"),
    )

    op.create_table(
        "requests",
        sa.Column("id", sa.String(), primary_key=True),
        sa.Column("item", sa.String(), nullable=False),
        sa.Column("village", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("city", sa.String(), nullable=False),
        sa.Column("stage", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("responsible_office", sa.String(), nullable=False),
        sa.Column("overdue", sa.String(), nullable=False),
        sa.Column("red_flag", sa.Boolean(), nullable=False),
        _timestamp("deadline", nullable=True),
        sa.Column("deadline_provisional", sa.Boolean(), nullable=False),
        _timestamp("expected_at", nullable=True),
        sa.Column("decision", sa.String(), nullable=True),
        sa.Column("rating_score", sa.Integer(), nullable=True),
        sa.Column("rating_default", sa.Boolean(), nullable=False),
        sa.Column("rectified", sa.Boolean(), nullable=True),
        sa.Column("on_time", sa.Boolean(), nullable=True),
        sa.Column("working_days", sa.Integer(), nullable=True),
        sa.Column("reminder_count", sa.Integer(), nullable=False),
        sa.Column("yellow_count", sa.Integer(), nullable=False),
        sa.Column("red_count", sa.Integer(), nullable=False),
        sa.Column("agent", sa.String(), nullable=False),
        _timestamp("created_at"),
        _timestamp("updated_at"),
        _timestamp("closed_at", nullable=True),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("state", sa.JSON(), nullable=False),
        sa.CheckConstraint("status IN ('open', 'closed')", name="ck_requests_status"),
        sa.CheckConstraint(
            "overdue IN ('none', 'reminder', 'yellow', 'red', 'statutory')",
            name="ck_requests_overdue",
        ),
    )
    op.create_index("ix_requests_created", "requests", ["created_at", "id"])
    op.create_index("ix_requests_township_created", "requests", ["township", "created_at", "id"])
    op.create_index("ix_requests_village_created", "requests", ["village", "created_at", "id"])
    op.create_index("ix_requests_stage_created", "requests", ["stage", "created_at", "id"])
    op.create_index("ix_requests_item_created", "requests", ["item", "created_at", "id"])
    op.create_index("ix_requests_overdue_created", "requests", ["overdue", "created_at", "id"])
    op.create_index(
        "ix_requests_office_created", "requests", ["responsible_office", "created_at", "id"]
    )
    op.create_index(
        "ix_requests_queue", "requests", ["responsible_office", "status", "deadline", "id"]
    )

    op.create_table(
        "supervision_ledger",
        _big_id(),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("event_key", sa.String(), nullable=False),
        _timestamp("at"),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("action", sa.String(), nullable=True),
        sa.Column("level", sa.String(), nullable=True),
        sa.Column("clock", sa.String(), nullable=True),
        sa.Column("actor", sa.String(), nullable=False),
        sa.Column("role", sa.String(), nullable=False),
        sa.Column("office", sa.String(), nullable=False),
        sa.Column("from_stage", sa.String(), nullable=True),
        sa.Column("to_stage", sa.String(), nullable=True),
        _timestamp("deadline", nullable=True),
        sa.Column("note", sa.String(), nullable=True),
        sa.Column("prev_hash", sa.String(), nullable=False),
        sa.Column("hash", sa.String(), nullable=False),
        sa.UniqueConstraint("request_id", "seq", name="uq_supervision_ledger_request_seq"),
        sa.UniqueConstraint("request_id", "event_key", name="uq_supervision_ledger_request_event"),
        sa.CheckConstraint(
            "kind IN ('stage', 'action', 'escalation', 'rating', 'rectification')",
            name="ck_supervision_ledger_kind",
        ),
    )
    op.create_index("ix_supervision_ledger_office_at", "supervision_ledger", ["office", "at"])
    op.create_index("ix_supervision_ledger_level_at", "supervision_ledger", ["level", "at"])
    op.create_index("ix_supervision_ledger_at", "supervision_ledger", ["at"])

    op.create_table(
        "ratings",
        sa.Column("request_id", sa.String(), primary_key=True),
        sa.Column("score", sa.Integer(), nullable=False),
        sa.Column("comment", sa.String(), nullable=True),
        sa.Column("is_default", sa.Boolean(), nullable=False),
        _timestamp("rated_at"),
        sa.Column("office", sa.String(), nullable=False),
        sa.Column("township", sa.String(), nullable=False),
        sa.Column("fix_score", sa.Integer(), nullable=True),
        sa.Column("appeal", sa.String(), nullable=False),
        sa.CheckConstraint("score BETWEEN 1 AND 5", name="ck_ratings_score"),
        sa.CheckConstraint(
            "appeal IN ('none', 'pending', 'upheld', 'rejected')", name="ck_ratings_appeal"
        ),
    )
    op.create_index("ix_ratings_office_rated", "ratings", ["office", "rated_at"])
    op.create_index("ix_ratings_township_rated", "ratings", ["township", "rated_at"])

    op.create_table(
        "notification_outbox",
        _big_id(),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("event_key", sa.String(), nullable=False),
        sa.Column("recipient_office", sa.String(), nullable=False),
        sa.Column("recipient_role", sa.String(), nullable=False),
        sa.Column("level", sa.String(), nullable=True),
        sa.Column("message", sa.String(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("sent_at", nullable=True),
        sa.UniqueConstraint(
            "event_key",
            "recipient_office",
            "recipient_role",
            name="uq_notification_outbox_event_recipient",
        ),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_notification_outbox_status"
        ),
    )
    op.create_index("ix_notification_outbox_request_id", "notification_outbox", ["request_id"])
    op.create_index("ix_notification_outbox_status_id", "notification_outbox", ["status", "id"])

    op.create_table(
        "idempotency_keys",
        sa.Column("agent", sa.String(), primary_key=True),
        sa.Column("key", sa.String(), primary_key=True),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("body_hash", sa.String(), nullable=False),
        _timestamp("created_at"),
    )
    op.create_index("ix_idempotency_keys_created_at", "idempotency_keys", ["created_at"])


def downgrade() -> None:
    op.drop_table("idempotency_keys")
    op.drop_table("notification_outbox")
    op.drop_table("ratings")
    op.drop_table("supervision_ledger")
    op.drop_table("requests")
    op.drop_table("calendar_years")
    op.drop_table("calendar_overrides")
    op.drop_table("offices")

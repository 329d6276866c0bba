"""The export outbox: records for the province's rating system (docs/export.md), queued with the
transition that caused them and delivered by the exporter.

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


def _timestamp(name: str, *, nullable: bool = False) -> sa.Column[sa.DateTime]:
    return sa.Column(name, sa.DateTime(timezone=True), nullable=nullable)


def upgrade() -> None:
    op.create_table(
        "export_outbox",
        sa.Column(
            "id",
            sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
            primary_key=True,
            autoincrement=True,
        ),
        sa.Column("key", sa.String(), nullable=False),
        sa.Column("request_id", sa.String(), nullable=False),
        sa.Column("number", sa.String(), nullable=False),
        sa.Column("kind", sa.String(), nullable=False),
        sa.Column("seq", sa.Integer(), nullable=False),
        sa.Column("state_version", sa.Integer(), nullable=False),
        sa.Column("record", sa.JSON(), nullable=False),
        sa.Column("status", sa.String(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.String(), nullable=True),
        _timestamp("created_at"),
        _timestamp("sent_at", nullable=True),
        sa.UniqueConstraint("key", name="uq_export_outbox_key"),
        sa.UniqueConstraint("number", "kind", "seq", name="uq_export_outbox_number_kind_seq"),
        sa.CheckConstraint("kind IN ('request', 'rating')", name="ck_export_outbox_kind"),
        sa.CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_export_outbox_status"
        ),
    )
    op.create_index("ix_export_outbox_status_id", "export_outbox", ["status", "id"])
    op.create_index("ix_export_outbox_request", "export_outbox", ["request_id", "kind", "seq"])


def downgrade() -> None:
    op.drop_index("ix_export_outbox_request", table_name="export_outbox")
    op.drop_index("ix_export_outbox_status_id", table_name="export_outbox")
    op.drop_table("export_outbox")

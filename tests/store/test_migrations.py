"""The migrations build the schema of models/db.py, exactly, on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy import Engine, inspect
from sqlmodel import SQLModel

import models.db  # noqa: F401  (registers the tables on SQLModel.metadata)
from daiban.store.db import (
    SchemaOutOfDate,
    check_database,
    check_schema,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
)

TABLES = {
    "offices",
    "calendar_overrides",
    "calendar_years",
    "requests",
    "supervision_ledger",
    "ratings",
    "notification_outbox",
    "idempotency_keys",
    "request_stats_daily",
    "notices",
    "notice_counters",
    "export_outbox",
}

INDEXES = {
    "offices": {"ix_offices_parent"},
    "requests": {
        "ix_requests_created",
        "ix_requests_township_created",
        "ix_requests_village_created",
        "ix_requests_stage_created",
        "ix_requests_item_created",
        "ix_requests_overdue_created",
        "ix_requests_office_created",
        "ix_requests_queue",
    },
    "supervision_ledger": {
        "ix_supervision_ledger_office_at",
        "ix_supervision_ledger_level_at",
        "ix_supervision_ledger_at",
    },
    "ratings": {"ix_ratings_office_rated", "ix_ratings_township_rated"},
    "notification_outbox": {
        "ix_notification_outbox_request_id",
        "ix_notification_outbox_status_id",
    },
    "idempotency_keys": {"ix_idempotency_keys_created_at"},
    "notices": {"ix_notices_request_issued"},
    "export_outbox": {"ix_export_outbox_status_id", "ix_export_outbox_request"},
}

UNIQUES = {
    "supervision_ledger": {
        "uq_supervision_ledger_request_seq": ["request_id", "seq"],
        "uq_supervision_ledger_request_event": ["request_id", "event_key"],
    },
    "notification_outbox": {
        "uq_notification_outbox_event_recipient": [
            "event_key",
            "recipient_office",
            "recipient_role",
        ],
    },
    "notices": {
        "uq_notices_key": ["key"],
        "uq_notices_number": ["number"],
        "uq_notices_sha256": ["sha256"],
        "uq_notices_office_kind_year_seq": ["office", "kind", "year", "seq"],
    },
    "export_outbox": {
        "uq_export_outbox_key": ["key"],
        "uq_export_outbox_number_kind_seq": ["number", "kind", "seq"],
    },
}


def test_upgrade_creates_tables_indexes_and_constraints(engine: Engine) -> None:
    inspector = inspect(engine)
    assert TABLES <= set(inspector.get_table_names())
    for table, names in INDEXES.items():
        assert names <= {index["name"] for index in inspector.get_indexes(table)}, table
    for table, constraints in UNIQUES.items():
        found = {u["name"]: u["column_names"] for u in inspector.get_unique_constraints(table)}
        assert found == constraints, table
    queue = {i["name"]: i["column_names"] for i in inspector.get_indexes("requests")}
    assert queue["ix_requests_queue"] == ["responsible_office", "status", "deadline", "id"]
    assert inspector.get_pk_constraint("idempotency_keys")["constrained_columns"] == [
        "agent",
        "key",
    ]


def test_metadata_matches_the_migration(engine: Engine) -> None:
    with engine.connect() as connection:
        context = MigrationContext.configure(connection, opts={"compare_type": True})
        diff = compare_metadata(context, SQLModel.metadata)
    assert diff == []


def test_upgrade_is_idempotent_and_reaches_head(db_url: str) -> None:
    assert upgrade(db_url) == head_revision()
    assert upgrade(db_url) == head_revision()
    engine = make_engine(db_url)
    try:
        assert current_revision(engine) == head_revision() == "0013"
        check_schema(engine)
    finally:
        engine.dispose()


def test_check_schema_refuses_an_unmigrated_database(db_url: str) -> None:
    engine = make_engine(db_url)
    try:
        check_database(engine)  # connects, so an empty SQLite file exists
        with pytest.raises(SchemaOutOfDate, match="revision none.*daiban db upgrade"):
            check_schema(engine)
    finally:
        engine.dispose()


# The schema of the previous release: its workers keep writing while this release's migrations
# are applied (a rolling deploy; the chaos run deploys over that release's workers).
PREVIOUS_RELEASE_REVISION = "0008"
TABLES_BEFORE = TABLES - {"export_outbox"}


def test_columns_added_since_the_previous_release_let_its_writers_go_on(db_url: str) -> None:
    """A column the previous release does not know is nullable or has a default in the database
    itself, so that release's inserts (which leave it out) still succeed."""
    upgrade(db_url, PREVIOUS_RELEASE_REVISION)
    engine = make_engine(db_url)
    try:
        before = {t: {c["name"] for c in inspect(engine).get_columns(t)} for t in TABLES_BEFORE}
        upgrade(db_url)
        added = [
            (table, column)
            for table, known in before.items()
            for column in inspect(engine).get_columns(table)
            if column["name"] not in known
        ]
    finally:
        engine.dispose()
    assert added  # the releases since did add columns to tables the previous one writes
    blocking = [
        f"{table}.{c['name']}" for table, c in added if not c["nullable"] and c["default"] is None
    ]
    assert blocking == []

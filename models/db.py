"""Database tables (SQLModel ``table=True``): the durable records kept outside Temporal.

No table object ever enters a workflow (STYLE, convention 1); activities translate between these
rows and the contract dataclasses.

Every timestamp is a timezone-aware ``UTCDateTime`` column: values are stored in UTC and come back
aware (UTC) on SQLite and PostgreSQL alike, so ordering and comparisons do not depend on the driver.
A naive datetime is refused at write time instead of being silently mislabelled.

There are deliberately no foreign keys between these tables: activities write them independently,
in any order and with retries (a ledger row may land before the read-model row, offices may be
loaded after requests exist), and each table is keyed by the ids the workflow already owns.

The migration ``daiban/store/migrations/versions`` must match this module exactly; a test compares
them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from typing import Any

from sqlalchemy import (
    JSON,
    BigInteger,
    CheckConstraint,
    Column,
    Date,
    DateTime,
    Dialect,
    Index,
    Integer,
    UniqueConstraint,
    text,
)
from sqlalchemy.types import TypeDecorator
from sqlmodel import Field, SQLModel


def utc_now() -> datetime:
    """The current time, aware, in UTC: the default of every timestamp column."""
    return datetime.now(UTC)


class UTCDateTime(TypeDecorator[datetime]):
    """``DateTime(timezone=True)`` that always stores UTC and always returns an aware datetime.

    SQLite has no time zone type and drops the offset; normalising to UTC on the way in and
    re-attaching UTC on the way out gives the same behaviour as PostgreSQL's ``timestamptz``.
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()} refused: give it a time zone")
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


def _timestamp(*, nullable: bool = False, onupdate: bool = False) -> Any:
    """A timestamp field; ``Column`` objects cannot be shared, so each field gets a fresh one."""
    column: Column[datetime] = Column(
        UTCDateTime(),
        nullable=nullable,
        onupdate=utc_now if onupdate else None,
    )
    if nullable:
        return Field(default=None, sa_column=column)
    return Field(default_factory=utc_now, sa_column=column)


def _big_id() -> Any:
    """An autoincrement primary key: BIGINT on PostgreSQL, the rowid alias on SQLite.

    A plain BIGINT primary key is not a rowid alias on SQLite and would not autoincrement.
    """
    column_type = BigInteger().with_variant(Integer(), "sqlite")
    return Field(default=None, sa_column=Column(column_type, primary_key=True, autoincrement=True))


# --- reference data ----------------------------------------------------------------------------


class Office(SQLModel, table=True):
    """An office of the three-tier network (village, township, city), and the community service
    centers that group villages under a township (``community``)."""

    __tablename__ = "offices"
    __table_args__ = (
        CheckConstraint(
            "tier IN ('village', 'community', 'township', 'city')", name="ck_offices_tier"
        ),
    )

    code: str = Field(primary_key=True)
    name: str
    tier: str
    parent: str | None = Field(default=None, index=True)
    urban: bool = False


class CalendarOverride(SQLModel, table=True):
    """One day whose working-day status differs from the packaged calendar data."""

    __tablename__ = "calendar_overrides"
    __table_args__ = (
        CheckConstraint("kind IN ('holiday', 'workday')", name="ck_calendar_overrides_kind"),
    )

    day: date = Field(sa_column=Column(Date(), primary_key=True))
    kind: str
    note: str = ""
    updated_at: datetime = _timestamp(onupdate=True)


class CalendarYear(SQLModel, table=True):
    """A year whose complete schedule an administrator has loaded: its dates are not provisional."""

    __tablename__ = "calendar_years"

    year: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    note: str = ""
    loaded_at: datetime = _timestamp(onupdate=True)


# --- read model --------------------------------------------------------------------------------


class RequestRow(SQLModel, table=True):
    """The read model of one request, for lists, work queues and statistics.

    ``version`` is the workflow's state version; an upsert never replaces a newer version with an
    older one (see ``daiban.store.db.upsert_request``). ``state`` is the full state document.
    """

    __tablename__ = "requests"
    __table_args__ = (
        CheckConstraint("status IN ('open', 'closed')", name="ck_requests_status"),
        CheckConstraint(
            "overdue IN ('none', 'reminder', 'warning', 'yellow', 'red', 'statutory')",
            name="ck_requests_overdue",
        ),
        # The progress lookup finds a request by its number.
        Index("uq_requests_number", "number", unique=True),
        # Supervisor lists: newest first, filtered by one column, keyset pages on (created_at, id).
        Index("ix_requests_created", "created_at", "id"),
        Index("ix_requests_township_created", "township", "created_at", "id"),
        Index("ix_requests_village_created", "village", "created_at", "id"),
        Index("ix_requests_stage_created", "stage", "created_at", "id"),
        Index("ix_requests_item_created", "item", "created_at", "id"),
        Index("ix_requests_overdue_created", "overdue", "created_at", "id"),
        # The office filter of lists and per-office statistics.
        Index("ix_requests_office_created", "responsible_office", "created_at", "id"),
        # The work queue: an office's open requests, earliest deadline first.
        Index("ix_requests_queue", "responsible_office", "status", "deadline", "id"),
        # The supervisor's board: open requests by township and rung, and what falls due today.
        # Partial (open requests only): a county's open work is a small share of its history.
        Index(
            "ix_requests_open_board",
            "city",
            "township",
            "overdue",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        # The same for a township supervisor (whose scope is one township of the city), and what
        # falls due today in either scope: the scope's column first, then the deadline.
        Index(
            "ix_requests_open_township",
            "township",
            "overdue",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_requests_open_city_deadline",
            "city",
            "deadline",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_requests_open_township_deadline",
            "township",
            "deadline",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
        Index(
            "ix_requests_open_deadline",
            "deadline",
            "id",
            postgresql_where=text("status = 'open'"),
            sqlite_where=text("status = 'open'"),
        ),
    )

    id: str = Field(primary_key=True)
    # The 办件编号 people read and quote (``daiban.store.numbers``); None for requests registered
    # before numbers were given.
    number: str | None = None
    item: str
    village: str
    township: str
    city: str
    stage: str
    status: str = "open"
    responsible_office: str
    overdue: str = "none"
    red_flag: bool = False
    deadline: datetime | None = _timestamp(nullable=True)
    deadline_provisional: bool = False
    expected_at: datetime | None = _timestamp(nullable=True)
    decision: str | None = None
    rating_score: int | None = None
    rating_default: bool = False
    # How the rating was given (``models.contracts.RatingChannel``); None before channels were
    # recorded. ``agent_unconfirmed`` ratings are counted apart from the satisfaction rate.
    rating_channel: str | None = None
    rectified: bool | None = None
    # A bad rating's callback (docs/design.md §4): None when none was due (no bad rating, or rated
    # before callbacks), True when the resident was reached within the callback limit.
    called_back: bool | None = None
    # The rated office's appeal was upheld: the rating stays, out of the statistics.
    appeal_upheld: bool = False
    on_time: bool | None = None
    working_days: int | None = None
    reminder_count: int = 0
    yellow_count: int = 0
    red_count: int = 0
    agent: str
    created_at: datetime = _timestamp()
    updated_at: datetime = _timestamp()
    closed_at: datetime | None = _timestamp(nullable=True)
    version: int
    state: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))


class RequestStatsDaily(SQLModel, table=True):
    """Per local day of creation, township and city: the sums ``township_stats`` aggregates.

    Every column is a sum of per-request contributions, so a read-model write adds the new row's
    contribution and subtracts the old one's in the same transaction (``daiban.store.rollup``).
    ``day`` is the date of ``created_at`` in the offices' time zone (``DAIBAN_TIMEZONE``).
    """

    __tablename__ = "request_stats_daily"

    day: date = Field(sa_column=Column(Date(), primary_key=True))
    township: str = Field(primary_key=True)
    city: str = Field(primary_key=True)
    total: int = 0
    completed: int = 0
    on_time_true: int = 0
    on_time_count: int = 0
    working_days_sum: int = 0
    working_days_count: int = 0
    reminder: int = 0
    yellow: int = 0
    red: int = 0
    rating_1: int = 0
    rating_2: int = 0
    rating_3: int = 0
    rating_4: int = 0
    rating_5: int = 0
    rated: int = 0
    rectified_true: int = 0
    callback_due: int = 0
    called_back: int = 0
    appeal_upheld: int = 0
    agent_unconfirmed: int = 0


# --- supervision -------------------------------------------------------------------------------


class LedgerRow(SQLModel, table=True):
    """One append-only supervision event; the rows of a request form a SHA-256 hash chain.

    ``(request_id, event_key)`` makes a retried write a no-op; ``(request_id, seq)`` keeps the chain
    linear. The unique index on ``(request_id, seq)`` also serves lookups by request.
    """

    __tablename__ = "supervision_ledger"
    __table_args__ = (
        UniqueConstraint("request_id", "seq", name="uq_supervision_ledger_request_seq"),
        UniqueConstraint("request_id", "event_key", name="uq_supervision_ledger_request_event"),
        CheckConstraint(
            "kind IN ('stage', 'action', 'escalation', 'rating', 'rectification', 'notice')",
            name="ck_supervision_ledger_kind",
        ),
        Index("ix_supervision_ledger_office_at", "office", "at"),
        Index("ix_supervision_ledger_level_at", "level", "at"),
        Index("ix_supervision_ledger_at", "at"),
    )

    id: int | None = _big_id()
    request_id: str
    seq: int
    event_key: str
    at: datetime = _timestamp()
    kind: str
    action: str | None = None
    level: str | None = None
    clock: str | None = None
    actor: str
    role: str
    office: str
    from_stage: str | None = None
    to_stage: str | None = None
    deadline: datetime | None = _timestamp(nullable=True)
    note: str | None = None
    prev_hash: str
    hash: str


class RatingRow(SQLModel, table=True):
    """The resident's rating of one request (one per request), and its rectification outcome."""

    __tablename__ = "ratings"
    __table_args__ = (
        CheckConstraint("score BETWEEN 1 AND 5", name="ck_ratings_score"),
        CheckConstraint(
            "appeal IN ('none', 'pending', 'upheld', 'rejected')", name="ck_ratings_appeal"
        ),
        Index("ix_ratings_office_rated", "office", "rated_at"),
        Index("ix_ratings_township_rated", "township", "rated_at"),
        Index("ix_ratings_rated_at", "rated_at"),
    )

    request_id: str = Field(primary_key=True)
    score: int
    comment: str | None = None
    is_default: bool = False
    rated_at: datetime = _timestamp()
    office: str
    township: str
    fix_score: int | None = None
    appeal: str = "none"
    channel: str | None = None  # None for ratings given before channels were recorded
    tiers: dict[str, int] | None = Field(default=None, sa_column=Column(JSON(), nullable=True))


class OutboxRow(SQLModel, table=True):
    """A notification to send; one row per event and recipient, so a retry adds nothing."""

    __tablename__ = "notification_outbox"
    __table_args__ = (
        UniqueConstraint(
            "event_key",
            "recipient_office",
            "recipient_role",
            name="uq_notification_outbox_event_recipient",
        ),
        CheckConstraint(
            "status IN ('pending', 'sent', 'failed')", name="ck_notification_outbox_status"
        ),
        Index("ix_notification_outbox_status_id", "status", "id"),
    )

    id: int | None = _big_id()
    request_id: str = Field(index=True)
    event_key: str
    recipient_office: str
    recipient_role: str
    level: str | None = None
    message: str
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _timestamp()
    sent_at: datetime | None = _timestamp(nullable=True)
    # A text to the resident's own phone: the phone and the text, sealed for the request
    # (``daiban.core.sealed``); ``message`` then says only what kind of text it is.
    sealed: dict[str, str] | None = Field(default=None, sa_column=Column(JSON(), nullable=True))


class ExportRow(SQLModel, table=True):
    """A record for the province's rating system (docs/export.md), queued in the transaction of
    the transition that caused it and delivered by the exporter (``activities.export``).

    ``key`` (request number, kind, sequence) is unique, so a retried recording adds nothing; it is
    also the ``Idempotency-Key`` the receiver dedupes by. ``record`` never holds the resident.
    """

    __tablename__ = "export_outbox"
    __table_args__ = (
        UniqueConstraint("key", name="uq_export_outbox_key"),
        UniqueConstraint("number", "kind", "seq", name="uq_export_outbox_number_kind_seq"),
        CheckConstraint("kind IN ('request', 'rating')", name="ck_export_outbox_kind"),
        CheckConstraint("status IN ('pending', 'sent', 'failed')", name="ck_export_outbox_status"),
        Index("ix_export_outbox_status_id", "status", "id"),
        Index("ix_export_outbox_request", "request_id", "kind", "seq"),
    )

    id: int | None = _big_id()
    key: str
    request_id: str
    number: str
    kind: str
    seq: int
    state_version: int
    record: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    status: str = "pending"
    attempts: int = 0
    last_error: str | None = None
    created_at: datetime = _timestamp()
    sent_at: datetime | None = _timestamp(nullable=True)


class IdempotencyKey(SQLModel, table=True):
    """An agent's ``Idempotency-Key`` and the request it created; purged after 24 hours."""

    __tablename__ = "idempotency_keys"

    agent: str = Field(primary_key=True)
    key: str = Field(primary_key=True)
    request_id: str
    body_hash: str
    created_at: datetime = Field(
        default_factory=utc_now, sa_column=Column(UTCDateTime(), nullable=False, index=True)
    )
    # The request's number, given with the claim: a retried submission keeps it.
    number: str | None = None


class AccessRow(SQLModel, table=True):
    """Who read a resident's unmasked data, when, of which request and through which endpoint
    (``GET /v1/supervision/access``). The request's township and city are kept so that a
    supervisor's scope is a plain filter."""

    __tablename__ = "access_record"
    __table_args__ = (
        Index("ix_access_record_request_at", "request_id", "at"),
        Index("ix_access_record_township_at", "township", "at"),
        Index("ix_access_record_city_at", "city", "at"),
    )

    id: int | None = _big_id()
    at: datetime = _timestamp()
    sub: str
    role: str
    office: str
    request_id: str
    township: str
    city: str
    endpoint: str


# --- written notices ---------------------------------------------------------------------------


class NoticeRow(SQLModel, table=True):
    """One issued written notice (文书): its number, canonical content and SHA-256.

    ``key`` is the issuing call's idempotency key (a retried activity passes the same one and
    gets this row back); ``(office, kind, year, seq)`` is the gapless sequence its number shows.
    ``content`` holds the resident's name: never log it.
    """

    __tablename__ = "notices"
    __table_args__ = (
        UniqueConstraint("key", name="uq_notices_key"),
        UniqueConstraint("number", name="uq_notices_number"),
        UniqueConstraint("sha256", name="uq_notices_sha256"),
        UniqueConstraint("office", "kind", "year", "seq", name="uq_notices_office_kind_year_seq"),
        Index("ix_notices_request_issued", "request_id", "issued_at"),
    )

    id: int | None = _big_id()
    key: str
    request_id: str
    number: str
    office: str
    kind: str
    year: int
    seq: int
    issued_at: datetime = _timestamp()
    content: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON(), nullable=False))
    sha256: str


class RequestNumberCounter(SQLModel, table=True):
    """The last request number given per city and local day (``daiban.store.numbers``)."""

    __tablename__ = "request_number_counters"

    city: str = Field(primary_key=True)
    day: str = Field(primary_key=True)  # YYYYMMDD, the offices' local date
    last: int = 0


class NoticeCounter(SQLModel, table=True):
    """The last number issued per office, kind and year; its row lock makes the numbers gapless."""

    __tablename__ = "notice_counters"

    office: str = Field(primary_key=True)
    kind: str = Field(primary_key=True)
    year: int = Field(sa_column=Column(Integer(), primary_key=True, autoincrement=False))
    last: int = 0


class OrderRow(SQLModel, table=True):
    """One supervision order (督办单) as the request's latest recorded state has it.

    ``key`` is the request's own name for the order, stable from issue (a retried recording
    finds the row and its number); ``(issuing_office, year, seq)`` is the gapless sequence its
    number shows, counted in ``notice_counters`` under the kind ``order``. ``township`` and
    ``city`` scope the lists like the requests'.
    """

    __tablename__ = "supervision_orders"
    __table_args__ = (
        UniqueConstraint("number", name="uq_supervision_orders_number"),
        UniqueConstraint(
            "issuing_office", "year", "seq", name="uq_supervision_orders_office_year_seq"
        ),
        CheckConstraint(
            "status IN ('open', 'replied', 'closed')", name="ck_supervision_orders_status"
        ),
        # Lists: oldest response deadline first, keyset pages on (respond_by, key).
        Index("ix_supervision_orders_respond", "respond_by", "key"),
        Index("ix_supervision_orders_office_respond", "office", "respond_by", "key"),
        Index("ix_supervision_orders_request", "request_id"),
    )

    key: str = Field(primary_key=True)
    number: str
    request_id: str
    issuing_office: str
    office: str
    township: str
    city: str
    year: int
    seq: int
    reason: str
    issued_by: str
    issued_at: datetime = _timestamp()
    respond_by: datetime = _timestamp()
    clock: str | None = None
    status: str = "open"
    reply: str | None = None
    replied_at: datetime | None = _timestamp(nullable=True)
    returned: int = 0
    overdue: bool = False
    outcome: str | None = None
    closed_at: datetime | None = _timestamp(nullable=True)
    version: int = 0  # the request's state version that wrote this row


# --- the resident's own voice ------------------------------------------------------------------


class RatingLinkRow(SQLModel, table=True):
    """A rating link sent to the resident's phone at delivery: the short code of its address,
    kept only as its hash. Issued once per delivery (``event_key``: a retried recording finds it);
    the workflow remembers the links that rated, so each rates once."""

    __tablename__ = "rating_links"

    code_hash: str = Field(primary_key=True, max_length=64)
    request_id: str = Field(index=True)
    event_key: str = Field(unique=True)
    village: str
    created_at: datetime = _timestamp()
    expires_at: datetime = _timestamp()


class RatingCodeRow(SQLModel, table=True):
    """The one-time confirmation code of a request's rating on the agent's device, as its hash.

    One per request: a new code replaces the old. ``attempts`` counts wrong tries; at the limit the
    code is dead. ``code_id`` names it to the workflow, which refuses a code that rated already;
    ``used_at`` is set once the workflow took the rating."""

    __tablename__ = "rating_codes"

    request_id: str = Field(primary_key=True)
    code_id: str
    code_hash: str = Field(max_length=64)
    attempts: int = 0
    created_at: datetime = _timestamp()
    expires_at: datetime = _timestamp()
    used_at: datetime | None = _timestamp(nullable=True)

"""The per-day statistics rollup (``request_stats_daily``): what ``township_stats`` sums, kept per
local day of creation, township and city, so that statistics over long ranges read a few thousand
rows instead of every request.

Each read-model row contributes fixed amounts to one rollup row (``contribution``). Every column
is a sum, so a write of the read model moves the rollup by contribution(new) − contribution(old)
in the same transaction (``apply``, called by ``daiban.store.db.upsert_request``); ``rebuild``
recomputes it from scratch with one INSERT … SELECT … GROUP BY. The direct query over ``requests``
(``sum_columns``) uses the same definitions, so both give identical sums.

``day`` is the date of ``created_at`` in the offices' time zone. A change of ``DAIBAN_TIMEZONE``
moves rows between days: rebuild the rollup then (``daiban db rebuild-stats``).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from functools import cache
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import Date, Table, and_, case, cast, func, not_, or_, text, true
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.sql.dml import Insert
from sqlalchemy.sql.elements import ColumnElement
from sqlmodel import Session, SQLModel, delete, select

from models.db import RequestStatsDaily

# The rollup's sums, in the order every query here returns them.
STATS = (
    "total", "completed", "on_time_true", "on_time_count", "working_days_sum",
    "working_days_count", "reminder", "yellow", "red", "rating_1", "rating_2", "rating_3",
    "rating_4", "rating_5", "rated", "rectified_true", "callback_due", "called_back",
    "appeal_upheld", "agent_unconfirmed",
)  # fmt: skip
# The read-model columns a row's contribution depends on.
SOURCE_COLUMNS = (
    "created_at", "township", "city", "stage", "on_time", "working_days", "reminder_count",
    "yellow_count", "red_count", "rating_score", "rectified", "called_back", "appeal_upheld",
    "rating_channel",
)  # fmt: skip
# The channel whose ratings are kept and counted apart, never among the counted ratings
# (docs/design.md §4); a rating without a channel was given before channels were recorded.
UNCONFIRMED = "agent_unconfirmed"
# A bad rating (差评): 1 非常不满意 or 2 不满意.
BAD_SCORE = 2
KEY_COLUMNS = ("day", "township", "city")
# The SQLite function that gives a stored UTC timestamp's local date (registered by
# daiban.store.db).
SQLITE_LOCAL_DATE = "daiban_local_date"

Key = tuple[date, str, str]
Sums = dict[str, int]


def _requests() -> Table:
    table: Table = SQLModel.metadata.tables["requests"]
    return table


def _rollup() -> Table:
    table: Table = SQLModel.metadata.tables["request_stats_daily"]
    return table


def dialect_insert(session: Session, table: Table) -> postgresql.Insert | sqlite.Insert:
    """``INSERT`` of the session's database, which both spell ``ON CONFLICT`` the same way."""
    return _insert(session.get_bind().dialect.name, table)


def _insert(dialect: str, table: Table) -> postgresql.Insert | sqlite.Insert:
    if dialect == "postgresql":
        return postgresql.insert(table)
    if dialect == "sqlite":
        return sqlite.insert(table)
    # The two databases this product supports (docs/design.md §6); any other is a configuration
    # error.
    raise ValueError(f"the read model needs SQLite or PostgreSQL, not {dialect}")


# --- days --------------------------------------------------------------------------------------


def local_day(moment: datetime, tz: ZoneInfo) -> date:
    return moment.astimezone(tz).date()


def day_start(day: date, tz: ZoneInfo) -> datetime:
    """The first instant of a local day (what the API's ``from``/``to`` dates mean)."""
    return datetime.combine(day, time(0), tzinfo=tz)


def sqlite_local_date(value: str | None, tz_name: str) -> str | None:
    """``SQLITE_LOCAL_DATE``: SQLite stores ``created_at`` as naive UTC text and knows no zones."""
    if value is None:
        return None
    moment = datetime.fromisoformat(value).replace(tzinfo=UTC)
    return local_day(moment, ZoneInfo(tz_name)).isoformat()


def _day_expression(session: Session, created_at: Any, tz: ZoneInfo) -> ColumnElement[Any]:
    if session.get_bind().dialect.name == "sqlite":
        return func.daiban_local_date(created_at, tz.key)  # SQLITE_LOCAL_DATE
    return cast(func.timezone(tz.key, created_at), Date)


@dataclass(frozen=True)
class Split:
    """A range of ``created_at`` cut into whole local days (read from the rollup) and the partial
    days at its edges (read from ``requests``). ``days`` is [first, end) with None for an open
    bound, or None when no whole day lies inside; ``edges`` are [from, to) instants."""

    days: tuple[date | None, date | None] | None
    edges: list[tuple[datetime | None, datetime | None]]


def split(created_from: datetime | None, created_to: datetime | None, tz: ZoneInfo) -> Split:
    """[from, to) as whole local days and the partial days around them (see ``Split``)."""
    first = end = None
    if created_from is not None:
        first = local_day(created_from, tz)
        if day_start(first, tz) != created_from:
            first += timedelta(days=1)
    if created_to is not None:
        end = local_day(created_to, tz)
    if first is not None and end is not None and first >= end:
        return Split(None, [(created_from, created_to)])
    edges: list[tuple[datetime | None, datetime | None]] = []
    if created_from is not None and first is not None and created_from < day_start(first, tz):
        edges.append((created_from, day_start(first, tz)))
    if created_to is not None and end is not None and day_start(end, tz) < created_to:
        edges.append((day_start(end, tz), created_to))
    return Split((first, end), edges)


# --- contributions -----------------------------------------------------------------------------


def contribution(row: Mapping[str, Any], tz: ZoneInfo) -> tuple[Key, Sums]:
    """The rollup row a read-model row counts in, and what it adds there (``sum_columns`` of one
    row)."""
    days, on_time = row["working_days"], row["on_time"]
    unconfirmed = row["rating_score"] is not None and not counts_in_rate(row["rating_channel"])
    score = None if unconfirmed else row["rating_score"]
    # The rectification figures count the bad ratings the rates count (a tier rated bad under a
    # good overall score is rectified by its office but is not a bad rating of the service).
    bad = score is not None and score <= BAD_SCORE
    counted = bad and row["appeal_upheld"] is not True
    sums = {
        "total": 1,
        "completed": int(row["stage"] == "completed"),
        "on_time_true": int(on_time is True),
        "on_time_count": int(on_time is not None),
        "working_days_sum": days or 0,
        "working_days_count": int(days is not None),
        "reminder": row["reminder_count"],
        "yellow": row["yellow_count"],
        "red": row["red_count"],
        **{f"rating_{n}": int(score == n) for n in range(1, 6)},
        "rated": int(score is not None),
        "rectified_true": int(bad and row["rectified"] is True),
        # A rating out of the statistics by an upheld appeal owes no callback either; one the
        # agent entered unconfirmed is in no rate at all.
        "callback_due": int(counted and row["called_back"] is not None),
        "called_back": int(counted and row["called_back"] is True),
        "appeal_upheld": int(bad and row["appeal_upheld"] is True),
        "agent_unconfirmed": int(unconfirmed),
    }
    return (local_day(row["created_at"], tz), row["township"], row["city"]), sums


def apply(
    session: Session,
    tz: ZoneInfo,
    new: Mapping[str, Any],
    old: Mapping[str, Any] | None = None,
) -> None:
    """Add ``new``'s contribution and subtract ``old``'s, in one statement (none when they cancel:
    most transitions change no counted column)."""
    deltas: dict[Key, Sums] = {}
    for values, sign in ((new, 1), (old, -1)):
        if values is None:
            continue
        key, sums = contribution(values, tz)
        total = deltas.setdefault(key, dict.fromkeys(STATS, 0))
        for name, amount in sums.items():
            total[name] += sign * amount
    # Sorted, so that two transactions touching the same two rollup rows lock them in one order.
    rows = [
        {"day": key[0], "township": key[1], "city": key[2], **sums}
        for key, sums in sorted(deltas.items())
        if any(sums.values())
    ]
    if rows:
        session.exec(_add(session.get_bind().dialect.name), params=rows)


@cache
def _add(dialect: str) -> Insert:
    """``INSERT … ON CONFLICT DO UPDATE SET col = col + excluded.col`` with the values passed at
    execution: one statement object per dialect, compiled once (a statement built with its rows
    in ``values()`` is compiled anew on every call)."""
    return _on_conflict_add(_insert(dialect, _rollup()))


def _on_conflict_add(insert: postgresql.Insert | sqlite.Insert) -> Insert:
    table = _rollup()
    return insert.on_conflict_do_update(
        index_elements=[table.c[name] for name in KEY_COLUMNS],
        set_={name: table.c[name] + insert.excluded[name] for name in STATS},
    )


# --- queries -----------------------------------------------------------------------------------


def _count(condition: ColumnElement[bool]) -> ColumnElement[Any]:
    return func.sum(case((condition, 1), else_=0))


def counts_in_rate(channel: str | None) -> bool:
    """Whether a rating given through ``channel`` counts in ratings and rates: the resident's own
    act (link, confirmation code) and defaults, not the agent's unconfirmed word (``counted_rating``
    below is its SQL twin). Ratings taken out by an upheld appeal stay in the counts of scores,
    as given; the rates leave them out through ``appeal_upheld``."""
    return channel != UNCONFIRMED


def counted_rating(c: Any) -> ColumnElement[bool]:
    """``counts_in_rate`` as SQL over the read model's columns."""
    channel = c.rating_channel
    return or_(channel.is_(None), channel != UNCONFIRMED)


def sum_columns(c: Any) -> list[ColumnElement[Any]]:
    """The sums of ``STATS`` over read-model rows; ``c`` is the ``requests`` table's columns or a
    subquery's with the same names. Ratings (counts, ``rated``) are those that count
    (``counted_rating``); ``agent_unconfirmed`` counts the others, whose rectifications are left out
    of ``rectified_true`` too."""
    score = case((counted_rating(c), c.rating_score), else_=None)
    unconfirmed = and_(c.rating_score.is_not(None), not_(counted_rating(c)))
    bad = score <= BAD_SCORE  # NULL (no counted rating): not bad
    counted = and_(bad, c.appeal_upheld.is_not(True))
    return [
        func.count().label("total"),
        _count(c.stage == "completed").label("completed"),
        _count(c.on_time.is_(True)).label("on_time_true"),
        func.count(c.on_time).label("on_time_count"),
        func.coalesce(func.sum(c.working_days), 0).label("working_days_sum"),
        func.count(c.working_days).label("working_days_count"),
        func.coalesce(func.sum(c.reminder_count), 0).label("reminder"),
        func.coalesce(func.sum(c.yellow_count), 0).label("yellow"),
        func.coalesce(func.sum(c.red_count), 0).label("red"),
        *(_count(score == n).label(f"rating_{n}") for n in range(1, 6)),
        func.count(score).label("rated"),
        _count(and_(bad, c.rectified.is_(True))).label("rectified_true"),
        _count(and_(counted, c.called_back.is_not(None))).label("callback_due"),
        _count(and_(counted, c.called_back.is_(True))).label("called_back"),
        _count(and_(bad, c.appeal_upheld.is_(True))).label("appeal_upheld"),
        _count(unconfirmed).label("agent_unconfirmed"),
    ]


def township_sums(
    session: Session,
    scope: ColumnElement[bool],
    township: str | None,
    days: tuple[date | None, date | None],
) -> dict[str, list[int]]:
    """Per township, the sums of ``STATS`` over the rollup rows in ``scope`` whose day lies in
    [first, end) (None: open)."""
    r = _rollup()
    query = select(r.c.township, *(func.sum(r.c[name]) for name in STATS)).where(scope)
    if township is not None:
        query = query.where(r.c.township == township)
    first, end = days
    if first is not None:
        query = query.where(r.c.day >= first)
    if end is not None:
        query = query.where(r.c.day < end)
    rows = session.exec(query.group_by(r.c.township)).all()
    return {row[0]: [int(n or 0) for n in row[1:]] for row in rows}


def township_sums_by_period(
    session: Session, scope: ColumnElement[bool], starts: list[date], end: date
) -> list[dict[str, list[int]]]:
    """``township_sums`` of consecutive periods [starts[i], starts[i+1]) and the last one to
    ``end``, in one query (one scan of the range grouped by period and township) instead of one
    query per period: the board's monthly trends."""
    r = _rollup()
    bounds = [*starts[1:], end]
    period = case(
        *((r.c.day < bound, n) for n, bound in enumerate(bounds[:-1])), else_=len(bounds) - 1
    ).label("period")
    query = (
        select(period, r.c.township, *(func.sum(r.c[name]) for name in STATS))
        .where(scope, r.c.day >= starts[0], r.c.day < end)
        .group_by(period, r.c.township)
    )
    sums: list[dict[str, list[int]]] = [{} for _ in starts]
    for row in session.exec(query).all():
        sums[int(row[0])][row[1]] = [int(n or 0) for n in row[2:]]
    return sums


# --- rebuild -----------------------------------------------------------------------------------


def add_requests(session: Session, tz: ZoneInfo, where: ColumnElement[bool] | None = None) -> None:
    """Add the contributions of the read-model rows matching ``where`` (all by default), with one
    INSERT … SELECT … GROUP BY; for rows written without ``upsert_request`` (bulk loads)."""
    requests, table = _requests(), _rollup()
    day = _day_expression(session, requests.c.created_at, tz).label("day")
    counted = [requests.c[name] for name in SOURCE_COLUMNS if name != "created_at"]
    # The day in a subquery: grouping by the expression itself would bind the zone twice, and
    # PostgreSQL does not see two parameters as one expression.
    inner_query = select(day, *counted)
    if where is not None:
        inner_query = inner_query.where(where)
    inner = inner_query.subquery()
    keys = [inner.c[name] for name in KEY_COLUMNS]
    # SQLite's upsert after INSERT … SELECT needs a WHERE in the SELECT (its parser's ambiguity).
    grouped = select(*keys, *sum_columns(inner.c)).where(true()).group_by(*keys)
    insert = dialect_insert(session, table).from_select([*KEY_COLUMNS, *STATS], grouped)
    session.exec(_on_conflict_add(insert))


def rebuild(session: Session, tz: ZoneInfo) -> tuple[int, int]:
    """Recompute the rollup from the read model in the caller's transaction; returns its rows and
    the requests they count."""
    if session.get_bind().dialect.name == "postgresql":
        # Writers wait until the commit and then add their deltas to the rebuilt rows; without the
        # lock, a request inserted between the delete and the read would be counted twice.
        session.exec(text("LOCK TABLE request_stats_daily IN EXCLUSIVE MODE"))  # type: ignore[call-overload]
    session.exec(delete(RequestStatsDaily))
    add_requests(session, tz)
    table = _rollup()
    rows, requests = session.exec(select(func.count(), func.sum(table.c.total))).one()
    return int(rows), int(requests or 0)

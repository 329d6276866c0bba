"""Queries on the read model (never Temporal): scope, lists, work queues, supervision, statistics.

Scope is one SQL predicate per principal (``scope_clause``), used by the single-request lookup and
by every list, so what a caller may open and what it may list cannot disagree:

- agent: requests of its village; township staff: requests of its township;
- city staff: requests of its city that were forwarded to it (the ledger holds a ``forward``
  action for the request, written in the same transaction as the read-model row);
- supervisor: a township supervisor its township, a city supervisor its whole city (and no other
  city of the deployment: every request carries its city, taken from the office tree);
- admin: everything, in every city; a rating link: its one request.

Lists and statistics also read per community service center (``community``): the requests of the
villages the offices table hangs under that center.

Lists page by keyset, never by offset: the cursor is an opaque base64 of the last row's sort key.
Statistics read whole days from the per-day rollup (``daiban.store.rollup``) where the scope allows.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, and_, exists, false, func, or_, true
from sqlalchemy.orm import aliased
from sqlmodel import Session, col, select
from sqlmodel.sql.expression import SelectOfScalar

from daiban.domain.scope import RATING_LINK, Principal, supervised_field
from daiban.store import rollup
from daiban.store.errors import InvalidQuery
from models.contracts import Level, Role
from models.db import LedgerRow, Office, RequestRow, RequestStatsDaily

DEFAULT_LIMIT = 50
MAX_LIMIT = 200


# --- scope -------------------------------------------------------------------------------------


def forwarded() -> ColumnElement[bool]:
    """The request was forwarded to the city (one indexed lookup per row on the ledger). The
    ledger is aliased so that only ``requests`` correlates, even inside a query on the ledger."""
    ledger = aliased(LedgerRow)
    return exists().where(
        col(ledger.request_id) == col(RequestRow.id), col(ledger.action) == "forward"
    )


def scope_clause(principal: Principal) -> ColumnElement[bool]:
    p = principal
    if p.role == Role.ADMIN:
        return true()
    if p.role == RATING_LINK:
        return col(RequestRow.id) == p.request
    if p.role == Role.AGENT:
        return col(RequestRow.village) == p.office
    if p.role == Role.TOWNSHIP_STAFF:
        return col(RequestRow.township) == p.office
    if p.role == Role.CITY_STAFF:
        return and_(col(RequestRow.city) == p.office, forwarded())
    if p.role == Role.SUPERVISOR:
        return col(getattr(RequestRow, supervised_field(p))) == p.office
    return false()


def villages_of(community: str) -> ColumnElement[bool]:
    """The request comes from a village of this community service center (offices table)."""
    villages = select(Office.code).where(
        col(Office.parent) == community, col(Office.tier) == "village"
    )
    return col(RequestRow.village).in_(villages)


def request_in_scope(session: Session, principal: Principal, request_id: str) -> RequestRow | None:
    """The read-model row, or None when it does not exist or lies outside the caller's scope."""
    query = select(RequestRow).where(col(RequestRow.id) == request_id, scope_clause(principal))
    return session.exec(query).first()


# --- cursors -----------------------------------------------------------------------------------


def encode_cursor(*key: object) -> str:
    values = [v.isoformat() if isinstance(v, datetime) else v for v in key]
    return base64.urlsafe_b64encode(json.dumps(values).encode()).decode().rstrip("=")


def decode_cursor(cursor: str, size: int) -> list[Any]:
    """The key of a cursor made by ``encode_cursor``; a 422 on ``cursor`` for anything else."""
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        values = json.loads(raw)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        raise InvalidQuery("cursor", "cursor is not valid") from None
    if not isinstance(values, list) or len(values) != size:
        raise InvalidQuery("cursor", "cursor is not valid")
    return values


def _cursor_time(value: object) -> datetime:
    try:
        parsed = datetime.fromisoformat(str(value))
    except ValueError:
        raise InvalidQuery("cursor", "cursor is not valid") from None
    if parsed.tzinfo is None:
        raise InvalidQuery("cursor", "cursor is not valid")
    try:
        # Stored in UTC: a time at the edge of the range (year 1 or 9999) has no UTC twin.
        parsed.astimezone(UTC)
    except OverflowError:
        raise InvalidQuery("cursor", "cursor is not valid") from None
    return parsed


def _cursor_text(value: object) -> str:
    if not isinstance(value, str):
        raise InvalidQuery("cursor", "cursor is not valid")
    return value


@dataclass
class Page:
    rows: Sequence[Any]
    next_cursor: str | None


def _page(rows: Sequence[Any], limit: int, key: Any) -> Page:
    if len(rows) <= limit:
        return Page(rows, None)
    rows = rows[:limit]
    return Page(rows, encode_cursor(*key(rows[-1])))


# --- lists -------------------------------------------------------------------------------------


@dataclass
class RequestFilters:
    stage: str | None = None
    office: str | None = None
    township: str | None = None
    community: str | None = None
    item: str | None = None
    overdue: str | None = None  # a level, or "any" for every level above none
    created_from: datetime | None = None
    created_to: datetime | None = None


def list_requests(
    session: Session,
    principal: Principal,
    filters: RequestFilters,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Requests in scope, newest first (created_at desc, id desc)."""
    f = filters
    query = select(RequestRow).where(scope_clause(principal))
    equal = {
        RequestRow.stage: f.stage,
        RequestRow.responsible_office: f.office,
        RequestRow.township: f.township,
        RequestRow.item: f.item,
    }
    for column, value in equal.items():
        if value is not None:
            query = query.where(col(column) == value)
    if f.community is not None:
        query = query.where(villages_of(f.community))
    if f.overdue == "any":
        query = query.where(col(RequestRow.overdue) != Level.NONE)
    elif f.overdue is not None:
        query = query.where(col(RequestRow.overdue) == f.overdue)
    if f.created_from is not None:
        query = query.where(col(RequestRow.created_at) >= f.created_from)
    if f.created_to is not None:
        query = query.where(col(RequestRow.created_at) < f.created_to)
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        at, last_id = _cursor_time(at_raw), _cursor_text(id_raw)
        query = query.where(
            or_(
                col(RequestRow.created_at) < at,
                and_(col(RequestRow.created_at) == at, col(RequestRow.id) < last_id),
            )
        )
    query = query.order_by(col(RequestRow.created_at).desc(), col(RequestRow.id).desc())
    rows = session.exec(query.limit(limit + 1)).all()
    return _page(rows, limit, lambda r: (r.created_at, r.id))


def work_queue(
    session: Session, office: str, limit: int = DEFAULT_LIMIT, cursor: str | None = None
) -> Page:
    """Open requests waiting on ``office``, earliest deadline first (none last), then by id."""
    query = select(RequestRow).where(
        col(RequestRow.responsible_office) == office, col(RequestRow.status) == "open"
    )
    deadline = col(RequestRow.deadline)
    if cursor is not None:
        at_raw, id_raw = decode_cursor(cursor, 2)
        last_id = _cursor_text(id_raw)
        if at_raw is None:
            query = query.where(deadline.is_(None), col(RequestRow.id) > last_id)
        else:
            at = _cursor_time(at_raw)
            query = query.where(
                or_(
                    deadline > at,
                    and_(deadline == at, col(RequestRow.id) > last_id),
                    deadline.is_(None),
                )
            )
    query = query.order_by(deadline.asc().nulls_last(), col(RequestRow.id).asc())
    rows = session.exec(query.limit(limit + 1)).all()
    return _page(rows, limit, lambda r: (r.deadline, r.id))


# --- supervision -------------------------------------------------------------------------------


@dataclass
class EventFilters:
    request: str | None = None
    level: str | None = None
    office: str | None = None
    since: datetime | None = None


def ledger_events(
    session: Session,
    principal: Principal,
    filters: EventFilters,
    limit: int = DEFAULT_LIMIT,
    cursor: str | None = None,
) -> Page:
    """Ledger rows of requests in scope, newest first (by id, the append order)."""
    in_scope = ids_in_scope(principal)
    query = select(LedgerRow).where(col(LedgerRow.request_id).in_(in_scope))
    if filters.request is not None:
        query = query.where(col(LedgerRow.request_id) == filters.request)
    if filters.level is not None:
        query = query.where(col(LedgerRow.level) == filters.level)
    if filters.office is not None:
        query = query.where(col(LedgerRow.office) == filters.office)
    if filters.since is not None:
        query = query.where(col(LedgerRow.at) >= filters.since)
    if cursor is not None:
        (last_id,) = decode_cursor(cursor, 1)
        if not isinstance(last_id, int):
            raise InvalidQuery("cursor", "cursor is not valid")
        query = query.where(col(LedgerRow.id) < last_id)
    rows = session.exec(query.order_by(col(LedgerRow.id).desc()).limit(limit + 1)).all()
    return _page(rows, limit, lambda r: (r.id,))


def ids_in_scope(principal: Principal) -> SelectOfScalar[str]:
    """The ids of the requests in scope, as a subquery for other tables (the ledger)."""
    return select(RequestRow.id).where(scope_clause(principal))


# --- statistics --------------------------------------------------------------------------------


def rollup_scope(principal: Principal) -> ColumnElement[bool] | None:
    """``scope_clause`` on the statistics rollup's columns, or None where the scope is finer than
    a township (agents, staff, rating links): those read ``requests`` directly."""
    p, r = principal, RequestStatsDaily
    if p.role == Role.ADMIN:
        return true()
    if p.role == Role.SUPERVISOR:
        return col(getattr(r, supervised_field(p))) == p.office
    return None


def stats_requests(
    principal: Principal,
    township: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    community: str | None = None,
) -> list[ColumnElement[bool]]:
    """The requests the statistics count: in the caller's scope, of one township or one
    community service center's villages when given, created in [from, to)."""
    r = RequestRow
    clauses = [scope_clause(principal)]
    if township is not None:
        clauses.append(col(r.township) == township)
    if community is not None:
        clauses.append(villages_of(community))
    if created_from is not None:
        clauses.append(col(r.created_at) >= created_from)
    if created_to is not None:
        clauses.append(col(r.created_at) < created_to)
    return clauses


def _direct_sums(
    session: Session,
    principal: Principal,
    township: str | None,
    ranges: Sequence[tuple[datetime | None, datetime | None]],
    community: str | None = None,
) -> dict[str, list[int]]:
    """Per township, the rollup's sums computed over ``requests`` created in any of ``ranges``;
    with ``community``, the sums of that community service center's villages, under its code."""
    r = RequestRow
    query = select(col(r.township), *rollup.sum_columns(r)).where(scope_clause(principal))
    if township is not None:
        query = query.where(col(r.township) == township)
    if community is not None:
        query = query.where(villages_of(community))
    within = []
    for start, end in ranges:
        bounds = []
        if start is not None:
            bounds.append(col(r.created_at) >= start)
        if end is not None:
            bounds.append(col(r.created_at) < end)
        within.append(and_(true(), *bounds))
    query = query.where(or_(*within))
    rows = session.exec(query.group_by(col(r.township))).all()
    # A center lies in one township: its requests are that township's one row, or none.
    return {community or row[0]: [int(n or 0) for n in row[1:]] for row in rows}


def township_stats(
    session: Session,
    principal: Principal,
    tz: ZoneInfo,
    township: str | None = None,
    created_from: datetime | None = None,
    created_to: datetime | None = None,
    community: str | None = None,
) -> list[dict[str, Any]]:
    """Per township (every request belongs to exactly one), requests created in [from, to); with
    ``community``, one row for that community service center (the rollup does not know centers:
    its figures come from ``requests``).

    Whole local days (in ``tz``) come from the per-day rollup when the caller's scope is a
    township, a city or everything; the partial days at the edges, and every finer scope, from
    ``requests``. The same sums either way (``daiban.store.rollup``), so the figures are identical.

    Rates are None where nothing was measured: ``on_time_rate`` over decided requests,
    ``satisfaction_rate`` = ratings of 3–5 over all ratings (defaults included), ``bad_rate`` =
    bad ratings (1–2) over all ratings, ``rectified_rate`` = rectified requests over bad ratings,
    ``callback_rate`` = bad ratings whose resident the rated office reached within the callback
    limit over bad ratings that owed a callback. Ratings are those of the resident's own act and
    defaults, the agent's unconfirmed ones only in ``agent_unconfirmed``
    (``daiban.store.rollup.counts_in_rate``). A rating whose appeal was upheld is in no rate
    (``appeals_upheld`` counts them; ``ratings`` keeps every score as given).
    """
    scope = rollup_scope(principal)
    if scope is None or community is not None:
        whole_range = [(created_from, created_to)]
        sums = _direct_sums(session, principal, township, whole_range, community)
    else:
        parts = rollup.split(created_from, created_to, tz)
        sums = {}
        if parts.days is not None:
            sums = rollup.township_sums(session, scope, township, parts.days)
        if parts.edges:
            for office, edge in _direct_sums(session, principal, township, parts.edges).items():
                whole = sums.setdefault(office, [0] * len(edge))
                sums[office] = [a + b for a, b in zip(whole, edge, strict=True)]
    return stats_rows(session, [sums])[0]


def monthly_township_stats(
    session: Session, principal: Principal, tz: ZoneInfo, starts: list[date], end: date
) -> list[list[dict[str, Any]]]:
    """``township_stats`` of each whole-day period [starts[i], starts[i+1]) (the last to ``end``):
    from the rollup in one query where the scope allows, else period by period."""
    scope = rollup_scope(principal)
    if scope is None:
        bounds = [*starts[1:], end]
        return [
            township_stats(
                session, principal, tz, None, rollup.day_start(a, tz), rollup.day_start(b, tz)
            )
            for a, b in zip(starts, bounds, strict=True)
        ]
    return stats_rows(session, rollup.township_sums_by_period(session, scope, starts, end))


def stats_rows(session: Session, periods: list[dict[str, list[int]]]) -> list[list[dict[str, Any]]]:
    """Each period's sums per township as the statistics' rows, with the townships' names (read
    once for every period)."""
    # A rollup row whose requests all moved to another day stays, summing to zero: not listed.
    codes = [sorted(office for office, values in sums.items() if values[0]) for sums in periods]
    every = sorted({code for listed in codes for code in listed})
    names: dict[str, str] = {}
    if every:
        offices = select(Office.code, Office.name).where(col(Office.code).in_(every))
        names = dict(session.exec(offices).all())
    return [
        [_stats_row(code, sums[code], names.get(code)) for code in listed]
        for sums, listed in zip(periods, codes, strict=True)
    ]


def _ratio(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _stats_row(office: str, values: list[int], name: str | None) -> dict[str, Any]:
    sums = dict(zip(rollup.STATS, values, strict=True))
    ratings = [sums[f"rating_{n}"] for n in range(1, 6)]
    # Only bad ratings are appealed: an upheld one leaves the bad ones and the whole.
    upheld = sums["appeal_upheld"]
    counted, bad = sums["rated"] - upheld, ratings[0] + ratings[1] - upheld
    days, decided = sums["working_days_sum"], sums["working_days_count"]
    return {
        "office": office,
        "name": name,
        "total": sums["total"],
        "completed": sums["completed"],
        "on_time_rate": _ratio(sums["on_time_true"], sums["on_time_count"]),
        "avg_working_days": round(days / decided, 2) if decided else None,
        "reminder": sums["reminder"],
        "yellow": sums["yellow"],
        "red": sums["red"],
        "ratings": {str(n): ratings[n - 1] for n in range(1, 6)},
        "satisfaction_rate": _ratio(sum(ratings[2:]), counted),
        "bad_rate": _ratio(bad, counted),
        "rectified_rate": _ratio(sums["rectified_true"], bad),
        "callback_rate": _ratio(sums["called_back"], sums["callback_due"]),
        "appeals_upheld": upheld,
        "agent_unconfirmed": sums["agent_unconfirmed"],
    }


# --- metrics -----------------------------------------------------------------------------------


def stage_counts(session: Session) -> dict[str, int]:
    query = select(RequestRow.stage, func.count()).group_by(col(RequestRow.stage))
    return {stage: int(n) for stage, n in session.exec(query)}


def escalation_counts(session: Session) -> dict[str, int]:
    query = (
        select(LedgerRow.level, func.count())
        .where(col(LedgerRow.kind) == "escalation", col(LedgerRow.level).is_not(None))
        .group_by(col(LedgerRow.level))
    )
    return {str(level): int(n) for level, n in session.exec(query)}

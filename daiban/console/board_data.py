"""What the supervisor's board reads, in the supervisor's scope: cards by township, what falls due
today, the red cards, the open supervision orders, the monthly trends and the newest ledger id.

The page reads all of it in one transaction (``board_rows``): one worker thread and one
connection per render instead of one for each part, which under load cost more than the queries
themselves. Each part is still the query the API's route runs (``readmodel.list_requests``,
``orders.list_orders``, ``readmodel.township_stats``), turned into the API's shapes by the API's
own converters in ``daiban.console.board``, so the board shows what the API would answer.

The trends read the per-day statistics rollup (``daiban.store.rollup``) through
``township_stats``, never the whole read model; the cards and what falls due read the open
requests only (partial indexes of migrations 0004 and 0012, led by the scope's column: the
county's ``city`` or a township's ``township``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, Final
from zoneinfo import ZoneInfo

from sqlalchemy import ColumnElement, exists, func, literal
from sqlmodel import Session, col, select

from daiban.domain.scope import Principal
from daiban.store import readmodel, rollup
from daiban.store.orders import OrderFilters, list_orders
from models.contracts import Level
from models.db import LedgerRow, RequestRow

TREND_MONTHS: Final = 6
DUE_TODAY_LIMIT: Final = 50
RED_LIMIT: Final = 20
# The rungs the board lists as red cards: red, and the statutory limit passed.
RED_LEVELS: Final = (Level.RED, Level.STATUTORY)
ORDERS_LIMIT: Final = 50


def is_open() -> ColumnElement[bool]:
    """``status = 'open'`` with the value written into the SQL, not bound: only then do SQLite
    and PostgreSQL's generic plans know that the partial indexes on open requests hold every row
    asked for, and read the index alone (at a million rows the county's cards took 46 ms with
    the value bound, reading each open request's row, against 1.5 ms from the index alone)."""
    return col(RequestRow.status) == literal("open", literal_execute=True)


def last_change(session: Session) -> int:
    """The newest ledger id: one lookup on the primary key."""
    return int(session.exec(select(func.max(LedgerRow.id))).one() or 0)


def changed_since(session: Session, principal: Principal, after: int) -> bool:
    """Whether a ledger row newer than ``after`` belongs to a request in scope: a range on the
    primary key that stops at the first such row (cost grows with the changes, not the
    requests)."""
    in_scope = exists().where(
        col(RequestRow.id) == col(LedgerRow.request_id), readmodel.scope_clause(principal)
    )
    newer = exists().where(col(LedgerRow.id) > after, in_scope)
    return bool(session.exec(select(newer)).one())


def poll(session: Session, principal: Principal, after: int) -> tuple[int, bool]:
    """The board's poll: the newest ledger id, and whether anything in scope changed after
    ``after``. An unchanged system answers from the ledger's primary key alone."""
    newest = last_change(session)
    return newest, newest > after and changed_since(session, principal, after)


@dataclass
class TownshipCard:
    code: str
    open: int = 0
    reminder: int = 0
    yellow: int = 0
    red: int = 0
    statutory: int = 0

    @property
    def worst(self) -> str:
        for level in (Level.STATUTORY, Level.RED, Level.YELLOW, Level.REMINDER):
            if getattr(self, level.value):
                return level.value
        return Level.NONE.value


def township_cards(session: Session, principal: Principal) -> list[TownshipCard]:
    """Open requests per township, and how many of them stand at each rung now."""
    query = (
        select(col(RequestRow.township), col(RequestRow.overdue), func.count())
        .where(readmodel.scope_clause(principal), is_open())
        .group_by(col(RequestRow.township), col(RequestRow.overdue))
    )
    cards: dict[str, TownshipCard] = {}
    for township, level, n in session.exec(query):
        card = cards.setdefault(township, TownshipCard(township))
        card.open += int(n)
        if level in ("reminder", "yellow", "red", "statutory"):
            setattr(card, level, getattr(card, level) + int(n))
    return sorted(cards.values(), key=lambda c: c.code)


def due_today(
    session: Session, principal: Principal, start: datetime, end: datetime
) -> list[RequestRow]:
    query = (
        select(RequestRow)
        .where(
            readmodel.scope_clause(principal),
            is_open(),
            col(RequestRow.deadline) >= start,
            col(RequestRow.deadline) < end,
        )
        .order_by(col(RequestRow.deadline), col(RequestRow.id))
        .limit(DUE_TODAY_LIMIT)
    )
    return list(session.exec(query).all())


def red_cards(session: Session, principal: Principal) -> readmodel.Page:
    """The newest requests with a red card, or past their statutory limit (the rung above red,
    which counts as red in the statistics): the API's list with ``overdue=red`` and with
    ``overdue=statutory``, each read newest first from its index, merged, the newest
    ``RED_LIMIT`` kept."""
    rows = [
        row
        for level in RED_LEVELS
        for row in readmodel.list_requests(
            session, principal, readmodel.RequestFilters(overdue=level.value), RED_LIMIT
        ).rows
    ]
    rows.sort(key=lambda row: (row.created_at, row.id), reverse=True)
    return readmodel.Page(rows[:RED_LIMIT], None)


def open_orders(session: Session, principal: Principal, status: str) -> readmodel.Page:
    """Supervision orders in one status, oldest response deadline first (the API's list)."""
    return list_orders(session, principal, OrderFilters(status=status), ORDERS_LIMIT)


def month_starts(today: date, months: int = TREND_MONTHS) -> list[date]:
    """The first days of the last ``months`` months, oldest first, this month last."""
    first = today.replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return list(reversed(starts))


def next_month(start: date) -> date:
    return (start + timedelta(days=32)).replace(day=1)


def trend_stats(
    session: Session, principal: Principal, tz: ZoneInfo, today: date
) -> list[tuple[date, list[dict[str, Any]]]]:
    """Per month (whole local days, as ``/v1/stats?from=…&to=…`` counts them): the statistics rows
    of the scope, read from the rollup in one query for the six months."""
    starts = month_starts(today)
    months = readmodel.monthly_township_stats(session, principal, tz, starts, next_month(today))
    return list(zip(starts, months, strict=True))


@dataclass
class BoardRows:
    """Everything one render of the board reads, as rows; ``daiban.console.board`` shapes it."""

    red: readmodel.Page
    waiting: readmodel.Page
    replied: readmodel.Page
    cards: list[TownshipCard]
    due: list[RequestRow]
    trends: list[tuple[date, list[dict[str, Any]]]]
    after: int


def board_rows(session: Session, principal: Principal, tz: ZoneInfo, now: datetime) -> BoardRows:
    """One render's reads, in one transaction. The newest ledger id is read first, so a change
    made while the rest is read is announced again by the next poll rather than missed."""
    after = last_change(session)
    local_now = now.astimezone(tz)
    start_of_day = rollup.day_start(local_now.date(), tz)
    return BoardRows(
        red=red_cards(session, principal),
        # Supervision orders not yet closed: waiting for a reply or for review.
        waiting=open_orders(session, principal, "open"),
        replied=open_orders(session, principal, "replied"),
        cards=township_cards(session, principal),
        # Due today: those still to come and those that passed earlier today.
        due=due_today(session, principal, start_of_day, start_of_day + timedelta(days=1)),
        trends=trend_stats(session, principal, tz, local_now.date()),
        after=after,
    )

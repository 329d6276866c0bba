"""The supervisor's board (电子监察): cards by township, what falls due today, the requests with a
red card, trends by month, and the statistics as an Excel workbook.

It updates itself by short polling whose cost follows the changes, not the number of requests:
every change of a request writes a ledger row in the same transaction as its read-model row, so
the page keeps the last ledger id it has seen and asks ``/board/changes?after=<id>``. An unchanged
system answers from the ledger's primary key alone; only then is the board rendered again.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from sqlalchemy import exists, func
from sqlmodel import Session, col, select

from daiban.console.web import Console, ConsoleDep, ConsoleRoute
from daiban.domain.scope import Principal
from daiban.http import routes_requests, routes_supervision
from daiban.http.deps import OVERSIGHT
from daiban.store.readmodel import scope_clause
from models.contracts import Level
from models.db import LedgerRow, RequestRow
from models.schemas import ListQuery, OrdersQuery, StatsQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
TREND_MONTHS: Final = 6
DUE_TODAY_LIMIT: Final = 50
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- queries (the read model, in the supervisor's scope) ---------------------------------------


def last_change(session: Session) -> int:
    """The newest ledger id: one lookup on the primary key."""
    return int(session.exec(select(func.max(LedgerRow.id))).one() or 0)


def changes_since(session: Session, principal: Principal, after: int) -> int:
    """Ledger rows newer than ``after`` on requests in scope: a range on the primary key, each
    row checked against its request (cost grows with the changes, not the requests)."""
    in_scope = exists().where(
        col(RequestRow.id) == col(LedgerRow.request_id), scope_clause(principal)
    )
    query = select(func.count()).select_from(LedgerRow).where(col(LedgerRow.id) > after, in_scope)
    return int(session.exec(query).one())


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
        .where(scope_clause(principal), col(RequestRow.status) == "open")
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
            scope_clause(principal),
            col(RequestRow.status) == "open",
            col(RequestRow.deadline) >= start,
            col(RequestRow.deadline) < end,
        )
        .order_by(col(RequestRow.deadline), col(RequestRow.id))
        .limit(DUE_TODAY_LIMIT)
    )
    return list(session.exec(query).all())


# --- pages -------------------------------------------------------------------------------------


def _month_starts(today: date, months: int) -> list[date]:
    first = today.replace(day=1)
    starts = [first]
    for _ in range(months - 1):
        first = (first - timedelta(days=1)).replace(day=1)
        starts.append(first)
    return list(reversed(starts))


async def _trends(console: Console, me: Principal) -> list[dict[str, Any]]:
    """Per month: requests, on-time rate and satisfaction rate over the scope (the API's stats)."""
    today = console.now.astimezone(console.services.tz).date()
    out = []
    for start in _month_starts(today, TREND_MONTHS):
        end = (start + timedelta(days=32)).replace(day=1) - timedelta(days=1)
        query = StatsQuery.model_validate({"from": start, "to": end})
        stats = await routes_supervision.stats(query, me, console.services)
        total = sum(o.total for o in stats.offices)
        ratings = [sum(o.ratings.get(str(n), 0) for o in stats.offices) for n in range(1, 6)]
        rated = sum(ratings)
        # On time over decided requests, weighted by each township's decided count.
        decided = sum(o.completed for o in stats.offices if o.on_time_rate is not None)
        on_time = sum(
            (o.on_time_rate or 0) * o.completed for o in stats.offices if o.on_time_rate is not None
        )
        out.append(
            {
                "month": f"{start.month}月",
                "label": f"{start.year}-{start.month:02d}",
                "total": total,
                "on_time": round(on_time / decided, 3) if decided else None,
                "satisfaction": round(sum(ratings[2:]) / rated, 3) if rated else None,
            }
        )
    return out


async def _board(console: Console, me: Principal) -> dict[str, Any]:
    s = console.services
    local_now = console.now.astimezone(s.tz)
    start_of_day = datetime.combine(local_now.date(), time(0), tzinfo=s.tz)
    end_of_day = start_of_day + timedelta(days=1)
    red = await routes_requests.list_requests(ListQuery(overdue="red", limit=20), me, s)
    # Supervision orders not yet closed: waiting for a reply or for review, oldest deadline first.
    waiting = await routes_supervision.orders(OrdersQuery(status="open", limit=50), me, s)
    replied = await routes_supervision.orders(OrdersQuery(status="replied", limit=50), me, s)
    return {
        "orders": waiting.items,
        "replied": replied.items,
        "cards": await s.db(township_cards, me),
        # Due today: those still to come and those that passed earlier today.
        "due": await s.db(due_today, me, start_of_day, end_of_day),
        "red": red,
        "trends": await _trends(console, me),
        "after": await s.db(last_change),
        "updated": local_now,
    }


@router.get("/board")
async def board(console: ConsoleDep, part: bool = False) -> Response:
    me = console.person(*OVERSIGHT)
    template = "board_part.html" if part else "board.html"
    return console.render(template, **await _board(console, me))


@router.get("/board/changes")
async def changes(console: ConsoleDep, after: int = Query(0, ge=0)) -> Response:
    me = console.person(*OVERSIGHT)
    s = console.services
    newest = await s.db(last_change)
    changed = newest > after and await s.db(changes_since, me, after) > 0
    return JSONResponse({"after": newest, "changed": changed})


@router.get("/board/export.xlsx")
async def export(console: ConsoleDep) -> Response:
    """The statistics per township (the API's ``/v1/stats``) and the monthly trends."""
    from openpyxl import Workbook  # imported where used: only the export needs it

    me = console.person(*OVERSIGHT)
    stats = await routes_supervision.stats(StatsQuery(), me, console.services)
    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "各乡镇统计"
    sheet.append(
        ["乡镇", "代码", "办件数", "已办结", "按时办结率", "平均工作日", "提示", "黄牌", "红牌"]
        + ["满意率", "整改率", "差评率", "回访率", "申诉成立", "督办单", "逾期督办单"]
        + ["未经本人确认的评价"]
    )
    for o in stats.offices:
        sheet.append(
            [o.name or o.office, o.office, o.total, o.completed, o.on_time_rate,
             o.avg_working_days, o.reminder, o.yellow, o.red, o.satisfaction_rate,
             o.rectified_rate, o.bad_rate, o.callback_rate, o.appeals_upheld, o.orders_issued,
             o.orders_overdue, o.agent_unconfirmed]
        )  # fmt: skip
    trends = book.create_sheet("月度趋势")
    trends.append(["月份", "办件数", "按时办结率", "满意率"])
    for month in await _trends(console, me):
        trends.append([month["label"], month["total"], month["on_time"], month["satisfaction"]])
    buffer = io.BytesIO()
    book.save(buffer)
    day = console.now.astimezone(console.services.tz).date().isoformat()
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="daiban-stats-{day}.xlsx"'},
    )

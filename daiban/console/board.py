"""The supervisor's board (电子监察): cards by township, what falls due today, the requests with a
red card, trends by month, and the statistics as an Excel workbook.

It updates itself by short polling whose cost follows the changes, not the number of requests:
every change of a request writes a ledger row in the same transaction as its read-model row, so
the page keeps the last ledger id it has seen and asks ``/board/changes?after=<id>``. An unchanged
system answers from the ledger's primary key alone; only then is the board rendered again.
What it reads, and why in one transaction: ``daiban.console.board_data``.
"""

from __future__ import annotations

import io
from datetime import date
from typing import Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response

from daiban.console import board_data, words
from daiban.console.web import Console, ConsoleDep, ConsoleRoute
from daiban.domain.scope import Principal
from daiban.http import routes_requests, routes_supervision
from daiban.http.deps import OVERSIGHT
from models.schemas import StatsOut, StatsQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
XLSX: Final = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"


# --- pages -------------------------------------------------------------------------------------


def _trend(start: date, stats: StatsOut) -> dict[str, Any]:
    """One month: requests, on-time rate and satisfaction rate over the scope (the API's stats)."""
    total = sum(o.total for o in stats.offices)
    ratings = [sum(o.ratings.get(str(n), 0) for o in stats.offices) for n in range(1, 6)]
    rated = sum(ratings)
    # On time over decided requests, weighted by each township's decided count.
    decided = sum(o.completed for o in stats.offices if o.on_time_rate is not None)
    on_time = sum(
        (o.on_time_rate or 0) * o.completed for o in stats.offices if o.on_time_rate is not None
    )
    return {
        "month": f"{start.month}月",
        "label": f"{start.year}-{start.month:02d}",
        "total": total,
        "on_time": round(on_time / decided, 3) if decided else None,
        "satisfaction": round(sum(ratings[2:]) / rated, 3) if rated else None,
    }


def _trends(months: list[tuple[date, list[dict[str, Any]]]]) -> list[dict[str, Any]]:
    return [_trend(start, routes_supervision.stats_out(rows)) for start, rows in months]


async def _board(console: Console, me: Principal) -> dict[str, Any]:
    s = console.services
    rows = await s.db(board_data.board_rows, me, s.tz, console.now)
    return {
        "orders": routes_supervision.order_page(rows.waiting, s.tz).items,
        "replied": routes_supervision.order_page(rows.replied, s.tz).items,
        "cards": rows.cards,
        "due": rows.due,
        "red": routes_requests.summaries(s, rows.red),
        "trends": _trends(rows.trends),
        "after": rows.after,
        "updated": console.now.astimezone(s.tz),
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
    newest, changed = await s.db(board_data.poll, me, after)
    return JSONResponse({"after": newest, "changed": changed})


@router.get("/board/export.xlsx")
async def export(console: ConsoleDep) -> Response:
    """The statistics per township (the API's ``/v1/stats``), the monthly trends and the ratings
    of each office served (``/v1/stats/ratings``)."""
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
    today = console.now.astimezone(console.services.tz).date()
    months = await console.services.db(board_data.trend_stats, me, console.services.tz, today)
    for month in _trends(months):
        trends.append([month["label"], month["total"], month["on_time"], month["satisfaction"]])
    # The ratings of each office served over the twelve months to this one (they are read from
    # the ratings themselves, so the sheet keeps to a year, as a county reviews them).
    year_ago = board_data.month_starts(today, 12)[0]
    rated = await routes_supervision.rated_offices(
        StatsQuery.model_validate({"from": year_ago}), me, console.services
    )
    offices = book.create_sheet("各办理单位评价（近12个月）")
    offices.append(["办理单位", "代码", "层级", "评价数", "非常满意", "满意", "基本满意", "不满意"]
                   + ["非常不满意", "差评", "满意率", "差评率"])  # fmt: skip
    for r in rated.offices:
        offices.append(
            [r.name or r.office, r.office, words.TIERS.get(r.tier, r.tier), r.rated,
             *(r.ratings[str(n)] for n in (5, 4, 3, 2, 1)), r.bad, r.satisfaction_rate,
             r.bad_rate]
        )  # fmt: skip
    buffer = io.BytesIO()
    book.save(buffer)
    day = console.now.astimezone(console.services.tz).date().isoformat()
    return Response(
        buffer.getvalue(),
        media_type=XLSX,
        headers={"Content-Disposition": f'attachment; filename="daiban-stats-{day}.xlsx"'},
    )

"""The administrator's pages: the working-day calendar (next year's holiday schedule and single-day
overrides, with the recomputation of running deadlines they trigger), the service catalog and the
office tree.

The calendar is changed through the same store functions as ``daiban calendar`` (all or nothing:
a bad schedule writes nothing), then every open request is told to compute its deadlines again,
and the page says how many were.
"""

from __future__ import annotations

from collections import Counter
from datetime import date
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from sqlmodel import Session

from daiban.console.schedule import year_schedule
from daiban.console.web import Console, ConsoleDep, ConsoleRoute
from daiban.http import routes_supervision
from daiban.store.calendar import (
    OVERRIDE_KINDS,
    list_calendar_years,
    list_overrides,
    load_calendar_year,
    remove_override,
    set_override,
)
from daiban.store.recompute import signal_open_requests
from models.contracts import Role
from models.schemas import OfficesQuery

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
KINDS = {"holiday": "放假", "workday": "上班（调休）"}


@router.get("/admin")
async def admin(console: ConsoleDep) -> Response:
    me = console.person(Role.ADMIN)
    s = console.services
    catalog = await routes_supervision.catalog(me, s.catalog)
    townships = await routes_supervision.offices(OfficesQuery(tier="township"), me, s)
    villages = await routes_supervision.offices(OfficesQuery(tier="village"), me, s)
    per_township = Counter(v.parent for v in villages.items)
    return console.render(
        "admin.html",
        items=catalog["items"],
        townships=townships.items,
        villages=per_township,
        village_total=len(villages.items),
    )


def _calendar(session: Session) -> tuple[list[object], list[object]]:
    return list(list_overrides(session)), list(list_calendar_years(session))


async def _calendar_page(
    console: Console,
    *,
    status: int = 200,
    error: str | None = None,
    done: str | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    """The calendar page; after a refused schedule, its form keeps what was typed (``values``)."""
    overrides, years = await console.services.db(_calendar)
    today = console.now.astimezone(console.services.tz).date()
    return console.render(
        "calendar.html",
        status=status,
        overrides=overrides,
        years=years,
        kinds=KINDS,
        error=error,
        done=done,
        next_year=today.year + 1,
        values=values or {},
    )


@router.get("/admin/calendar")
async def calendar_page(console: ConsoleDep) -> Response:
    console.person(Role.ADMIN)
    return await _calendar_page(console)


async def _recompute(console: Console) -> int:
    s = console.services
    return await signal_open_requests(await s.temporal(), s.engine)


@router.post("/admin/calendar/day")
async def calendar_day(console: ConsoleDep) -> Response:
    console.person(Role.ADMIN)
    form = await console.form()
    try:
        day = date.fromisoformat(str(form.get("day") or ""))
    except ValueError:
        return await _calendar_page(console, status=422, error="请填写日期")
    remove = form.get("remove") == "1"
    kind = str(form.get("kind") or "")
    if not remove and kind not in OVERRIDE_KINDS:
        return await _calendar_page(console, status=422, error="请选择这一天放假还是上班")
    note = str(form.get("note") or "")[:200]
    s = console.services
    if remove:
        removed = await s.db(remove_override, day)
        if not removed:
            return await _calendar_page(console, status=422, error=f"{day}没有单日调整")
        what = f"已取消{day.month}月{day.day}日的单日调整"
    else:
        await s.db(set_override, day, kind, note)
        what = f"{day.month}月{day.day}日已设为{KINDS[kind]}"
    count = await _recompute(console)
    return await _calendar_page(console, done=f"{what}；已重新计算{count}件在办件的期限。")


@router.post("/admin/calendar/year")
async def calendar_year(console: ConsoleDep) -> Response:
    console.person(Role.ADMIN)
    form = await console.form()
    try:
        year = int(str(form.get("year") or ""))
        if not 1900 <= year <= 2999:
            raise ValueError
    except ValueError:
        return await _calendar_page(console, status=422, error="请填写年份")
    try:
        holidays, workdays = year_schedule(
            str(form.get("holidays") or ""), str(form.get("workdays") or ""), year
        )
    except ValueError as error:  # one sentence naming what was typed
        return await _calendar_page(console, status=422, error=str(error), values=form)
    note = str(form.get("note") or "")[:200] or "在管理页面载入"
    try:
        await console.services.db(load_calendar_year, year, holidays, workdays, note)
    except ValueError as error:  # a day both a holiday and a workday: nothing was written
        return await _calendar_page(console, status=422, error=f"节假日安排有误：{error}")
    count = await _recompute(console)
    return await _calendar_page(
        console,
        done=f"{year}年已载入：放假{len(holidays)}天，调休上班{len(workdays)}天；"
        f"已重新计算{count}件在办件的期限。",
    )

"""The monthly figures a county publishes (评价结果及整改情况向社会公开), as a page anyone can open
without login: per township the requests, decisions on time and the residents' ratings with their
callbacks and rectification, and the ratings of each office that served residents. It is the
API's public statistics (``/v1/public/stats``) in words, with the two CSV files beside it."""

from __future__ import annotations

import re
from datetime import date

from fastapi import APIRouter
from fastapi.responses import Response

from daiban.console.web import ConsoleDep, ConsoleRoute
from daiban.http.routes_public import MONTH, published_figures

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

MONTHS_LISTED = 12  # the months the page offers to choose from, this one first


def recent_months(today: date, count: int = MONTHS_LISTED) -> list[str]:
    """``YYYY-MM`` of this month and the ones before it, newest first."""
    year, month = today.year, today.month
    months = []
    for _ in range(count):
        months.append(f"{year:04d}-{month:02d}")
        year, month = (year, month - 1) if month > 1 else (year - 1, 12)
    return months


def percent(rate: float | None) -> str:
    """A rate as people read it (96.5%), or a dash where nothing was measured."""
    return "—" if rate is None else f"{rate * 100:.1f}%"


@router.get("/gongshi")
async def publicity_page(console: ConsoleDep) -> Response:
    asked = (console.request.query_params.get("month") or "").strip() or None
    today = console.now.astimezone(console.services.tz).date()
    months = recent_months(today)
    if asked is not None and not re.fullmatch(MONTH, asked):
        error = "请选择要查看的月份（例如 2026-11）。"
        return console.render("publicity.html", status=422, error=error, months=months)
    figures = await published_figures(console.services, asked)
    year, month = (int(part) for part in figures.month.split("-"))
    return console.render(
        "publicity.html",
        figures=figures,
        title=f"{year}年{month}月",
        months=months if figures.month in months else [figures.month, *months],
        pct=percent,
    )

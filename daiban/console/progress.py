"""The resident's progress page: no login, a request's number (办件编号, on the registration slip)
and the last four characters of the ID number; the answer is the API's public lookup, in words."""

from __future__ import annotations

import re
from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response

from daiban.console.web import ConsoleDep, ConsoleRoute
from daiban.http.problems import Problem
from daiban.http.routes_public import LAST4_PATTERN, NUMBER_PATTERN, lookup

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

NOT_FOUND = "没有查到：请核对办件编号和身份证号码后四位。"
TOO_MANY = "查询太频繁，请过一分钟再试。"
MALFORMED = {
    "number": "办件编号的格式是“370285-20261201-0042”，在登记回执上。",
    "id_last4": "请填写身份证号码的最后四位（最后一位可能是X）。",
}


@router.get("/progress")
async def progress_page(console: ConsoleDep) -> Response:
    query = console.request.query_params
    number = (query.get("number") or "").strip()
    last4 = (query.get("id_last4") or "").strip().upper()
    context: dict[str, Any] = {"number": number, "id_last4": last4, "errors": {}}
    if not number and not last4:
        return console.render("progress.html", **context)
    errors = {
        name: text
        for name, text, value, pattern in (
            ("number", MALFORMED["number"], number, NUMBER_PATTERN),
            ("id_last4", MALFORMED["id_last4"], last4, LAST4_PATTERN),
        )
        if not re.match(pattern, value)
    }
    if errors:
        return console.render("progress.html", status=422, **(context | {"errors": errors}))
    client = console.request.client.host if console.request.client else "unknown"
    try:
        found = await lookup(console.services, client, number, last4)
    except Problem as problem:
        if problem.status not in (404, 429):
            raise
        message = TOO_MANY if problem.status == 429 else NOT_FOUND
        return console.render("progress.html", status=problem.status, message=message, **context)
    return console.render("progress.html", found=found, **context)

"""The village agent's screens, built for a 360 px phone on a weak connection: the village's
requests with the next step, registering a request (checklist and promised date shown before
sending), and the rating QR code for the resident.

Registering goes through the API's submit with an ``Idempotency-Key`` made when the agent
registers: the page's script keeps a registration made offline on the phone and sends it when the
connection is back, as often as it must — the key makes the API create it exactly once.
"""

from __future__ import annotations

import json
import uuid
from typing import Any

from fastapi import APIRouter, Query
from fastapi.responses import JSONResponse, Response
from markupsafe import Markup
from pydantic import ValidationError

from daiban.console import words
from daiban.console.web import (
    Console,
    ConsoleDep,
    ConsoleRoute,
    error_fields,
    problem_words,
    qr_svg,
    validation_problem,
)
from daiban.domain.intake import item_spec, policy
from daiban.http import routes_rating, routes_requests
from daiban.http.problems import Problem
from models.contracts import Role, Stage
from models.schemas import ListQuery, SubmitIn
from workflows.clocks import expected_steps

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


def _items(console: Console) -> list[dict[str, Any]]:
    """Each item with its checklist and the date promised if registered now (the same legs the
    workflow chains for ``expected_at``; the workflow's own figure is shown after sending)."""
    cal = console.calendar()
    settings = console.services.settings
    out = []
    for item in console.services.catalog.items:
        at = console.now
        for step in expected_steps(policy(settings), item_spec(item), Stage.VILLAGE_INTAKE):
            at = cal.deadline(at, step.limit, "natural" if step.unit == "natural" else "working").at
        out.append(
            {
                "code": item.code,
                "name": item.name,
                "materials": list(item.materials),
                "promised": words.short_date(at, console.services.tz),
                "tier": words.TIERS[item.deciding_tier],
            }
        )
    return out


@router.get("/agent")
async def agent_home(
    console: ConsoleDep, cursor: str | None = Query(None, max_length=512)
) -> Response:
    me = console.person(Role.AGENT)
    page = await routes_requests.list_requests(
        ListQuery(limit=50, cursor=cursor), me, console.services
    )
    return console.render("agent.html", page=page)


def _register_page(
    console: Console, *, values: dict[str, Any], problem: Problem | None = None
) -> Response:
    items = _items(console)
    return console.render(
        "register.html",
        status=problem.status if problem else 200,
        items=items,
        items_json=Markup(json.dumps(items, ensure_ascii=False).replace("</", "<\\/")),
        values=values,
        key=values.get("key") or uuid.uuid4().hex,
        problem_lines=problem_words(problem) if problem else [],
        field_errors=error_fields(problem),
    )


@router.get("/agent/new")
async def register_form(console: ConsoleDep) -> Response:
    console.person(Role.AGENT)
    return _register_page(console, values={})


def _submit_body(form: dict[str, Any]) -> dict[str, Any]:
    materials = form.get("materials[]") or []
    return {
        "item": form.get("item") or "",
        "resident": {
            "name": form.get("name") or "",
            "id_number": form.get("id_number") or "",
            "phone": form.get("phone") or "",
        },
        "materials": [materials] if isinstance(materials, str) else materials,
        "note": form.get("note") or None,
    }


@router.post("/agent/new")
async def register(console: ConsoleDep) -> Response:
    me = console.person(Role.AGENT)
    form = await console.form()
    wants_json = "application/json" in console.request.headers.get("accept", "")
    key = str(form.get("key") or "")[:128] or None
    try:
        try:
            body = SubmitIn.model_validate(_submit_body(form))
        except ValidationError as error:
            raise validation_problem(error) from None
        s = console.services
        reply = Response()
        state = await routes_requests.submit(
            body, me, s, await s.temporal(), s.settings, s.engine, s.catalog, reply, key
        )
    except Problem as problem:
        if wants_json:
            return JSONResponse(
                {"status": problem.status, "messages": problem_words(problem)},
                status_code=problem.status,
            )
        return _register_page(console, values=form, problem=problem)
    if wants_json:
        return JSONResponse({"id": state.id}, status_code=reply.status_code or 201)
    return console.redirect(f"/r/{state.id}?done=submit")


@router.get("/r/{request_id}/qr")
async def rating_qr(console: ConsoleDep, request_id: str) -> Response:
    """The QR code the resident scans to rate on their own phone (a single-request rating link)."""
    me = console.person(Role.AGENT)
    s = console.services
    state = await routes_requests.recorded_request(request_id, me, s)
    link = await routes_rating.rating_link(request_id, me, s, s.settings)
    url = str(console.request.base_url).rstrip("/") + f"/rate/{link.token}"
    return console.render("qr.html", r=state, url=url, qr=qr_svg(url))

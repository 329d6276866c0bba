"""The agent's screen for a rating the resident gives on the agent's phone: a one-time code is
texted to the resident's own phone, the resident reads it out (or types it in) with their scores,
and the rating counts as the resident's own. Without the code the rating is still kept, marked
未经本人确认 and left out of the satisfaction rate; the page says so before it is sent.

Both steps go through the API's own routes (``rating-code``, ``rating``) with the agent's
principal: the same rules, the same 409/422/429, put into words.
"""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter
from fastapi.responses import Response
from pydantic import ValidationError

from daiban.console.resident import rating_in, tier_offices
from daiban.console.web import (
    ConsoleDep,
    ConsoleRoute,
    error_fields,
    problem_words,
    validation_problem,
)
from daiban.http import routes_rating, routes_requests
from daiban.http.problems import Problem
from models.contracts import Role

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)


async def _page(
    console: ConsoleDep,
    request_id: str,
    *,
    problem: Problem | None = None,
    values: dict[str, Any] | None = None,
) -> Response:
    me = console.person(Role.AGENT)
    state = await routes_requests.recorded_request(request_id, me, console.services)
    return console.render(
        "confirm.html",
        status=problem.status if problem else 200,
        r=state,
        tiers=tier_offices(state),
        # Sent already (also after a refused rating): the page must not invite a second code.
        sent="1" in (console.request.query_params.get("sent"), (values or {}).get("sent")),
        minutes=console.services.settings.rating_code_minutes,
        values=values or {},
        problem_lines=problem_words(problem) if problem else [],
        field_errors=error_fields(problem),
    )


@router.get("/r/{request_id}/rate")
async def confirm_page(console: ConsoleDep, request_id: str) -> Response:
    return await _page(console, request_id)


@router.post("/r/{request_id}/rating-code")
async def send_code(console: ConsoleDep, request_id: str) -> Response:
    me = console.person(Role.AGENT)
    await console.form()  # the CSRF check
    s = console.services
    try:
        await routes_rating.rating_code(request_id, me, s, s.settings)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _page(console, request_id, problem=problem)
    return console.redirect(f"/r/{request_id}/rate?sent=1")


@router.post("/r/{request_id}/rate")
async def rate(console: ConsoleDep, request_id: str) -> Response:
    me = console.person(Role.AGENT)
    form = await console.form()
    try:
        body = rating_in(form, code=True)
    except ValidationError as error:
        return await _page(console, request_id, problem=validation_problem(error), values=form)
    try:
        client = await console.services.temporal()
        await routes_rating.rate(request_id, body, me, console.services, client)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _page(console, request_id, problem=problem, values=form)
    return console.redirect(f"/r/{request_id}?done=rate")

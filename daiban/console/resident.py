"""The resident's rating page behind a rating link or its QR code: no login, one request, one
thing to do. The link's token is verified as the API verifies a bearer token, and the rating goes
through the API's own rating route with the token's principal.
"""

from __future__ import annotations

from fastapi import APIRouter, Path
from fastapi.responses import Response
from pydantic import ValidationError

from daiban.console.web import (
    ConsoleDep,
    ConsoleRoute,
    error_fields,
    problem_words,
    validation_problem,
)
from daiban.domain.scope import RATING_LINK, Principal
from daiban.http import routes_rating, routes_requests
from daiban.http.problems import NotFound, Problem
from models.schemas import RatingIn

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Token = Path(max_length=2048, pattern=r"^[A-Za-z0-9_.-]+$")


async def _link(console: ConsoleDep, token: str) -> Principal:
    try:
        principal = await console.services.verifier.verify(token)
    except Problem:
        raise NotFound("the rating link is not valid or has expired") from None
    if principal.role != RATING_LINK or principal.request is None:
        raise NotFound("not a rating link")
    return principal


async def _page(
    console: ConsoleDep, token: str, *, problem: Problem | None = None, thanks: bool = False
) -> Response:
    link = await _link(console, token)
    assert link.request is not None
    state = await routes_requests.get_request(link.request, link, console.services)
    return console.render(
        "rate.html",
        status=problem.status if problem else 200,
        r=state,
        token=token,
        thanks=thanks,
        problem_lines=problem_words(problem) if problem else [],
        field_errors=error_fields(problem),
    )


@router.get("/rate/{token}")
async def rating_page(console: ConsoleDep, token: str = Token) -> Response:
    return await _page(console, token, thanks=console.request.query_params.get("thanks") == "1")


@router.post("/rate/{token}")
async def rate(console: ConsoleDep, token: str = Token) -> Response:
    link = await _link(console, token)
    assert link.request is not None
    form = await console.form()
    try:
        body = RatingIn.model_validate(
            {"score": form.get("score") or None, "comment": form.get("comment") or None}
        )
    except ValidationError as error:
        return await _page(console, token, problem=validation_problem(error))
    try:
        client = await console.services.temporal()
        await routes_rating.rate(link.request, body, link, console.services, client)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _page(console, token, problem=problem)
    return console.redirect(f"/rate/{token}?thanks=1")

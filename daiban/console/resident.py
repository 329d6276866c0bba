"""The resident's rating page behind a rating link or its QR code: no login, one request, one
thing to do. The link's token is verified as the API verifies a bearer token, and the rating goes
through the API's own rating route with the token's principal.

The link texted at delivery is short (``/pj/<code>``, to fit one SMS): its code is looked up,
and the page continues under a rating-link token whose id is the code's, so that however often
the resident opens it, it rates once.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

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
from daiban.http.auth import mint_rating_link
from daiban.http.problems import NotFound, Problem
from daiban.store import rating_proofs
from models.actions import handled_tiers
from models.schemas import RatingIn, RequestOut

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)
Token = Path(max_length=2048, pattern=r"^[A-Za-z0-9_.-]+$")
ShortCode = Path(max_length=rating_proofs.LINK_LENGTH, pattern=r"^[a-z0-9]+$")


def tier_offices(r: RequestOut) -> list[tuple[str, str]]:
    """The tiers that handled the request, with their offices, for the rating's questions."""
    offices = {"village": r.village, "township": r.township, "city": r.city}
    return [(tier, offices[tier]) for tier in handled_tiers(r.deciding_tier)]


def rating_in(form: dict[str, Any], *, code: bool = False) -> RatingIn:
    """The API's rating body from a rating form (tiers left unrated are left out)."""
    tiers = {t: form[f"tier_{t}"] for t in ("village", "township", "city") if form.get(f"tier_{t}")}
    body: dict[str, Any] = {
        "score": form.get("score") or None,
        "comment": form.get("comment") or None,
        "tiers": tiers or None,
    }
    if code and form.get("confirmation_code"):
        body["confirmation_code"] = str(form["confirmation_code"]).strip()
    return RatingIn.model_validate(body)


async def _link(console: ConsoleDep, token: str) -> Principal:
    try:
        principal = await console.services.verifier.verify(token)
    except Problem:
        raise NotFound("the rating link is not valid or has expired") from None
    if principal.role != RATING_LINK or principal.request is None:
        raise NotFound("not a rating link")
    return principal


async def _page(
    console: ConsoleDep,
    token: str,
    *,
    problem: Problem | None = None,
    thanks: bool = False,
    values: dict[str, Any] | None = None,
) -> Response:
    link = await _link(console, token)
    assert link.request is not None
    state = await routes_requests.recorded_request(link.request, link, console.services)
    return console.render(
        "rate.html",
        status=problem.status if problem else 200,
        r=state,
        token=token,
        thanks=thanks,
        tiers=tier_offices(state),
        values=values or {},
        problem_lines=problem_words(problem) if problem else [],
        field_errors=error_fields(problem),
    )


@router.get("/pj/{code}")
async def texted_link(console: ConsoleDep, code: str = ShortCode) -> Response:
    """The link texted at delivery: on to the rating page, under this link's own id."""
    s = console.services
    now = datetime.now(UTC)
    link = await s.db(rating_proofs.find_link, s.settings.rating_link_key, code, now)
    if link is None:
        raise NotFound("the rating link is not valid or has expired")
    ttl = max(60, int((link.expires_at - now).total_seconds()))
    link_id = f"sms-{link.code_hash[:24]}"
    token = mint_rating_link(
        s.settings, link.request_id, link.village, ttl, await s.offices(), link_id=link_id
    )
    return console.redirect(f"/rate/{token}")


@router.get("/rate/{token}")
async def rating_page(console: ConsoleDep, token: str = Token) -> Response:
    return await _page(console, token, thanks=console.request.query_params.get("thanks") == "1")


@router.post("/rate/{token}")
async def rate(console: ConsoleDep, token: str = Token) -> Response:
    link = await _link(console, token)
    assert link.request is not None
    form = await console.form()
    try:
        body = rating_in(form)
    except ValidationError as error:
        return await _page(console, token, problem=validation_problem(error), values=form)
    try:
        client = await console.services.temporal()
        await routes_rating.rate(link.request, body, link, console.services, client)
    except Problem as problem:
        if problem.status == 404:
            raise
        return await _page(console, token, problem=problem, values=form)
    return console.redirect(f"/rate/{token}?thanks=1")

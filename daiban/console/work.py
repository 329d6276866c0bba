"""The window staff's work queue and every person's request page, with the actions allowed now.

The queue, the request and each action go through the API's own route functions with the
session's principal: the same scope (404 outside it), the same allowed actions, the same 409 and
422 — only put into words here. A request page shows the request as recorded (the read model's
copy, which every action's answer waits for), so that it never waits for a busy worker.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from fastapi import APIRouter, Query
from fastapi.responses import Response
from pydantic import ValidationError
from sqlmodel import Session

from daiban.console.web import ConsoleDep, ConsoleRoute, error_fields, problem_words
from daiban.console.web import validation_problem as _validation_problem
from daiban.domain.scope import Principal
from daiban.http import routes_notices, routes_requests, routes_supervision
from daiban.http.deps import OVERSIGHT, PEOPLE, STAFF
from daiban.http.problems import Problem
from daiban.http.routes_supervision import order_page
from daiban.store import readmodel
from daiban.store.orders import OrderFilters, list_orders
from daiban.store.readmodel import MAX_LIMIT, Page
from models.actions import ACTIONS
from models.contracts import PAUSE_REASONS, RECTIFY_OUTCOMES
from models.schemas import ActionIn, EventsQuery, ListQuery, PageQuery, RequestOut

router = APIRouter(route_class=ConsoleRoute, include_in_schema=False)

# The fields a form may carry besides the ones an action requires: a note is always welcome,
# and who signed a gap's commitment (with the authorisation when the agent did).
OPTIONAL: Final = ("note",)
OPTIONAL_OF: Final = {"accept_with_gap": ("commitment_by", "authorisation")}
# Fields asked only with one answer of another (field: (other field, answer)): a scheduled fix
# (限期整改) names its due date; with another outcome a date left in the hidden field is not sent.
CONDITIONAL: Final = {"rectify": {"due": ("outcome", "scheduled")}}
# Actions the request page does not offer as a plain form (rating has its own page).
OWN_PAGES: Final = frozenset({"rate"})
QUEUE_LIMIT: Final = 100


def form_fields(action: str) -> list[str]:
    """The fields an action's form asks for: exactly its required ones (and those one of their
    answers requires), then a note."""
    required = list(ACTIONS[action].required) + list(CONDITIONAL.get(action, {}))
    optional = (*OPTIONAL_OF.get(action, ()), *OPTIONAL)
    return required + [f for f in optional if f not in required]


@router.get("/queue")
async def queue_page(
    console: ConsoleDep, cursor: str | None = Query(None, max_length=512)
) -> Response:
    me = console.person(*STAFF)
    query = PageQuery(limit=QUEUE_LIMIT, cursor=cursor)
    s = console.services
    rows, orders = await s.db(_queue_rows, me, query.limit, query.cursor)
    page = routes_requests.summaries(s, rows)
    return console.render("queue.html", page=page, orders=order_page(orders, s.tz).items)


def _queue_rows(
    session: Session, me: Principal, limit: int, cursor: str | None
) -> tuple[Page, Page]:
    """The office's queue (``/v1/queue``) and the supervision orders addressed to it still
    waiting for its reply (``/v1/supervision/orders?status=open``), in one transaction: one
    worker thread and one connection per page instead of one per part."""
    queue = readmodel.work_queue(session, me.office, limit, cursor)
    waiting = list_orders(session, me, OrderFilters(status="open"), MAX_LIMIT)
    return queue, waiting


@router.get("/requests")
async def list_page(
    console: ConsoleDep,
    township: str | None = Query(None, max_length=12),
    overdue: str | None = Query(None, max_length=12),
    stage: str | None = Query(None, max_length=32),
    cursor: str | None = Query(None, max_length=512),
) -> Response:
    """Requests in scope, newest first (the drill-down of the board's cards)."""
    me = console.person(*PEOPLE)
    try:
        query = ListQuery(
            township=township or None, overdue=overdue or None, stage=stage or None,
            limit=50, cursor=cursor,
        )  # fmt: skip
    except ValidationError as error:
        raise _validation_problem(error) from None
    page = await routes_requests.list_requests(query, me, console.services)
    return console.render("list.html", page=page, filters=query)


def _checklist(console: ConsoleDep, item: str) -> list[str]:
    found = console.services.catalog.get(item)
    return list(found.materials) if found is not None else []


async def _ledger(console: ConsoleDep, me: Principal, request_id: str) -> list[Any]:
    if me.role not in OVERSIGHT:
        return []
    query = EventsQuery(request=request_id, limit=MAX_LIMIT)
    page = await routes_supervision.events(query, me, console.services)
    return list(reversed(page.items))  # oldest first, as a timeline reads


async def _request_parts(
    console: ConsoleDep, me: Principal, request_id: str
) -> tuple[RequestOut, list[Any], list[Any]]:
    """The request as recorded (``routes_requests.recorded_request``), its ledger and its
    notices, asked at once: the page waits for the slowest of the three instead of their sum.
    Each applies the caller's scope itself; when the request is out of scope its 404 is the
    page's answer and the other two are dropped."""
    s = console.services
    ledger = asyncio.ensure_future(_ledger(console, me, request_id))
    notices = asyncio.ensure_future(routes_notices.list_notices(request_id, me, s))
    try:
        state: RequestOut = await routes_requests.recorded_request(request_id, me, s)
    except BaseException:
        for task in (ledger, notices):
            task.cancel()
        await asyncio.gather(ledger, notices, return_exceptions=True)
        raise
    events, notice_list = await asyncio.gather(ledger, notices)
    return state, events, notice_list.items


async def render_request(
    console: ConsoleDep,
    request_id: str,
    *,
    problem: Problem | None = None,
    action: str | None = None,
    values: dict[str, Any] | None = None,
    verified: Any = None,
) -> Response:
    me = console.person(*PEOPLE)
    state, ledger, notices = await _request_parts(console, me, request_id)
    forms = [a for a in state.allowed_actions if a not in OWN_PAGES]
    done = console.request.query_params.get("done")
    return console.render(
        "request.html",
        status=problem.status if problem is not None else 200,
        r=state,
        forms=[(a, form_fields(a), ACTIONS[a].required) for a in forms],
        checklist=_checklist(console, state.item),
        gap_checklist=state.gap_materials,
        pause_reasons=PAUSE_REASONS,
        outcomes=RECTIFY_OUTCOMES,
        problem_lines=problem_words(problem, action) if problem is not None else [],
        field_errors=error_fields(problem, action),
        failed_action=action,
        values=values or {},
        done=done if done in ACTIONS or done == "submit" else None,
        ledger=ledger,
        notices=notices,
        verified=verified,
    )


@router.get("/r/{request_id}")
async def request_page(console: ConsoleDep, request_id: str) -> Response:
    return await render_request(console, request_id)


def action_body(form: dict[str, Any]) -> dict[str, Any]:
    """The API's action body from a form: only the fields this action's form asks for, empty ones
    left out so that the API's own checks name what is missing."""
    action = str(form.get("action", ""))
    body: dict[str, Any] = {"action": action}
    if action not in ACTIONS:
        return body
    for name in form_fields(action):
        if name == "missing_materials":
            picked = form.get("missing_materials[]") or []
            picked = [picked] if isinstance(picked, str) else picked
            extra = str(form.get("missing_other") or "").splitlines()
            materials = [m.strip() for m in [*picked, *extra] if m.strip()]
            if materials:
                body[name] = materials
            continue
        value = form.get(name)
        if isinstance(value, str) and value.strip():
            body[name] = {"true": True, "false": False}.get(value, value.strip())
    for name, (other, answer) in CONDITIONAL.get(action, {}).items():
        if body.get(other) != answer:
            body.pop(name, None)
    return body


@router.post("/r/{request_id}/act")
async def act(console: ConsoleDep, request_id: str) -> Response:
    me = console.person(*PEOPLE)
    form = await console.form()
    body = action_body(form)
    try:
        action_in = ActionIn.model_validate(body)
    except ValidationError as error:
        problem: Problem = _validation_problem(error)
        return await render_request(
            console, request_id, problem=problem, action=body["action"], values=form
        )
    try:
        client = await console.services.temporal()
        await routes_requests.act(request_id, action_in, me, console.services, client)
    except Problem as error:
        if error.status == 404:
            raise
        return await render_request(
            console, request_id, problem=error, action=body["action"], values=form
        )
    return console.redirect(f"/r/{request_id}?done={body['action']}")


@router.get("/n/{number}")
async def notice(console: ConsoleDep, number: str) -> Response:
    """A notice to print (A4 print styles), in the person's scope as through the API."""
    me = console.person(*PEOPLE)
    return await routes_notices.get_notice(number, me, console.services)


@router.get("/n/{number}/pdf")
async def notice_pdf(console: ConsoleDep, number: str) -> Response:
    me = console.person(*PEOPLE)
    return await routes_notices.get_notice(number, me, console.services, accept=routes_notices.PDF)


@router.get("/r/{request_id}/verify")
async def verify(console: ConsoleDep, request_id: str) -> Response:
    """The supervisor's verify button: re-check this request's hash chain."""
    me = console.person(*OVERSIGHT)
    result = await routes_supervision.verify_chains(me, console.services, request_id)
    return await render_request(console, request_id, verified=result)

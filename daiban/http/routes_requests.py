"""Routes of requests: submit, read, act, rate, list, and the staff work queue.

Writes go to Temporal (update-with-start for a submission, an update per action); a single request
is read from the workflow query while the workflow exists, else from the read model; lists and
queues come from the read model only. Scope is checked on the read model before Temporal is asked.

Longer than most modules on purpose: submit and act share their Temporal deadlines, their
idempotency and their mapping of failures, and reading the two side by side is the point.
"""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

from fastapi import APIRouter, Header, Path, Query, Response
from sqlmodel import Session
from starlette.concurrency import run_in_threadpool
from temporalio.client import (
    Client,
    RPCTimeoutOrCancelledError,
    WithStartWorkflowOperation,
    WorkflowQueryFailedError,
    WorkflowUpdateFailedError,
)
from temporalio.common import WorkflowIDConflictPolicy, WorkflowIDReusePolicy
from temporalio.exceptions import WorkflowAlreadyStartedError
from temporalio.service import RPCError, RPCStatusCode

from daiban.domain.intake import item_spec, policy
from daiban.domain.privacy import for_viewer, mask_resident, sees_resident
from daiban.domain.scope import RATING_LINK, Principal, state_in_scope
from daiban.http.deps import (
    AgentDep,
    CatalogDep,
    ClientDep,
    EngineDep,
    PrincipalDep,
    Services,
    ServicesDep,
    SettingsDep,
    StaffDep,
)
from daiban.http.problems import (
    RETRY_LATER,
    Forbidden,
    InvalidInput,
    Problem,
    Unavailable,
    from_temporal,
    invalid,
    not_found,
    responses,
)
from daiban.store import access, idempotency, numbers, readmodel, residents
from daiban.store.idempotency import KEY_MAX, Claim
from models.actions import ACTIONS, allowed_actions, field_errors
from models.contracts import ActionCommand, RequestInput, RequestState, Resident
from models.db import RequestRow
from models.schemas import (
    ActionIn,
    ListQuery,
    PageQuery,
    RequestOut,
    RequestPage,
    ResidentOut,
    SubmitIn,
    request_out,
    summary_out,
)
from workflows.request import ResidentRequestWorkflow

router = APIRouter(prefix="/v1", tags=["requests"])
# A query that takes longer means Temporal is in trouble: answer from the read model instead.
QUERY_TIMEOUT = timedelta(seconds=5)
# How long a submission or an action may wait for the workflow before the caller hears 503 with
# Retry-After. The workflow goes on: a retried submission (same Idempotency-Key) finds it, and an
# action either applied in full or not at all.
TEMPORAL_CALL_TIMEOUT = timedelta(seconds=10)
# What a workflow query may end in besides a state (Problem: Temporal is not connected).
QUERY_ERRORS = (Problem, RPCError, RPCTimeoutOrCancelledError, WorkflowQueryFailedError)
RequestId = Annotated[str, Path(pattern=r"^[A-Za-z0-9_-]{1,64}$", description="request id")]


def workflow_id(request_id: str) -> str:
    return f"req-{request_id}"


async def present(
    services: Services, principal: Principal, state: RequestState, endpoint: str
) -> RequestOut:
    """The state as this caller may see it; a resident shown in the clear is recorded in the
    access record (who, when, which request, through which endpoint)."""
    allowed = allowed_actions(state, principal.actor())
    if principal.role == RATING_LINK:
        allowed = [a for a in allowed if a == "rate"]
    if sees_resident(principal, state):
        place = [(state.id, state.township, state.city)]
        now = datetime.now(UTC)
        try:
            await services.db(access.record, principal, place, endpoint, now)
        except Unavailable:
            # The database is away (the state came from Temporal alone): without the record,
            # the resident is not shown in the clear.
            state = replace(state, resident=mask_resident(state.resident))
    return request_out(for_viewer(principal, state), allowed, services.tz)


async def current_state(services: Services, row: RequestRow) -> RequestState:
    """The live state from the workflow query; the read model's copy when the workflow is gone
    (past retention) or Temporal cannot answer now."""
    try:
        return await _query_state(services, row.id)
    except QUERY_ERRORS:
        return residents.state_of(row, services.sealer)


async def scoped_row(services: Services, principal: Principal, request_id: str) -> RequestRow:
    row = await services.db(readmodel.request_in_scope, principal, request_id)
    if row is None:
        raise not_found()
    return row


# --- submit ------------------------------------------------------------------------------------


@router.post(
    "/requests",
    status_code=201,
    response_model=RequestOut,
    responses={
        200: {"description": "A replayed Idempotency-Key: the same request", "model": RequestOut},
        **responses(401, 403, 413, 422, 429, 503),
    },
)
async def submit(
    body: SubmitIn,
    principal: AgentDep,
    services: ServicesDep,
    client: ClientDep,
    settings: SettingsDep,
    engine: EngineDep,
    catalog: CatalogDep,
    response: Response,
    idempotency_key: Annotated[
        str | None, Header(min_length=1, max_length=KEY_MAX, alias="Idempotency-Key")
    ] = None,
) -> RequestOut:
    """Register a resident's request at the agent's village (update-with-start: the workflow
    starts and the reply carries its first deadlines)."""
    services.limiter.check(principal.sub)
    item = catalog.get(body.item)
    if item is None:
        raise invalid("item", f"unknown service item {body.item!r}")
    offices = await services.offices()
    city = offices.city_of(principal.office)

    def numbering(session: Session) -> str:
        return numbers.next_number(session, city, datetime.now(UTC), services.tz)

    if idempotency_key is None:
        number = await services.db(numbering)
        claim = Claim(uuid.uuid4().hex, created=True, number=number)
    else:
        digest = idempotency.body_hash(principal.office, body.model_dump(mode="json"))
        claim = await run_in_threadpool(
            idempotency.claim, engine, principal.sub, idempotency_key, digest, None, numbering
        )
    inp = RequestInput(
        request_id=claim.request_id,
        item=item_spec(item),
        village=principal.office,
        # The township the proxy room hands off to: up past its community service center.
        township=offices.township_of(principal.office) or "",
        city=city,
        resident=Resident(**body.resident.model_dump()),
        agent=principal.actor(),
        materials=list(body.materials),
        note=body.note,
        channel=body.channel,
        policy=policy(settings),
        number=claim.number or "",
    )
    try:
        state = await _start(
            client, inp, settings.task_queue, WorkflowIDReusePolicy.REJECT_DUPLICATE
        )
    except WorkflowAlreadyStartedError:
        row = await services.db(readmodel.request_in_scope, principal, inp.request_id)
        if row is not None:
            # A replayed key whose request has closed since: answer with it as it is now.
            state = await current_state(services, row)
        else:
            # The key's first submission ended without being recorded (its run failed or was
            # terminated): submit it again under the same id rather than answer 404 for as long
            # as the key lives. Only a failed run's id may be reused, never a finished request's.
            try:
                state = await _start(
                    client,
                    inp,
                    settings.task_queue,
                    WorkflowIDReusePolicy.ALLOW_DUPLICATE_FAILED_ONLY,
                )
            except WorkflowAlreadyStartedError:
                raise Unavailable(
                    "the request is being registered; retry", headers=RETRY_LATER
                ) from None
    response.headers["Location"] = f"/v1/requests/{claim.request_id}"
    if not claim.created:
        response.status_code = 200
    return await present(services, principal, state, "submit")


async def _start(
    client: Client, inp: RequestInput, task_queue: str, reuse: WorkflowIDReusePolicy
) -> RequestState:
    """Update-with-start of ``ready``, within ``TEMPORAL_CALL_TIMEOUT``: a submission made while
    the workflow cannot record it (database or worker away) is a 503, never a hang."""
    start = WithStartWorkflowOperation(
        ResidentRequestWorkflow.run,
        inp,
        id=workflow_id(inp.request_id),
        task_queue=task_queue,
        # Concurrent duplicates of one key attach to the one workflow.
        id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        id_reuse_policy=reuse,
    )
    call = client.execute_update_with_start_workflow(
        ResidentRequestWorkflow.ready,
        start_workflow_operation=start,
        rpc_timeout=TEMPORAL_CALL_TIMEOUT,
    )
    try:
        try:
            state: RequestState = await asyncio.wait_for(
                call, TEMPORAL_CALL_TIMEOUT.total_seconds()
            )
        except BaseException:
            # The SDK settles the start's handle with how the call failed (timed out, refused as
            # already started, …); read it, or asyncio logs "exception was never retrieved",
            # with a traceback, for every such submission.
            asyncio.ensure_future(start.workflow_handle()).add_done_callback(_settled)
            raise
    except TimeoutError:
        raise Unavailable(
            "the request is not registered yet; retry with the same Idempotency-Key",
            headers=RETRY_LATER,
        ) from None
    except (RPCError, RPCTimeoutOrCancelledError, WorkflowUpdateFailedError) as error:
        raise from_temporal(error) from None
    return state


def _settled(task: asyncio.Future[Any]) -> None:
    if not task.cancelled():
        task.exception()


# --- one request -------------------------------------------------------------------------------


@router.get("/requests/{id}", response_model=RequestOut, responses=responses(401, 403, 404, 422))
async def get_request(id: RequestId, principal: PrincipalDep, services: ServicesDep) -> RequestOut:
    # The scope check (read model) and the live state (workflow query) are independent reads:
    # asked at once, a GET waits for the slower of the two instead of their sum. A state fetched
    # for a request out of the caller's scope is dropped unseen.
    query = asyncio.ensure_future(_query_state(services, id))
    try:
        row = await scoped_row(services, principal, id)
    except Unavailable:
        # The database is away: a request that is still running can be read from Temporal
        # alone, with the same scope rules applied to its state.
        live = await _live_state_in_scope(query, principal)
        return await present(services, principal, live, "request")
    except BaseException:
        _discard(query)
        raise
    try:
        state = await query
    except QUERY_ERRORS:
        # Past retention, or Temporal cannot answer now: the read model's copy.
        state = residents.state_of(row, services.sealer)
    return await present(services, principal, state, "request")


async def recorded_request(request_id: str, principal: Principal, services: Services) -> RequestOut:
    """The request as recorded: the read model's copy, presented as ``GET /v1/requests/{id}``
    presents the live state (same scope, same masking, same allowed actions). The console's pages
    read this: every action's answer waits until its transition is recorded, so after an action
    the copy is the state it made, and a page never waits for the worker, however busy. Only when
    the database is away is the live state asked for, with the same scope rules."""
    try:
        row = await scoped_row(services, principal, request_id)
    except Unavailable:
        query = asyncio.ensure_future(_query_state(services, request_id))
        live = await _live_state_in_scope(query, principal)
        return await present(services, principal, live, "request")
    return await present(services, principal, residents.state_of(row, services.sealer), "request")


async def _query_state(services: Services, request_id: str) -> RequestState:
    client = await services.temporal()
    handle = client.get_workflow_handle(workflow_id(request_id))
    return await handle.query(ResidentRequestWorkflow.state, rpc_timeout=QUERY_TIMEOUT)


def _discard(task: asyncio.Future[RequestState]) -> None:
    """Stop a query whose answer is not wanted, and consume its error if it already failed."""
    if task.done():
        if not task.cancelled():
            task.exception()
    else:
        task.cancel()


async def _live_state_in_scope(
    query: asyncio.Future[RequestState], principal: Principal
) -> RequestState:
    try:
        state = await query
    except RPCError as error:
        if error.status == RPCStatusCode.NOT_FOUND:
            raise not_found() from None
        raise Unavailable("neither the database nor Temporal can answer now") from None
    except QUERY_ERRORS:
        raise Unavailable("neither the database nor Temporal can answer now") from None
    if not state_in_scope(principal, state):
        raise not_found()
    return state


async def _act(
    services: Services, client: Client, principal: Principal, request_id: str, cmd: ActionCommand
) -> RequestOut:
    state = await act_on(services, client, principal, request_id, cmd)
    return await present(services, principal, state, cmd.action)


async def act_on(
    services: Services, client: Client, principal: Principal, request_id: str, cmd: ActionCommand
) -> RequestState:
    """Send one action to the request's workflow; its new state, or the problem it answered."""
    outcome = "error"
    try:
        if cmd.actor.role not in ACTIONS[cmd.action].roles:
            raise Forbidden(f"role {principal.role} may never {cmd.action}")
        errors = field_errors(cmd)
        if errors:
            raise InvalidInput("; ".join(e["message"] for e in errors), errors)
        await scoped_row(services, principal, request_id)
        # Bound to this request and single-use, inside the encrypted payload: the workflow
        # refuses a command copied from another request's history or sent twice.
        cmd = replace(cmd, request_id=request_id, command_id=uuid.uuid4().hex)
        handle = client.get_workflow_handle(workflow_id(request_id))
        call = handle.execute_update(
            ResidentRequestWorkflow.act, cmd, id=cmd.command_id, rpc_timeout=TEMPORAL_CALL_TIMEOUT
        )
        try:
            state = await asyncio.wait_for(call, TEMPORAL_CALL_TIMEOUT.total_seconds())
        except TimeoutError:
            # The action may still apply (in full) once the workflow is answered: the caller
            # reads the request before trying again.
            raise Unavailable("the request did not answer in time", headers=RETRY_LATER) from None
        except (WorkflowUpdateFailedError, RPCError, RPCTimeoutOrCancelledError) as error:
            raise from_temporal(error) from None
        outcome = "ok"
        return state
    except Problem as problem:
        outcome = problem.slug
        raise
    finally:
        services.metrics.actions.labels(cmd.action, outcome).inc()


@router.post(
    "/requests/{id}/actions",
    response_model=RequestOut,
    responses=responses(401, 403, 404, 409, 413, 422, 503),
)
async def act(
    id: RequestId, body: ActionIn, principal: PrincipalDep, services: ServicesDep, client: ClientDep
) -> RequestOut:
    """One action of the stage/action table; the reply is the request's new state. A ``rate``
    sent here is the agent's word (``agent_unconfirmed``): the resident's own rating goes through
    ``POST /v1/requests/{id}/rating`` with a rating link or a confirmation code."""
    # mode="json": dates cross the workflow boundary as ISO strings (the contract says so).
    cmd = ActionCommand(actor=principal.actor(), **body.model_dump(mode="json"))
    return await _act(services, client, principal, id, cmd)


# --- lists -------------------------------------------------------------------------------------


def summaries(services: Services, page: readmodel.Page) -> RequestPage:
    """A page of read-model rows as the lists answer it (residents masked, never opened): also
    what the console shows for rows it read itself."""
    items = [
        summary_out(
            row,
            ResidentOut(**vars(residents.masked_resident(row.state))),
            services.tz,
        )
        for row in page.rows
    ]
    return RequestPage(items=items, next_cursor=page.next_cursor)


@router.get("/requests", response_model=RequestPage, responses=responses(401, 403, 422))
async def list_requests(
    query: Annotated[ListQuery, Query()], principal: PrincipalDep, services: ServicesDep
) -> RequestPage:
    """Requests in the caller's scope, newest first; residents masked."""
    filters = readmodel.RequestFilters(
        stage=query.stage,
        office=query.office,
        township=query.township,
        community=query.community,
        item=query.item,
        overdue=query.overdue,
        created_from=services.local_time(query.created_from),
        created_to=services.local_time(query.created_to),
    )
    page = await services.db(readmodel.list_requests, principal, filters, query.limit, query.cursor)
    return summaries(services, page)


@router.get("/queue", response_model=RequestPage, responses=responses(401, 403, 422))
async def queue(
    query: Annotated[PageQuery, Query()], principal: StaffDep, services: ServicesDep
) -> RequestPage:
    """Open requests waiting on the caller's office, earliest deadline first."""
    page = await services.db(readmodel.work_queue, principal.office, query.limit, query.cursor)
    return summaries(services, page)

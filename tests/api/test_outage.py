"""The database or the workers are away: reads that need only Temporal still answer, a
submission answers 503 with Retry-After in bounded time, and its retried key finishes (or starts
again) the first submission. Nothing answers 500, nothing hangs, no key answers 404."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import httpx
from sqlmodel import Session, select

from api import create_app
from daiban.core.settings import Settings
from daiban.store.db import make_engine
from models.db import IdempotencyKey
from tests.api.conftest import FAR_VILLAGE, VILLAGE, Caller, Stack, serve
from worker import build_worker

DEAD_DATABASE = "postgresql://daiban@127.0.0.1:1/daiban"  # connection refused


async def test_reads_during_a_database_outage(stack: Stack, agent: Caller) -> None:
    rid = await agent.new_request()
    await agent.do(rid, "handoff")
    dead = make_engine(DEAD_DATABASE)
    app = create_app(stack.settings, client=stack.client, engine=dead)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url) as http:
        same_agent = Caller(http, stack.token("agent", VILLAGE), "agent", VILLAGE)
        stranger = Caller(http, stack.token("agent", FAR_VILLAGE), "agent", FAR_VILLAGE)
        # One request, live in Temporal: read from the workflow, scope still enforced.
        response = await same_agent.get(f"/v1/requests/{rid}")
        assert response.status_code == 200, response.text
        assert response.json()["stage"] == "township_review"
        assert (await stranger.get(f"/v1/requests/{rid}")).status_code == 404
        assert (await same_agent.get("/v1/requests/no-such-request")).status_code == 404
        # Reads that need the database say so with a 503 problem the client may retry.
        for path in ("/v1/requests", "/v1/catalog"):
            response = await same_agent.get(path)
            assert response.status_code in (200, 503), (path, response.text)
        listing = await same_agent.get("/v1/requests")
        assert listing.status_code == 503
        assert listing.headers["content-type"].startswith("application/problem+json")
        ready = await http.get("/readyz")
        assert ready.status_code == 503 and ready.json()["status"] == "not_ready"
    dead.dispose()


@asynccontextmanager
async def api_without_worker(stack: Stack) -> AsyncIterator[tuple[Caller, Settings]]:
    """The API of a task queue no worker serves yet: a workflow started there cannot record its
    registration (as during a database outage, or with every worker down)."""
    settings = stack.settings.model_copy(update={"task_queue": f"api-{uuid.uuid4().hex[:8]}"})
    app = create_app(settings, client=stack.client, engine=stack.engine)
    async with serve(app) as base_url, httpx.AsyncClient(base_url=base_url, timeout=60) as http:
        yield Caller(http, stack.token("agent", VILLAGE, f"agent-{uuid.uuid4().hex[:6]}")), settings


async def unavailable_in_time(caller: Caller, key: str) -> httpx.Response:
    # Bounded here so that a submission that hangs fails the test instead of stalling it.
    response = await asyncio.wait_for(caller.submit(key=key), timeout=45)
    assert response.status_code == 503, response.text
    assert response.headers["content-type"].startswith("application/problem+json")
    assert int(response.headers["Retry-After"]) > 0
    return response


async def test_a_submission_that_cannot_be_recorded_is_a_503_then_its_key_finishes_it(
    stack: Stack,
) -> None:
    async with api_without_worker(stack) as (agent, settings):
        key = uuid.uuid4().hex
        await unavailable_in_time(agent, key)
        async with build_worker(
            stack.client, stack.engine, settings, task_queue=settings.task_queue
        ):
            response = await agent.submit(key=key)
            assert response.status_code == 200, response.text  # the key's one request
            rid = response.json()["id"]
            assert response.json()["stage"] == "village_intake"
            count = await stack.client.count_workflows(f"WorkflowId = 'req-{rid}'")
            assert count.count == 1


async def test_a_key_whose_first_submission_ended_unrecorded_starts_it_again(
    stack: Stack,
) -> None:
    async with api_without_worker(stack) as (agent, settings):
        key = uuid.uuid4().hex
        await unavailable_in_time(agent, key)
        with Session(stack.engine) as session:
            claim = session.exec(select(IdempotencyKey).where(IdempotencyKey.key == key)).one()
        # The first run ends before anything was recorded (an operator terminated it; before
        # the atomic-transitions patch, a failed deadline computation failed it the same way).
        await stack.client.get_workflow_handle(f"req-{claim.request_id}").terminate("stuck")
        async with build_worker(
            stack.client, stack.engine, settings, task_queue=settings.task_queue
        ):
            response = await agent.submit(key=key)
            assert response.status_code == 200, response.text
            assert response.json()["id"] == claim.request_id
            assert response.json()["stage"] == "village_intake"
            again = await agent.submit(key=key)
            assert (again.status_code, again.json()["id"]) == (200, claim.request_id)

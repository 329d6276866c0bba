"""Idempotency-Key: one key of one agent is one request, however often and however concurrently
it is sent; another body under the same key is refused."""

from __future__ import annotations

import asyncio
import gc
import logging
import uuid
from datetime import timedelta

import pytest
from sqlmodel import Session, col, func, select

from models.db import IdempotencyKey, RequestRow, utc_now
from tests.api.conftest import RESIDENT, VILLAGE, Stack


def rows_of(stack: Stack, agent_sub: str) -> list[RequestRow]:
    with Session(stack.engine) as session:
        return list(session.exec(select(RequestRow).where(col(RequestRow.agent) == agent_sub)))


async def test_twenty_concurrent_submits_make_one_request(stack: Stack) -> None:
    sub = f"agent-{uuid.uuid4().hex[:8]}"
    agent = stack.caller("agent", VILLAGE, sub)
    key = uuid.uuid4().hex
    responses = await asyncio.gather(*(agent.submit(key=key) for _ in range(20)))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [200] * 19 + [201], [r.text for r in responses if r.status_code >= 300]
    ids = {r.json()["id"] for r in responses}
    assert len(ids) == 1
    (rid,) = ids
    assert all(r.headers["Location"] == f"/v1/requests/{rid}" for r in responses)

    count = await stack.client.count_workflows(f"WorkflowId = 'req-{rid}'")
    assert count.count == 1
    assert [row.id for row in rows_of(stack, sub)] == [rid]
    with Session(stack.engine) as session:
        keys = session.exec(
            select(func.count()).select_from(IdempotencyKey).where(IdempotencyKey.agent == sub)
        ).one()
    assert keys == 1

    # Later, the same key again: the same request, 200.
    again = await agent.submit(key=key)
    assert (again.status_code, again.json()["id"]) == (200, rid)


async def test_same_key_other_body_is_422(stack: Stack) -> None:
    agent = stack.caller("agent", VILLAGE, f"agent-{uuid.uuid4().hex[:8]}")
    key = uuid.uuid4().hex
    assert (await agent.submit(key=key)).status_code == 201
    response = await agent.submit(key=key, note="another body")
    assert response.status_code == 422
    assert response.json()["errors"] == [
        {"field": "Idempotency-Key", "message": "this key was used with a different request body"}
    ]


async def test_keys_are_per_agent(stack: Stack) -> None:
    key = uuid.uuid4().hex
    first = await stack.caller("agent", VILLAGE, "agent-one").submit(key=key)
    second = await stack.caller("agent", VILLAGE, "agent-two").submit(key=key)
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]


async def test_replay_after_the_request_closed(
    stack: Stack, caplog: pytest.LogCaptureFixture
) -> None:
    agent = stack.caller("agent", VILLAGE, f"agent-{uuid.uuid4().hex[:8]}")
    key = uuid.uuid4().hex
    rid = (await agent.submit(key=key)).json()["id"]
    await agent.do(rid, "withdraw")
    await stack.client.get_workflow_handle(f"req-{rid}").result()  # the workflow has ended
    with caplog.at_level(logging.ERROR, logger="asyncio"):
        again = await agent.submit(key=key)
        assert again.status_code == 200
        assert (again.json()["id"], again.json()["stage"]) == (rid, "withdrawn")
        # The refused start's handle was read: asyncio has no unretrieved exception to log (an
        # error line with a traceback for every such replay) when the future is collected.
        await asyncio.sleep(0)
        gc.collect()
    assert not [r for r in caplog.records if "never retrieved" in r.getMessage()]


async def test_an_expired_key_makes_a_new_request(stack: Stack) -> None:
    sub = f"agent-{uuid.uuid4().hex[:8]}"
    agent = stack.caller("agent", VILLAGE, sub)
    key = uuid.uuid4().hex
    old = (await agent.submit(key=key)).json()["id"]
    with Session(stack.engine) as session:
        row = session.get(IdempotencyKey, (sub, key))
        assert row is not None
        row.created_at = utc_now() - timedelta(hours=25)
        session.add(row)
        session.commit()
    fresh = await agent.submit(key=key, resident={**RESIDENT, "name": "李四"})
    assert fresh.status_code == 201
    assert fresh.json()["id"] != old
    assert {row.id for row in rows_of(stack, sub)} == {old, fresh.json()["id"]}


async def test_without_a_key_every_submit_is_new(stack: Stack) -> None:
    agent = stack.caller("agent", VILLAGE, f"agent-{uuid.uuid4().hex[:8]}")
    first, second = await agent.submit(), await agent.submit()
    assert (first.status_code, second.status_code) == (201, 201)
    assert first.json()["id"] != second.json()["id"]

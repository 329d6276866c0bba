"""No command around the API (docs/design.md §6): commands sent to Temporal directly, as anyone who
reaches its frontend could, through a real Temporal client. Each test failed before the fix."""

from __future__ import annotations

import asyncio
import json
import uuid
from dataclasses import asdict

import pytest
from sqlmodel import Session
from temporalio.api.common.v1 import Payload
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError

from daiban.domain.catalog import load_catalog
from daiban.domain.intake import item_spec, policy
from models.contracts import ActionCommand, Actor, RequestInput, Resident
from models.db import RequestRow
from tests.api.conftest import (
    CITY,
    RESIDENT,
    TOWNSHIP,
    VILLAGE,
    Caller,
    Stack,
)
from tests.api.test_codec_endpoint import as_json, from_json

# --- 2. no command around the API --------------------------------------------------------------
from tests.api.trust_helpers import (
    accepted_update_payloads,
    at_township,
    ledger_count,
    raw_client,
    send_raw_update,
)


async def test_a_plain_json_command_sent_to_temporal_is_refused(
    stack: Stack, agent: Caller
) -> None:
    rid = await at_township(agent)
    before = ledger_count(stack, rid)
    forged = ActionCommand(
        "accept",
        Actor("forger", "township_staff", TOWNSHIP),
        request_id=rid,
        command_id=uuid.uuid4().hex,
    )
    # As `temporal workflow update execute --name act --input '{...}'` sends it: plain JSON.
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(asdict(forged)).encode())
    assert not await send_raw_update(stack, rid, plain)
    raw = await raw_client(stack)
    with pytest.raises(WorkflowUpdateFailedError):
        await raw.get_workflow_handle(f"req-{rid}").execute_update("act", asdict(forged))
    state = (await stack.caller("township_staff", TOWNSHIP).get(f"/v1/requests/{rid}")).json()
    assert state["stage"] == "township_review" and state["history"][-1]["action"] == "handoff"
    assert ledger_count(stack, rid) == before
    assert "forger" not in json.dumps(state)


async def test_an_encrypted_command_is_bound_to_its_request_and_single_use(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    first, second = await at_township(agent), await at_township(agent)
    await staff.do(first, "accept")
    [copied] = await accepted_update_payloads(stack, first, "accept")
    before = ledger_count(stack, second), ledger_count(stack, first)
    # Copied from one request's history to another request: refused.
    assert not await send_raw_update(stack, second, copied)
    # Sent again to its own request: used already, refused.
    assert not await send_raw_update(stack, first, copied)
    assert (ledger_count(stack, second), ledger_count(stack, first)) == before
    state = (await staff.get(f"/v1/requests/{second}")).json()
    assert [h["action"] for h in state["history"]] == ["submit", "handoff"]
    # The API's own commands still go through.
    assert (await staff.do(second, "accept"))["history"][-1]["action"] == "accept"


async def test_the_codec_endpoint_cannot_seal_a_command(
    stack: Stack, agent: Caller, staff: Caller
) -> None:
    rid = await at_township(agent)
    forged = ActionCommand(
        "accept",
        Actor("forger", "township_staff", TOWNSHIP),
        request_id=rid,
        command_id=uuid.uuid4().hex,
    )
    plain = Payload(metadata={"encoding": b"json/plain"}, data=json.dumps(asdict(forged)).encode())
    response = await staff.post("/codec/encode", as_json(plain))
    assert response.status_code == 200, response.text
    [sealed] = from_json(response.json())
    assert not await send_raw_update(stack, rid, sealed)
    assert [h["action"] for h in (await staff.get(f"/v1/requests/{rid}")).json()["history"]] == [
        "submit",
        "handoff",
    ]


async def test_a_plain_workflow_start_never_runs(stack: Stack) -> None:
    """A request started around the API, with plain input: the worker never runs it."""
    rid = uuid.uuid4().hex
    item = load_catalog().get("linshi-jiuzhu")
    assert item is not None
    forged = RequestInput(
        request_id=rid,
        item=item_spec(item),
        village=VILLAGE,
        township=TOWNSHIP,
        city=CITY,
        resident=Resident(**RESIDENT),
        agent=Actor("forger", "agent", VILLAGE),
        policy=policy(stack.settings),
    )
    raw = await raw_client(stack)  # no codec: the input goes as plain JSON
    handle = await raw.start_workflow(
        "ResidentRequest",
        forged,
        id=f"req-{rid}",
        task_queue=stack.settings.task_queue,
    )
    try:
        await asyncio.sleep(2)
        with Session(stack.engine) as session:
            assert session.get(RequestRow, rid) is None
        assert ledger_count(stack, rid) == 0
        description = await handle.describe()
        assert description.status == WorkflowExecutionStatus.RUNNING  # its task keeps failing
        history = await handle.fetch_history()
        kinds = {event.event_type for event in history.events}
        assert EventType.EVENT_TYPE_WORKFLOW_TASK_COMPLETED not in kinds
    finally:
        await handle.terminate("test: forged start")

"""Helpers of the trust-boundary tests: what an attacker with access to Temporal holds (a client
without our keys, raw histories), and what the system wrote (ledger, access record)."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import Callable

from sqlmodel import Session, col, select
from temporalio.api.common.v1 import Payload, Payloads, WorkflowExecution
from temporalio.api.enums.v1 import EventType, UpdateWorkflowExecutionLifecycleStage
from temporalio.api.update.v1 import Input, Meta, WaitPolicy
from temporalio.api.update.v1 import Request as UpdateRequest
from temporalio.api.workflowservice.v1 import UpdateWorkflowExecutionRequest
from temporalio.client import Client

from daiban.core.codec import ENCODING
from models.contracts import ActionCommand
from models.db import AccessRow, LedgerRow
from tests.api.conftest import (
    Caller,
    Stack,
)
from tests.workflows.test_privacy import payloads

# --- helpers ------------------------------------------------------------------------------------


async def raw_client(stack: Stack) -> Client:
    """What anyone who reaches the Temporal frontend has: a client without our keys."""
    return await Client.connect(stack.settings.temporal_address, namespace="default")


async def sealed_payloads(stack: Stack, request_id: str) -> list[Payload]:
    raw = await raw_client(stack)
    history = await raw.get_workflow_handle(f"req-{request_id}").fetch_history()
    found = [p for event in history.events for p in payloads(event)]
    return [p for p in found if p.metadata.get("encoding") == ENCODING]


async def accepted_update_payloads(stack: Stack, request_id: str, action: str) -> list[Payload]:
    """The sealed argument of each accepted ``act`` update of this action, as the history (and
    ``temporal workflow show``) holds it."""
    raw = await raw_client(stack)
    history = await raw.get_workflow_handle(f"req-{request_id}").fetch_history()
    found = []
    for event in history.events:
        if event.event_type != EventType.EVENT_TYPE_WORKFLOW_EXECUTION_UPDATE_ACCEPTED:
            continue
        accepted = event.workflow_execution_update_accepted_event_attributes.accepted_request
        if accepted.input.name != "act":
            continue
        [payload] = accepted.input.args.payloads
        [command] = await stack.client.data_converter.decode([payload], [ActionCommand])
        if command.action == action:
            found.append(payload)
    return found


async def send_raw_update(stack: Stack, request_id: str, argument: Payload) -> bool:
    """Send an ``act`` update whose argument is these exact bytes; True if it was accepted."""
    raw = await raw_client(stack)
    response = await raw.workflow_service.update_workflow_execution(
        UpdateWorkflowExecutionRequest(
            namespace="default",
            workflow_execution=WorkflowExecution(workflow_id=f"req-{request_id}"),
            wait_policy=WaitPolicy(
                lifecycle_stage=UpdateWorkflowExecutionLifecycleStage.UPDATE_WORKFLOW_EXECUTION_LIFECYCLE_STAGE_COMPLETED
            ),
            request=UpdateRequest(
                meta=Meta(update_id=uuid.uuid4().hex, identity="attacker"),
                input=Input(name="act", args=Payloads(payloads=[argument])),
            ),
        )
    )
    return not response.outcome.HasField("failure")


async def wait_for(check: Callable[[], bool], tries: int = 100) -> None:
    for _ in range(tries):
        if check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


def ledger_count(stack: Stack, request_id: str) -> int:
    with Session(stack.engine) as session:
        query = select(LedgerRow).where(col(LedgerRow.request_id) == request_id)
        return len(session.exec(query).all())


def access_rows(stack: Stack, request_id: str) -> list[AccessRow]:
    with Session(stack.engine) as session:
        query = select(AccessRow).where(col(AccessRow.request_id) == request_id)
        return list(session.exec(query).all())


async def at_township(agent: Caller, item: str = "linshi-jiuzhu") -> str:
    """A request handed off to the township center (its staff now handle it)."""
    request_id = await agent.new_request(item)
    await agent.do(request_id, "handoff")
    return request_id


def shows(body: bytes, resident: dict[str, str]) -> bool:
    return any(
        value.encode() in body or json.dumps(value).encode() in body for value in resident.values()
    )

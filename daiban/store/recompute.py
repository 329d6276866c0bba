"""Telling running requests that the calendar data changed, so their deadlines are recomputed
(docs/design.md §2: a provisional deadline becomes final when the year is loaded)."""

from __future__ import annotations

from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.client import Client
from temporalio.service import RPCError, RPCStatusCode

from models.db import RequestRow
from workflows.request import ResidentRequestWorkflow


async def signal_open_requests(client: Client, engine: Engine) -> int:
    """Signal every open request (from the read model); returns how many were signalled."""
    with Session(engine) as session:
        ids = list(
            session.exec(
                select(RequestRow.id)
                .where(RequestRow.status == "open")
                .order_by(col(RequestRow.id))
            )
        )
    signalled = 0
    for request_id in ids:
        handle = client.get_workflow_handle(f"req-{request_id}")
        try:
            await handle.signal(ResidentRequestWorkflow.calendar_changed)
        except RPCError as error:
            if error.status != RPCStatusCode.NOT_FOUND:  # finished since the read: nothing to do
                raise
        else:
            signalled += 1
    return signalled

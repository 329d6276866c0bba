"""A retried activity never writes twice: the record activity fails after its commit once per
transition (a lost connection), Temporal retries it, and the ledger and outbox stay exact."""

from __future__ import annotations

import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio import activity
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from activities.calendar_source import CalendarSource
from activities.deadlines import DeadlineActivities
from activities.notify import Courier, LogGateway
from activities.records import RecordActivities
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from daiban.store.ledger import verify
from models.contracts import RESIDENT_RECIPIENT, TransitionRecord
from models.db import RatingLinkRow
from tests.workflows.conftest import AGENT, Harness
from worker import SANDBOXED_RUNNER
from workflows.request import ResidentRequestWorkflow


class FailAfterCommit(RecordActivities):
    attempts: Counter[int]

    @activity.defn(name="record_transition")
    async def record_transition(self, record: TransitionRecord) -> None:
        await super().record_transition(record)
        self.attempts[record.state.version] += 1
        if self.attempts[record.state.version] == 1:
            raise ConnectionError("connection lost after commit")


async def test_retried_record_writes_no_duplicate_rows(
    env: WorkflowEnvironment, engine: Engine
) -> None:
    settings = Settings(database_url=str(engine.url))
    source = CalendarSource(engine)
    records = FailAfterCommit(engine, source, Sealer.from_settings(settings))
    records.attempts = Counter()
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    worker = Worker(
        env.client,
        task_queue=task_queue,
        workflows=[ResidentRequestWorkflow],
        activities=[DeadlineActivities(source).compute_deadlines, records.record_transition],
        workflow_runner=SANDBOXED_RUNNER,
        activity_executor=ThreadPoolExecutor(4),
    )
    async with worker:
        harness = Harness(env=env, engine=engine, settings=settings, task_queue=task_queue)
        rid = await harness.submit()
        await harness.drive(rid)
        state = await harness.act(rid, "rate", AGENT, score=5)

    assert all(n == 2 for n in records.attempts.values())  # every transition was retried once
    assert len(records.attempts) == state.version == 6
    ledger = harness.ledger(rid)
    assert len(ledger) == len({r.event_key for r in ledger}) == len(state.history)
    assert [r.seq for r in ledger] == list(range(1, len(ledger) + 1))
    outbox = harness.outbox(rid)
    keys = [(r.event_key, r.recipient_office, r.recipient_role) for r in outbox]
    assert len(keys) == len(set(keys)) and all(r.status == "pending" for r in outbox)
    # The delivery's rating link to the resident: issued and queued once, however often retried.
    assert [r.recipient_role for r in outbox].count(RESIDENT_RECIPIENT) == 1
    with Session(engine) as session:
        assert len(session.exec(select(RatingLinkRow)).all()) == 1
    # Recording only queued them: the courier sends each once (the resident's text opened with
    # the codec keys).
    courier = Courier(engine, LogGateway(), sealer=Sealer.from_settings(settings))
    assert courier.deliver_round() == len(outbox)
    assert all((r.status, r.attempts) == ("sent", 1) for r in harness.outbox(rid))
    with Session(engine) as session:
        assert verify(session, rid).ok

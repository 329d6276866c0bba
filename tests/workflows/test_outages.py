"""Nothing half-done: a request whose deadlines cannot be computed (the calendar cannot be read)
neither fails nor half-applies a transition. An action answers that it cannot be applied now and
changes nothing; the workflow's own transitions (a rung, a calendar recomputation) wait and try
again, and apply in full once the calendar is back."""

from __future__ import annotations

import asyncio
import threading
import time
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import timedelta

import pytest
from sqlalchemy import Engine
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowExecutionStatus, WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError
from temporalio.testing import WorkflowEnvironment

from activities.calendar_source import CalendarSource
from activities.notify import WebhookGateway
from daiban.core.settings import Settings
from daiban.store.calendar import load_calendar_year
from daiban.store.db import session_scope
from models.contracts import ClockName
from tests.activities.test_notify import FakeSmsGateway
from tests.workflows.conftest import (
    AGENT,
    TOWNSHIP_PATH,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    CalendarDatabase,
    Harness,
    cst,
    date,
)
from worker import build_worker
from workflows.request import ResidentRequestWorkflow
from workflows.timeouts import DEADLINES_UNAVAILABLE, SYSTEM_RETRY_FIRST


@asynccontextmanager
async def worker_reading(harness: Harness, engine: Engine) -> AsyncIterator[None]:
    """A worker whose calendar comes from ``engine``: a fresh process, nothing cached yet. It
    keeps no workflow cache, so no sticky task queue outlives it and the next worker (the next
    deploy) receives the workflow tasks at once."""
    source = CalendarSource(engine, recheck_seconds=0)
    worker = build_worker(
        harness.client, harness.engine, harness.settings, task_queue=harness.task_queue,
        source=source, max_cached_workflows=0,
    )  # fmt: skip
    async with worker:
        yield


@pytest.fixture
def harness_only(env: WorkflowEnvironment, engine: Engine) -> Harness:
    """A harness whose tests start their own workers (one per simulated deploy)."""
    settings = Settings(database_url=str(engine.url))
    return Harness(env=env, engine=engine, settings=settings, task_queue=f"tq-{uuid.uuid4().hex}")


async def until(check: Callable[[], Awaitable[bool]], tries: int = 200) -> None:
    for _ in range(tries):
        if await check():
            return
        await asyncio.sleep(0.05)
    raise AssertionError("condition never held")


async def waiting_to_retry(harness: Harness, rid: str) -> bool:
    """True once the workflow waits on its retry timer; raises if the run ended instead."""
    handle = harness.handles[rid]
    description = await handle.describe()
    assert description.status == WorkflowExecutionStatus.RUNNING, description.status
    retry = int(SYSTEM_RETRY_FIRST.total_seconds())
    async for event in handle.fetch_history_events():
        if event.event_type == EventType.EVENT_TYPE_TIMER_STARTED:
            started = event.timer_started_event_attributes.start_to_fire_timeout
            if started.seconds == retry:
                return True
    return False


async def test_an_action_that_cannot_compute_its_deadlines_changes_nothing(
    harness_only: Harness, calendar_db: CalendarDatabase
) -> None:
    harness = harness_only
    async with worker_reading(harness, calendar_db.engine):
        rid = await harness.submit()
    calendar_db.down()
    async with worker_reading(harness, calendar_db.engine):
        before = await harness.state(rid)
        ledger = [r.event_key for r in harness.ledger(rid)]
        with pytest.raises(WorkflowUpdateFailedError) as info:
            await harness.act(rid, "handoff", AGENT)
        cause = info.value.cause
        assert isinstance(cause, ApplicationError) and cause.type == DEADLINES_UNAVAILABLE
        # Not at the township without clocks: exactly as before, in the state, ledger and row.
        assert await harness.state(rid) == before
        assert [r.event_key for r in harness.ledger(rid)] == ledger
        row = harness.row(rid)
        assert row is not None and row.version == before.version

        calendar_db.up()
        state = await harness.act(rid, "handoff", AGENT)
    assert state.stage == "township_review"
    assert [c.name for c in state.clocks] == [ClockName.ACCEPTANCE]
    assert state.deadline == cst("2030-03-11 17:00")
    assert [r.action for r in harness.ledger(rid)][-1] == "handoff"


async def test_a_retried_extension_counts_its_days_once(
    harness_only: Harness, calendar_db: CalendarDatabase
) -> None:
    harness = harness_only
    async with worker_reading(harness, calendar_db.engine):
        rid = await harness.submit()  # linshi-jiuzhu: 10 WD promised, 20 statutory
        await harness.act(rid, "handoff", AGENT)
        state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
        promised = state.deadline
        await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=3, note="需入户调查")
    calendar_db.down()
    async with worker_reading(harness, calendar_db.engine):
        with pytest.raises(WorkflowUpdateFailedError):
            await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
        calendar_db.up()
        state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    official = next(c for c in state.clocks if c.name == ClockName.OFFICIAL)
    assert official.extended_days == 3
    # Mon 18 March + 3 working days → Thu 21 March 17:00.
    assert promised == cst("2030-03-18 17:00")
    assert official.deadline == cst("2030-03-21 17:00")


async def test_a_rung_during_an_outage_waits_and_applies_after_it(
    harness_only: Harness, calendar_db: CalendarDatabase
) -> None:
    harness = harness_only
    async with worker_reading(harness, calendar_db.engine):
        rid = await harness.submit()
        await harness.act(rid, "handoff", AGENT)  # acceptance window until Mon 11 March 17:00
    calendar_db.down()
    async with worker_reading(harness, calendar_db.engine):
        # The window expires while the calendar cannot be read: deemed acceptance must start the
        # official clock, which it cannot compute now. The request does not fail; it waits.
        await harness.skip_to(cst("2030-03-11 17:00") + timedelta(seconds=5))
        await until(lambda: waiting_to_retry(harness, rid))
        state = await harness.state(rid)
        assert not state.deemed_accepted and state.stage == "township_review"

        calendar_db.up()
        await harness.skip_to(cst("2030-03-11 17:05"))
        state = await harness.eventually(rid, lambda s: s.deemed_accepted)
    assert [c.name for c in state.clocks] == [ClockName.OFFICIAL]
    # Deemed accepted as of arrival (Mon 4 March 09:00) + 10 working days → Mon 18 March.
    assert state.deadline == cst("2030-03-18 17:00")
    assert [r.action for r in harness.ledger(rid) if r.kind == "action"][-1] == "deemed_accept"


async def test_a_calendar_edit_during_an_outage_is_applied_after_it(
    harness_only: Harness, calendar_db: CalendarDatabase
) -> None:
    harness = harness_only
    async with worker_reading(harness, calendar_db.engine):
        # Registered in late December: the hand-off deadline falls in 2031, not yet loaded.
        rid = await harness.submit(at=cst("2030-12-30 09:00"))
        state = await harness.state(rid)
        assert state.deadline_provisional
    calendar_db.down()
    with session_scope(harness.engine) as session:
        load_calendar_year(session, 2031, [date(2031, 1, d) for d in (1, 2, 3)], [], note="2031")
    async with worker_reading(harness, calendar_db.engine):
        await harness.handles[rid].signal(ResidentRequestWorkflow.calendar_changed)
        await until(lambda: waiting_to_retry(harness, rid))
        assert (await harness.state(rid)).deadline_provisional

        calendar_db.up()
        await harness.skip_to(cst("2030-12-30 09:05"))
        state = await harness.eventually(rid, lambda s: not s.deadline_provisional)
    # Two working days from Mon 30 December: Tue 31 December, then (1–3 January off, a weekend)
    # Mon 6 January; provisionally (Monday–Friday) it was Wed 1 January.
    assert state.deadline == cst("2031-01-06 17:00")
    assert state.history[-1].action == "recompute_deadlines"


@pytest.fixture
def hanging_sms() -> Iterator[FakeSmsGateway]:
    server = FakeSmsGateway()
    server.hanging = True
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield server
    server.shutdown()


async def test_a_hanging_webhook_holds_no_transition_and_receives_nothing_twice(
    harness_only: Harness, hanging_sms: FakeSmsGateway
) -> None:
    """A gateway that accepts connections and never answers: every action and rung applies and
    is recorded at once; the notifications wait in the outbox, each tried once so far."""
    harness = harness_only
    sms = hanging_sms
    worker = build_worker(
        harness.client, harness.engine, harness.settings, task_queue=harness.task_queue,
        gateway=WebhookGateway(sms.url, timeout=2.0),
    )  # fmt: skip
    async with worker:
        started = time.monotonic()
        rid = await harness.submit()
        for action, actor in TOWNSHIP_PATH:
            await harness.act(rid, action, actor)
        # Four transitions, each with notifications: recorded without waiting on the gateway.
        assert time.monotonic() - started < 6  # inline delivery took over 15 s here
        state = await harness.eventually(rid, lambda s: s.stage == "awaiting_rating")
        assert len(harness.ledger(rid)) == len(state.history)
    assert sorted(sms.hung) == sorted(set(sms.hung))  # no notification posted twice
    assert all(r.status == "pending" for r in harness.outbox(rid))

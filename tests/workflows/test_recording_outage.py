"""Nothing waits behind a recording that cannot finish: while the database is away, rungs fire at
their instants and actions are decided; once it is back, the ledger receives every transition
once, in the order the workflow decided them, and the read model catches up.

The database is taken away for real: its folder is moved aside and a plain file put in its place,
so SQLite can open nothing (every session opens the file again once the pool is emptied), and
moved back with everything it held.

Township item linshi-jiuzhu accepted Mon 2030-03-04 09:00: its official clock's yellow card is due
Fri 15 March 16:12 and its reminder the same day at 17:00 (tests/workflows/test_ladder.py).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import timedelta
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlmodel import Session
from temporalio.api.enums.v1 import EventType
from temporalio.client import WorkflowUpdateStage
from temporalio.testing import WorkflowEnvironment

from daiban.core.settings import Settings
from daiban.store.calendar import load_calendar_year
from daiban.store.db import make_engine, session_scope, upgrade
from daiban.store.ledger import verify
from models.contracts import ActionCommand
from tests.workflows.conftest import (
    AGENT,
    SCHEDULE_2030,
    TOWNSHIP_STAFF,
    Harness,
    cst,
    date,
)
from tests.workflows.test_ladder import minute
from tests.workflows.test_outages import until
from worker import build_worker
from workflows.request import ResidentRequestWorkflow
from workflows.timeouts import RECORD_HEARTBEAT

YELLOW = cst("2030-03-15 16:12")
REMINDER = cst("2030-03-15 17:00")


class MovableDatabase:
    """A SQLite database that can be taken away and brought back with what it held."""

    def __init__(self, folder: Path) -> None:
        self._folder, self._away = folder, folder.with_name(folder.name + "-away")
        folder.mkdir()
        url = f"sqlite:///{folder / 'daiban.db'}"
        upgrade(url)
        self.engine = make_engine(url)
        with session_scope(self.engine) as session:
            load_calendar_year(
                session,
                2030,
                [date.fromisoformat(d) for d in SCHEDULE_2030["holidays"]],
                [date.fromisoformat(d) for d in SCHEDULE_2030["workdays"]],
                note="test schedule",
            )

    def down(self) -> None:
        self._folder.rename(self._away)
        self._folder.write_text("")
        self.engine.dispose()  # no pooled connection outlives the outage

    def up(self) -> None:
        self._folder.unlink()
        self._away.rename(self._folder)


@pytest.fixture
def database(tmp_path: Path) -> MovableDatabase:
    return MovableDatabase(tmp_path / "db")


@pytest.fixture
async def harness(env: WorkflowEnvironment, database: MovableDatabase) -> AsyncIterator[Harness]:
    engine: Engine = database.engine
    settings = Settings(database_url=str(engine.url))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    async with build_worker(env.client, engine, settings, task_queue=task_queue):
        yield Harness(env=env, engine=engine, settings=settings, task_queue=task_queue)


async def accepted_request(harness: Harness) -> str:
    rid = await harness.submit("linshi-jiuzhu", earlier_ladder=True)  # its yellow at 90 %
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    official = next(c for c in state.clocks if c.name == "official")
    assert (official.yellow_at, official.reminder_at) == (YELLOW, REMINDER)
    return rid


def ledger_in_order(harness: Harness, rid: str) -> list[tuple[str, str | None]]:
    """(kind, action or level) of each ledger row, in ``seq`` order; checks the row keys."""
    rows = harness.ledger(rid)
    assert [r.seq for r in rows] == list(range(1, len(rows) + 1))
    assert len({r.event_key for r in rows}) == len(rows)  # each transition once
    with Session(harness.engine) as session:
        assert not verify(session).broken
    return [(r.kind, r.action or r.level) for r in rows]


async def test_rungs_fire_on_time_while_their_recording_waits_for_the_database(
    harness: Harness, database: MovableDatabase
) -> None:
    rid = await accepted_request(harness)
    await harness.skip_to(cst("2030-03-15 16:00"))
    database.down()
    # The yellow card's recording cannot finish; the reminder 48 minutes later is still decided
    # at its instant (before, it waited on the lock until the database was back).
    await harness.skip_to(REMINDER + timedelta(seconds=5))

    async def both_fired() -> bool:
        state = await harness.state(rid)
        return [e.level for e in state.escalations] == ["yellow", "reminder"]

    await until(both_fired)
    state = await harness.state(rid)
    assert [minute(e.at) for e in state.escalations] == [YELLOW, REMINDER]
    assert state.overdue == "yellow"

    database.up()
    state = await harness.eventually(rid, lambda s: s.version == state.version)
    assert ledger_in_order(harness, rid) == [
        ("action", "submit"),
        ("action", "handoff"),
        ("action", "accept"),
        ("escalation", "yellow"),
        ("escalation", "reminder"),
    ]
    # Recorded at the instants they were decided, not when the database came back.
    escalations = [r for r in harness.ledger(rid) if r.kind == "escalation"]
    assert [minute(r.at) for r in escalations] == [YELLOW, REMINDER]
    row = harness.row(rid)
    assert row is not None and row.version == state.version and row.overdue == "yellow"
    # Every recording is scheduled with a heartbeat timeout: a hung attempt is given up early.
    beats = [
        e.activity_task_scheduled_event_attributes.heartbeat_timeout.ToTimedelta()
        async for e in harness.handles[rid].fetch_history_events()
        if e.event_type == EventType.EVENT_TYPE_ACTIVITY_TASK_SCHEDULED
    ]
    assert beats and set(beats) == {RECORD_HEARTBEAT}


async def test_an_action_is_decided_during_the_outage_and_answers_once_recorded(
    harness: Harness, database: MovableDatabase
) -> None:
    rid = await accepted_request(harness)
    await harness.skip_to(cst("2030-03-15 16:00"))
    database.down()
    await harness.skip_to(cst("2030-03-15 16:20"))  # the yellow card fired; not recorded

    cmd = ActionCommand(
        action="approve",
        actor=TOWNSHIP_STAFF,
        request_id=rid,
        command_id=uuid.uuid4().hex,
        note="审核通过",
    )
    update = await harness.handles[rid].start_update(
        ResidentRequestWorkflow.act, cmd, wait_for_stage=WorkflowUpdateStage.ACCEPTED
    )

    async def decided() -> bool:
        return (await harness.state(rid)).stage == "result_delivery"

    await until(decided)  # decided at once, although the yellow card still waits to be recorded
    state = await harness.state(rid)
    assert [e.level for e in state.escalations] == ["yellow"]
    assert database_unreadable(harness, rid)

    database.up()
    answer = await update.result()
    # The answer still means "recorded": the read model holds that version when it comes.
    row_after = harness.row(rid)
    assert answer.stage == "result_delivery"
    assert row_after is not None and row_after.version >= answer.version
    assert ledger_in_order(harness, rid)[3:] == [("escalation", "yellow"), ("action", "approve")]


def database_unreadable(harness: Harness, rid: str) -> bool:
    """The database is away for the test too: reading it fails."""
    try:
        harness.row(rid)
    except Exception:
        return True
    return False

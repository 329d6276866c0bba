"""An attempt of ``record_transition`` beats while it writes, and one that was given up while
its transaction waited (timed out, cancelled) commits nothing when the database lets it go on:
the retry that replaced it is the only writer."""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, select
from temporalio.testing import ActivityEnvironment

from activities.calendar_source import CalendarSource
from activities.records import RecordActivities
from daiban.core.sealed import Sealer
from daiban.core.settings import Settings
from models.contracts import LedgerEvent, RequestState, Resident, TransitionRecord
from models.db import LedgerRow, RequestRow

AT = datetime(2030, 3, 4, 1, 0, tzinfo=UTC)
SEALER = Sealer.from_settings(Settings())


def transition(request_id: str = "r-heartbeat") -> TransitionRecord:
    state = RequestState(
        id=request_id, item="linshi-jiuzhu", item_name="临时救助", deciding_tier="township",
        village="370285004001", township="370285004", city="370285000",
        stage="village_intake", status="open", responsible_office="370285004001",
        resident=Resident("王秀英", "370285194802150024", "13805321234"), agent="agent-1",
        channel="agent", created_at=AT, updated_at=AT, version=1,
    )  # fmt: skip
    event = LedgerEvent(
        key=f"{request_id}:1:0", at=AT, kind="action", actor="agent-1", role="agent",
        office="370285004001", action="submit", to_stage="village_intake",
    )  # fmt: skip
    return TransitionRecord(state=state, events=[event], notifications=[])


@contextmanager
def ledger_locked(engine: Engine) -> Iterator[threading.Event]:
    """Another transaction holds the ledger until the event is set: a write waits for it."""
    release = threading.Event()
    connection: Any = engine.raw_connection()
    cursor = connection.cursor()
    if engine.dialect.name == "sqlite":
        cursor.execute("BEGIN EXCLUSIVE")
    else:
        cursor.execute("LOCK TABLE supervision_ledger IN ACCESS EXCLUSIVE MODE")

    def hold() -> None:
        release.wait(30)
        connection.rollback()
        connection.close()

    holder = threading.Thread(target=hold)
    holder.start()
    try:
        yield release
    finally:
        release.set()
        holder.join()


def written(engine: Engine, request_id: str) -> tuple[int, RequestRow | None]:
    with Session(engine) as session:
        rows = session.exec(select(LedgerRow).where(LedgerRow.request_id == request_id)).all()
        return len(rows), session.get(RequestRow, request_id)


async def test_an_attempt_beats_while_it_waits_and_commits_nothing_once_given_up(
    engine: Engine,
) -> None:
    records = RecordActivities(engine, CalendarSource(engine), SEALER)
    env = ActivityEnvironment()
    env.info = replace(env.info, heartbeat_timeout=timedelta(seconds=0.6))
    beats: list[tuple[Any, ...]] = []
    env.on_heartbeat = lambda *details: beats.append(details)
    with ledger_locked(engine) as release:
        attempt = asyncio.create_task(env.run(records.record_transition, transition()))
        await asyncio.sleep(1.5)
        assert not attempt.done()  # waiting for the lock, and saying so
        assert len(beats) >= 3
        env.cancel()  # the server gave the attempt up (its heartbeat timed out, or a cancel)
        with pytest.raises(BaseException):  # noqa: B017 (cancelled, in whichever form)
            await attempt
        release.set()  # the database lets the abandoned transaction go on now
    await asyncio.sleep(0.5)
    records.close()
    assert written(engine, "r-heartbeat") == (0, None)


async def test_an_attempt_that_is_not_given_up_writes_once(engine: Engine) -> None:
    records = RecordActivities(engine, CalendarSource(engine), SEALER)
    env = ActivityEnvironment()
    record = transition("r-once")
    await env.run(records.record_transition, record)
    await env.run(records.record_transition, record)  # a retry after a lost answer
    records.close()
    count, row = written(engine, "r-once")
    assert count == 1 and row is not None and row.version == 1

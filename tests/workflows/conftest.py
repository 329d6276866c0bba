"""A harness for workflow tests on the time-skipping server.

Each test gets its own time-skipping server, so each can jump to the same fixed instant in 2030:
expected deadlines are then written by hand against the test schedule below, independent of the day
the tests run. A SQLite database (migrated) receives the ledger, read model and outbox.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import sqlite3
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import closing
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Engine, create_engine
from sqlalchemy.pool import NullPool
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WorkflowHandle
from temporalio.testing import WorkflowEnvironment
from temporalio.worker import Worker

from daiban.core.settings import Settings
from daiban.core.temporal import converter
from daiban.domain.catalog import load_catalog
from daiban.domain.intake import item_spec, policy
from daiban.store.calendar import load_calendar_year
from daiban.store.db import make_engine, session_scope, upgrade
from models import search_attributes as sa
from models.contracts import (
    ActionCommand,
    Actor,
    LadderPolicy,
    RequestInput,
    RequestState,
    Resident,
)
from models.db import LedgerRow, OutboxRow, RequestRow
from tests.conftest import temporal_binary
from worker import build_worker
from workflows.request import ResidentRequestWorkflow

CST = timezone(timedelta(hours=8))
# Monday 2030-03-04 09:00 in Shanghai: every test starts here.
ANCHOR = datetime(2030, 3, 4, 9, 0, tzinfo=CST)
# The test city's 2030 schedule, loaded as an administrator would (the year is then covered):
# Qingming off Thu 4 – Sat 6 April, with Sunday 7 April worked instead.
SCHEDULE_2030 = {"holidays": ["2030-04-04", "2030-04-05", "2030-04-06"], "workdays": ["2030-04-07"]}

VILLAGE = "370285004001"
TOWNSHIP = "370285004"
CITY = "370285000"
AGENT = Actor("agent-1", "agent", VILLAGE)
TOWNSHIP_STAFF = Actor("ts-1", "township_staff", TOWNSHIP)
CITY_STAFF = Actor("cs-1", "city_staff", CITY)
SUPERVISOR = Actor("sup-1", "supervisor", CITY)
# Extensions of a township item are approved by the head of the township's own tier.
TOWNSHIP_SUPERVISOR = Actor("sup-t", "supervisor", TOWNSHIP)
# A township item's ordinary path from registration to delivery of the result.
TOWNSHIP_PATH = (
    ("handoff", AGENT),
    ("accept", TOWNSHIP_STAFF),
    ("approve", TOWNSHIP_STAFF),
    ("deliver", AGENT),
)
RESIDENT = Resident(name="王秀英", id_number="370285194802150024", phone="13805321234")


def cst(text: str) -> datetime:
    """'2030-03-06 17:00' in Shanghai time."""
    return datetime.fromisoformat(text).replace(tzinfo=CST)


SEARCH_ATTRIBUTE_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


async def register_search_attributes(client: Client, namespace: str = "default") -> None:
    await client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace=namespace,
            search_attributes={
                key.name: SEARCH_ATTRIBUTE_TYPES[
                    key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
                ]
                for key in sa.ALL
            },
        )
    )


@dataclass
class Harness:
    env: WorkflowEnvironment
    engine: Engine
    settings: Settings
    task_queue: str
    handles: dict[str, WorkflowHandle[Any, Any]] = field(default_factory=dict)

    @property
    def client(self) -> Client:
        return self.env.client

    async def now(self) -> datetime:
        return await self.env.get_current_time()

    async def skip_to(self, instant: datetime) -> None:
        """Advance the server's clock to ``instant`` (timers in between fire on the way)."""
        delta = instant - await self.now()
        if delta > timedelta(0):
            await self.env.sleep(delta)

    async def submit(
        self,
        item: str = "linshi-jiuzhu",
        at: datetime = ANCHOR,
        *,
        earlier_ladder: bool = False,
        ladder: LadderPolicy | None = None,
        number: str = "",
    ) -> str:
        """Submit a request; ``earlier_ladder``: with a policy snapshot from before the county
        ladder (no ``ladder``), as requests submitted before it have; ``ladder``: this county
        ladder instead of the settings'; ``number``: the 办件编号 the API would have given."""
        await self.skip_to(at)
        catalog_item = load_catalog().get(item)
        assert catalog_item is not None
        request_id = uuid.uuid4().hex[:12]
        inp = RequestInput(
            request_id=request_id,
            item=item_spec(catalog_item),
            village=VILLAGE,
            township=TOWNSHIP,
            city=CITY,
            resident=RESIDENT,
            agent=AGENT,
            materials=list(catalog_item.materials),
            policy=policy(self.settings),
            number=number,
        )
        if earlier_ladder or ladder is not None:
            inp.policy.ladder = ladder
        handle = await self.client.start_workflow(
            ResidentRequestWorkflow.run,
            inp,
            id=f"req-{request_id}",
            task_queue=self.task_queue,
        )
        self.handles[request_id] = handle
        await self.eventually(request_id, lambda s: s.version >= 1)
        return request_id

    async def act(self, request_id: str, action: str, actor: Actor, **fields: Any) -> RequestState:
        # As the API sends it: bound to the request, with a command id used once.
        fields = {"request_id": request_id, "command_id": uuid.uuid4().hex, **fields}
        cmd = ActionCommand(action=action, actor=actor, **fields)
        return await self.handles[request_id].execute_update(ResidentRequestWorkflow.act, cmd)

    async def drive(self, request_id: str, until: str = "deliver") -> RequestState:
        """Take a township item through its ordinary path, up to and including ``until``."""
        state = await self.state(request_id)
        for action, actor in TOWNSHIP_PATH:
            state = await self.act(request_id, action, actor)
            if action == until:
                break
        return state

    async def state(self, request_id: str) -> RequestState:
        return await self.handles[request_id].query(ResidentRequestWorkflow.state)

    async def eventually(
        self, request_id: str, check: Callable[[RequestState], bool], tries: int = 100
    ) -> RequestState:
        """Poll the query until ``check`` holds (timers fire asynchronously after a skip) and the
        read model has recorded that state (the record activity runs after the transition)."""
        state = await self.state(request_id)
        for _ in range(tries):
            row = self.row(request_id)
            if check(state) and row is not None and row.version >= state.version:
                return state
            await asyncio.sleep(0.05)
            state = await self.state(request_id)
        raise AssertionError(f"condition never held; last stage {state.stage}")

    def ledger(self, request_id: str) -> list[LedgerRow]:
        with Session(self.engine) as session:
            query = select(LedgerRow).where(LedgerRow.request_id == request_id)
            return list(session.exec(query.order_by(col(LedgerRow.seq))))

    def outbox(self, request_id: str) -> list[OutboxRow]:
        with Session(self.engine) as session:
            query = select(OutboxRow).where(OutboxRow.request_id == request_id)
            return list(session.exec(query.order_by(col(OutboxRow.id))))

    def row(self, request_id: str) -> RequestRow | None:
        with Session(self.engine) as session:
            return session.get(RequestRow, request_id)


@pytest.fixture
def engine(tmp_path: Path) -> Engine:
    url = f"sqlite:///{tmp_path / 'daiban.db'}"
    upgrade(url)
    engine = make_engine(url)
    with session_scope(engine) as session:
        load_calendar_year(
            session,
            2030,
            [date.fromisoformat(d) for d in SCHEDULE_2030["holidays"]],
            [date.fromisoformat(d) for d in SCHEDULE_2030["workdays"]],
            note="test schedule",
        )
    return engine


@pytest.fixture
async def env() -> AsyncIterator[WorkflowEnvironment]:
    environment = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=temporal_binary("temporal-test-server"),
        data_converter=converter(Settings()),
    )
    await register_search_attributes(environment.client)
    async with environment:
        yield environment


HISTORIES = Path(__file__).parent.parent / "replay" / "histories"


@pytest.fixture
async def harness(
    env: WorkflowEnvironment, engine: Engine, request: pytest.FixtureRequest
) -> AsyncIterator[Harness]:
    settings = Settings(database_url=str(engine.url))
    task_queue = f"tq-{uuid.uuid4().hex[:8]}"
    worker: Worker = build_worker(env.client, engine, settings, task_queue=task_queue)
    async with worker:
        harness = Harness(env=env, engine=engine, settings=settings, task_queue=task_queue)
        yield harness
        if os.environ.get("DAIBAN_RECORD_HISTORIES") == "1":
            # Refresh the stored histories that tests/replay replays against the current code.
            for n, handle in enumerate(harness.handles.values()):
                history = await handle.fetch_history()
                name = request.node.name.removeprefix("test_")
                (HISTORIES / f"{name}-{n}.json").write_text(history.to_json())


class CalendarDatabase:
    """A copy of the test database that a calendar source reads, taken down and brought back for
    real: down, its folder is a plain file, so SQLite cannot open the database at all."""

    def __init__(self, engine: Engine, folder: Path) -> None:
        self._source = Path(str(engine.url.database))
        self._folder = folder
        # No pool: every session opens the file again, as a reconnect after an outage would.
        self.engine = create_engine(f"sqlite:///{folder / 'daiban.db'}", poolclass=NullPool)

    def up(self) -> None:
        """Back, with the test database as it is now (an edit made during the outage too)."""
        if self._folder.is_file():
            self._folder.unlink()
        self._folder.mkdir(exist_ok=True)
        with (
            closing(sqlite3.connect(self._source)) as src,
            closing(sqlite3.connect(self._folder / "daiban.db")) as dst,
        ):
            src.backup(dst)

    def down(self) -> None:
        if self._folder.is_dir():
            shutil.rmtree(self._folder)
        self._folder.write_text("")


@pytest.fixture
def calendar_db(engine: Engine, tmp_path: Path) -> CalendarDatabase:
    database = CalendarDatabase(engine, tmp_path / "calendar")
    database.up()
    return database


__all__ = ["ANCHOR", "CalendarDatabase", "Harness", "cst", "date"]

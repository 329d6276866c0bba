"""The chaos run: start the system, drive the workload phase by phase, inject one kind of fault
per phase while work is in flight, check every invariant after each phase, and report.

Phases (each request plays one segment of its lifecycle in each; see ``chaos.workload``):

1. ``api-kill``: submissions and hand-offs; the API process is SIGKILLed while clients submit
   with ``Idempotency-Key`` and retry, then started again.
2. ``worker-kills``: acceptance and forwarding; a worker process (of two) is SIGKILLed at five
   random moments (seeded) and started again each time.
3. ``temporal-restart``: city acceptance and township decisions; the Temporal dev server is
   SIGKILLed and started again on the same SQLite file and port.
4. ``db-outage``: city decisions, delivery and rating; PostgreSQL is stopped for 20 seconds
   while activities run, and started again. During the outage ``/readyz`` must answer 503 and
   ``GET /v1/requests/{id}`` must not answer 500.

A late cohort of requests then meets the longer faults:

5. ``previous-release``: the workers run the previous release's code (``git archive`` of
   ``PREVIOUS_RELEASE``); the late cohort is submitted and handed off through the API, and the
   current code is deployed over the open requests while clients still submit.
6. ``long-outage``: PostgreSQL is stopped for minutes (80 s in CI) across the closing time the
   run chose, so every late acceptance window expires inside it (deemed acceptance on a timer); a
   calendar edit made just before it signals every open request during it; city items are
   forwarded by clients that meet 503s until it ends.
7. ``hanging-webhook``: the notification webhook accepts posts and never answers while the late
   cohort is decided, delivered and rated; then it answers again. No notification may be
   accepted twice or posted again while a post of it is in flight, and all are sent in the end.

A watchdog restarts any component that exits without being told to (as a process supervisor
would) and counts it: an unexpected exit fails the run.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import shutil
import signal
import sys
import tempfile
import time
import traceback
from collections import Counter
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.markup import escape
from sqlalchemy import text

from chaos.checks import converge, query_states
from chaos.procs import REPO, StartError, System
from chaos.report import CI, FULL, PREVIOUS_RELEASE, Injection, Outage, Profile, Result, render
from chaos.webhook import Webhook
from chaos.workload import PHASES, Case, Driver, plan
from daiban.core.temporal import connect
from daiban.domain.offices import demo_city
from daiban.domain.workdays import WorkdayCalendar
from daiban.store.calendar import set_override
from daiban.store.db import head_revision, make_engine, session_scope
from models.contracts import RequestState
from workflows.request import ResidentRequestWorkflow

OUTAGE_SECONDS = 20.0
# Before the closing time, how long the long outage has already lasted (windows expire in it).
CLOSING_INSIDE_OUTAGE = 20.0
# Before the long outage ends, when the calendar edit's signals go out: their recomputation fails
# while the database is away and is tried again 30 s later, after it.
SIGNAL_BEFORE_END = 25.0
NOTIFY_RELAY_SECONDS = 5.0
WORKER_KILLS = 5
API_DOWN_SECONDS = 1.0
INFLIGHT_WAIT = 15.0  # seconds a fault waits for work in flight before it is injected anyway
# Seconds the deploy over the previous release waits for that release to answer half the late
# cohort; bounded well inside the time left before the cohort's closing time.
ANSWERED_WAIT = 20.0
PROBE_INTERVAL = 0.5
REPORT_WIDTH = 150
EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


class ChaosRun:
    def __init__(self, profile: Profile, seed: int, root: Path, console: Console) -> None:
        self.profile = profile
        self.seed = seed
        self.console = console
        self.rng = random.Random(seed)
        self.webhook = Webhook()
        self.system = System(root)
        # The records for the province stay with the run (its numbers start afresh).
        self.export_file = self.system.root / "export" / "ratings.jsonl"
        self.result = Result(profile, seed, root, datetime.now().astimezone().isoformat())
        self.phase = "start"
        self._t0 = time.monotonic()
        # Set as the run goes: the late cohort's closing time and workers' settings, the deploy.
        self.closing = datetime.now(UTC)
        self.late_env: dict[str, str] = {}
        self.deployed_at = float("inf")
        self.previous_started = float("inf")

    def say(self, text: str) -> None:
        self.console.print(f"[dim]{self._elapsed():7.1f}s[/dim] {escape(text)}", highlight=False)

    def _elapsed(self) -> float:
        return time.monotonic() - self._t0

    async def run(self) -> Result:
        started = time.monotonic()
        try:
            await self._run()
        finally:
            self.result.duration = time.monotonic() - started
        return self.result

    async def _run(self) -> None:
        p = self.profile
        self.say(f"starting the system under {self.system.root} (seed {self.seed})")
        await self.webhook.start()
        self.system.extra_env.update(
            DAIBAN_NOTIFY_WEBHOOK_URL=self.webhook.url,
            DAIBAN_NOTIFY_RELAY_SECONDS=str(NOTIFY_RELAY_SECONDS),
            DAIBAN_EXPORT_FILE=str(self.export_file),
        )
        await self.system.start()
        self.say(
            f"ready: PostgreSQL :{self.system.ports.postgres}, Temporal "
            f":{self.system.ports.temporal}, 2 workers, API :{self.system.ports.api}"
        )
        client = await connect(self.system.settings)
        engine = make_engine(self.system.database_url)
        self.client, self.engine = client, engine
        driver = Driver(self.system.api_url, self.system.settings, p.op_timeout)
        watchdog = asyncio.create_task(self._watch())
        try:
            catalog = await self._catalog(driver)
            today = datetime.now(ZoneInfo(self.system.settings.timezone)).date()
            cases = plan(self.seed, p.requests, catalog, today, p.late)
            self._t0 = time.monotonic()
            for number, name in enumerate(PHASES):
                self.phase = name
                self.say(f"phase {number + 1} {name}: {len(cases)} requests")
                before = Counter(driver.seen)
                await self._prepare(number, cases)
                clients_may_start = asyncio.Event()
                fault = asyncio.create_task(self._inject(number, driver, cases, clients_may_start))
                try:
                    await clients_may_start.wait()
                    await driver.run_phase(cases, number, p.spreads[number])
                    await fault
                finally:
                    if not fault.done():
                        fault.cancel()
                self.result.seen.update(driver.seen - before)
                verdict = await converge(
                    client,
                    engine,
                    cases,
                    number,
                    name,
                    p.converge_timeout,
                    sent_twice=self.webhook.sent_twice,
                    export_file=self.export_file,
                )
                self.result.verdicts.append(verdict)
                state = "ok" if verdict.ok else "FAILED"
                self.say(
                    f"checkpoint after {name}: {state} in {verdict.converged_after:.1f} s "
                    f"({verdict.rounds} rounds)"
                )
                for line in verdict.failures():
                    self.say(f"  {line}")
                if name == "long-outage":
                    await self._check_long_outage(cases)
            self.result.api_verify = await self._api_verify(driver)
            self.result.late["webhook"] = {
                "posted": sum(self.webhook.posted.values()),
                "accepted": sum(self.webhook.accepted.values()),
                "held_without_answer": self.webhook.hung,
                "repeats_of_previous_release": self.webhook.repeats_of_previous_release(),
                "repeats_after_worker_kill": self.webhook.repeats_after_kill(),
            }
        finally:
            watchdog.cancel()
            await driver.aclose()
            await self.webhook.close()
            engine.dispose()

    async def _catalog(self, driver: Driver) -> list[dict[str, Any]]:
        answer = await driver.send(
            "GET", "/v1/catalog", driver.token("supervisor", demo_city().code)
        )
        if answer.status != 200 or answer.body is None:
            raise StartError(f"GET /v1/catalog: {answer.describe()}")
        return list(answer.body["items"])

    async def _api_verify(self, driver: Driver) -> dict[str, Any] | None:
        token = driver.token("supervisor", demo_city().code)
        answer = await driver.send("GET", "/v1/supervision/verify", token)
        return answer.body if answer.status == 200 else {"status": answer.status}

    # --- supervision ---------------------------------------------------------------------------

    async def _watch(self) -> None:
        """Restart any component that exits on its own, and record it."""
        while True:
            await asyncio.sleep(0.5)
            for proc in self.system.procs:
                code = proc.exit_code()
                if code is not None and not proc.stopping:
                    line = f"{proc.name} exited with code {code} during {self.phase}"
                    self.result.unexpected_exits.append(line)
                    self.say(f"UNEXPECTED: {line}; restarting it\n{proc.tail()}")
                    proc.start()

    # --- faults --------------------------------------------------------------------------------

    async def _inject(
        self, phase: int, driver: Driver, cases: list[Case], clients_may_start: asyncio.Event
    ) -> None:
        spread = self.profile.spreads[phase]
        name = PHASES[phase]
        if name == "long-outage":
            await self._long_outage(driver, cases, clients_may_start)
            return
        clients_may_start.set()
        if name == "api-kill":
            await self._kill_api(driver, spread)
        elif name == "worker-kills":
            await self._kill_workers(driver, spread)
        elif name == "temporal-restart":
            await self._restart_temporal(driver, spread)
        elif name == "db-outage":
            await self._database_outage(driver, spread, cases)
        elif name == "previous-release":
            await self._deploy_current(driver, spread, cases)
        else:
            await self._hang_webhook(driver)

    async def _prepare(self, phase: int, cases: list[Case]) -> None:
        """Before the late cohort: a working day today with a closing time a little ahead (its
        acceptance windows, of 0 working days, expire then), and the previous release running.
        Before the long outage: the requests the previous release started keep recording under
        their lock (their histories must replay as they were), so their rungs in the outage
        are decided only once it is back; their forward waits for the next phase."""
        if PHASES[phase] == "long-outage":
            for case in cases:
                if case.late and case.tier == "city" and self._previous(case):
                    case.segments[phase + 1] = case.segments[phase] + case.segments[phase + 1]
                    case.segments[phase] = []
                    case.expected_override[phase] = "township_review"
            return
        if PHASES[phase] != "previous-release":
            return
        tz = ZoneInfo(self.system.settings.timezone)
        now = datetime.now(tz)
        closing = (now + timedelta(seconds=self.profile.closing_after)).replace(microsecond=0)
        if closing.date() != now.date():
            raise StartError("the closing time would fall after midnight; run again later")
        self.closing = closing
        with session_scope(self.engine) as session:
            set_override(session, now.date(), "workday", note="chaos: the late cohort's day")
        self.late_env = {"DAIBAN_CLOSING_TIME": closing.time().isoformat()}
        self.say(f"closing time today {closing.time()}; acceptance windows of 0 working days")
        await self.system.restart_api({"DAIBAN_ACCEPTANCE_WINDOW_DAYS": "0"})
        code = self.system.release_tree(PREVIOUS_RELEASE)
        # The previous release's workers start only on their own schema revision; in a real
        # rolling deploy they were running before the migration. The database is labelled with
        # their head while they start (every migration since adds only what they ignore).
        current = head_revision()
        self._label_schema(release_head(code))
        try:
            await self.system.deploy_workers(code, self.late_env)
        finally:
            self._label_schema(current)
        self.previous_started = self.system.workers_started_at
        self.say(f"workers of release {PREVIOUS_RELEASE} running")

    def _label_schema(self, revision: str) -> None:
        with session_scope(self.engine) as session:
            session.execute(text("UPDATE alembic_version SET version_num = :r"), {"r": revision})

    async def _deploy_current(self, driver: Driver, spread: float, cases: list[Case]) -> None:
        await asyncio.sleep(self.rng.uniform(0.6, 0.8) * spread)
        await self._when_answered([c for c in cases if c.late])
        injection = self._record(
            f"deploy over release {PREVIOUS_RELEASE}", await self._when_busy(driver)
        )
        start = time.monotonic()
        self.deployed_at = start
        await self.system.deploy_workers(REPO, self.late_env)
        self.webhook.previous_release = (self.previous_started, self.system.workers_started_at)
        injection.back_after = round(time.monotonic() - start, 1)

    async def _long_outage(
        self, driver: Driver, cases: list[Case], clients_may_start: asyncio.Event
    ) -> None:
        """PostgreSQL away for minutes across the closing time; a calendar edit made just before
        it is signalled to every open request during it; clients act meanwhile."""
        p = self.profile
        to_closing = (self.closing - datetime.now(UTC)).total_seconds()
        if to_closing < CLOSING_INSIDE_OUTAGE / 2:
            self.result.late_problems.append(
                f"the closing time came {CLOSING_INSIDE_OUTAGE - to_closing:.0f} s too soon for "
                "the long outage (the previous-release phase took too long)"
            )
        await asyncio.sleep(max(0.0, to_closing - CLOSING_INSIDE_OUTAGE))
        open_ids = [str(c.request_id) for c in cases if c.late and c.request_id is not None]
        holiday = self._edit_calendar()
        self.result.late["calendar_edit"] = f"{holiday.isoformat()} made a holiday"
        injection = self._record(f"stop postgres {p.long_outage:.0f} s", len(open_ids))
        start = time.monotonic()
        await self.system.postgres.stop(signal.SIGINT, timeout=30)
        outage = self.result.long_outage
        down = time.monotonic()
        outage.down_at = datetime.now(UTC)
        clients_may_start.set()
        stop = asyncio.Event()
        probes = asyncio.create_task(self._probe_outage(driver, cases, stop, outage))
        await asyncio.sleep(max(0.0, p.long_outage - SIGNAL_BEFORE_END))
        signalled = await self._signal(open_ids)
        self.result.late["signalled"] = signalled
        self.say(f"calendar edit signalled to {signalled} open requests during the outage")
        await asyncio.sleep(max(0.0, p.long_outage - (time.monotonic() - down)))
        stop.set()
        await probes
        outage.seconds = time.monotonic() - down
        await self.system.start_postgres()
        outage.up_at = datetime.now(UTC)
        injection.back_after = round(time.monotonic() - start, 1)
        try:
            outage.ready_again_after = round(await self.system.wait_api(ready=True), 1)
        except StartError as error:
            self.say(str(error))

    def _edit_calendar(self) -> date:
        """An administrator's edit: the next working day two or more days ahead becomes a
        holiday, which moves every running clock past it."""
        tz = self.system.settings.timezone
        day = datetime.now(ZoneInfo(tz)).date() + timedelta(days=2)
        calendar = WorkdayCalendar(tz=tz)
        while not calendar.is_workday(day):
            day += timedelta(days=1)
        with session_scope(self.engine) as session:
            set_override(session, day, "holiday", note="chaos: edited before the outage")
        return day

    async def _signal(self, ids: list[str]) -> int:
        signalled = 0
        for request_id in ids:
            handle = self.client.get_workflow_handle(f"req-{request_id}")
            try:
                await handle.signal(ResidentRequestWorkflow.calendar_changed)
            except Exception as error:  # a request that ended meanwhile: nothing to recompute
                self.say(f"signal to {request_id}: {type(error).__name__}")
            else:
                signalled += 1
        return signalled

    async def _check_long_outage(self, cases: list[Case]) -> None:
        """Every late request was deemed accepted at its closing time, inside the outage (its
        rung fired on time although nothing could be recorded), and the edit reached them."""
        outage = self.result.long_outage
        late = [c for c in cases if c.late and c.request_id is not None and c.error is None]
        states = await query_states(self.client, [str(c.request_id) for c in late])
        inside = previous = recomputed = 0
        current = [c for c in late if not self._previous(c)]
        for case in late:
            state = states.get(str(case.request_id))
            if not isinstance(state, RequestState):
                continue
            deemed = [h.at for h in state.history if h.action == "deemed_accept"]
            assert outage.down_at is not None and outage.up_at is not None
            if case in current and deemed and outage.down_at <= deemed[0] <= outage.up_at:
                inside += 1
            if case not in current and deemed and deemed[0] >= outage.down_at:
                previous += 1
            recomputed += any(h.action == "recompute_deadlines" for h in state.history)
        started_before = len(late) - len(current)
        self.result.late.update(
            late_requests=len(late),
            started_by_current_release=len(current),
            deemed_accepted_inside_outage=inside,
            started_by_previous_release=started_before,
            previous_release_deemed=previous,
            recomputed_after_edit=recomputed,
        )
        if inside != len(current) or not current:
            self.result.late_problems.append(
                f"{len(current) - inside} of {len(current)} late requests of this release not "
                "deemed accepted inside the long outage"
            )
        if previous != started_before:
            self.result.late_problems.append(
                f"{started_before - previous} of {started_before} late requests of the previous "
                "release not deemed accepted"
            )
        if recomputed == 0:
            self.result.late_problems.append("the calendar edit moved no request's deadlines")
        if started_before == 0:
            self.result.late_problems.append("no request was started by the previous release")

    def _previous(self, case: Case) -> bool:
        """Started by the previous release's workers (answered before the deploy began)."""
        return case.submitted_at is not None and case.submitted_at < self.deployed_at

    async def _hang_webhook(self, driver: Driver) -> None:
        injection = self._record(
            f"webhook hangs {self.profile.hang:.0f} s", await self._when_busy(driver)
        )
        start = time.monotonic()
        self.webhook.hang()
        await asyncio.sleep(self.profile.hang)
        self.webhook.recover()
        injection.back_after = round(time.monotonic() - start, 1)

    async def _when_answered(self, late: list[Case]) -> None:
        """Wait (bounded) until the previous release has answered half the late cohort: on a
        loaded machine its workers and the restarted API start late, and a deploy before they
        answered anything would test nothing of that release."""
        deadline = time.monotonic() + ANSWERED_WAIT
        while time.monotonic() < deadline:
            if 2 * sum(c.submitted_at is not None for c in late) >= len(late):
                return
            await asyncio.sleep(0.1)

    async def _when_busy(self, driver: Driver) -> int:
        """Wait (bounded) until writes are in flight; how many there are."""
        deadline = time.monotonic() + INFLIGHT_WAIT
        while driver.inflight == 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.05)
        return driver.inflight

    def _record(self, fault: str, inflight: int) -> Injection:
        injection = Injection(self.phase, fault, round(self._elapsed(), 1), inflight)
        self.result.injections.append(injection)
        self.say(f"FAULT {fault} with {inflight} writes in flight")
        return injection

    async def _kill_api(self, driver: Driver, spread: float) -> None:
        await asyncio.sleep(self.rng.uniform(0.3, 0.6) * spread)
        injection = self._record("SIGKILL api", await self._when_busy(driver))
        start = time.monotonic()
        await self.system.api.kill()
        await asyncio.sleep(API_DOWN_SECONDS)
        self.system.api.start()
        await self.system.wait_api(ready=False)
        injection.back_after = round(time.monotonic() - start, 1)

    async def _kill_workers(self, driver: Driver, spread: float) -> None:
        begin = time.monotonic()
        moments = sorted(self.rng.uniform(0.1, 0.9) * spread for _ in range(WORKER_KILLS))
        for moment in moments:
            await asyncio.sleep(max(0.0, begin + moment - time.monotonic()))
            worker = self.rng.choice(self.system.worker_procs)
            injection = self._record(f"SIGKILL {worker.name}", await self._when_busy(driver))
            start = time.monotonic()
            self.webhook.kills.append(start)
            await worker.kill()
            worker.start()
            await self.system.wait_worker(worker)
            injection.back_after = round(time.monotonic() - start, 1)

    async def _restart_temporal(self, driver: Driver, spread: float) -> None:
        await asyncio.sleep(self.rng.uniform(0.3, 0.5) * spread)
        injection = self._record("SIGKILL temporal, restart", await self._when_busy(driver))
        start = time.monotonic()
        await self.system.temporal.kill()
        await self.system.start_temporal()
        injection.back_after = round(time.monotonic() - start, 1)

    async def _database_outage(self, driver: Driver, spread: float, cases: list[Case]) -> None:
        await asyncio.sleep(self.rng.uniform(0.25, 0.4) * spread)
        injection = self._record(
            f"stop postgres {OUTAGE_SECONDS:.0f} s", await self._when_busy(driver)
        )
        start = time.monotonic()
        await self.system.postgres.stop(signal.SIGINT, timeout=30)  # fast shutdown
        down = time.monotonic()
        stop = asyncio.Event()
        probes = asyncio.create_task(self._probe_outage(driver, cases, stop))
        await asyncio.sleep(max(0.0, OUTAGE_SECONDS - (time.monotonic() - down)))
        stop.set()
        await probes
        self.result.outage.seconds = time.monotonic() - down
        await self.system.start_postgres()
        injection.back_after = round(time.monotonic() - start, 1)
        try:
            again = await self.system.wait_api(ready=True)
            self.result.outage.ready_again_after = round(again, 1)
        except StartError as error:
            self.say(str(error))

    async def _probe_outage(
        self, driver: Driver, cases: list[Case], stop: asyncio.Event, outage: Outage | None = None
    ) -> None:
        """While the database is down: ``/readyz`` and reads of requests whose workflows exist."""
        outage = outage or self.result.outage
        submitted = [c for c in cases if c.request_id is not None]
        turn = 0
        async with httpx.AsyncClient(base_url=self.system.api_url, timeout=15.0) as http:
            while not stop.is_set():
                outage.readyz[await _status(http, "/readyz")] += 1
                if submitted:
                    case = submitted[turn % len(submitted)]
                    turn += 1
                    token = driver.token("agent", case.village)
                    path = f"/v1/requests/{case.request_id}"
                    outage.reads[await _status(http, path, token)] += 1
                try:
                    await asyncio.wait_for(stop.wait(), PROBE_INTERVAL)
                except TimeoutError:
                    pass


async def _status(http: httpx.AsyncClient, path: str, token: str | None = None) -> int:
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    try:
        return (await http.get(path, headers=headers)).status_code
    except httpx.HTTPError:
        return 0


# --- command line --------------------------------------------------------------------------------


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m chaos",
        description="Inject process, server and database faults into a running daiban system "
        "while requests are in flight, and check that nothing is lost or duplicated.",
    )
    parser.add_argument("--ci", action="store_true", help="the bounded form for CI (60 requests)")
    parser.add_argument("--requests", type=int, help="requests in flight (200; 60 with --ci)")
    parser.add_argument("--seed", type=int, default=6, help="seed of every random choice")
    parser.add_argument("--json", type=Path, help="also write the report as JSON here")
    parser.add_argument("--keep", action="store_true", help="keep the run directory and logs")
    return parser.parse_args(argv)


async def amain(args: argparse.Namespace, console: Console) -> int:
    profile = CI if args.ci else FULL
    if args.requests is not None:
        profile = replace(profile, requests=args.requests)
    root = Path(tempfile.mkdtemp(prefix="daiban-chaos-"))
    run = ChaosRun(profile, args.seed, root, console)
    interrupted = False
    main = asyncio.current_task()
    loop = asyncio.get_running_loop()

    def on_signal() -> None:
        nonlocal interrupted
        interrupted = True
        if main is not None:
            main.cancel()

    for signum in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(signum, on_signal)
    result = run.result
    try:
        try:
            await run.run()
        except StartError as error:
            result.error = str(error)
        except asyncio.CancelledError:
            if not interrupted:
                raise
            result.error = "interrupted"
        except Exception as error:  # a fault of the runner itself: shown, and still cleaned up
            console.print_exception()
            result.error = f"{type(error).__name__}: {error}"
    finally:
        for signum in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(signum)
        run.say("stopping every component")
        await run.system.shutdown()
    # A failed run keeps its logs and Temporal's database (the histories) to look into; the
    # PostgreSQL data directory is large and what it held is in the report.
    keep = args.keep or not (result.passed or interrupted)
    render(console, result, root if keep else None)
    if args.json is not None:
        args.json.parent.mkdir(parents=True, exist_ok=True)
        args.json.write_text(json.dumps(result.to_json(), indent=2, default=str) + "\n")
    if not args.keep:
        shutil.rmtree(root / "pg" if keep else root, ignore_errors=True)
    if interrupted:
        return EXIT_INTERRUPTED
    if result.error is not None and not result.verdicts:
        return EXIT_ERROR
    return EXIT_PASS if result.passed else EXIT_FAIL


def main(argv: list[str] | None = None) -> None:
    args = parse(sys.argv[1:] if argv is None else argv)
    # A log file or a pipe gets the tables at full width, not folded to 80 columns.
    console = Console(width=None if sys.stdout.isatty() else REPORT_WIDTH)
    code = EXIT_ERROR
    try:
        code = asyncio.run(amain(args, console))
    except KeyboardInterrupt:  # before the runner's own handler was in place
        code = EXIT_INTERRUPTED
    except BaseException:
        traceback.print_exc()
    finally:
        # temporalio/sdk-python#300: a process that used a Temporal client can abort while
        # Python finalizes. The exit code must not depend on teardown.
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(code)


def release_head(code: Path) -> str:
    """The newest migration revision in a release's tree (its files are named ``NNNN_…``)."""
    versions = code / "daiban" / "store" / "migrations" / "versions"
    return max(p.name.split("_", 1)[0] for p in versions.glob("[0-9]*_*.py"))

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
from dataclasses import asdict, dataclass, field, replace
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import httpx
from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaos.checks import Verdict, converge
from chaos.procs import StartError, System
from chaos.workload import PHASES, Case, Driver, plan
from daiban.core.temporal import connect
from daiban.domain.offices import demo_city
from daiban.store.db import make_engine

OUTAGE_SECONDS = 20.0
WORKER_KILLS = 5
API_DOWN_SECONDS = 1.0
INFLIGHT_WAIT = 15.0  # seconds a fault waits for work in flight before it is injected anyway
PROBE_INTERVAL = 0.5
REPORT_WIDTH = 150
EXIT_PASS, EXIT_FAIL, EXIT_ERROR, EXIT_INTERRUPTED = 0, 1, 2, 130


@dataclass(frozen=True)
class Profile:
    name: str
    requests: int
    spreads: tuple[float, float, float, float]  # seconds over which each phase's clients start
    op_timeout: float  # seconds one client call may keep retrying
    converge_timeout: float  # seconds a checkpoint may wait for the invariants


FULL = Profile("full", 200, (20.0, 40.0, 25.0, 25.0), 240.0, 120.0)
CI = Profile("ci", 60, (8.0, 24.0, 10.0, 10.0), 150.0, 60.0)


@dataclass
class Injection:
    phase: str
    fault: str
    at: float  # seconds since the workload started
    inflight: int  # writes (submissions, actions) waiting for an answer at that moment
    back_after: float | None = None  # seconds until the component served again


@dataclass
class Outage:
    """What the API answered while PostgreSQL was down."""

    seconds: float = 0.0
    readyz: Counter[int] = field(default_factory=Counter)
    reads: Counter[int] = field(default_factory=Counter)
    ready_again_after: float | None = None

    @property
    def problems(self) -> list[str]:
        found = []
        if self.readyz[503] == 0:
            found.append("/readyz never answered 503 during the outage")
        if self.readyz[200]:
            found.append(f"/readyz answered 200 {self.readyz[200]} times during the outage")
        if self.reads[500]:
            found.append(
                f"GET /v1/requests/{{id}} answered 500 {self.reads[500]} of "
                f"{sum(self.reads.values())} times during the outage"
            )
        if self.ready_again_after is None:
            found.append("/readyz did not answer 200 again after the outage")
        return found


@dataclass
class Result:
    profile: Profile
    seed: int
    root: Path
    started: str
    injections: list[Injection] = field(default_factory=list)
    verdicts: list[Verdict] = field(default_factory=list)
    outage: Outage = field(default_factory=Outage)
    unexpected_exits: list[str] = field(default_factory=list)
    seen: Counter[str] = field(default_factory=Counter)
    api_verify: dict[str, Any] | None = None
    duration: float = 0.0
    error: str | None = None

    def problems(self) -> list[str]:
        found = [f"run error: {self.error}"] if self.error else []
        for injection in self.injections:
            if injection.inflight == 0:
                found.append(f"{injection.fault} was injected with no work in flight")
        found += self.outage.problems if self.outage.seconds else []
        found += [f"unexpected exit: {line}" for line in self.unexpected_exits]
        # A failure that stands through several checkpoints is listed once, with all of them.
        where: dict[str, list[str]] = {}
        for verdict in self.verdicts:
            for line in verdict.failures():
                where.setdefault(line, []).append(verdict.checkpoint)
        found += [f"after {', '.join(names)}: {line}" for line, names in where.items()]
        if len(self.verdicts) == len(PHASES):
            verified = self.api_verify or {}
            ledger_rows = self.verdicts[-1].ledger_rows
            if verified.get("ok") is not True or verified.get("checked") != ledger_rows:
                found.append(f"GET /v1/supervision/verify: {verified} ({ledger_rows} rows)")
        elif not self.error:
            found.append(f"only {len(self.verdicts)} of {len(PHASES)} phases ran")
        return found

    @property
    def passed(self) -> bool:
        return not self.problems()

    def to_json(self) -> dict[str, Any]:
        last = self.verdicts[-1] if self.verdicts else None
        return {
            "profile": asdict(self.profile),
            "seed": self.seed,
            "started": self.started,
            "duration_seconds": round(self.duration, 1),
            "passed": self.passed,
            "problems": self.problems(),
            "summary": summary(self) if last else None,
            "injections": [asdict(i) for i in self.injections],
            "checkpoints": [
                {**asdict(v), "ok": v.ok, "failures": v.failures()} for v in self.verdicts
            ],
            "outage": {
                "seconds": round(self.outage.seconds, 1),
                "readyz": dict(self.outage.readyz),
                "reads": dict(self.outage.reads),
                "ready_again_after": self.outage.ready_again_after,
            },
            "unexpected_exits": self.unexpected_exits,
            "clients_met": dict(self.seen),
            "api_verify": self.api_verify,
        }


def summary(result: Result) -> dict[str, Any]:
    """The headline figures: faults and requests, and each invariant at its worst checkpoint."""
    last = result.verdicts[-1]
    lost = max(v.counts.get("lost", len(v.lost)) for v in result.verdicts)
    duplicates = max(
        v.counts.get("duplicate workflows", 0) + v.counts.get("ledger duplicates or gaps", 0)
        for v in result.verdicts
    )
    mismatches = max(v.counts.get("read model differs from workflow", 0) for v in result.verdicts)
    return {
        "faults_injected": len(result.injections),
        "requests_in_flight": result.profile.requests,
        "lost": lost,
        "duplicates": duplicates,
        "chains_verified": f"{last.chains_verified}/{last.chains}",
        "ledger_rows": last.ledger_rows,
        "read_model_mismatches": mismatches,
        "completed": f"{last.at_expected_stage}/{last.requests}",
        "time_drift": max(v.counts.get("time drift", 0) for v in result.verdicts),
        "result": "PASS" if result.passed else "FAIL",
    }


class ChaosRun:
    def __init__(self, profile: Profile, seed: int, root: Path, console: Console) -> None:
        self.profile = profile
        self.seed = seed
        self.console = console
        self.rng = random.Random(seed)
        self.system = System(root)
        self.result = Result(profile, seed, root, datetime.now().astimezone().isoformat())
        self.phase = "start"
        self._t0 = time.monotonic()

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
        await self.system.start()
        self.say(
            f"ready: PostgreSQL :{self.system.ports.postgres}, Temporal "
            f":{self.system.ports.temporal}, 2 workers, API :{self.system.ports.api}"
        )
        client = await connect(self.system.settings)
        engine = make_engine(self.system.database_url)
        driver = Driver(self.system.api_url, self.system.settings, p.op_timeout)
        watchdog = asyncio.create_task(self._watch())
        try:
            catalog = await self._catalog(driver)
            today = datetime.now(ZoneInfo(self.system.settings.timezone)).date()
            cases = plan(self.seed, p.requests, catalog, today)
            self._t0 = time.monotonic()
            for number, name in enumerate(PHASES):
                self.phase = name
                self.say(f"phase {number + 1} {name}: {len(cases)} requests in flight")
                before = Counter(driver.seen)
                fault = asyncio.create_task(self._inject(number, driver, cases))
                try:
                    await driver.run_phase(cases, number, p.spreads[number])
                    await fault
                finally:
                    if not fault.done():
                        fault.cancel()
                self.result.seen.update(driver.seen - before)
                verdict = await converge(client, engine, cases, number, name, p.converge_timeout)
                self.result.verdicts.append(verdict)
                state = "ok" if verdict.ok else "FAILED"
                self.say(
                    f"checkpoint after {name}: {state} in {verdict.converged_after:.1f} s "
                    f"({verdict.rounds} rounds)"
                )
                for line in verdict.failures():
                    self.say(f"  {line}")
            self.result.api_verify = await self._api_verify(driver)
        finally:
            watchdog.cancel()
            await driver.aclose()
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

    async def _inject(self, phase: int, driver: Driver, cases: list[Case]) -> None:
        spread = self.profile.spreads[phase]
        if phase == 0:
            await self._kill_api(driver, spread)
        elif phase == 1:
            await self._kill_workers(driver, spread)
        elif phase == 2:
            await self._restart_temporal(driver, spread)
        else:
            await self._database_outage(driver, spread, cases)

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

    async def _probe_outage(self, driver: Driver, cases: list[Case], stop: asyncio.Event) -> None:
        """While the database is down: ``/readyz`` and reads of requests whose workflows exist."""
        outage = self.result.outage
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


# --- the report ----------------------------------------------------------------------------------


def render(console: Console, result: Result, kept: Path | None) -> None:
    """The report; ``kept`` is the run directory when it is kept (its logs are named)."""
    faults = Table(title="Faults injected (each while work was in flight)")
    for heading in ("#", "phase", "fault", "at s", "writes in flight", "back after s"):
        faults.add_column(heading, justify="right" if heading != "fault" else "left")
    for n, i in enumerate(result.injections, 1):
        back = "-" if i.back_after is None else f"{i.back_after:.1f}"
        faults.add_row(str(n), i.phase, i.fault, f"{i.at:.1f}", str(i.inflight), back)
    console.print(faults)

    checks = Table(title="Checks after each fault (eventual polling, bounded)")
    headings = (
        "after",
        "requests",
        "at expected stage",
        "lost",
        "dup. workflows",
        "dup./gap ledger",
        "chains verified",
        "ledger = history",
        "read-model mismatches",
        "converged s",
        "result",
    )
    for heading in headings:
        checks.add_column(heading, justify="left" if heading == "after" else "right")
    for v in result.verdicts:
        c = v.counts
        checks.add_row(
            v.checkpoint,
            str(v.requests),
            f"{v.at_expected_stage}/{v.requests}",
            str(c.get("lost", len(v.lost))),
            str(c.get("duplicate workflows", 0)),
            str(c.get("ledger duplicates or gaps", 0)),
            f"{v.chains_verified}/{v.chains}",
            f"{v.requests - c.get('ledger differs from history', 0)}/{v.requests}",
            str(c.get("read model differs from workflow", 0)),
            f"{v.converged_after:.1f}",
            "ok" if v.ok else "FAIL",
        )
    console.print(checks)

    o = result.outage
    if o.seconds:
        console.print(
            f"PostgreSQL down {o.seconds:.1f} s: /readyz answered {_codes(o.readyz)}; "
            f"GET /v1/requests/{{id}} answered {_codes(o.reads)}; /readyz 200 again after "
            f"{o.ready_again_after if o.ready_again_after is not None else '-'} s",
            highlight=False,
        )
    if result.seen:
        met = ", ".join(f"{k} ×{n}" for k, n in sorted(result.seen.items()))
        console.print(f"What the clients met (and retried): {escape(met)}", highlight=False)
    drift = sum(v.counts.get("time drift", 0) for v in result.verdicts[-1:])
    if drift:
        examples = "; ".join(result.verdicts[-1].time_drift[:3])
        console.print(
            f"Note: {drift} requests whose ledger/read-model timestamps differ from the "
            f"workflow's for the same version ({escape(examples)})",
            highlight=False,
        )
    if result.verdicts:
        s = summary(result)
        table = Table(title=f"Chaos run ({result.profile.name}, seed {result.seed})")
        for heading in (
            "faults injected",
            "requests in flight",
            "lost",
            "duplicates",
            "chains verified",
            "read-model mismatches",
            "completed",
            "result",
        ):
            table.add_column(heading, justify="right")
        table.add_row(
            str(s["faults_injected"]),
            str(s["requests_in_flight"]),
            str(s["lost"]),
            str(s["duplicates"]),
            str(s["chains_verified"]),
            str(s["read_model_mismatches"]),
            str(s["completed"]),
            "[green]PASS[/green]" if result.passed else "[red]FAIL[/red]",
        )
        console.print(table)
    for line in result.problems():
        console.print(f"[red]problem[/red] {escape(line)}", highlight=False)
    where = f"; logs in {kept / 'log'}" if kept is not None else ""
    console.print(f"{result.duration:.0f} s in all{where}", highlight=False)


def _codes(counter: Counter[int]) -> str:
    named = {0: "no answer"}
    return ", ".join(f"{named.get(k, k)} ×{n}" for k, n in sorted(counter.items())) or "nothing"


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

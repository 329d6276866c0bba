"""What a chaos run found, and the report of it: the profiles, the faults injected, what the API
answered during the outages, the checkpoints' verdicts, and the tables printed at the end (kept
apart from ``chaos.runner``, which drives the run)."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from chaos.checks import Verdict
from chaos.workload import PHASES

# The release whose workers start the late cohort (the one before this code).
PREVIOUS_RELEASE = "bafb704"


@dataclass(frozen=True)
class Profile:
    name: str
    requests: int
    spreads: tuple[float, ...]  # seconds over which each phase's clients start
    op_timeout: float  # seconds one client call may keep retrying
    converge_timeout: float  # seconds a checkpoint may wait for the invariants
    late: int  # requests of the late cohort
    long_outage: float  # seconds PostgreSQL is down in the long outage
    hang: float  # seconds the webhook hangs
    closing_after: float  # from the start of the late cohort to the closing time chosen


FULL = Profile(
    "full", 200, (20.0, 40.0, 25.0, 25.0, 20.0, 60.0, 20.0), 420.0, 120.0, 100, 300.0, 60.0, 150.0
)
CI = Profile("ci", 60, (8.0, 24.0, 10.0, 10.0, 8.0, 20.0, 8.0), 150.0, 60.0, 30, 80.0, 20.0, 90.0)


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
    down_at: datetime | None = None
    up_at: datetime | None = None
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
    long_outage: Outage = field(default_factory=Outage)
    # The longer faults' own findings (deemed acceptance inside the outage, the deploy, ...).
    late: dict[str, Any] = field(default_factory=dict)
    late_problems: list[str] = field(default_factory=list)
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
        found += [f"long outage: {p}" for p in self.long_outage.problems]
        found += self.late_problems
        for met, n in self.seen.items():
            if "HTTP 500" in met or "Timeout" in met:
                found.append(f"a call was not answered properly: {met} ×{n}")
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
            "outage": _outage_json(self.outage),
            "long_outage": _outage_json(self.long_outage),
            "late": self.late,
            "unexpected_exits": self.unexpected_exits,
            "clients_met": dict(self.seen),
            "api_verify": self.api_verify,
        }


def _outage_json(outage: Outage) -> dict[str, Any]:
    return {
        "seconds": round(outage.seconds, 1),
        "readyz": dict(outage.readyz),
        "reads": dict(outage.reads),
        "ready_again_after": outage.ready_again_after,
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
        "requests_in_flight": result.profile.requests + result.profile.late,
        "lost": lost,
        "duplicates": duplicates,
        "chains_verified": f"{last.chains_verified}/{last.chains}",
        "ledger_rows": last.ledger_rows,
        "read_model_mismatches": mismatches,
        "completed": f"{last.at_expected_stage}/{last.requests}",
        "time_drift": max(v.counts.get("time drift", 0) for v in result.verdicts),
        "result": "PASS" if result.passed else "FAIL",
    }


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
    lo = result.long_outage
    if lo.seconds:
        late = result.late
        console.print(
            f"PostgreSQL down {lo.seconds:.1f} s (long outage): /readyz answered "
            f"{_codes(lo.readyz)}; GET /v1/requests/{{id}} answered {_codes(lo.reads)}; late "
            f"requests of this release deemed accepted inside it "
            f"{late.get('deemed_accepted_inside_outage')}/{late.get('started_by_current_release')}"
            f", of release {PREVIOUS_RELEASE} {late.get('previous_release_deemed')}/"
            f"{late.get('started_by_previous_release')}; calendar edit signalled to "
            f"{late.get('signalled')}, deadlines moved in {late.get('recomputed_after_edit')}",
            highlight=False,
        )
    if "webhook" in result.late:
        w = result.late["webhook"]
        console.print(
            f"Webhook: {w['posted']} posts, {w['accepted']} accepted, "
            f"{w['held_without_answer']} held without an answer while it hung; first posted "
            f"by release {PREVIOUS_RELEASE} and accepted again: "
            f"{len(w['repeats_of_previous_release'])}",
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

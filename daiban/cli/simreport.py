"""The report of ``daiban simulate``: what the simulated people did, what the workflows recorded,
and how it compares with the API's ``/v1/stats``; as tables for people or as JSON."""

from __future__ import annotations

from collections import Counter
from dataclasses import asdict, dataclass, field

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from daiban.cli.client import JSON
from daiban.cli.simulate import COMPARED, STATS_RUNGS, UNCONFIRMED, Case, SimulationOptions

# --- the report --------------------------------------------------------------------------------

OUTCOMES = ("completed", "refused", "withdrawn", "lapsed", "in_progress", "error")


@dataclass
class Report:
    options: SimulationOptions
    cases: list[Case]
    before: dict[str, int]
    after: dict[str, int]
    # At compressed time only: every rung the workflows fired (by level), the ledger rows of the
    # simulated requests (by kind and level), the notifications they queued, and the simulated
    # period. Whatever the workflow records shows here, named as it names it.
    rungs: dict[str, int] | None = None
    ledger: dict[str, int] = field(default_factory=dict)
    notifications: int | None = None
    period: tuple[str, str] | None = None

    def counts(self) -> dict[str, int]:
        outcomes = Counter(case.outcome for case in self.cases)
        return {
            "submitted": sum(1 for case in self.cases if case.id is not None),
            **{name: outcomes[name] for name in OUTCOMES},
            "denied": sum(1 for case in self.cases if case.state.get("decision") == "denied"),
            "supplemented": sum(case.supplemented for case in self.cases),
            "bad_ratings": sum(case.bad_rating for case in self.cases),
            "agent_unconfirmed": sum(c.rating_channel == UNCONFIRMED for c in self.cases),
            "rectified": sum(case.rectified for case in self.cases),
            "left_waiting": sum(case.left_waiting is not None for case in self.cases),
            "overtaken": sum(case.overtaken is not None for case in self.cases),
        }

    def by_item(self) -> dict[str, dict[str, int]]:
        table: dict[str, Counter[str]] = {}
        for case in self.cases:
            row = table.setdefault(case.item["code"], Counter())
            row["submitted"] += case.id is not None
            row[case.outcome] += 1
        return {item: {n: row[n] for n in ("submitted", *OUTCOMES)} for item, row in table.items()}

    def waiting(self) -> dict[str, int]:
        return dict(Counter(case.left_waiting for case in self.cases if case.left_waiting))

    def stats_check(self) -> dict[str, dict[str, int | bool]]:
        """Our counts against the change of the API's totals over the run."""
        ours = self.counts()
        ours["total"] = ours["submitted"]
        compared: tuple[str, ...] = COMPARED
        if self.rungs is not None:
            compared += tuple(STATS_RUNGS)
            for name, levels in STATS_RUNGS.items():
                ours[name] = sum(self.rungs.get(level, 0) for level in levels)
        check: dict[str, dict[str, int | bool]] = {}
        for name in compared:
            delta = self.after[name] - self.before[name]
            check[name] = {"simulated": ours[name], "api": delta, "match": ours[name] == delta}
        return check

    @property
    def matches(self) -> bool:
        return all(row["match"] for row in self.stats_check().values())

    @property
    def errors(self) -> list[str]:
        return [f"#{case.number} {case.error}" for case in self.cases if case.error]

    def to_json(self) -> JSON:
        return {
            "options": asdict(self.options),
            "counts": self.counts(),
            "by_item": self.by_item(),
            "left_waiting": self.waiting(),
            "rungs": self.rungs,
            "ledger": self.ledger,
            "notifications": self.notifications,
            "period": self.period,
            "stats_check": self.stats_check(),
            "stats_match": self.matches,
            "errors": self.errors,
            "requests": [
                {
                    "id": c.id,
                    "item": c.item["code"],
                    "village": c.village,
                    "outcome": c.outcome,
                    "rating": c.rating_channel,
                    "tiers": sorted((c.state.get("rating") or {}).get("tiers") or {}),
                }
                for c in self.cases
            ],
        }


def render(console: Console, report: Report) -> None:
    counts = report.counts()
    summary = Table(title="Simulation summary")
    summary.add_column("")
    summary.add_column("requests", justify="right")
    for name, value in counts.items():
        summary.add_row(name.replace("_", " "), str(value))
    console.print(summary)
    items = Table(title="By item")
    items.add_column("item", no_wrap=True)
    for heading in ("submitted", *OUTCOMES):
        items.add_column("open" if heading == "in_progress" else heading, justify="right")
    for item, row in sorted(report.by_item().items(), key=lambda kv: -kv[1]["submitted"]):
        items.add_row(item, *(str(v) for v in row.values()))
    console.print(items)
    waiting = report.waiting()
    if waiting:
        where = ", ".join(f"{stage} {n}" for stage, n in sorted(waiting.items()))
        when = "they escalate when their real deadlines pass"
        if report.rungs is not None:
            when = "their clocks ran on"
        console.print(f"Left waiting ({when}): {where}", highlight=False)
    if report.period is not None:
        console.print(f"Simulated time: {report.period[0]} to {report.period[1]}", highlight=False)
    if report.rungs is not None:
        fired = ", ".join(f"{level} {n}" for level, n in sorted(report.rungs.items())) or "none"
        console.print(f"Rungs fired: {fired}", highlight=False)
    if report.ledger:
        rows = ", ".join(f"{kind} {n}" for kind, n in sorted(report.ledger.items()))
        console.print(f"Ledger rows: {rows}", highlight=False)
    if report.notifications is not None:
        console.print(f"Notifications queued: {report.notifications}", highlight=False)
    for name, row in report.stats_check().items():
        mark = "[green]match[/green]" if row["match"] else "[red]differ[/red]"
        console.print(
            f"API stats {name}: simulated {row['simulated']}, API change {row['api']} — {mark}"
        )
    for line in report.errors[:10]:
        console.print(f"[red]error[/red] {escape(line)}", highlight=False)

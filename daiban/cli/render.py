"""How the command line shows things to people: tables and panels with rich, or JSON.

Each ``print_*`` function takes what the API (or the database) returned and prints it; none of
them calls anything or decides an exit code — that is ``daiban/cli/main.py``'s job. Free text that
came from outside (names, notes, materials) is escaped before it reaches rich: a note with
``[red]`` in it is shown, not styled.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any

import typer
from rich.console import Console
from rich.markup import escape
from rich.panel import Panel
from rich.table import Table

from daiban.cli.client import JSON
from models.db import CalendarOverride, CalendarYear

WEEKDAYS = ("Mon", "Tue", "Wed", "Thu", "Fri", "Sat", "Sun")
OVERDUE_STYLES = {"reminder": "cyan", "yellow": "yellow", "red": "red", "statutory": "bold red"}


def print_json(payload: Any) -> None:
    typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))


def emit(payload: JSON, as_json: bool, render: Callable[..., None], *args: Any) -> None:
    """The API's JSON as is with ``--json``, else ``render(payload, *args)`` for people."""
    if as_json:
        print_json(payload)
    else:
        render(payload, *args)


# --- pieces ------------------------------------------------------------------------------------


def when(value: object) -> str:
    """An ISO time as ``2026-12-08 17:00`` (the API gives the offices' local time)."""
    return str(value)[:16].replace("T", " ") if value else "-"


def overdue(level: object) -> str:
    style = OVERDUE_STYLES.get(str(level))
    return f"[{style}]{level}[/{style}]" if style else str(level)


def rate_text(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def requests_table(title: str, items: list[JSON]) -> Table:
    table = Table(title=title)
    table.add_column("id", no_wrap=True)
    for heading in ("item", "stage", "overdue", "deadline", "village", "resident", "created"):
        table.add_column(heading)
    for r in items:
        deadline = when(r.get("deadline")) + ("*" if r.get("deadline_provisional") else "")
        table.add_row(
            r["id"],
            r["item"],
            r["stage"],
            overdue(r.get("overdue")),
            deadline,
            r["village"],
            escape(r["resident"]["name"]),
            when(r.get("created_at")),
        )
    return table


# --- one function per kind of answer -----------------------------------------------------------


def print_page(page: JSON, title: str) -> None:
    """A page of request summaries (``list``, ``queue``) and how to get the next one."""
    console = Console()
    items = page.get("items", [])
    console.print(requests_table(title, items) if items else "No requests.")
    if page.get("next_cursor"):
        console.print(f"more: --cursor {page['next_cursor']}", highlight=False)


def print_request(r: JSON) -> None:
    """A panel of facts, then the history and the escalations."""
    console = Console()
    resident, rating = r["resident"], r.get("rating") or {}
    stage = f"{r['stage']} ({r['status']})" + (" [red]red flag[/red]" if r.get("red_flag") else "")
    offices = f"village {r['village']}, township {r['township']}, now at {r['responsible_office']}"
    deadline = when(r.get("deadline")) + (" (provisional)" if r.get("deadline_provisional") else "")
    score = str(rating.get("score", "-")) + (" (default)" if rating.get("is_default") else "")
    facts = Table.grid(padding=(0, 2))
    facts.add_column(style="bold")
    facts.add_column()
    for name, value in (
        ("stage", stage),
        ("overdue", overdue(r.get("overdue"))),
        ("offices", offices),
        ("deadline", deadline),
        ("expected", when(r.get("expected_at"))),
        ("resident", escape(f"{resident['name']}  {resident['id_number']}  {resident['phone']}")),
        ("materials", escape(", ".join(r.get("materials", [])) or "-")),
        ("missing", escape(", ".join(r.get("missing_materials", [])) or "-")),
        ("paused", (r.get("paused") or {}).get("reason", "-")),
        ("decision", r.get("decision") or "-"),
        ("rating", score),
        ("notice", escape(r.get("service_notice") or "-")),
        ("you may", ", ".join(r.get("allowed_actions", [])) or "-"),
    ):
        facts.add_row(name, value)
    console.print(Panel(facts, title=escape(f"{r['id']}  {r['item']} {r.get('item_name', '')}")))
    history = Table(title="History")
    for heading in ("at", "actor", "role", "action", "stage", "note"):
        history.add_column(heading)
    for h in r.get("history", []):
        moved = f"{h.get('from') or ''} → {h['to']}" if h.get("to") else ""
        note = escape(h.get("note") or "")
        history.add_row(when(h["at"]), escape(h["actor"]), h["role"], h["action"], moved, note)
    console.print(history)
    if r.get("escalations"):
        ladder = Table(title="Escalations")
        for heading in ("at", "clock", "level", "deadline", "office"):
            ladder.add_column(heading)
        for e in r["escalations"]:
            ladder.add_row(
                when(e["at"]), e["clock"], overdue(e["level"]), when(e["deadline"]), e["office"]
            )
        console.print(ladder)


def print_change(r: JSON) -> None:
    """Two lines after ``submit``, ``act`` or ``rate``: where the request is, what comes next."""
    deadline = f", due {when(r['deadline'])}" if r.get("deadline") else ""
    allowed = ", ".join(r.get("allowed_actions", [])) or "nothing"
    typer.echo(f"request {r['id']} ({r['item']}) is at {r['stage']}{deadline}")
    typer.echo(f"you may now: {allowed}")


def print_stats(stats: JSON) -> None:
    table = Table(title="Statistics per township")
    headings = ("office", "name", "total", "completed", "on time", "avg WD", "reminder", "yellow")
    for heading in (*headings, "red", "ratings 1-5", "satisfied", "rectified"):
        table.add_column(heading, justify="left" if heading in ("office", "name") else "right")
    for o in stats.get("offices", []):
        ratings = "/".join(str(o["ratings"].get(str(n), 0)) for n in range(1, 6))
        avg = o.get("avg_working_days")
        table.add_row(
            o["office"],
            o.get("name") or "",
            str(o["total"]),
            str(o["completed"]),
            rate_text(o.get("on_time_rate")),
            "-" if avg is None else f"{avg:.1f}",
            str(o["reminder"]),
            str(o["yellow"]),
            str(o["red"]),
            ratings,
            rate_text(o.get("satisfaction_rate")),
            rate_text(o.get("rectified_rate")),
        )
    Console().print(table if stats.get("offices") else "No requests in scope.")


def print_calendar(
    overrides: Sequence[CalendarOverride], years: Sequence[CalendarYear], as_json: bool
) -> None:
    """``daiban calendar list``: the overrides, then the years loaded completely."""
    if as_json:
        print_json(
            {
                "years": [
                    {"year": y.year, "note": y.note, "loaded_at": y.loaded_at.isoformat()}
                    for y in years
                ],
                "overrides": [
                    {
                        "day": o.day.isoformat(),
                        "kind": o.kind,
                        "note": o.note,
                        "updated_at": o.updated_at.isoformat(),
                    }
                    for o in overrides
                ],
            }
        )
        return
    console = Console()
    table = Table(title="Calendar overrides")
    for heading in ("date", "day", "kind", "note"):
        table.add_column(heading)
    for o in overrides:
        table.add_row(o.day.isoformat(), WEEKDAYS[o.day.weekday()], o.kind, o.note)
    console.print(table if overrides else "No overrides.")
    if years:
        loaded = Table(title="Years loaded completely")
        for heading in ("year", "loaded at (UTC)", "note"):
            loaded.add_column(heading)
        for y in years:
            loaded.add_row(str(y.year), y.loaded_at.strftime("%Y-%m-%d %H:%M"), y.note)
        console.print(loaded)
    else:
        console.print(
            "No year loaded completely: outside the package's data, dates are provisional."
        )

"""How the command line shows things to people: plain text in names, or the API's JSON.

People read names: 阎家疃村 rather than ``370285004001``, 城乡居民养老保险参保登记 rather
than ``yanglao-dengji``, 乡镇受理中 rather than ``township_review`` (``daiban/domain/labels.py``);
an action is shown with its code too (``accept 受理``), since that is what ``daiban act``
takes. ``--json`` prints the API's own JSON with the codes, for scripts.

Tables fit the terminal (80 columns in a pipe) by wrapping cells rather than cutting them
(``daiban/cli/text.py``). No ``print_*`` function calls anything or decides an exit code.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable, Sequence
from datetime import datetime
from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Any

from daiban.cli.base import echo
from daiban.cli.text import Column, facts, table, width, wrap
from daiban.domain import labels

if TYPE_CHECKING:
    from daiban.cli.client import JSON
    from models.db import CalendarOverride, CalendarYear

WEEKDAYS = ("一", "二", "三", "四", "五", "六", "日")
CATALOG_FILE = Path(__file__).resolve().parents[1] / "domain" / "data" / "catalog.json"


def print_json(payload: Any) -> None:
    echo(json.dumps(payload, ensure_ascii=False, indent=2))


def emit(payload: JSON, as_json: bool, render: Callable[..., None], *args: Any) -> None:
    """The API's JSON as is with ``--json``, else ``render(payload, *args)`` for people."""
    if as_json:
        print_json(payload)
    else:
        render(payload, *args)


def print_code_sent(answer: JSON) -> None:
    """What ``rating-code`` answered, for the agent: where the code went, until when."""
    echo(
        f"验证码已发送到 {answer['phone']}，{answer['expires_at']} 前有效"
        f"（可输错 {answer['attempts']} 次）。"
    )


# --- names -------------------------------------------------------------------------------------


@cache
def _item_names() -> dict[str, str]:
    # The catalog file read as plain JSON: validating it (daiban.domain.catalog) would cost the
    # command half a second, and a name is all that is shown here.
    path = Path(os.environ.get("DAIBAN_CATALOG") or CATALOG_FILE)
    try:
        items = json.loads(path.read_text(encoding="utf-8"))["items"]
        return {str(i["code"]): str(i["name"]) for i in items}
    except (OSError, ValueError, KeyError, TypeError):
        return {}


def item(code: object, given: object = None) -> str:
    """The item's name (the API's ``item_name`` when it sent one); an unknown code as is."""
    return str(given) if given else _item_names().get(str(code), str(code))


def office(code: object) -> str:
    """The office's name; a code the demo offices do not know is shown as is."""
    from daiban.domain.offices import demo_tree

    if code is None:
        return "-"
    known = demo_tree().find(str(code))
    return known.name if known is not None else str(code)


def action(code: object) -> str:
    """``accept 受理``: the code ``daiban act`` takes, and its name."""
    name = labels.name(labels.ACTIONS, code)
    return f"{code} {name}" if name != code else str(code)


def actions(codes: Sequence[object]) -> str:
    return ", ".join(action(c) for c in codes) or "-"


def when(value: object) -> str:
    """An ISO time as people read it: ``12月8日 17:00`` (with the year when not this year)."""
    if not value:
        return "-"
    try:
        moment = datetime.fromisoformat(str(value))
    except ValueError:
        return str(value)
    year = f"{moment.year}年" if moment.year != datetime.now(moment.tzinfo).year else ""
    return f"{year}{moment.month}月{moment.day}日 {moment:%H:%M}"


def rate_text(value: object) -> str:
    return f"{value:.0%}" if isinstance(value, int | float) else "-"


def level(code: object) -> str:
    return labels.name(labels.LEVELS, code or "none")


# --- one function per kind of answer -----------------------------------------------------------


def print_page(page: JSON, title: str) -> None:
    """A page of request summaries (``list``, ``queue``) and how to get the next one."""
    items = page.get("items", [])
    if not items:
        echo("No requests.")
        return
    columns = (
        Column("id", narrows=False),
        Column("事项", floor=10),  # the item, then the village and the resident
        Column("阶段", floor=10),  # the longest stage names, 乡镇受理中, stay on one line
        Column("督办", narrows=False),
        Column("期限", floor=12),
    )
    rows = []
    for r in items:
        deadline = when(r.get("deadline")) + ("*" if r.get("deadline_provisional") else "")
        who = f"{item(r['item'])}\n{office(r['village'])} {r['resident']['name']}"
        rows.append(
            [
                r["id"],
                who,
                labels.name(labels.STAGES, r["stage"]),
                level(r.get("overdue")),
                deadline,
            ]
        )
    echo(title)
    echo(table(columns, rows, width()))
    if any(r.get("deadline_provisional") for r in items):
        echo("* provisional: the year's holidays are not loaded yet")
    if page.get("next_cursor"):
        echo(f"more: --cursor {page['next_cursor']}")


def rectification(rect: JSON | None) -> str:
    """A bad rating's answer in one line: the rated office, its callbacks, the outcome."""
    if not rect:
        return "-"
    calls = rect.get("callbacks") or []
    text = f"{office(rect['office'])} 回访{len(calls)}次"
    if any(c.get("reached") for c in calls):
        text += "（已联系上）"
    outcome = rect.get("outcome")
    if outcome:
        text += "，" + labels.name(labels.OUTCOMES, outcome)
        if outcome == "scheduled":
            text += f"（{rect.get('due')}前完成）"
    return text


def print_request(r: JSON) -> None:
    """The facts, then the history and the escalations; nothing is cut, the notice least."""
    limit = width()
    resident, rating = r["resident"], r.get("rating") or {}
    stage = labels.name(labels.STAGES, r["stage"])
    stage += f"（{labels.name(labels.STATUSES, r['status'])}）"
    if r.get("red_flag"):
        stage += " 红旗"
    offices = (
        f"{office(r['village'])} → {office(r['township'])}; "
        f"now at {office(r['responsible_office'])}"
    )
    deadline = when(r.get("deadline")) + ("（暂定）" if r.get("deadline_provisional") else "")
    score = str(rating.get("score", "-")) + (" (default)" if rating.get("is_default") else "")
    paused = r.get("paused") or {}
    pairs = [
        ("request", r["id"]),
        ("item", item(r["item"], r.get("item_name"))),
        ("stage", stage),
        ("overdue", level(r.get("overdue"))),
        ("offices", offices),
        ("deadline", deadline),
        ("expected", when(r.get("expected_at"))),
        ("resident", f"{resident['name']}  {resident['id_number']}  {resident['phone']}"),
        ("materials", "、".join(r.get("materials", [])) or "-"),
        ("missing", "、".join(r.get("missing_materials", [])) or "-"),
        ("paused", labels.name(labels.PAUSE_REASONS, paused["reason"]) if paused else "-"),
        ("decision", labels.name(labels.DECISIONS, r.get("decision")) or "-"),
        ("rating", score),
        ("rectification", rectification(r.get("rectification"))),
        ("notice", r.get("service_notice") or "-"),
        ("you may", actions(r.get("allowed_actions", []))),
    ]
    echo(facts(pairs, limit))
    history = []
    for h in r.get("history", []):
        before, after = h.get("from_stage", h.get("from")), h.get("to_stage", h.get("to"))
        moved = ""
        if after:
            moved = f"{labels.name(labels.STAGES, before)} → " if before else ""
            moved += labels.name(labels.STAGES, after)
        who = f"{labels.name(labels.ROLES, h['role'])} {h['actor']}"
        history.append([when(h["at"]), who, action(h["action"]), moved, h.get("note") or ""])
    echo("\nHistory")
    columns = [Column("at", narrows=False), Column("who"), Column("action"), Column("stage")]
    echo(table([*columns, Column("note")], history, limit))
    if r.get("escalations"):
        ladder = [
            [
                when(e["at"]),
                labels.name(labels.CLOCKS, e["clock"]),
                level(e["level"]),
                when(e["deadline"]),
                office(e.get("office")),
            ]
            for e in r["escalations"]
        ]
        echo("\nEscalations")
        headings = ("at", "clock", "rung", "deadline", "office")
        echo(table([Column(h) for h in headings], ladder, limit))


def print_change(r: JSON) -> None:
    """Two lines after ``submit``, ``act`` or ``rate``: where the request is, what comes next."""
    deadline = f", due {when(r['deadline'])}" if r.get("deadline") else ""
    stage = labels.name(labels.STAGES, r["stage"])
    name = item(r["item"], r.get("item_name"))
    allowed = r.get("allowed_actions") or []
    for line in (
        f"request {r['id']} ({name}) is at {stage}{deadline}",
        f"you may now: {actions(allowed) if allowed else 'nothing'}",
    ):
        echo("\n".join(wrap(line, width())))


def print_stats(stats: JSON) -> None:
    """Per township: counts, on-time rate, average working days, rungs, ratings 1..5, rates."""
    offices = stats.get("offices", [])
    if not offices:
        echo("No requests in scope.")
        return
    headings = ("总数", "办结", "按时率", "平均", "提示/黄/红", "评价1-5", "满意率", "整改率")
    columns = [Column("乡镇"), *(Column(h, narrows=False, right=True) for h in headings)]
    rows = []
    for o in offices:
        avg = o.get("avg_working_days")
        rows.append(
            [
                o.get("name") or office(o["office"]),
                str(o["total"]),
                str(o["completed"]),
                rate_text(o.get("on_time_rate")),
                "-" if avg is None else f"{avg:.1f}",
                f"{o['reminder']}/{o['yellow']}/{o['red']}",
                "/".join(str(o["ratings"].get(str(n), 0)) for n in range(1, 6)),
                rate_text(o.get("satisfaction_rate")),
                rate_text(o.get("rectified_rate")),
            ]
        )
    echo("Statistics per township (平均: average working days from acceptance to decision)")
    echo(table(columns, rows, width(), gap=" "))


def print_events(page: JSON) -> None:
    """Supervision ledger rows, newest first, under the request they belong to."""
    items = page.get("items", [])
    if not items:
        echo("No ledger events.")
        return
    columns = [Column("at", narrows=False), Column("event"), Column("office"), Column("detail")]
    groups: list[tuple[str, list[list[str]]]] = []
    for e in items:
        if not groups or groups[-1][0] != e["request_id"]:
            groups.append((e["request_id"], []))
        groups[-1][1].append([when(e["at"]), _event_text(e), office(e["office"]), _detail(e)])
    for n, (request_id, rows) in enumerate(groups):
        echo(("\n" if n else "") + f"request {request_id}")
        echo(table(columns, rows, width()))
    if page.get("next_cursor"):
        echo(f"more: --cursor {page['next_cursor']}")


def _event_text(e: JSON) -> str:
    if e["kind"] == "escalation":
        what = f"{level(e.get('level'))} {labels.name(labels.CLOCKS, e.get('clock'))}"
    elif e.get("action"):
        what = action(e["action"])
    else:
        what = labels.name(labels.EVENT_KINDS, e["kind"])
    if e.get("to_stage"):
        what += f" → {labels.name(labels.STAGES, e['to_stage'])}"
    return what


def _detail(e: JSON) -> str:
    parts = [f"deadline {when(e['deadline'])}"] if e.get("deadline") else []
    if e.get("note"):
        parts.append(str(e["note"]))
    return "; ".join(parts)


def print_verification(result: JSON) -> None:
    checked = result.get("checked", 0)
    if result.get("ok"):
        echo(f"ledger intact: {checked} rows checked, every hash chain holds")
        return
    broken = ", ".join(str(b) for b in result.get("broken", []))
    echo(f"LEDGER BROKEN: {checked} rows checked; rows whose chain breaks: {broken}")


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
    if overrides:
        rows = [
            [o.day.isoformat(), "周" + WEEKDAYS[o.day.weekday()], o.kind, o.note] for o in overrides
        ]
        echo("Calendar overrides")
        headings = (Column("date", narrows=False), Column("day", narrows=False), Column("kind"))
        echo(table([*headings, Column("note")], rows, width()))
    else:
        echo("No overrides.")
    if years:
        loaded = [[str(y.year), y.loaded_at.strftime("%Y-%m-%d %H:%M"), y.note] for y in years]
        echo("\nYears loaded completely")
        year_columns = (Column("year", narrows=False), Column("loaded at (UTC)", narrows=False))
        echo(table([*year_columns, Column("note")], loaded, width()))
    else:
        echo("No year loaded completely: outside the package's data, dates are provisional.")

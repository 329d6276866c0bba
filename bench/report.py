"""The figures of a run: the targets they are held to, the printed tables (Markdown, so that
BENCHMARKS.md can hold them as printed) and the JSON file."""

from __future__ import annotations

import json
import os
import platform
from collections.abc import Iterable, Iterator
from datetime import datetime
from importlib.metadata import version
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console
from rich.table import Table

JSON = dict[str, Any]


def machine() -> JSON:
    with open("/proc/loadavg") as f:
        load = f.read().split()[:3]
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "temporalio": version("temporalio"),
        "load_average_at_start": [float(x) for x in load],
    }


# --- targets -----------------------------------------------------------------------------------


def _target(name: str, measured: float | None, limit: float, at_most: bool, unit: str) -> JSON:
    ok = measured is not None and (measured <= limit if at_most else measured >= limit)
    return {
        "target": name,
        "limit": f"{'≤' if at_most else '≥'} {limit:g}{unit}",
        "measured": None if measured is None else round(measured, 3),
        "unit": unit,
        "met": ok,
    }


def _iter_targets(doc: JSON) -> Iterator[JSON]:
    life = doc.get("lifecycle")
    if life:
        yield _target("lifecycle throughput / bare", life["ratio"], 0.8, False, "×")
    lat = doc.get("latency", {}).get("latency_ms")
    if lat:
        yield _target("submit p99 at offered load", lat["submit"]["p99"], 100, True, " ms")
        yield _target("GET p99 at offered load", lat["get"]["p99"], 50, True, " ms")
        for kind in ("list", "queue", "stats"):
            yield _target(f"{kind} p95 at offered load", lat[kind]["p95"], 50, True, " ms")
        # The pages are held to their server time (runs before it was measured: end to end).
        server = doc["latency"].get("server_ms") or {}
        for kind in ("page_queue", "page_request", "page_board"):
            page = kind.removeprefix("page_")
            if kind in server:
                p95 = server[kind]["p95"]
                yield _target(f"{page} page p95 server time at offered load", p95, 100, True, " ms")
            elif kind in lat:  # runs recorded before the console was measured have none
                yield _target(
                    f"{page} page p95 at offered load", lat[kind]["p95"], 100, True, " ms"
                )
    work = doc.get("open_work")
    if work and "full" in work:
        n = work["n"]
        submit, throughput = work["submit_p50_ratio"], work["throughput_ratio"]
        yield _target(f"submit p50 with {n:,} open / empty", submit, 1.2, True, "×")
        yield _target(f"throughput with {n:,} open / empty", throughput, 0.9, False, "×")
    model = doc.get("read_model")
    if model and model.get("sizes"):
        largest = max(model["sizes"], key=lambda s: s["rows"])
        for name, query in largest["queries"].items():
            rows = f"{largest['rows']:,}"
            yield _target(f"{name} p95 at {rows} rows", query["p95_ms"], 50, True, " ms")
    board = doc.get("board")
    if board and "queries" in board:
        rows = f"{board['rows']:,}"
        for name, query in board["queries"].items():
            yield _target(f"board {name} p95 at {rows} rows", query["p95_ms"], 50, True, " ms")
    esc = doc.get("escalation")
    if esc and "delay_ms" in esc:
        # Both readings of "the delay to the ledger row": the time the row says (the workflow's
        # clock when it handled the rung) and the time the row was written (when a supervisor
        # can see it).
        for reading, key in (("ledger at", "delay_ms"), ("row written", "write_delay_ms")):
            p99 = esc[key]["p99"]
            seconds = None if p99 is None else p99 / 1000
            yield _target(f"escalation delay p99 ({reading})", seconds, 1, True, " s")


def targets(doc: JSON) -> list[JSON]:
    return list(_iter_targets(doc))


# --- tables ------------------------------------------------------------------------------------


def _table(title: str, *columns: str) -> Table:
    table = Table(title=title, box=box.MARKDOWN, title_justify="left", pad_edge=False)
    for n, column in enumerate(columns):
        table.add_column(column, justify="left" if n == 0 else "right")
    return table


def _fmt(value: object) -> str:
    if value is None:
        return "–"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def _cpu(cpu: dict[str, float]) -> str:
    return ", ".join(f"{k} {v:.0f}" for k, v in sorted(cpu.items(), key=lambda kv: -kv[1]))


def lifecycle_table(life: JSON) -> Table:
    t = _table(
        f"1. Lifecycle throughput ({life['concurrency']} concurrent, "
        f"{life['rounds']} alternating rounds)",
        "workflow", "lifecycles/s", "history events", "CPU ms per lifecycle",
    )  # fmt: skip
    for name in ("bare", "real"):
        part = life[name]
        t.add_row(
            "bare (Temporal client)" if name == "bare" else "real (HTTP API)",
            _fmt(part["per_second"]),
            _fmt(part["history"]["events"]),
            _cpu(part.get("cpu_ms_per_lifecycle", {})),
        )
    t.add_row("real / bare", _fmt(life["ratio"]), "", "")
    return t


def latency_table(lat: JSON) -> Table:
    o = lat["offered"]
    t = _table(
        f"2. API latency, open loop: {o['submits_per_s']:g} submits/s + {o['actions_per_s']:g} "
        f"actions/s + {o['reads_per_s']:g} reads/s + {o.get('pages_per_s', 0):g} console "
        f"pages/s for {o['seconds']:g} s",
        "call", "count", "p50 ms", "p95 ms", "p99 ms", "max ms", "server p50 ms", "server p95 ms",
    )  # fmt: skip
    kinds = ("submit", "action", "get", "list", "queue", "stats")
    _add_latencies(t, lat, (*kinds, "page_queue", "page_request", "page_board"))
    return t


def _add_latencies(t: Table, measured: JSON, kinds: Iterable[str]) -> None:
    """A row per kind of call: its latency (count, p50, p95, p99, max) and its server time."""
    server = measured.get("server_ms") or {}
    for kind in kinds:
        s = measured["latency_ms"].get(kind)
        if s:
            own = server.get(kind, {})
            t.add_row(
                kind,
                *(_fmt(s[k]) for k in ("count", "p50", "p95", "p99", "max")),
                _fmt(own.get("p50")),
                _fmt(own.get("p95")),
            )


def open_work_table(work: JSON) -> Table:
    t = _table(
        f"3. Cost of open work (N = {work['n']:,})",
        "open requests", "lifecycles/s", "submit p50 ms", "submit p95 ms", "submit p99 ms",
        "server RSS MiB", "worker RSS MiB", "API RSS MiB",
    )  # fmt: skip
    for point in ("empty", "full"):
        p = work[point]
        s, r = p["submit_ms"], p["rss_mib"]
        t.add_row(
            _fmt(p["open_requests"]), _fmt(p["lifecycles_per_second"]),
            _fmt(s.get("p50")), _fmt(s.get("p95")), _fmt(s.get("p99")),
            _fmt(r.get("server")), _fmt(r.get("worker")), _fmt(r.get("api")),
        )  # fmt: skip
    t.add_row(
        "full / empty", _fmt(work["throughput_ratio"]), _fmt(work["submit_p50_ratio"]),
        _fmt(work["submit_p95_ratio"]), "", "", "", "",
    )  # fmt: skip
    return t


def read_model_table(model: JSON) -> Table:
    t = _table(
        "4. Read-model queries on PostgreSQL", "query", "rows", "p50 ms", "p95 ms", "indexes used"
    )
    for size in model["sizes"]:
        for name, q in size["queries"].items():
            indexes = ", ".join(q["indexes"]) or "(sequential scan)"
            t.add_row(name, _fmt(size["rows"]), _fmt(q["p50_ms"]), _fmt(q["p95_ms"]), indexes)
    return t


def _delays(s: JSON) -> list[str]:
    """A row of delay figures: count, p50, p99 and max."""
    return [_fmt(s[k]) for k in ("count", "p50", "p99", "max")]


def escalation_table(esc: JSON) -> Table:
    t = _table(
        f"5. Escalation punctuality ({esc['requests']:,} requests due at "
        f"{esc['closing_time'][11:19]}; {esc['rows']:,} ledger rows)",
        "rung", "count", "p50 ms", "p99 ms", "max ms",
    )  # fmt: skip
    for level, s in esc["delay_ms_by_level"].items():
        t.add_row(level, *_delays(s))
    t.add_row("all (ledger at)", *_delays(esc["delay_ms"]))
    t.add_row("all (row written)", *_delays(esc["write_delay_ms"]))
    # The yellow cards' supervision orders (督办单), from the closing time.
    for label, key in (
        ("orders issued", "order_issue_delay_ms"),
        ("orders told", "order_write_delay_ms"),
    ):
        if key in esc:
            t.add_row(label, *_delays(esc[key]))
    return t


def burst_pages_table(esc: JSON) -> Table | None:
    burst = esc.get("burst_pages")
    if not burst:
        return None
    t = _table(
        f"5b. Console pages during the escalation burst ({burst['pages_per_s']:g} pages/s for "
        f"{burst['seconds']:g} s from {esc['closing_time'][11:19]})",
        "page", "count", "p50 ms", "p95 ms", "p99 ms", "max ms", "server p50 ms", "server p95 ms",
    )  # fmt: skip
    _add_latencies(t, burst, burst["latency_ms"])
    return t


def board_table(board: JSON) -> Table:
    quick = " (the quick run's size)" if board["rows"] < 1_000_000 else ""
    t = _table(
        f"6. The supervisor's board at {board['rows']:,} read-model rows{quick}, SQLite "
        f"(p95 / {board['budget_ms']:g} ms budget)",
        "query (scope)", "runs", "p50 ms", "p95 ms", "p95 / budget",
    )  # fmt: skip
    for name, q in board["queries"].items():
        t.add_row(name, _fmt(q["runs"]), _fmt(q["p50_ms"]), _fmt(q["p95_ms"]), f"{q['ratio']:.2f}×")
    return t


def targets_table(rows: list[JSON]) -> Table:
    t = _table("Targets", "target", "limit", "measured", "")
    for row in rows:
        unit = row["unit"] if row["measured"] is not None else ""
        t.add_row(
            row["target"], row["limit"], f"{_fmt(row['measured'])}{unit}",
            "met" if row["met"] else "MISSED",
        )  # fmt: skip
    return t


def print_tables(console: Console, doc: JSON) -> None:
    builders = (
        ("lifecycle", lifecycle_table),
        ("latency", latency_table),
        ("open_work", open_work_table),
        ("read_model", read_model_table),
        ("escalation", escalation_table),
        ("escalation", burst_pages_table),
        ("board", board_table),
    )
    for key, build in builders:
        section = doc.get(key)
        if not section:
            continue
        if "skipped" in section:
            console.print(f"\n{key}: skipped: {section['skipped']}", highlight=False)
            continue
        table = build(section)
        if table is not None:
            _print(console, table)
    _print(console, targets_table(doc["targets"]))


def _print(console: Console, table: Table) -> None:
    """The title on a line of its own (a table's title would wrap at the table's width)."""
    title, table.title = table.title, None
    console.print(f"\n{title}\n", highlight=False, markup=False)
    console.print(table)


def save(doc: JSON, out: Path, started: datetime) -> Path:
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{started.strftime('%Y%m%dT%H%M%S')}.json"
    path.write_text(json.dumps(doc, ensure_ascii=False, indent=2, default=str) + "\n")
    return path

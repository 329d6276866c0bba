"""6. The supervisor's board at a million read-model rows: each query the board makes, through the
functions the page calls (``daiban.console.board_data``), p50/p95 over repeated runs with the scope
varied (the county's supervisor, and a township supervisor of each township in turn), against the
50 ms budget of a board query.

The database is a SQLite file kept under ``var/bench/`` and named by the schema's head revision
and the row count: built once (about a minute and a half for 1,000,000 rows here), reused by every
later run of the same schema. It is built into a temporary file and renamed when complete, so an
interrupted build is never reused. The rows are section 4's synthetic city (``bench.readmodel``),
inserted with ``executemany`` with the secondary indexes dropped and rebuilt from their own
definitions, then the statistics rollup rebuilt. No ANALYZE: the product never runs one on SQLite,
and with its statistics SQLite finds plans (skip-scans) that a deployment's database would not.
"""

from __future__ import annotations

import json
import random
import sqlite3
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from sqlalchemy import Engine, insert
from sqlmodel import Session

from bench.config import Sizes
from bench.load import JSON, percentile
from bench.readmodel import COLUMNS, SEED_CITY, synthetic_values
from daiban.console import board_data
from daiban.domain.offices import demo_offices
from daiban.domain.scope import Principal
from daiban.store import rollup
from daiban.store.db import head_revision, load_offices, make_engine, session_scope, upgrade
from models.contracts import Role
from models.db import RequestRow

BUDGET_MS = 50.0
DATA_DIR = Path("var/bench")
BATCH = 20_000
TZ = ZoneInfo("Asia/Shanghai")
Query = Callable[[Session, Principal], object]


def database_path(rows: int, directory: Path = DATA_DIR) -> Path:
    return directory / f"board-{head_revision()}-{rows}.db"


def _insert_rows(engine: Engine, rows: int, now: datetime) -> None:
    table = RequestRow.__table__  # type: ignore[attr-defined]
    statement = insert(table)
    batch: list[dict[str, object]] = []
    with engine.begin() as conn:
        for values in synthetic_values(rows, 0, now):
            row = dict(zip(COLUMNS, values, strict=True))
            row["state"] = json.loads(str(row["state"]))
            batch.append(row)
            if len(batch) == BATCH:
                conn.execute(statement, batch)
                batch = []
        if batch:
            conn.execute(statement, batch)


def build(path: Path, rows: int, now: datetime) -> JSON:
    """A migrated SQLite database at ``path`` with ``rows`` synthetic requests (see the module)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(".partial")
    partial.unlink(missing_ok=True)
    url = f"sqlite:///{partial}"
    timings: dict[str, float] = {}
    upgrade(url, timezone=TZ.key)
    engine = make_engine(url)
    try:
        load_offices(engine, demo_offices())
        raw = sqlite3.connect(partial)
        indexes = raw.execute(
            "SELECT name, sql FROM sqlite_master WHERE type = 'index' AND tbl_name = 'requests' "
            "AND sql IS NOT NULL ORDER BY name"
        ).fetchall()
        for name, _ in indexes:
            raw.execute(f'DROP INDEX "{name}"')
        raw.commit()
        start = time.monotonic()
        _insert_rows(engine, rows, now)
        timings["insert"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        for _, definition in indexes:
            raw.execute(definition)
        raw.commit()
        timings["indexes"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        with session_scope(engine) as session:
            rollup.rebuild(session, TZ)
        timings["stats_rollup"] = round(time.monotonic() - start, 1)
        raw.close()
    finally:
        engine.dispose()
    (path.parent / f"{path.name}.now").write_text(now.isoformat())
    partial.rename(path)
    return {"built": True, "seconds": timings}


def supervisors() -> list[Principal]:
    """The county's supervisor and one supervisor per township (the scopes the board is shown
    in)."""
    county = Principal("bench-county", Role.SUPERVISOR, SEED_CITY, tier="city")
    townships = [
        Principal(f"bench-{o.code}", Role.SUPERVISOR, o.code, tier="township")
        for o in demo_offices()
        if o.tier == "township"
    ]
    return [county, *townships]


def queries(now: datetime) -> dict[str, Query]:
    """Each read of one render of the board and of its poll, and the whole render."""
    today = now.astimezone(TZ).date()
    start_of_day = rollup.day_start(today, TZ)
    end_of_day = start_of_day + timedelta(days=1)
    return {
        "cards": board_data.township_cards,
        "due_today": lambda s, p: board_data.due_today(s, p, start_of_day, end_of_day),
        "red_cards": board_data.red_cards,
        "orders_open": lambda s, p: board_data.open_orders(s, p, "open"),
        "trends_6_months": lambda s, p: board_data.trend_stats(s, p, TZ, today),
        "poll_unchanged": lambda s, p: board_data.poll(s, p, board_data.last_change(s)),
        "whole_render": lambda s, p: board_data.board_rows(s, p, TZ, now),
    }


def measure(engine: Engine, now: datetime, runs: int) -> dict[str, JSON]:
    """p50/p95 of each query, for the county's scope and for the townships' (one township
    supervisor per run, in turn)."""
    people = supervisors()
    county, townships = people[0], people[1:]
    rng = random.Random(11)
    out: dict[str, JSON] = {}
    for name, run in queries(now).items():
        scopes: tuple[tuple[str, Callable[[], Principal]], ...] = (
            ("county", lambda: county),
            ("township", lambda: rng.choice(townships)),
        )
        for scope, pick in scopes:
            with Session(engine) as session:
                run(session, pick())  # warm the page cache and the statement cache
            samples = []
            for _ in range(runs):
                principal = pick()
                with Session(engine) as session:
                    start = time.perf_counter()
                    run(session, principal)
                    samples.append((time.perf_counter() - start) * 1000)
            p95 = percentile(samples, 95)
            out[f"{name} ({scope})"] = {
                "runs": runs,
                "p50_ms": round(percentile(samples, 50), 2),
                "p95_ms": round(p95, 2),
                "ratio": round(p95 / BUDGET_MS, 3),
            }
    return out


def run(sizes: Sizes, directory: Path = DATA_DIR) -> JSON:
    """Build the database if this schema and size have none yet, then measure."""
    path = database_path(sizes.board_rows, directory)
    load: JSON = {"built": False}
    if not path.exists():
        load = build(path, sizes.board_rows, datetime.now(UTC))
    # The rows' "now" (open requests, deadlines due today) is the build's: the board is asked
    # as of that instant, so a database kept for days measures the same board.
    now = datetime.fromisoformat((path.parent / f"{path.name}.now").read_text())
    engine = make_engine(f"sqlite:///{path}")
    try:
        figures = measure(engine, now, sizes.board_runs)
    finally:
        engine.dispose()
    return {
        "rows": sizes.board_rows,
        "database": str(path),
        "load": load,
        "budget_ms": BUDGET_MS,
        "queries": figures,
    }

"""4. Read-model queries at scale on PostgreSQL: the supervisor list, the staff work queue, the
statistics and the supervisor's board, through the same functions the API and the console call
(``daiban.store.readmodel``, ``daiban.console.board_data``), over tables of
100,000 and 1,000,000 synthetic requests; p50/p95 of each, and its EXPLAIN (ANALYZE, BUFFERS)
plan with the indexes it used.

The database is a fresh one (tests/pg.py), migrated to head. Rows are bulk-loaded with COPY the
way a bulk load is done: the secondary indexes are dropped first and rebuilt after (their
definitions read back from pg_indexes, so they are exactly the migration's), the statistics rollup
is rebuilt (COPY bypasses ``upsert_request``, which maintains it), then VACUUM ANALYZE. All of
that is the load; only the queries are timed.

The synthetic city is the demo one: 887 villages in 11 townships, the catalog's items, about four
years of requests (a county's 1,000 a working day makes a million in four years), the recent ones
open with deadlines, the rest closed with ratings and escalation counts. ``state`` is a short
document with the resident (what the list reads); a real one is longer and TOASTed.
"""

from __future__ import annotations

import asyncio
import io
import json
import os
import random
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import psycopg
from sqlalchemy import Engine, event
from sqlmodel import Session

from bench.config import Sizes
from bench.load import JSON, percentile
from bench.procs import TAIL_LINES
from bench.system import System
from daiban.console import board_data
from daiban.domain.catalog import load_catalog
from daiban.domain.offices import demo_city, demo_offices, demo_tree
from daiban.domain.scope import Principal
from daiban.store import readmodel, rollup
from daiban.store.db import make_engine, session_scope, upgrade
from daiban.store.office_ratings import office_ratings
from models.contracts import Role

YEARS = 4
QUERY_SECONDS = 6.0
MIN_RUNS = 10
OPEN_DAYS = 45  # requests created within this many days may still be open
STAGES_OPEN = ("village_intake", "township_review", "city_review", "result_delivery",
               "awaiting_rating")  # fmt: skip
SEED_CITY = demo_city().code  # the seed city, the one the bench fills
# Who holds an open request at each stage ("VILLAGE": the request's own village).
OPEN_OFFICE = {"village_intake": "VILLAGE", "result_delivery": "VILLAGE",
               "awaiting_rating": "VILLAGE", "city_review": SEED_CITY}  # fmt: skip
LEVELS = ("none", "reminder", "yellow", "red", "statutory")
LEVEL_WEIGHTS = (85.0, 6.0, 5.0, 3.5, 0.5)
SCORES = (5, 4, 3, 2, 1)
SCORE_WEIGHTS = (55.0, 25.0, 10.0, 6.0, 4.0)
COLUMNS = (
    "id", "item", "village", "township", "city", "stage", "status", "responsible_office",
    "overdue", "red_flag", "deadline", "deadline_provisional", "expected_at", "decision",
    "rating_score", "rating_default", "rectified", "on_time", "working_days", "reminder_count",
    "yellow_count", "red_count", "agent", "created_at", "updated_at", "closed_at", "version",
    "state",
)  # fmt: skip


def _pg_url(url: str) -> str:
    """psycopg wants postgresql://, SQLAlchemy's URL may name the driver."""
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def _text(value: object) -> str:
    if value is None:
        return r"\N"
    if isinstance(value, bool):
        return "t" if value else "f"
    if isinstance(value, datetime):
        return value.isoformat()
    text = str(value)
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def synthetic_rows(count: int, start: int, now: datetime, seed: int = 5) -> Iterator[str]:
    """COPY text lines of ``count`` requests numbered from ``start`` (oldest first)."""
    for values in synthetic_values(count, start, now, seed):
        yield "\t".join(_text(v) for v in values) + "\n"


def synthetic_values(
    count: int, start: int, now: datetime, seed: int = 5
) -> Iterator[tuple[Any, ...]]:
    """``count`` requests numbered from ``start`` (oldest first), as values of ``COLUMNS``."""
    rng = random.Random(seed + start)
    offices = demo_offices()
    tree = demo_tree()
    villages = [(o.code, tree.township_of(o.code) or "") for o in offices if o.tier == "village"]
    items = [i.code for i in load_catalog().items]
    span = timedelta(days=365 * YEARS).total_seconds()
    total = max(count + start, 1)
    for n in range(start, start + count):
        village, township = rng.choice(villages)
        item = rng.choice(items)
        # Oldest first, spread evenly over the years, with jitter.
        created = now - timedelta(seconds=span * (1 - n / total) + rng.random() * 60)
        recent = now - created < timedelta(days=OPEN_DAYS)
        level = rng.choices(LEVELS, LEVEL_WEIGHTS)[0]
        if recent and rng.random() < 0.5:
            status, stage = "open", rng.choice(STAGES_OPEN)
            office = OPEN_OFFICE.get(stage, township).replace("VILLAGE", village)
            deadline: datetime | None = created + timedelta(days=rng.randint(1, 40))
            decision = score = on_time = days = closed = None
        else:
            status = "closed"
            stage = rng.choices(("completed", "refused", "withdrawn", "lapsed"), (92, 4, 3, 1))[0]
            office, deadline = village, None
            decided = stage == "completed"
            decision = ("approved" if rng.random() < 0.93 else "denied") if decided else None
            score = rng.choices(SCORES, SCORE_WEIGHTS)[0] if decided else None
            on_time = (rng.random() < 0.93) if decided else None
            days = rng.randint(0, 25) if decided else None
            closed = created + timedelta(days=rng.randint(1, 40))
        rid = f"{n:012x}{rng.getrandbits(80):020x}"
        state = {"id": rid, "item": item, "stage": stage,
                 "resident": {"name": "王秀英", "id_number": "370285194802150023",
                              "phone": "13805321234"}}  # fmt: skip
        reminder = int(level in ("reminder", "yellow", "red", "statutory"))
        yellow = int(level in ("yellow", "red", "statutory"))
        red = int(level in ("red", "statutory"))
        values = (
            rid, item, village, township, SEED_CITY, stage, status, office, level, bool(red),
            deadline, False, deadline, decision, score, False,
            (score is not None and score <= 2) or None, on_time, days, reminder, yellow, red,
            f"agent-{village}", created, closed or created, closed, 8,
            json.dumps(state, ensure_ascii=False),
        )  # fmt: skip
        yield values


# Each rated request's row in ``ratings``: the office that decided it (the city center for the
# catalog's city items), and a third of them a tier score of the township or the village.
CITY_ITEMS = [i.code for i in load_catalog().items if i.deciding_tier == "city"]
RATINGS_SQL = """
INSERT INTO ratings (request_id, score, is_default, rated_at, office, township, appeal, channel,
                     tiers)
SELECT id, rating_score, false, updated_at,
       CASE WHEN item = ANY(%(city_items)s) THEN city ELSE township END, township, 'none', 'link',
       CASE WHEN random() < 0.2 THEN json_build_object('township', 1 + floor(random() * 5)::int)
            WHEN random() < 0.15 THEN json_build_object('village', 1 + floor(random() * 5)::int)
       END
FROM requests WHERE rating_score IS NOT NULL
ON CONFLICT (request_id) DO NOTHING
"""


def bulk_load(url: str, total: int, already: int, now: datetime, tz: ZoneInfo) -> JSON:
    """Grow the requests table to ``total`` rows: drop the secondary indexes, COPY, rebuild them,
    rebuild the statistics rollup, VACUUM ANALYZE. Returns the seconds of each step."""
    timings: dict[str, float] = {}
    with psycopg.connect(_pg_url(url), autocommit=True) as conn:
        indexes = conn.execute(
            "SELECT indexname, indexdef FROM pg_indexes WHERE tablename = 'requests' "
            "AND indexname <> 'requests_pkey' ORDER BY indexname"
        ).fetchall()
        for name, _ in indexes:
            conn.execute(f'DROP INDEX "{name}"')
        start = time.monotonic()
        with (
            conn.cursor() as cursor,
            cursor.copy(f"COPY requests ({', '.join(COLUMNS)}) FROM STDIN") as copy,
        ):
            buffer = io.StringIO()
            for n, line in enumerate(synthetic_rows(total - already, already, now)):
                buffer.write(line)
                if n % 20_000 == 19_999:
                    copy.write(buffer.getvalue())
                    buffer = io.StringIO()
            copy.write(buffer.getvalue())
        timings["copy"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        conn.execute(RATINGS_SQL, {"city_items": CITY_ITEMS})
        timings["ratings"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        conn.execute("SET maintenance_work_mem = '256MB'")
        for _, definition in indexes:
            conn.execute(definition)
        timings["indexes"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        engine = make_engine(url)
        try:
            with session_scope(engine) as session:
                rollup.rebuild(session, tz)
        finally:
            engine.dispose()
        timings["stats_rollup"] = round(time.monotonic() - start, 1)
        start = time.monotonic()
        conn.execute("VACUUM ANALYZE requests")
        conn.execute("VACUUM ANALYZE request_stats_daily")
        conn.execute("VACUUM ANALYZE ratings")
        timings["vacuum_analyze"] = round(time.monotonic() - start, 1)
    return {"rows": total, "seconds": timings}


# --- queries -----------------------------------------------------------------------------------


@contextmanager
def captured(engine: Engine) -> Iterator[list[tuple[str, Any]]]:
    """The SQL statements (with their parameters) that the engine sends while the block runs."""
    statements: list[tuple[str, Any]] = []

    def capture(_conn: Any, _cursor: Any, sql: str, params: Any, *_: Any) -> None:
        statements.append((sql, params))

    event.listen(engine, "before_cursor_execute", capture)
    try:
        yield statements
    finally:
        event.remove(engine, "before_cursor_execute", capture)


def index_names(plan: Any) -> list[str]:
    found: list[str] = []
    if isinstance(plan, dict):
        for key, value in plan.items():
            if key == "Index Name" and isinstance(value, str):
                found.append(value)
            else:
                found += index_names(value)
    elif isinstance(plan, list):
        for value in plan:
            found += index_names(value)
    return list(dict.fromkeys(found))


def explain(engine: Engine, run: Callable[[Session], object]) -> JSON:
    """EXPLAIN (ANALYZE, BUFFERS) of the main statement ``run`` sends (the first SELECT on the
    requests table, or on the statistics rollup or the ledger when it reads only that)."""
    with captured(engine) as statements, Session(engine) as session:
        run(session)
    main = [(s, p) for s, p in statements if "FROM requests" in s]
    main = main or [(s, p) for s, p in statements if "FROM request_stats_daily" in s]
    main = main or [(s, p) for s, p in statements if "FROM supervision_ledger" in s]
    sql, params = main[0]
    raw = engine.raw_connection()
    try:
        cursor = raw.cursor()
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + sql, params)
        first = cursor.fetchone()
        plan = first[0] if first is not None else None
        cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql, params)
        text = "\n".join(row[0] for row in cursor.fetchall())
    finally:
        raw.close()
    return {"indexes": index_names(plan), "plan": text, "sql": sql}


def time_query(engine: Engine, run: Callable[[Session], object], runs: int) -> JSON:
    """``runs`` timed calls, fewer (at least MIN_RUNS) when they add up to QUERY_SECONDS."""
    samples: list[float] = []
    stop = time.monotonic() + QUERY_SECONDS
    for _ in range(runs):
        if len(samples) >= MIN_RUNS and time.monotonic() > stop:
            break
        with Session(engine) as session:
            start = time.perf_counter()
            run(session)
            samples.append((time.perf_counter() - start) * 1000)
    return {
        "runs": len(samples),
        "p50_ms": round(percentile(samples, 50), 2),
        "p95_ms": round(percentile(samples, 95), 2),
        "max_ms": round(max(samples), 2),
    }


def queries(now: datetime, tz: ZoneInfo) -> dict[str, Callable[[Session], object]]:
    """The read-model calls the API makes, with the parameters a busy day has."""
    supervisor = Principal("bench-supervisor", Role.SUPERVISOR, SEED_CITY, tier="city")
    townships = [o.code for o in demo_offices() if o.tier == "township"]
    rng = random.Random(3)
    month = now.replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    last_month = (month - timedelta(days=1)).replace(day=1)

    def listing(overdue: str, second_page: bool) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            filters = readmodel.RequestFilters(township=rng.choice(townships), overdue=overdue)
            page = readmodel.list_requests(session, supervisor, filters, 50)
            if second_page and page.next_cursor:
                page = readmodel.list_requests(session, supervisor, filters, 50, page.next_cursor)
            return page

        return run

    def queue(office: str | None) -> Callable[[Session], object]:
        return lambda s: readmodel.work_queue(s, office or rng.choice(townships), 50)

    def stats(since: datetime | None, one_township: bool) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            township = rng.choice(townships) if one_township else None
            return readmodel.township_stats(session, supervisor, tz, township, since, None)

        return run

    def township_supervisor() -> Principal:
        code = rng.choice(townships)
        return Principal(f"bench-{code}", Role.SUPERVISOR, code, tier="township")

    def board_due_today(township: bool) -> Callable[[Session], object]:
        def run(session: Session) -> object:
            day = now.astimezone(tz).replace(hour=0, minute=0, second=0, microsecond=0)
            who = township_supervisor() if township else supervisor
            return board_data.due_today(session, who, day, day + timedelta(days=1))

        return run

    return {
        # The supervisor's board (daiban.console.board_data): what it asks on every render and poll.
        "board_cards_city": lambda s: board_data.township_cards(s, supervisor),
        "board_cards_township": lambda s: board_data.township_cards(s, township_supervisor()),
        "board_due_today_city": board_due_today(False),
        "board_due_today_township": board_due_today(True),
        "board_render_city": lambda s: board_data.board_rows(s, supervisor, tz, now),
        "board_render_township": lambda s: board_data.board_rows(s, township_supervisor(), tz, now),
        "board_poll_unchanged": lambda s: board_data.last_change(s),
        "board_poll_changes": lambda s: board_data.changed_since(s, supervisor, 0),
        "list_township_red": listing("red", False),
        "list_township_red_page2": listing("red", True),
        "list_township_any_overdue": listing("any", False),
        "queue_township": queue(None),
        "queue_city": queue(SEED_CITY),
        "stats_month": stats(month, False),
        "stats_township_year": stats(now - timedelta(days=365), True),
        "stats_all_time": stats(None, False),
        # The ratings per office served (GET /v1/stats/ratings): the last whole month, as the
        # published figures give it, and a year.
        "ratings_by_office_month": lambda s: office_ratings(s, supervisor, None, last_month, month),
        "ratings_by_office_year": lambda s: office_ratings(
            s, supervisor, None, now - timedelta(days=365)
        ),
    }


def measure_size(engine: Engine, rows: int, runs: int, now: datetime, tz: ZoneInfo) -> JSON:
    result: JSON = {"rows": rows, "queries": {}}
    for name, run in queries(now, tz).items():
        run(Session(engine))  # warm the cache and the statement cache
        timing = time_query(engine, run, runs)
        result["queries"][name] = {**timing, **explain(engine, run)}
    return result


class Loader:
    """Section 4 in two parts: ``load`` (one database per size, bulk-loaded: nothing is measured,
    so it runs while the open-work section makes its open requests) and ``measure`` (the
    queries, on a quiet system)."""

    def __init__(self, system: System, sizes: Sizes) -> None:
        self.system = system
        self.sizes = sizes
        self.now = datetime.now(UTC)
        self.databases: dict[int, str] = {}
        self.loads: list[JSON] = []

    async def load(self) -> None:
        """Each size in a child process (``python -m bench.readmodel``), so that generating the
        rows does not hold this process's GIL while it drives other work."""
        for rows in self.sizes.readmodel_rows:
            if rows in self.databases:
                continue
            url = await asyncio.to_thread(self.system.new_database)
            out = self.system.run_dir / f"load-{rows}.json"
            argv = [sys.executable, "-m", "bench.readmodel", url, str(rows), self.now.isoformat(),
                    self.system.tz.key, str(out)]  # fmt: skip
            child = self.system.children.spawn(f"load-{rows}", argv)
            assert child.process is not None
            code = await asyncio.to_thread(child.process.wait)
            self.system.children.stop(child)
            if code != 0:
                tail = "\n".join(child.tail(TAIL_LINES))
                raise RuntimeError(f"loading {rows:,} rows failed:\n{tail}")
            self.loads.append(json.loads(out.read_text()))
            self.databases[rows] = url

    def _measure(self) -> list[JSON]:
        results = []
        for rows, url in sorted(self.databases.items()):
            engine = make_engine(url)
            try:
                results.append(
                    measure_size(engine, rows, self.sizes.query_runs, self.now, self.system.tz)
                )
            finally:
                engine.dispose()
        return results

    async def measure(self) -> JSON:
        await self.load()  # nothing left to do when it ran during the open-work fill
        return {"loads": self.loads, "sizes": await asyncio.to_thread(self._measure)}


def main() -> None:
    """``python -m bench.readmodel URL ROWS NOW TZ OUT``: migrate and bulk-load one database, write
    the timings to OUT."""
    url, rows, now, tz, out = sys.argv[1], int(sys.argv[2]), sys.argv[3], sys.argv[4], sys.argv[5]
    upgrade(url, timezone=tz)
    load = bulk_load(url, rows, 0, datetime.fromisoformat(now), ZoneInfo(tz))
    Path(out).write_text(json.dumps(load))
    sys.stdout.flush()
    os._exit(0)


if __name__ == "__main__":
    main()

"""5. Escalation punctuality: how late each rung of the ladder is recorded.

Deadlines are made to fall within the run without faking time: the worker is restarted with its
closing time (DAIBAN_CLOSING_TIME) a few minutes ahead, and R on-the-spot requests (即办件, 0-day
limit) are submitted, handed off and accepted at once, so their official deadline is today at that
closing time (today is a working day in the bench database: bench.system adds the override when
the calendar says otherwise). At the closing time, for all R at the same instant as in a real
county at 17:00, the county ladder gives each its yellow card with a supervision order (督办单,
numbered in the recording transaction) and, the item's two limits being equal, its statutory rung.
The drain is over when every request has its yellow card and its numbered order.

From the closing time, for BURST_PAGE_SECONDS, the console's pages are asked for at the bench's
page rate (a clerk's queue, the page of a request whose rungs are firing, the supervisor's board):
what the people at their screens get while the worker and Temporal take every rung at once.

Setting up is time-boxed to SETUP_SHARE of the lead, so that every request is accepted well
before its rungs: when the system cannot accept R requests in that time, fewer are used, and the
figures say how many (``requests`` and ``requested``).

For each ledger row of an escalation, the delay is ``at`` (the workflow time of the task that
recorded it) minus the rung instant the row names (note "rung due <iso>"). The write delay uses
the notification rows of the same transition, stamped when the activity inserted them.
"""

from __future__ import annotations

import asyncio
import time
from collections import defaultdict
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import text

from bench.config import Sizes
from bench.load import JSON, Api, Arrival, Latencies, closed_loop, evenly, open_loop, summary
from bench.system import System, Token, township_of_village

ITEM = "yanglao-dengji"  # township-decided, on the spot: due today at closing time
SETUP_CONCURRENCY = 32
SETUP_SHARE = 0.55
DRAIN_TIMEOUT_SECONDS = 240.0
BURST_PAGE_SECONDS = 15.0
BURST_PAGE_KINDS = ("page_queue", "page_request", "page_board")


async def run(system: System, sizes: Sizes, api: Api) -> JSON:
    tz = system.tz
    now = datetime.now(tz)
    closing = (now + timedelta(seconds=sizes.closing_lead_seconds)).replace(microsecond=0)
    if closing.date() != now.date():
        return {"skipped": "the closing time would fall after midnight; run again after 00:05"}
    await system.restart_worker(closing.timetz().replace(tzinfo=None))
    ids: list[str] = []
    readers: list[tuple[str, Token]] = []  # each request and its township's staff
    accepted_at: list[float] = []
    # Setting up may take at most this share of the lead, so that the rungs fall after it.
    setup_deadline = time.monotonic() + sizes.closing_lead_seconds * SETUP_SHARE

    async def one(_: int) -> None:
        if time.monotonic() > setup_deadline:
            return
        agent = api.next_agent()
        staff = system.people.township_staff[township_of_village(agent.office)]
        rid = await api.submit(agent, ITEM)
        await api.first_act(rid, agent, "handoff")
        state = await api.act(rid, staff, "accept")
        if not state.get("deadline", "").startswith(closing.date().isoformat()):
            raise RuntimeError(f"{rid}: deadline {state.get('deadline')}, expected today")
        ids.append(rid)
        readers.append((rid, staff))
        accepted_at.append(time.time())

    setup_start = time.monotonic()
    await closed_loop(one, sizes.escalation_requests, SETUP_CONCURRENCY)
    setup_seconds = time.monotonic() - setup_start
    last_accept = datetime.fromtimestamp(max(accepted_at), tz)
    if last_accept >= closing:
        raise RuntimeError(
            f"accepting {len(ids)} requests took {setup_seconds:.0f} s, past the closing time"
        )
    until_closing = (closing - datetime.now(tz)).total_seconds()
    pages = asyncio.create_task(_pages_during_burst(system, api, readers, until_closing, sizes))
    # Until every request has its yellow card and its numbered order, or the drain times out.
    deadline = time.monotonic() + until_closing
    deadline += DRAIN_TIMEOUT_SECONDS
    try:
        while True:
            rows = await asyncio.to_thread(_ledger_rows, system, ids)
            orders = await asyncio.to_thread(_order_rows, system, ids)
            yellows = {r["request_id"] for r in rows if r["level"] == "yellow"}
            done = len(yellows) >= len(ids) and len(orders) >= len(ids)
            if done or time.monotonic() > deadline:
                break
            system.children.check()
            await asyncio.sleep(1.0)
    except BaseException:
        pages.cancel()  # a dead child or Ctrl-C: the pages stop with the drain
        raise
    figures = _figures(rows, ids, sizes.escalation_requests, closing, last_accept, setup_seconds)
    return {**figures, **_order_figures(orders, ids, closing), **await pages}


async def _pages_during_burst(
    system: System, api: Api, readers: list[tuple[str, Token]], delay: float, sizes: Sizes
) -> JSON:
    """The console's pages at the bench's page rate for BURST_PAGE_SECONDS from the closing
    instant (``delay`` seconds from now), their server time (``Server-Timing``) and latency."""
    pages = Api(api.http, system.people)
    pages.latencies = measured = Latencies()
    share = sizes.pages_per_s / len(BURST_PAGE_KINDS)
    arrivals = []
    for n, kind in enumerate(BURST_PAGE_KINDS):
        arrivals += evenly(kind, share, BURST_PAGE_SECONDS, phase=(n + 1) / 4)
    turn = 0

    async def handle(arrival: Arrival, due: float) -> None:
        nonlocal turn
        turn += 1
        rid, staff = readers[turn % len(readers)]
        if arrival.kind == "page_queue":
            await pages.page(arrival.kind, "/queue", staff, started=due)
        elif arrival.kind == "page_request":
            await pages.page(arrival.kind, f"/r/{rid}", staff, started=due)
        else:
            await pages.page(arrival.kind, "/board", system.people.supervisor, started=due)

    await asyncio.sleep(max(0.0, delay))
    _, failures = await open_loop(arrivals, handle)
    return {
        "burst_pages": {
            "seconds": BURST_PAGE_SECONDS,
            "errors_by_kind": dict(measured.errors),
            "pages_per_s": sizes.pages_per_s,
            "failures": failures,
            "latency_ms": measured.report(),
            "server_ms": measured.server_report(),
        }
    }


def _order_rows(system: System, ids: list[str]) -> list[dict[str, Any]]:
    """The supervision orders of the requests, as recorded (with their numbers)."""
    assert system.engine is not None
    query = text(
        "SELECT o.request_id, o.number, o.issued_at, "
        "  (SELECT min(n.created_at) FROM notification_outbox n "
        "    WHERE n.request_id = o.request_id AND n.message LIKE '督办单%') AS written_at "
        "FROM supervision_orders o WHERE o.request_id = ANY(:ids)"
    )
    with system.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query, {"ids": ids})]


def _order_figures(orders: list[dict[str, Any]], ids: list[str], closing: datetime) -> JSON:
    """How the yellow cards' orders drained: how many, and how long after the closing time each
    was issued (workflow time) and its notification written."""
    issued = [(o["issued_at"] - closing).total_seconds() * 1000 for o in orders]
    written = [
        (o["written_at"] - closing).total_seconds() * 1000
        for o in orders
        if o["written_at"] is not None
    ]
    return {
        "orders": len(orders),
        "missing_order": len(ids) - len({o["request_id"] for o in orders}),
        "order_issue_delay_ms": _seconds_summary(issued),
        "order_write_delay_ms": _seconds_summary(written),
    }


def _ledger_rows(system: System, ids: list[str]) -> list[dict[str, Any]]:
    assert system.engine is not None
    query = text(
        "SELECT l.request_id, l.level, l.at, l.note, l.event_key, "
        "  (SELECT min(o.created_at) FROM notification_outbox o "
        "    WHERE o.request_id = l.request_id "
        "      AND o.event_key LIKE split_part(l.event_key, ':', 1) || ':' "
        "          || split_part(l.event_key, ':', 2) || :suffix) AS written_at "
        "FROM supervision_ledger l "
        "WHERE l.kind = 'escalation' AND l.request_id = ANY(:ids)"
    )
    params = {"ids": ids, "suffix": ":n%"}
    with system.engine.connect() as connection:
        return [dict(row._mapping) for row in connection.execute(query, params)]


def _figures(
    rows: list[dict[str, Any]],
    ids: list[str],
    requested: int,
    closing: datetime,
    last_accept: datetime,
    setup_seconds: float,
) -> JSON:
    delays: dict[str, list[float]] = defaultdict(list)
    writes: dict[str, list[float]] = defaultdict(list)
    for row in rows:
        note = row["note"] or ""
        if not note.startswith("rung due "):
            continue
        due = datetime.fromisoformat(note.removeprefix("rung due "))
        delays[row["level"]].append((row["at"] - due).total_seconds() * 1000)
        if row["written_at"] is not None:
            writes[row["level"]].append((row["written_at"] - due).total_seconds() * 1000)
    every = [d for values in delays.values() for d in values]
    every_write = [d for values in writes.values() for d in values]
    yellows = {r["request_id"] for r in rows if r["level"] == "yellow"}
    return {
        "requests": len(ids),
        "requested": requested,
        "item": ITEM,
        "closing_time": closing.isoformat(),
        "setup_seconds": round(setup_seconds, 1),
        "last_accept": last_accept.isoformat(),
        "rows": len(rows),
        "requests_with_yellow": len(yellows),
        "missing_yellow": len(ids) - len(yellows),
        "delay_ms": _seconds_summary(every),
        "delay_ms_by_level": {level: _seconds_summary(v) for level, v in sorted(delays.items())},
        "write_delay_ms": _seconds_summary(every_write),
    }


def _seconds_summary(values: list[float]) -> JSON:
    result = summary(values)
    return {k: v for k, v in result.items() if k in ("count", "p50", "p99", "max")}

"""Every rung of the earlier escalation ladder fires at its exact instant and writes its rows:
the ladder of requests submitted before the county ladder (no ``ladder`` in their policy
snapshot), which they keep. The county ladder is tested in test_county_ladder.

Township item linshi-jiuzhu (10 working days, statutory 20) accepted Mon 2030-03-04 09:00:
official deadline Mon 18 Mar 17:00 (5,6,7,8,11,12,13,14,15,18 March); statutory Mon 1 Apr 17:00.
Reminder: one working day before the deadline, Fri 15 Mar 17:00.
Yellow: 90 % of the working time. Working time from Mon 4 09:00 to Mon 18 17:00 is
15 h + 4×24 h + 5×24 h + 17 h = 248 h; 90 % = 223 h 12 min; after Mon 4 (15 h) and 5–8 Mar (96 h)
112 h 12 min remain, which end on Fri 15 Mar at 16:12.
"""

from __future__ import annotations

import asyncio
from datetime import datetime

from models.db import LedgerRow, OutboxRow
from tests.workflows.conftest import (
    AGENT,
    ANCHOR,
    CITY,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    Harness,
    cst,
)


def minute(at: datetime) -> datetime:
    return at.astimezone(ANCHOR.tzinfo).replace(second=0, microsecond=0)


def escalation_rows(harness: Harness, rid: str) -> list[LedgerRow]:
    return [r for r in harness.ledger(rid) if r.kind == "escalation"]


def recipients(rows: list[OutboxRow], level: str) -> set[tuple[str, str]]:
    return {(r.recipient_office, r.recipient_role) for r in rows if r.level == level}


async def test_official_clock_ladder_fires_each_rung_on_time(harness: Harness) -> None:
    rid = await harness.submit("linshi-jiuzhu", earlier_ladder=True)
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    official = next(c for c in state.clocks if c.name == "official")
    assert official.deadline == cst("2030-03-18 17:00")
    assert official.statutory == cst("2030-04-01 17:00")
    assert official.reminder_at == cst("2030-03-15 17:00")
    assert official.yellow_at == cst("2030-03-15 16:12")

    expected = [
        ("yellow", cst("2030-03-15 16:12")),
        ("reminder", cst("2030-03-15 17:00")),
        ("red", cst("2030-03-18 17:00")),
        ("statutory", cst("2030-04-01 17:00")),
    ]
    overdue_after = {
        "yellow": "yellow",
        "reminder": "yellow",
        "red": "red",
        "statutory": "statutory",
    }
    for i, (level, at) in enumerate(expected, start=1):
        await harness.skip_to(at)
        state = await harness.eventually(rid, lambda s, n=i: len(s.escalations) >= n)
        fired = state.escalations[i - 1]
        assert (fired.level, fired.clock, minute(fired.at)) == (level, "official", at)
        assert state.overdue == overdue_after[level]
        rows = escalation_rows(harness, rid)
        assert len(rows) == i
        assert (rows[-1].level, rows[-1].clock, minute(rows[-1].at)) == (level, "official", at)
        assert rows[-1].office == TOWNSHIP

    # The courier delivers after the recording, on its own: wait for it rather than race it.
    for _ in range(200):
        outbox = harness.outbox(rid)
        if outbox and all(r.status == "sent" for r in outbox):
            break
        await asyncio.sleep(0.05)
    assert recipients(outbox, "reminder") == {(TOWNSHIP, "staff")}
    assert recipients(outbox, "yellow") == {(TOWNSHIP, "staff"), (TOWNSHIP, "head")}
    assert recipients(outbox, "red") == {(TOWNSHIP, "staff"), (CITY, "supervisor")}
    assert recipients(outbox, "statutory") == {(TOWNSHIP, "staff"), (CITY, "supervision")}
    assert all(r.status == "sent" for r in outbox)
    # Escalations never block the work: the office can still decide, late.
    state = await harness.act(rid, "approve", TOWNSHIP_STAFF)
    assert (state.stage, state.on_time, state.red_flag) == ("result_delivery", False, True)
    assert state.overdue == "none"  # the delivery clock is on time


async def test_step_overrun_is_red_for_the_township(harness: Harness) -> None:
    # A city item: the township pre-reviews and forwards.
    rid = await harness.submit("dibao", earlier_ladder=True)
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    step = next(c for c in state.clocks if c.name == "step")
    assert step.deadline == cst("2030-03-11 17:00")  # 5 working days
    await harness.skip_to(cst("2030-03-11 17:00"))
    state = await harness.eventually(rid, lambda s: s.overdue == "red")
    red = [e for e in state.escalations if e.level == "red"]
    assert [(e.clock, minute(e.at)) for e in red] == [("step", cst("2030-03-11 17:00"))]
    assert recipients(harness.outbox(rid), "red") == {(TOWNSHIP, "staff"), (CITY, "supervisor")}
    # Still at work: forwarding late is allowed and the city starts its own acceptance window.
    state = await harness.act(rid, "forward", TOWNSHIP_STAFF)
    assert (state.stage, state.overdue, state.red_flag) == ("city_review", "none", True)


async def test_agent_handoff_overdue_goes_to_township_supervisor(harness: Harness) -> None:
    rid = await harness.submit("linshi-jiuzhu", earlier_ladder=True)
    # Hand-off limit 2 working days: Wed 6 March 17:00.
    await harness.skip_to(cst("2030-03-06 17:00"))
    state = await harness.eventually(rid, lambda s: s.overdue == "red")
    # Reminder Tue 5 Mar 17:00; yellow: 90 % of 15 h + 24 h + 17 h = 50 h 24 min → Wed 6 11:24.
    assert [(e.level, minute(e.at)) for e in state.escalations] == [
        ("reminder", cst("2030-03-05 17:00")),
        ("yellow", cst("2030-03-06 11:24")),
        ("red", cst("2030-03-06 17:00")),
    ]
    assert recipients(harness.outbox(rid), "red") == {
        ("370285004001", "staff"),
        (TOWNSHIP, "supervisor"),
    }

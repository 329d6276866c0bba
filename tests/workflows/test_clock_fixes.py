"""Two clock defects an independent check found, each pinned by a test that failed before the fix.

1. The statutory limit is a rung of its own even when it falls on the promised deadline's instant
   (an item whose two limits are equal; an extension capped at the statutory limit): the clock
   used to report no statutory deadline then, and the city's supervision office was never told.
2. ``expected_at`` (the promise to the resident) follows a calendar change like the deadlines.
"""

from __future__ import annotations

from datetime import date

import pytest

from daiban.store.calendar import load_calendar_year
from daiban.store.db import session_scope
from daiban.store.recompute import signal_open_requests
from tests.workflows.conftest import (
    AGENT,
    CITY,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    Harness,
    cst,
)
from tests.workflows.test_ladder import minute


async def fired_at(harness: Harness, rid: str, at: str, levels: set[str]) -> None:
    """Skip to ``at`` and check that exactly ``levels`` fired there, each written and notified."""
    await harness.skip_to(cst(at))
    state = await harness.eventually(
        rid, lambda s: levels <= {e.level for e in s.escalations if minute(e.at) == cst(at)}
    )
    assert {e.level for e in state.escalations if minute(e.at) == cst(at)} == levels
    rows = [r for r in harness.ledger(rid) if r.kind == "escalation" and minute(r.at) == cst(at)]
    assert {r.level for r in rows} == levels
    statutory = [r for r in harness.outbox(rid) if r.level == "statutory"]
    assert {(r.recipient_office, r.recipient_role) for r in statutory} == {
        (TOWNSHIP, "staff"),
        (CITY, "supervision"),
    }


# The rung at the deadline: the county ladder's yellow card, the earlier ladder's red card.
LADDERS = pytest.mark.parametrize(
    ("earlier", "at_deadline"), [(False, "yellow"), (True, "red")], ids=["county", "earlier"]
)


@LADDERS
async def test_equal_limits_still_have_a_statutory_rung(
    harness: Harness, earlier: bool, at_deadline: str
) -> None:
    # zhaijidi: promised and statutory both 20 working days from Mon 4 March 09:00: 5–8, 11–15,
    # 18–22, 25–29 March, 1 April → Mon 1 April 17:00, both.
    rid = await harness.submit("zhaijidi", earlier_ladder=earlier)
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    official = next(c for c in state.clocks if c.name == "official")
    assert official.deadline == official.statutory == cst("2030-04-01 17:00")
    await fired_at(harness, rid, "2030-04-01 17:00", {at_deadline, "statutory"})
    assert (await harness.state(rid)).overdue == "statutory"


@LADDERS
async def test_an_extension_capped_at_statutory_keeps_the_statutory_rung(
    harness: Harness, earlier: bool, at_deadline: str
) -> None:
    # linshi-jiuzhu: 10 working days (Mon 18 March), statutory 20 (Mon 1 April); 15 more days
    # are capped at the statutory limit.
    rid = await harness.submit(earlier_ladder=earlier)
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=15, note="需入户调查")
    state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    official = next(c for c in state.clocks if c.name == "official")
    assert official.deadline == official.statutory == cst("2030-04-01 17:00")
    await fired_at(harness, rid, "2030-04-01 17:00", {at_deadline, "statutory"})


async def test_expected_at_follows_a_calendar_change(harness: Harness) -> None:
    # As in test_paths: accepted Fri 27 Dec 2030, 2031 provisional (Mon–Fri): deadline Fri 10 Jan,
    # the promise two delivery days later, Tue 14 Jan.
    rid = await harness.submit(at=cst("2030-12-27 09:00"))
    await harness.act(rid, "handoff", AGENT)
    state = await harness.act(rid, "accept", TOWNSHIP_STAFF)
    assert (state.deadline, state.expected_at) == (cst("2031-01-10 17:00"), cst("2031-01-14 17:00"))
    with session_scope(harness.engine) as session:
        holidays = [date(2031, 1, d) for d in (1, 2, 3)]
        load_calendar_year(session, 2031, holidays, [], note="State Council 2031")
    assert await signal_open_requests(harness.client, harness.engine) == 1
    # New Year off Wed 1 – Fri 3 January: deadline Wed 15 Jan; the promise Thu 16, Fri 17 Jan.
    state = await harness.eventually(rid, lambda s: not s.deadline_provisional)
    assert (state.deadline, state.expected_at) == (cst("2031-01-15 17:00"), cst("2031-01-17 17:00"))
    row = harness.row(rid)
    assert row is not None and row.expected_at == cst("2031-01-17 17:00")


async def test_expected_at_after_an_extension_follows_a_calendar_change(harness: Harness) -> None:
    # Accepted Fri 27 Dec 2030; the city's extension moves the deadline 3 working days: from the
    # provisional Fri 10 Jan to Wed 15 Jan, the promise to Fri 17 Jan. Loading 2031 (1–3 Jan off)
    # moves the deadline to Mon 20 Jan (15 Jan + 3), the promise to Wed 22 Jan.
    rid = await harness.submit(at=cst("2030-12-27 09:00"))
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "request_extension", TOWNSHIP_STAFF, days=3, note="需入户调查")
    state = await harness.act(rid, "approve_extension", TOWNSHIP_SUPERVISOR)
    assert (state.deadline, state.expected_at) == (cst("2031-01-15 17:00"), cst("2031-01-17 17:00"))
    with session_scope(harness.engine) as session:
        holidays = [date(2031, 1, d) for d in (1, 2, 3)]
        load_calendar_year(session, 2031, holidays, [], note="State Council 2031")
    assert await signal_open_requests(harness.client, harness.engine) == 1
    state = await harness.eventually(rid, lambda s: not s.deadline_provisional)
    assert (state.deadline, state.expected_at) == (cst("2031-01-20 17:00"), cst("2031-01-22 17:00"))

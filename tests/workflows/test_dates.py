"""Dates an action names are read in the service's time zone and bounded, and a calendar change
that moves only a reminder or a yellow card's instant is applied like any other."""

from __future__ import annotations

from datetime import date, timedelta

from daiban.store.calendar import set_override
from daiban.store.db import session_scope
from tests.workflows.conftest import AGENT, CITY_STAFF, TOWNSHIP_STAFF, Harness, cst
from tests.workflows.test_paths import rejected
from workflows.request import ResidentRequestWorkflow


async def test_a_gap_due_date_is_checked_against_the_local_date(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    # 07:00 on Tuesday 5 March in Shanghai is still Monday 4 March in UTC.
    await harness.skip_to(cst("2030-03-05 07:00"))
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["遭遇困难情况证明"], due="2030-03-04", commitment="承诺书",
    )  # fmt: skip
    assert failure.type == "InvalidAction"
    assert failure.details[0]["errors"] == [
        {"field": "due", "message": "due must not be in the past"}
    ]
    state = await harness.act(
        rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["遭遇困难情况证明"], due="2030-03-05", commitment="承诺书",
    )  # fmt: skip
    assert state.gap_due == "2030-03-05"


async def test_a_gap_due_date_far_ahead_is_refused(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    failure = await rejected(
        harness, rid, "accept_with_gap", TOWNSHIP_STAFF,
        missing_materials=["遭遇困难情况证明"], due="9999-12-31", commitment="承诺书",
    )  # fmt: skip
    assert failure.type == "InvalidAction"
    assert failure.details[0]["errors"][0]["field"] == "due"


async def test_a_calendar_change_that_moves_only_the_reminder_is_applied(
    harness: Harness,
) -> None:
    # An ID card: 60 natural days from the city center's acceptance, Mon 4 March → Fri 3 May.
    rid = await harness.submit("shenfenzheng")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "forward", TOWNSHIP_STAFF)
    state = await harness.act(rid, "accept", CITY_STAFF)
    official = next(c for c in state.clocks if c.name == "official")
    assert official.deadline == cst("2030-05-03 17:00")
    assert official.reminder_at == cst("2030-05-02 17:00")  # one working day before
    # Thursday 2 May becomes a day off: the natural-day deadline stays, the reminder moves to
    # the working day before it, Wednesday 1 May.
    with session_scope(harness.engine) as session:
        set_override(session, date(2030, 5, 2), "holiday", note="调休")
    await harness.handles[rid].signal(ResidentRequestWorkflow.calendar_changed)
    state = await harness.eventually(rid, lambda s: s.history[-1].action == "recompute_deadlines")
    official = next(c for c in state.clocks if c.name == "official")
    assert official.deadline == cst("2030-05-03 17:00")
    assert official.reminder_at == cst("2030-05-01 17:00")
    # The ladder's timer was reset: the reminder fires at the new instant, not the old one.
    await harness.skip_to(cst("2030-05-01 17:01"))
    state = await harness.eventually(
        rid, lambda s: any(e.level == "reminder" for e in s.escalations)
    )
    reminder = next(e for e in state.escalations if e.level == "reminder")
    assert abs(reminder.at - cst("2030-05-01 17:00")) < timedelta(minutes=1)
    row = harness.row(rid)  # and the read model has what the workflow has
    assert row is not None and row.version == state.version

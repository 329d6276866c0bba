"""compute_deadlines: chains, shifts with caps, and a bad query that is not retried."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import pytest
from temporalio.exceptions import ApplicationError
from temporalio.testing import ActivityEnvironment

from activities.calendar_source import CalendarSource
from activities.deadlines import DeadlineActivities
from models.contracts import ClockQuery, DeadlineBatch, LimitSpec, ShiftQuery
from workflows.timeouts import INVALID_DEADLINE_QUERY, NON_RETRYABLE_ERRORS

CST = timezone(timedelta(hours=8))
MON = datetime(2026, 12, 7, 10, 0, tzinfo=CST)


def run(batch: DeadlineBatch):  # type: ignore[no-untyped-def]
    activities = DeadlineActivities(CalendarSource(None))
    return ActivityEnvironment().run(activities.compute_deadlines, batch)


def test_chained_steps_and_statutory() -> None:
    steps = [LimitSpec(2), LimitSpec(5), LimitSpec(2)]
    result = run(DeadlineBatch(clocks=[ClockQuery("x", MON, steps, [LimitSpec(20)])]))
    # Mon 7 Dec + 2 → Wed 9; + 5 → Wed 16; + 2 → Fri 18 December 2026.
    times = result.clocks[0]
    assert times.deadline == datetime(2026, 12, 18, 17, 0, tzinfo=CST)
    assert not times.provisional  # every date up to 18 December has data
    # 20 working days reach into 2027, which has no data yet: Fri 1 January counts as a
    # working day under the Mon–Fri fallback, so the 20th is Mon 4 January.
    assert times.statutory == datetime(2027, 1, 4, 17, 0, tzinfo=CST)


def test_shift_is_capped() -> None:
    deadline = datetime(2026, 12, 14, 17, 0, tzinfo=CST)
    cap = datetime(2026, 12, 16, 17, 0, tzinfo=CST)
    query = ShiftQuery("official", MON, deadline, cap, extra_days=10, cap=cap)
    result = run(DeadlineBatch(shifts=[query]))
    assert result.shifts[0].deadline == cap


def test_a_bad_query_fails_without_retry() -> None:
    assert INVALID_DEADLINE_QUERY in NON_RETRYABLE_ERRORS
    with pytest.raises(ApplicationError) as info:
        run(DeadlineBatch(clocks=[ClockQuery("x", MON, [LimitSpec(-1)])]))
    assert info.value.type == INVALID_DEADLINE_QUERY and info.value.non_retryable


def test_a_clock_may_start_where_another_of_the_batch_ends() -> None:
    official = ClockQuery("official", MON, [LimitSpec(5)])
    # The start given is ignored: delivery follows the official clock (Mon 14 Dec) by 2 days.
    delivery = ClockQuery("expected", MON, [LimitSpec(2)], ladder=False, after="official")
    result = run(DeadlineBatch(clocks=[official, delivery]))
    assert [t.deadline.day for t in result.clocks] == [14, 16]
    with pytest.raises(ApplicationError):  # the clock it follows must come first
        run(DeadlineBatch(clocks=[delivery, official]))


def test_a_lawful_extension_moves_the_statutory_deadline_in_its_unit() -> None:
    start = datetime(2026, 12, 1, 10, 0, tzinfo=CST)
    deadline = datetime(2026, 12, 8, 17, 0, tzinfo=CST)
    statutory = datetime(2026, 12, 8, 17, 0, tzinfo=CST)
    # 30 natural days from Tue 8 Dec: Thu 7 January 2027 (provisional, Mon–Fri).
    query = ShiftQuery(
        "official", start, deadline, statutory, extra_days=40,
        statutory_extension=LimitSpec(30, "natural"),
    )  # fmt: skip
    shifted = run(DeadlineBatch(shifts=[query], statutory_rung=True)).shifts[0]
    assert shifted.statutory == shifted.deadline == datetime(2027, 1, 7, 17, 0, tzinfo=CST)
    # In working days: 8 Dec + 3 → Fri 11 Dec; the deadline moves 1 day, under it.
    query = ShiftQuery(
        "official", start, deadline, statutory, extra_days=1,
        statutory_extension=LimitSpec(3, "working"),
    )  # fmt: skip
    shifted = run(DeadlineBatch(shifts=[query], statutory_rung=True)).shifts[0]
    assert shifted.statutory == datetime(2026, 12, 11, 17, 0, tzinfo=CST)
    assert shifted.deadline == datetime(2026, 12, 9, 17, 0, tzinfo=CST)

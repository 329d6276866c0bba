"""Property tests of the working-day calendar over any start instant and limit."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from daiban.domain.workdays import DayKind, WorkdayCalendar

CAL = WorkdayCalendar(
    overrides={date(2027, 1, 1): DayKind.HOLIDAY, date(2027, 2, 6): DayKind.WORKDAY}
)
starts = st.datetimes(
    min_value=datetime(2024, 1, 1), max_value=datetime(2028, 12, 31), timezones=st.just(UTC)
)
limits = st.integers(min_value=0, max_value=60)
units = st.sampled_from(["working", "natural"])


@settings(max_examples=300, deadline=None)
@given(start=starts, limit=limits, unit=units)
def test_deadline_is_never_before_the_start_day_and_ends_at_closing(
    start: datetime, limit: int, unit: str
) -> None:
    d = CAL.deadline(start, limit, unit)  # type: ignore[arg-type]
    local = start.astimezone(CAL.tz)
    assert d.at.date() >= local.date()
    assert d.at.timetz().replace(tzinfo=None) == CAL.closing
    assert CAL.is_workday(d.at.date())
    if limit > 0:
        assert d.at > start


@settings(max_examples=300, deadline=None)
@given(start=starts, a=limits, b=limits, unit=units)
def test_deadline_is_monotonic_in_the_limit(start: datetime, a: int, b: int, unit: str) -> None:
    lo, hi = sorted((a, b))
    assert CAL.deadline(start, lo, unit).at <= CAL.deadline(start, hi, unit).at  # type: ignore[arg-type]


@settings(max_examples=300, deadline=None)
@given(
    start=starts,
    later=st.timedeltas(min_value=timedelta(0), max_value=timedelta(days=90)),
    n=limits,
)
def test_deadline_is_monotonic_in_the_start(start: datetime, later: timedelta, n: int) -> None:
    assert CAL.deadline(start, n, "working").at <= CAL.deadline(start + later, n, "working").at


@settings(max_examples=300, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=60))
def test_working_days_round_trip(start: datetime, n: int) -> None:
    d = CAL.deadline(start, n, "working")
    assert CAL.working_days_between(start, d.at) == n
    assert CAL.shift(d.at, 0).at == d.at
    assert CAL.working_days_between(d.at, CAL.shift(d.at, n).at) == n


@settings(max_examples=200, deadline=None)
@given(start=starts, n=st.integers(min_value=1, max_value=40))
def test_ladder_rungs_are_ordered_inside_the_period(start: datetime, n: int) -> None:
    deadline = CAL.deadline(start, n, "working").at
    ladder = CAL.ladder(start, deadline, CAL.shift(deadline, 5).at)
    for rung in (ladder.reminder_at, ladder.yellow_at):
        assert rung is None or start < rung < deadline
    assert ladder.red_at == deadline
    assert ladder.statutory_at is not None and ladder.statutory_at > deadline

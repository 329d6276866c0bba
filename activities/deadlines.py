"""``compute_deadlines``: every deadline of docs/design.md §2, computed outside workflow code.

The workflow records the result in its history, so a later change of the calendar data never makes
a running workflow non-deterministic; it only affects clocks started after the change.
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime, time

from temporalio import activity
from temporalio.exceptions import ApplicationError

from activities.calendar_source import CalendarSource
from daiban.domain.workdays import Deadline, WorkdayCalendar
from models.contracts import (
    ClockQuery,
    ClockTimes,
    DeadlineBatch,
    DeadlineResult,
    LadderPolicy,
    LimitSpec,
    ShiftQuery,
)
from workflows.timeouts import INVALID_DEADLINE_QUERY


def _chain(cal: WorkdayCalendar, start: datetime, steps: list[LimitSpec]) -> tuple[datetime, bool]:
    """Each step starts where the previous one ended (e.g. hand-off, then review, then delivery)."""
    at, provisional = start, False
    for step in steps:
        d = cal.deadline(at, step.limit, "natural" if step.unit == "natural" else "working")
        at, provisional = d.at, provisional or d.provisional
    return at, provisional


def _until(cal: WorkdayCalendar, day: date) -> Deadline:
    """Closing time of ``day``, rolled forward to a working day (an accept-with-gap due date)."""
    due, provisional = cal.add_working_days(day, 0)
    return Deadline(at=datetime.combine(due, cal.closing, tzinfo=cal.tz), provisional=provisional)


def _extend(cal: WorkdayCalendar, statutory: datetime, extension: LimitSpec) -> datetime:
    """The statutory deadline moved out by a lawful extension, in the extension's unit."""
    if extension.unit == "natural":
        return cal.deadline(statutory, extension.limit, "natural").at
    return cal.shift(statutory, extension.limit).at


def clock_times(cal: WorkdayCalendar, batch: DeadlineBatch, query: ClockQuery) -> ClockTimes:
    if query.until is not None:
        d = _until(cal, date.fromisoformat(query.until))
        deadline, provisional = d.at, d.provisional
    else:
        deadline, provisional = _chain(cal, query.start, query.steps)
    statutory = None
    if query.statutory_steps:
        statutory, _ = _chain(cal, query.start, query.statutory_steps)
    if query.paused_days or query.extended_days:
        moved = cal.shift(deadline, query.paused_days + query.extended_days)
        deadline, provisional = moved.at, provisional or moved.provisional
        if statutory is not None:
            statutory = cal.shift(statutory, query.paused_days).at
            if query.statutory_extension is not None:
                statutory = _extend(cal, statutory, query.statutory_extension)
            if query.extended_days and deadline > statutory:
                deadline = statutory
    return _with_ladder(
        cal, batch, query.name, query.start, deadline, statutory, provisional, query.ladder
    )


def _with_ladder(
    cal: WorkdayCalendar,
    batch: DeadlineBatch,
    name: str,
    start: datetime,
    deadline: datetime,
    statutory: datetime | None,
    provisional: bool,
    ladder: bool,
) -> ClockTimes:
    times = ClockTimes(name=name, deadline=deadline, provisional=provisional, statutory=statutory)
    if ladder and batch.county is not None:
        _county_rungs(cal, batch.county, start, times)
    elif ladder:
        rungs = cal.ladder(
            start,
            deadline,
            statutory,
            reminder_days=batch.reminder_days,
            yellow_fraction=batch.yellow_fraction,
            statutory_own_rung=batch.statutory_rung,
        )
        times.reminder_at, times.yellow_at = rungs.reminder_at, rungs.yellow_at
        times.statutory = rungs.statutory_at
    return times


def opening_time(policy: LadderPolicy) -> time:
    return time.fromisoformat(policy.opening)


def _county_rungs(
    cal: WorkdayCalendar, policy: LadderPolicy, start: datetime, times: ClockTimes
) -> None:
    """The county ladder's instants (docs/design.md §3), each within office hours: a reminder
    before the deadline, the optional warning at a share of the office time, the yellow card at
    the deadline and the statutory rung at the statutory deadline, always its own."""
    opening = opening_time(policy)
    rungs = cal.ladder(
        start,
        times.deadline,
        times.statutory,
        reminder_days=policy.reminder_days,
        yellow_fraction=0.0,
    )
    if rungs.reminder_at is not None:
        times.reminder_at = cal.office_instant(rungs.reminder_at, opening)
    if policy.warning_share is not None:
        times.warning_at = cal.office_share(start, times.deadline, policy.warning_share, opening)
    times.yellow_at = cal.office_instant(times.deadline, opening)


def shifted_times(
    cal: WorkdayCalendar, batch: DeadlineBatch, query: ShiftQuery, paused_days: int
) -> ClockTimes:
    days = paused_days + query.extra_days
    moved = cal.shift(query.deadline, days)
    deadline, provisional = moved.at, moved.provisional
    statutory = query.statutory
    if statutory is not None and paused_days:
        # A pause stops every clock, the statutory one included; an extension does not move it,
        # unless it is the item's lawful one, which moves it once and caps the deadline there.
        statutory = cal.shift(statutory, paused_days).at
    cap = query.cap
    if statutory is not None and query.statutory_extension is not None:
        statutory = cap = _extend(cal, statutory, query.statutory_extension)
    if cap is not None and deadline > cap:
        deadline = cap
    return _with_ladder(
        cal, batch, query.name, query.start, deadline, statutory, provisional, query.ladder
    )


def compute(cal: WorkdayCalendar, batch: DeadlineBatch) -> DeadlineResult:
    """Pure: the whole batch against one calendar snapshot."""
    paused = 0
    for query in batch.shifts:
        if query.since is not None and query.until is not None:
            paused = cal.working_days_between(query.since, query.until)
            break
    computed: list[ClockTimes] = []
    for q in batch.clocks:
        if q.after is not None:
            before = next((t for t in computed if t.name == q.after), None)
            if before is None:
                raise ValueError(f"clock {q.name!r} follows {q.after!r}, not earlier in the batch")
            q = replace(q, start=before.deadline)
        computed.append(clock_times(cal, batch, q))
    respond_by: list[datetime] = []
    if batch.orders:
        if batch.county is None:
            raise ValueError("supervision orders need the county ladder's office hours")
        opening = opening_time(batch.county)
        respond_by = [cal.respond_by(q.issued_at, q.days, opening) for q in batch.orders]
    return DeadlineResult(
        respond_by=respond_by,
        clocks=computed,
        shifts=[shifted_times(cal, batch, q, paused if q.since else 0) for q in batch.shifts],
        shifted_working_days=paused,
    )


class DeadlineActivities:
    def __init__(self, source: CalendarSource) -> None:
        self._source = source

    @activity.defn(name="compute_deadlines")
    def compute_deadlines(self, batch: DeadlineBatch) -> DeadlineResult:
        if batch.reload_calendar:
            self._source.reload()
        try:
            return compute(self._source.calendar(), batch)
        except ValueError as error:
            # A negative limit, an unknown unit, a naive instant: the same input fails every
            # time, so retrying would only delay the failure.
            raise ApplicationError(
                str(error), type=INVALID_DEADLINE_QUERY, non_retryable=True
            ) from error

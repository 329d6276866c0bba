"""Pure functions over the clocks of a request: which rung is next, who hears of it, and the
queries the ``compute_deadlines`` activity answers. No Temporal calls here: unit-testable as is."""

from __future__ import annotations

from datetime import datetime

from models.contracts import (
    LEVEL_ORDER,
    Clock,
    ClockName,
    ClockQuery,
    ClockTimes,
    Expiry,
    ItemSpec,
    Level,
    LimitSpec,
    Policy,
    RequestState,
    ShiftQuery,
    Stage,
    SupervisionOrder,
)

RUNG_LEVELS = (Level.REMINDER, Level.YELLOW, Level.RED, Level.STATUTORY)

# The clock whose deadline a stage shows as ``deadline``, in order of preference.
PRIMARY_CLOCKS: dict[str, tuple[str, ...]] = {
    Stage.VILLAGE_INTAKE: (ClockName.HANDOFF,),
    Stage.TOWNSHIP_REVIEW: (ClockName.OFFICIAL, ClockName.STEP, ClockName.ACCEPTANCE),
    Stage.CITY_REVIEW: (ClockName.OFFICIAL, ClockName.ACCEPTANCE),
    Stage.AWAITING_SUPPLEMENT: (ClockName.SUPPLEMENT,),
    Stage.RESULT_DELIVERY: (ClockName.DELIVERY,),
    Stage.AWAITING_RATING: (ClockName.RATING,),
    # The callback is due first; a scheduled fix has its own due date.
    Stage.RECTIFICATION: (ClockName.CALLBACK, ClockName.RECTIFICATION, ClockName.RECTIFY_DUE),
}


def wd(days: int) -> LimitSpec:
    return LimitSpec(days, "working")


def query(
    name: str,
    start: datetime,
    steps: list[LimitSpec],
    statutory: list[LimitSpec] | None = None,
    *,
    ladder: bool = True,
) -> ClockQuery:
    return ClockQuery(name=name, start=start, steps=steps, statutory_steps=statutory, ladder=ladder)


def expected_steps(policy: Policy, item: ItemSpec, from_stage: str) -> list[LimitSpec]:
    """The promise to the resident (``expected_at``): the remaining legs end to end."""
    steps: list[LimitSpec] = []
    if from_stage == Stage.VILLAGE_INTAKE:
        steps.append(wd(policy.agent_handoff_days))
    if item.deciding_tier == "city" and from_stage != Stage.CITY_REVIEW:
        steps.append(wd(policy.township_step_days))
    steps.append(item.promised)
    steps.append(wd(policy.delivery_days))
    return steps


def shift_query(
    clock: Clock,
    *,
    since: datetime | None = None,
    until: datetime | None = None,
    extra_days: int = 0,
    cap: datetime | None = None,
) -> ShiftQuery:
    return ShiftQuery(
        name=clock.name,
        start=clock.started_at,
        deadline=clock.deadline,
        statutory=clock.statutory,
        since=since,
        until=until,
        extra_days=extra_days,
        cap=cap,
        ladder=clock.expiry in (Expiry.ESCALATE, Expiry.DEEM_ACCEPTED),
    )


def expected_shift(state: RequestState, *, since: datetime, until: datetime) -> list[ShiftQuery]:
    if state.expected_at is None:
        return []
    return [
        ShiftQuery(
            name="expected",
            start=state.created_at,
            deadline=state.expected_at,
            statutory=None,
            since=since,
            until=until,
            ladder=False,
        )
    ]


def find_clock(state: RequestState, name: str) -> Clock | None:
    return next((c for c in state.clocks if c.name == name), None)


def drop_clocks(state: RequestState, *names: str) -> None:
    state.clocks = [c for c in state.clocks if c.name not in names]


def apply_shifts(state: RequestState, shifted: list[ClockTimes]) -> None:
    for times in shifted:
        if times.name == "expected":
            state.expected_at = times.deadline
            continue
        clock = find_clock(state, times.name)
        if clock is not None:
            set_times(clock, times)


def set_times(clock: Clock, times: ClockTimes) -> None:
    """Give a running clock newly computed instants; the rungs it already fired stay fired."""
    clock.deadline, clock.statutory = times.deadline, times.statutory
    clock.reminder_at, clock.yellow_at = times.reminder_at, times.yellow_at
    clock.warning_at = times.warning_at
    clock.provisional = times.provisional


def rungs(clock: Clock) -> list[tuple[str, datetime | None]]:
    """A clock's rungs in order. The county ladder (docs/design.md §3) has its yellow card at the
    deadline and no red card there: the red card is an unanswered supervision order's. A window
    that expires (the acceptance window, a supplement or rating window) acts at its deadline."""
    if not clock.county:
        instants = (clock.reminder_at, clock.yellow_at, clock.deadline, clock.statutory)
        return list(zip(RUNG_LEVELS, instants, strict=True))
    at_deadline = (
        (Level.YELLOW, clock.yellow_at)
        if clock.expiry == Expiry.ESCALATE
        else (Level.RED, clock.deadline)
    )
    return [
        (Level.REMINDER, clock.reminder_at),
        (Level.WARNING, clock.warning_at),
        at_deadline,
        (Level.STATUTORY, clock.statutory),
    ]


def pending_rungs(clock: Clock) -> list[tuple[str, datetime]]:
    return [
        (level, at) for level, at in rungs(clock) if at is not None and level not in clock.fired
    ]


def orders_due(state: RequestState) -> list[SupervisionOrder]:
    """Open supervision orders whose red card has not fired: their response deadline is a rung."""
    return [o for o in state.orders if o.status == "open" and not o.overdue]


def next_rung(state: RequestState) -> datetime | None:
    """The instant the workflow must next wake up; none while the clock is paused."""
    if state.paused is not None:
        return None
    instants = [at for clock in state.clocks for _, at in pending_rungs(clock)]
    instants += [o.respond_by for o in orders_due(state)]
    return min(instants, default=None)


def tier_above(state: RequestState, office: str) -> str:
    """The office supervising ``office``: the township for a village, the city otherwise."""
    return state.township if office == state.village else state.city


def recipients(state: RequestState, office: str, level: str) -> list[tuple[str, str]]:
    """docs/design.md §3: who hears of each rung (office, role)."""
    if level == Level.REMINDER:
        return [(office, "staff")]
    if level == Level.WARNING:
        return [(office, "staff"), (office, "head")]
    if level == Level.YELLOW:
        if state.county_ladder:  # with a supervision order from the tier above
            return [(office, "staff"), (office, "head"), (tier_above(state, office), "supervisor")]
        return [(office, "staff"), (office, "head")]
    if level == Level.RED:
        if state.county_ladder:
            up = tier_above(state, office)
            return [(office, "staff"), (up, "supervisor"), (state.city, "supervision")]
        return [(office, "staff"), (tier_above(state, office), "supervisor")]
    return [(office, "staff"), (state.city, "supervision")]


def primary_clock(state: RequestState) -> Clock | None:
    for name in PRIMARY_CLOCKS.get(state.stage, ()):
        clock = find_clock(state, name)
        if clock is not None:
            return clock
    return None


def overdue_level(state: RequestState) -> str:
    """The worst rung fired on a running clock. An expiring window's own deadline is not an
    overdue level: its expiry acts instead."""
    fired = [
        level
        for clock in state.clocks
        for level in clock.fired
        if clock.expiry == Expiry.ESCALATE or level != Level.RED
    ]
    # An order that went unanswered is red until it is closed.
    fired += [Level.RED for o in state.orders if o.overdue and o.status != "closed"]
    return max(fired, key=lambda level: LEVEL_ORDER[Level(level)], default=Level.NONE)

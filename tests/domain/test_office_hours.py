"""Office hours on the working-day calendar (the county ladder): no rung outside them, shares of a
limit in office time, and supervision orders' response deadlines. Dates against the 2026 schedule
(National Day 1–7 October off, Saturday 10 October worked)."""

from __future__ import annotations

from datetime import datetime, time
from zoneinfo import ZoneInfo

import pytest

from daiban.domain.workdays import WorkdayCalendar

SH = ZoneInfo("Asia/Shanghai")
OPENING = time(8, 30)
CAL = WorkdayCalendar()


def at(s: str) -> datetime:
    return datetime.fromisoformat(s).replace(tzinfo=SH)


@pytest.mark.parametrize(
    ("moment", "fires"),
    [
        ("2026-12-07 10:00", "2026-12-07 10:00"),  # open: as it is
        ("2026-12-07 08:30", "2026-12-07 08:30"),  # the opening itself
        ("2026-12-07 17:00", "2026-12-07 17:00"),  # closing time itself (every deadline)
        ("2026-12-07 07:59", "2026-12-07 08:30"),  # before opening: that morning
        ("2026-12-07 17:01", "2026-12-08 08:30"),  # after closing: the next morning
        ("2026-12-11 22:00", "2026-12-14 08:30"),  # Friday night: Monday
        ("2026-09-30 18:00", "2026-10-08 08:30"),  # National Day: after the holiday
        ("2026-10-09 20:00", "2026-10-10 08:30"),  # a make-up Saturday is a working day
    ],
)
def test_a_moment_outside_office_hours_moves_to_the_next_opening(moment: str, fires: str) -> None:
    assert CAL.office_instant(at(moment), OPENING) == at(fires)


def test_a_share_is_measured_in_office_time() -> None:
    # Mon 7 Dec 10:00 → Mon 14 Dec 17:00: 7 h + 4 × 8.5 h + 8.5 h = 49.5 h of office time.
    # Half of it, 24.75 h: 7 h on Mon 7, 17 h on Tue–Wed, 0.75 h into Thu 10: 09:15.
    start, deadline = at("2026-12-07 10:00"), at("2026-12-14 17:00")
    assert CAL.office_share(start, deadline, 0.5, OPENING) == at("2026-12-10 09:15")
    # 90 %: 44.55 h = 7 + 34 (Tue–Fri) + 3.55 h into Mon 14 → 12:03 (never at night).
    assert CAL.office_share(start, deadline, 0.9, OPENING) == at("2026-12-14 12:03")
    with pytest.raises(ValueError):
        CAL.office_share(start, deadline, 1.0, OPENING)


def test_a_response_deadline_counts_working_days_to_the_minute() -> None:
    # Tue 8 Dec 10:00:42 + 2 working days → Thu 10 Dec 10:00.
    assert CAL.respond_by(at("2026-12-08 10:00:42"), 2, OPENING) == at("2026-12-10 10:00")
    # Fri 11 Dec 17:00 + 2 → Tue 15 Dec 17:00 (the weekend does not count).
    assert CAL.respond_by(at("2026-12-11 17:00"), 2, OPENING) == at("2026-12-15 17:00")
    # Issued at night: Tue 20:00 + 1 → Wed 20:00, closed → Thu 08:30.
    assert CAL.respond_by(at("2026-12-08 20:00"), 1, OPENING) == at("2026-12-10 08:30")
    with pytest.raises(ValueError):
        CAL.respond_by(at("2026-12-08 10:00"), 0, OPENING)

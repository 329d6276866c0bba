"""The working-day calendar, checked by hand against the State Council's 2026 schedule.

2026 (notice of 2025-11-04): days off 1–3 Jan, 15–23 Feb, 4–6 Apr, 1–5 May, 19–21 Jun, 25–27 Sep,
1–7 Oct; make-up working days 4 Jan (Sun), 14 Feb (Sat), 28 Feb (Sat), 9 May (Sat), 20 Sep (Sun),
10 Oct (Sat). 2027 is not in chinesecalendar 1.11: Mon–Fri, provisional.
"""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import chinese_calendar
import pytest

from daiban.domain.workdays import DayKind, Deadline, Ladder, WorkdayCalendar

SH = ZoneInfo("Asia/Shanghai")

OFF_2026 = [
    ("2026-01-01", "2026-01-03"),
    ("2026-02-15", "2026-02-23"),
    ("2026-04-04", "2026-04-06"),
    ("2026-05-01", "2026-05-05"),
    ("2026-06-19", "2026-06-21"),
    ("2026-09-25", "2026-09-27"),
    ("2026-10-01", "2026-10-07"),
]
MAKEUP_2026 = ["2026-01-04", "2026-02-14", "2026-02-28", "2026-05-09", "2026-09-20", "2026-10-10"]


def d(s: str) -> date:
    return date.fromisoformat(s)


def at(s: str) -> datetime:
    """An ISO instant; without an offset it is Shanghai wall-clock time."""
    moment = datetime.fromisoformat(s)
    return moment if moment.tzinfo else moment.replace(tzinfo=SH)


def closing(s: str) -> datetime:
    return datetime.combine(d(s), time(17, 0), tzinfo=SH)


def off_days_2026() -> set[date]:
    days: set[date] = set()
    for first, last in OFF_2026:
        day = d(first)
        while day <= d(last):
            days.add(day)
            day += timedelta(days=1)
    return days


def expected_2026(day: date) -> bool:
    """The schedule above, applied to Mon–Fri; independent of the package."""
    if day.isoformat() in MAKEUP_2026:
        return True
    return day not in off_days_2026() and day.weekday() < 5


CALENDARS = {
    "plain": WorkdayCalendar(),
    # The administrator entered one 2027 date only: New Year's Day is off.
    "override2027": WorkdayCalendar(overrides={d("2027-01-01"): DayKind.HOLIDAY}),
    # 2027 loaded completely (here only New Year's Day differs from Mon–Fri).
    "covered2027": WorkdayCalendar(
        overrides={d("2027-01-01"): DayKind.HOLIDAY}, covered_years=[2027]
    ),
    # Overrides that contradict the package in both directions.
    "override2026": WorkdayCalendar(
        overrides={
            d("2026-03-03"): DayKind.HOLIDAY,  # an ordinary Tuesday made a day off
            d("2026-03-07"): DayKind.WORKDAY,  # an ordinary Saturday made a working day
            d("2026-10-10"): DayKind.HOLIDAY,  # the package's make-up Saturday made a day off
            d("2026-02-23"): DayKind.WORKDAY,  # the package's last Spring Festival day made working
        }
    ),
}

W, N = "working", "natural"

# (start, limit, unit, due date (17:00), provisional, calendar); start without offset = Shanghai.
DEADLINE_CASES = [
    # --- Spring Festival 2026: 14 Feb (Sat) worked, 15–23 Feb off, 28 Feb (Sat) worked ----------
    # Fri 13 Feb + 1: the next day is the make-up Saturday.
    pytest.param("2026-02-13T10:00", 1, W, "2026-02-14", False, "plain", id="sf-fri-before+1"),
    # Fri 13 Feb + 2: Sat 14 (1), 15–23 off, Tue 24 (2).
    pytest.param("2026-02-13T10:00", 2, W, "2026-02-24", False, "plain", id="sf-fri-before+2"),
    # Thu 12 Feb + 5: 13 (1), 14 (2), 24 (3), 25 (4), 26 (5).
    pytest.param("2026-02-12T10:00", 5, W, "2026-02-26", False, "plain", id="sf-thu-before+5"),
    # Wed 18 Feb (mid-holiday) + 1: first working day after is Tue 24.
    pytest.param("2026-02-18T10:00", 1, W, "2026-02-24", False, "plain", id="sf-during+1"),
    # Sun 15 Feb (first day off) + 3: 24, 25, 26.
    pytest.param("2026-02-15T09:00", 3, W, "2026-02-26", False, "plain", id="sf-first-day-off+3"),
    # Mon 23 Feb (last day off) + 1: Tue 24.
    pytest.param("2026-02-23T16:00", 1, W, "2026-02-24", False, "plain", id="sf-last-day-off+1"),
    # Sat 14 Feb (make-up, worked) + 1: 15–23 off, Tue 24.
    pytest.param("2026-02-14T10:00", 1, W, "2026-02-24", False, "plain", id="sf-makeup-14+1"),
    # Sat 28 Feb (make-up) + 1: Sun 1 Mar off, Mon 2 Mar.
    pytest.param("2026-02-28T10:00", 1, W, "2026-03-02", False, "plain", id="sf-makeup-28+1"),
    # Fri 27 Feb + 1: Sat 28 is a make-up working day.
    pytest.param("2026-02-27T10:00", 1, W, "2026-02-28", False, "plain", id="sf-fri-27+1"),
    # Fri 27 Feb + 2: Sat 28 (1), Sun off, Mon 2 Mar (2).
    pytest.param("2026-02-27T10:00", 2, W, "2026-03-02", False, "plain", id="sf-fri-27+2"),
    # Mon 9 Feb + 10: 10,11,12,13 (4), Sat 14 (5), 24,25,26,27 (9), Sat 28 (10).
    pytest.param("2026-02-09T10:00", 10, W, "2026-02-28", False, "plain", id="sf-mon-9+10"),
    # Mon 2 Feb + 20: 3–6 (4), 9–13 (9), 14 (10), 24–27 (14), 28 (15), 2–6 Mar (20).
    pytest.param("2026-02-02T10:00", 20, W, "2026-03-06", False, "plain", id="sf-mon-2+20"),
    # --- National Day 2026: 25–27 Sep and 1–7 Oct off, 20 Sep (Sun) and 10 Oct (Sat) worked -----
    # Sat 3 Oct + 1: Thu 8 Oct (chinesecalendar's find_workday wrongly says 9 Oct).
    pytest.param("2026-10-03T10:00", 1, W, "2026-10-08", False, "plain", id="nd-sat-03+1"),
    # Wed 30 Sep + 1: 1–7 Oct off, Thu 8.
    pytest.param("2026-09-30T10:00", 1, W, "2026-10-08", False, "plain", id="nd-wed-30+1"),
    # Thu 1 Oct (holiday) + 1: Thu 8.
    pytest.param("2026-10-01T10:00", 1, W, "2026-10-08", False, "plain", id="nd-first-day+1"),
    # Wed 7 Oct (last day off) + 1: Thu 8.
    pytest.param("2026-10-07T10:00", 1, W, "2026-10-08", False, "plain", id="nd-last-day+1"),
    # Wed 30 Sep + 3: 8 (1), 9 (2), Sat 10 make-up (3).
    pytest.param("2026-09-30T10:00", 3, W, "2026-10-10", False, "plain", id="nd-wed-30+3"),
    # Wed 30 Sep + 4: 8, 9, 10, Sun 11 off, Mon 12 (4).
    pytest.param("2026-09-30T10:00", 4, W, "2026-10-12", False, "plain", id="nd-wed-30+4"),
    # Sat 10 Oct (make-up) + 1: Sun 11 off, Mon 12.
    pytest.param("2026-10-10T10:00", 1, W, "2026-10-12", False, "plain", id="nd-makeup-10+1"),
    # Sun 20 Sep (make-up) + 5: 21, 22, 23, 24 (4), 25–27 off, Mon 28 (5).
    pytest.param("2026-09-20T10:00", 5, W, "2026-09-28", False, "plain", id="nd-makeup-20+5"),
    # Thu 24 Sep + 1: Fri 25–Sun 27 off, Mon 28.
    pytest.param("2026-09-24T10:00", 1, W, "2026-09-28", False, "plain", id="nd-thu-24+1"),
    # Fri 18 Sep + 10: Sat 19 off, Sun 20 (1), 21–24 (5), 28–30 (8), 8 Oct (9), 9 Oct (10).
    pytest.param("2026-09-18T10:00", 10, W, "2026-10-09", False, "plain", id="nd-fri-18+10"),
    # --- other holidays, starts on a holiday or a make-up day -------------------------------------
    # Thu 1 Jan (holiday) + 1: 2, 3 off, Sun 4 Jan make-up.
    pytest.param("2026-01-01T10:00", 1, W, "2026-01-04", False, "plain", id="ny-holiday+1"),
    # Wed 31 Dec 2025 + 1: 1–3 Jan off, Sun 4 Jan (2025 is in the package: not provisional).
    pytest.param("2025-12-31T10:00", 1, W, "2026-01-04", False, "plain", id="ny-2025-12-31+1"),
    # Sun 4 Jan (make-up) + 1: Mon 5 Jan.
    pytest.param("2026-01-04T10:00", 1, W, "2026-01-05", False, "plain", id="ny-makeup-4+1"),
    # Sat 4 Apr (Qingming) + 1: 5, 6 off, Tue 7 Apr.
    pytest.param("2026-04-04T10:00", 1, W, "2026-04-07", False, "plain", id="qm-holiday+1"),
    # Fri 3 Apr + 1: 4–6 off, Tue 7.
    pytest.param("2026-04-03T10:00", 1, W, "2026-04-07", False, "plain", id="qm-fri-3+1"),
    # Thu 30 Apr + 3: 1–5 May off, Wed 6 (1), 7 (2), 8 (3).
    pytest.param("2026-04-30T10:00", 3, W, "2026-05-08", False, "plain", id="ld-thu-30+3"),
    # Thu 30 Apr + 4: 6, 7, 8, Sat 9 May make-up (4).
    pytest.param("2026-04-30T10:00", 4, W, "2026-05-09", False, "plain", id="ld-thu-30+4"),
    # Sat 9 May (make-up) + 1: Sun 10 off, Mon 11.
    pytest.param("2026-05-09T10:00", 1, W, "2026-05-11", False, "plain", id="ld-makeup-9+1"),
    # Thu 18 Jun + 1: 19–21 off (Dragon Boat), Mon 22.
    pytest.param("2026-06-18T10:00", 1, W, "2026-06-22", False, "plain", id="db-thu-18+1"),
    # Fri 6 Mar + 1: ordinary weekend, Mon 9.
    pytest.param("2026-03-06T10:00", 1, W, "2026-03-09", False, "plain", id="weekend-fri+1"),
    # Sun 8 Mar + 1: Mon 9 (a start on a weekend is not counted either).
    pytest.param("2026-03-08T10:00", 1, W, "2026-03-09", False, "plain", id="weekend-sun+1"),
    # Mon 2 Mar 04:00 Shanghai given as Sun 1 Mar 20:00 UTC: the date is taken in Shanghai, +1 = 3.
    pytest.param("2026-03-01T20:00+00:00", 1, W, "2026-03-03", False, "plain", id="utc-start+1"),
    # --- natural days -------------------------------------------------------------------------
    # Thu 24 Sep + 7 natural = Thu 1 Oct, a holiday: rolls to Thu 8 Oct.
    pytest.param("2026-09-24T10:00", 7, N, "2026-10-08", False, "plain", id="nat-ends-nd"),
    # Sun 8 Feb + 10 natural = Wed 18 Feb, a holiday: rolls to Tue 24.
    pytest.param("2026-02-08T10:00", 10, N, "2026-02-24", False, "plain", id="nat-ends-sf"),
    # Sat 7 Feb + 7 natural = Sat 14 Feb, a make-up working day: no roll.
    pytest.param("2026-02-07T10:00", 7, N, "2026-02-14", False, "plain", id="nat-ends-makeup-14"),
    # Sat 3 Oct + 7 natural = Sat 10 Oct, a make-up working day: no roll.
    pytest.param("2026-10-03T10:00", 7, N, "2026-10-10", False, "plain", id="nat-ends-makeup-10"),
    # Mon 2 Mar + 5 natural = Sat 7 Mar: rolls to Mon 9.
    pytest.param("2026-03-02T10:00", 5, N, "2026-03-09", False, "plain", id="nat-ends-weekend"),
    # Mon 1 Jun + 30 natural = Wed 1 Jul, a working day.
    pytest.param("2026-06-01T10:00", 30, N, "2026-07-01", False, "plain", id="nat-30"),
    # Wed 23 Sep + 7 natural = Wed 30 Sep, a working day (the holiday inside does not matter).
    pytest.param("2026-09-23T10:00", 7, N, "2026-09-30", False, "plain", id="nat-over-holiday"),
    # Natural 0 behaves as working 0: Mon 2 Mar before closing is due the same day.
    pytest.param("2026-03-02T10:00", 0, N, "2026-03-02", False, "plain", id="nat-0"),
    # --- on-the-spot items (limit 0) ----------------------------------------------------------
    # Mon 2 Mar 10:00, a working day before closing: due today.
    pytest.param("2026-03-02T10:00", 0, W, "2026-03-02", False, "plain", id="zero-before-close"),
    # Mon 2 Mar 17:30, after closing: due Tue 3.
    pytest.param("2026-03-02T17:30", 0, W, "2026-03-03", False, "plain", id="zero-after-close"),
    # Mon 2 Mar 17:00 exactly: not before closing, due Tue 3.
    pytest.param("2026-03-02T17:00", 0, W, "2026-03-03", False, "plain", id="zero-at-close"),
    # Thu 1 Oct (holiday): due on the next working day, Thu 8 Oct.
    pytest.param("2026-10-01T10:00", 0, W, "2026-10-08", False, "plain", id="zero-holiday"),
    # Sun 8 Mar (weekend): due Mon 9.
    pytest.param("2026-03-08T10:00", 0, W, "2026-03-09", False, "plain", id="zero-weekend"),
    # Sat 28 Feb (make-up working day) before closing: due the same day.
    pytest.param("2026-02-28T10:00", 0, W, "2026-02-28", False, "plain", id="zero-makeup-sat"),
    # Fri 6 Mar 18:00: after closing, Sat and Sun off, due Mon 9.
    pytest.param("2026-03-06T18:00", 0, W, "2026-03-09", False, "plain", id="zero-fri-evening"),
    # Mon 2 Mar 09:30 UTC is 17:30 in Shanghai: after closing, due Tue 3.
    pytest.param("2026-03-02T09:30+00:00", 0, W, "2026-03-03", False, "plain", id="zero-utc"),
    # --- into 2027 (no package data: Mon–Fri, provisional) -------------------------------------
    # Wed 30 Dec + 1: Thu 31 Dec, all 2026: not provisional.
    pytest.param("2026-12-30T10:00", 1, W, "2026-12-31", False, "plain", id="y2026-end+1"),
    # Thu 31 Dec + 1: Fri 1 Jan 2027 by the fallback, provisional.
    pytest.param("2026-12-31T10:00", 1, W, "2027-01-01", True, "plain", id="y2027+1"),
    # Wed 30 Dec + 3: 31 (1), Fri 1 Jan (2), Mon 4 Jan (3), provisional.
    pytest.param("2026-12-30T10:00", 3, W, "2027-01-04", True, "plain", id="y2027+3"),
    # Fri 5 Mar 2027 + 1: Mon 8 Mar 2027, provisional.
    pytest.param("2027-03-05T10:00", 1, W, "2027-03-08", True, "plain", id="y2027-inside+1"),
    # Mon 28 Dec + 7 natural = Mon 4 Jan 2027, provisional.
    pytest.param("2026-12-28T10:00", 7, N, "2027-01-04", True, "plain", id="y2027-natural"),
    # Fri 5 Mar 2027 18:00, limit 0: Mon 8 Mar 2027, provisional.
    pytest.param("2027-03-05T18:00", 0, W, "2027-03-08", True, "plain", id="y2027-zero"),
    # --- overrides and covered years ----------------------------------------------------------
    # Override 1 Jan 2027 off: Thu 31 Dec + 1 moves from Fri 1 Jan to Mon 4 Jan; still provisional,
    # because 2–4 Jan come from the fallback.
    pytest.param("2026-12-31T10:00", 1, W, "2027-01-04", True, "override2027", id="ovr2027+1"),
    # The same override does not touch a period inside 2026.
    pytest.param("2026-12-30T10:00", 1, W, "2026-12-31", False, "override2027", id="ovr2027-2026"),
    # 2027 covered: Thu 31 Dec + 1 = Mon 4 Jan 2027, not provisional.
    pytest.param("2026-12-31T10:00", 1, W, "2027-01-04", False, "covered2027", id="covered+1"),
    # 2027 covered, a date without override: Mon–Fri, not provisional.
    pytest.param("2027-03-05T10:00", 1, W, "2027-03-08", False, "covered2027", id="covered-mar"),
    # Override Tue 3 Mar off: Mon 2 Mar + 1 = Wed 4 Mar.
    pytest.param("2026-03-02T10:00", 1, W, "2026-03-04", False, "override2026", id="ovr-tue-off"),
    # Override Sat 7 Mar worked: Fri 6 Mar + 1 = Sat 7 Mar.
    pytest.param("2026-03-06T10:00", 1, W, "2026-03-07", False, "override2026", id="ovr-sat-on"),
    # Override the package's make-up Sat 10 Oct off: Fri 9 Oct + 1 = Mon 12 Oct.
    pytest.param("2026-10-09T10:00", 1, W, "2026-10-12", False, "override2026", id="ovr-makeup"),
    # Override the package's holiday Mon 23 Feb worked: Sat 14 Feb + 1 = Mon 23 Feb.
    pytest.param("2026-02-14T10:00", 1, W, "2026-02-23", False, "override2026", id="ovr-holiday"),
]


@pytest.mark.parametrize(
    ("start", "limit", "unit", "due", "provisional", "calendar"), DEADLINE_CASES
)
def test_deadline_table(
    start: str, limit: int, unit: str, due: str, provisional: bool, calendar: str
) -> None:
    cal = CALENDARS[calendar]
    result = cal.deadline(at(start), limit, unit)  # type: ignore[arg-type]
    assert result == Deadline(at=closing(due), provisional=provisional)
    assert result.at.tzinfo == SH
    if unit == W and limit >= 1:
        assert cal.working_days_between(at(start), result.at) == limit


def test_table_is_large_enough() -> None:
    assert len(DEADLINE_CASES) >= 45


# --- the package against the published schedule ----------------------------------------------


@pytest.mark.parametrize(
    ("day", "working"),
    [pytest.param(day, False, id=f"off-{day}") for day in sorted(map(str, off_days_2026()))]
    + [pytest.param(day, True, id=f"makeup-{day}") for day in MAKEUP_2026],
)
def test_package_agrees_with_2026_schedule(day: str, working: bool) -> None:
    assert chinese_calendar.is_workday(d(day)) is working
    assert WorkdayCalendar().is_workday(d(day)) is working
    assert not WorkdayCalendar().is_provisional(d(day))


def test_package_agrees_on_every_2026_date() -> None:
    cal = WorkdayCalendar()
    day = d("2026-01-01")
    disagreements = []
    while day.year == 2026:
        if cal.is_workday(day) is not expected_2026(day):
            disagreements.append(day)
        day += timedelta(days=1)
    assert disagreements == []


def test_wrapper_never_raises_outside_package_years() -> None:
    cal = WorkdayCalendar()
    for first in (d("2027-01-01"), d("2003-01-01"), d("2100-01-01")):
        day = first
        while day.year == first.year:
            assert cal.is_workday(day) is (day.weekday() < 5)
            assert cal.is_provisional(day)
            day += timedelta(days=1)
    with pytest.raises(NotImplementedError):  # the bare package does raise: that is why we wrap it
        chinese_calendar.is_workday(d("2027-01-04"))


def test_find_workday_is_never_called(monkeypatch: pytest.MonkeyPatch) -> None:
    def forbidden(*args: object, **kwargs: object) -> None:
        raise AssertionError("find_workday is one day late after a holiday; never call it")

    monkeypatch.setattr(chinese_calendar, "find_workday", forbidden)
    cal = WorkdayCalendar()
    assert cal.deadline(at("2026-10-03T10:00"), 1, "working").at == closing("2026-10-08")
    assert cal.deadline(at("2026-09-24T10:00"), 7, "natural").at == closing("2026-10-08")
    assert cal.add_working_days(d("2026-02-15"), 3) == (d("2026-02-26"), False)
    assert cal.shift(closing("2026-09-30"), 1).at == closing("2026-10-08")
    cal.ladder(at("2026-09-30T10:00"), closing("2026-10-10"), None)


# --- single dates and add_working_days --------------------------------------------------------


def test_add_working_days_zero() -> None:
    cal = WorkdayCalendar()
    assert cal.add_working_days(d("2026-03-02"), 0) == (d("2026-03-02"), False)  # Mon: itself
    assert cal.add_working_days(d("2026-10-01"), 0) == (d("2026-10-08"), False)  # holiday: next
    assert cal.add_working_days(d("2026-10-10"), 0) == (d("2026-10-10"), False)  # make-up Sat
    assert cal.add_working_days(d("2027-01-02"), 0) == (d("2027-01-04"), True)  # 2027 weekend


def test_add_working_days_rejects_negative() -> None:
    with pytest.raises(ValueError):
        WorkdayCalendar().add_working_days(d("2026-03-02"), -1)


def test_override_date_is_not_provisional() -> None:
    plain = WorkdayCalendar()
    edited = plain.with_overrides({d("2027-01-01"): DayKind.HOLIDAY})
    assert plain.is_provisional(d("2027-01-01")) and plain.is_workday(d("2027-01-01"))
    assert not edited.is_provisional(d("2027-01-01")) and not edited.is_workday(d("2027-01-01"))
    assert edited.is_provisional(d("2027-01-04"))  # other 2027 dates are still provisional


def test_with_overrides_merges_and_leaves_the_original_alone() -> None:
    base = WorkdayCalendar(closing=time(18, 0), overrides={d("2026-03-03"): DayKind.HOLIDAY})
    merged = base.with_overrides({d("2026-03-07"): DayKind.WORKDAY}, covered_years=[2027])
    assert not merged.is_workday(d("2026-03-03"))  # kept from the base
    assert merged.is_workday(d("2026-03-07"))  # added
    assert not merged.is_provisional(d("2027-06-01"))  # covered year added
    assert merged.deadline(at("2026-03-02T10:00"), 1, "working").at == at("2026-03-04T18:00")
    assert not base.is_workday(d("2026-03-07"))
    assert base.is_provisional(d("2027-06-01"))


def test_covered_year_keeps_the_package_for_years_it_knows() -> None:
    # Covering 2026 must not wipe out the package's holidays: precedence is override > package.
    cal = WorkdayCalendar(covered_years=[2026])
    assert not cal.is_workday(d("2026-10-01"))
    assert cal.is_workday(d("2026-10-10"))


def test_override_datetime_key_is_refused() -> None:
    with pytest.raises(TypeError):
        WorkdayCalendar(overrides={datetime(2027, 1, 1, tzinfo=SH): DayKind.HOLIDAY})


def test_deadline_rejects_bad_input() -> None:
    cal = WorkdayCalendar()
    with pytest.raises(ValueError):
        cal.deadline(datetime(2026, 3, 2, 10, 0), 1, "working")  # naive
    with pytest.raises(ValueError):
        cal.deadline(at("2026-03-02T10:00"), -1, "working")
    with pytest.raises(ValueError):
        cal.deadline(at("2026-03-02T10:00"), 1, "hours")  # type: ignore[arg-type]


def test_other_closing_time_and_zone() -> None:
    cal = WorkdayCalendar(tz="Asia/Urumqi", closing=time(19, 30))
    result = cal.deadline(at("2026-10-03T10:00"), 1, "working")
    assert result.at == datetime(2026, 10, 8, 19, 30, tzinfo=ZoneInfo("Asia/Urumqi"))
    # 18:30 in Urumqi is 20:30 in Shanghai: still before Urumqi's closing time.
    same_day = cal.deadline(at("2026-03-02T20:30"), 0, "working")
    assert same_day.at == datetime(2026, 3, 2, 19, 30, tzinfo=ZoneInfo("Asia/Urumqi"))


# --- working_days_between ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("a", "b", "count"),
    [
        # Same day: no date strictly after a's date.
        pytest.param("2026-03-02T09:00", "2026-03-02T17:00", 0, id="same-day"),
        # Fri → Mon over a weekend: only Mon counts.
        pytest.param("2026-03-06T10:00", "2026-03-09T17:00", 1, id="weekend"),
        # Fri → Sun: Sat and Sun are not working days.
        pytest.param("2026-03-06T10:00", "2026-03-08T17:00", 0, id="into-weekend"),
        # Wed 30 Sep → Thu 8 Oct: 1–7 Oct off, only 8 Oct counts.
        pytest.param("2026-09-30T10:00", "2026-10-08T17:00", 1, id="national-day"),
        # Wed 30 Sep → Mon 12 Oct: 8, 9, Sat 10 (make-up), 12.
        pytest.param("2026-09-30T10:00", "2026-10-12T17:00", 4, id="national-day-makeup"),
        # Fri 18 Sep → Fri 9 Oct: 20, 21–24, 28–30, 8, 9.
        pytest.param("2026-09-18T10:00", "2026-10-09T17:00", 10, id="september-october"),
        # b before a: 0.
        pytest.param("2026-03-09T10:00", "2026-03-02T10:00", 0, id="reversed"),
        # b == a: 0.
        pytest.param("2026-03-02T10:00", "2026-03-02T10:00", 0, id="equal"),
        # Sun 1 Mar 20:00 UTC is Mon 2 Mar in Shanghai; Mon 2 Mar 20:00 UTC is Tue 3: one day.
        pytest.param("2026-03-01T20:00+00:00", "2026-03-02T20:00+00:00", 1, id="utc"),
        # Thu 31 Dec 2026 → Mon 4 Jan 2027 by the fallback: Fri 1, Mon 4.
        pytest.param("2026-12-31T10:00", "2027-01-04T17:00", 2, id="into-2027"),
    ],
)
def test_working_days_between(a: str, b: str, count: int) -> None:
    assert WorkdayCalendar().working_days_between(at(a), at(b)) == count


def test_working_days_between_inverts_deadline() -> None:
    cal = WorkdayCalendar()
    start = at("2025-12-20T10:00")
    while start.year < 2027:
        for limit in (1, 2, 5, 10, 20):
            due = cal.deadline(start, limit, "working").at
            assert cal.working_days_between(start, due) == limit, (start, limit)
        start += timedelta(days=1)


# --- shift ------------------------------------------------------------------------------------


def test_shift() -> None:
    cal = WorkdayCalendar()
    # 0: the same instant, converted to the calendar's zone.
    assert cal.shift(at("2026-03-02T09:00+00:00"), 0) == Deadline(at("2026-03-02T17:00"), False)
    # Wed 30 Sep 17:00 + 2: 8 Oct (1), 9 Oct (2).
    assert cal.shift(closing("2026-09-30"), 2) == Deadline(closing("2026-10-09"), False)
    # A deadline at 12:00 moves to closing time.
    assert cal.shift(at("2026-02-13T12:00"), 2) == Deadline(closing("2026-02-24"), False)
    # Into 2027: provisional.
    assert cal.shift(closing("2026-12-31"), 1) == Deadline(closing("2027-01-01"), True)
    assert cal.shift(closing("2027-01-04"), 0) == Deadline(closing("2027-01-04"), True)
    with pytest.raises(ValueError):
        cal.shift(closing("2026-03-02"), -1)


# --- ladder -----------------------------------------------------------------------------------


def test_ladder_worked_example() -> None:
    # Mon 7 Dec 10:00 + 5 working days = Mon 14 Dec 17:00. Working time W = 14 h (Mon) + 4 × 24 h
    # (Tue–Fri) + 17 h (Mon 14) = 127 h; 90 % = 114 h 18 min: 14 h on Mon 7, 96 h Tue–Fri, the
    # weekend skipped, 4 h 18 min into Mon 14.
    cal = WorkdayCalendar()
    start = at("2026-12-07T10:00")
    due = cal.deadline(start, 5, "working")
    assert due == Deadline(closing("2026-12-14"), False)
    assert cal.ladder(start, due.at, None) == Ladder(
        reminder_at=closing("2026-12-11"),
        yellow_at=at("2026-12-14T04:18"),
        red_at=closing("2026-12-14"),
        statutory_at=None,
    )


def test_ladder_skips_holidays() -> None:
    # Wed 30 Sep 10:00 + 3 = Sat 10 Oct 17:00. W = 14 h + 24 h (8 Oct) + 24 h (9 Oct) + 17 h = 79 h;
    # 90 % = 71 h 06 min: 14 h on 30 Sep, 1–7 Oct skipped, 48 h on 8–9 Oct, 9 h 06 min into 10 Oct.
    # The reminder is 1 working day before Sat 10 Oct: Fri 9 Oct.
    cal = WorkdayCalendar()
    start = at("2026-09-30T10:00")
    ladder = cal.ladder(start, cal.deadline(start, 3, "working").at, None)
    assert ladder.reminder_at == closing("2026-10-09")
    assert ladder.yellow_at == at("2026-10-10T09:06")
    # Two working days before Sat 10 Oct: Thu 8 Oct.
    two = cal.ladder(start, closing("2026-10-10"), None, reminder_days=2)
    assert two.reminder_at == closing("2026-10-08")
    assert cal.ladder(start, closing("2026-10-10"), None, reminder_days=0).reminder_at is None


def test_ladder_zero_day_clock_late_in_the_day() -> None:
    # An on-the-spot item accepted at Mon 2 Mar 16:59:30: due 17:00 the same day. The reminder
    # (one working day before: Sat 28 Feb, a make-up day, 17:00) is before the start; 90 % of
    # 30 s is 16:59:57, truncated to 16:59, before the start: both rungs are None.
    cal = WorkdayCalendar()
    start = at("2026-03-02T16:59:30")
    due = cal.deadline(start, 0, "working")
    assert due.at == closing("2026-03-02")
    assert cal.ladder(start, due.at, None) == Ladder(
        reminder_at=None, yellow_at=None, red_at=closing("2026-03-02"), statutory_at=None
    )


def test_ladder_zero_day_clock_in_the_morning_has_a_yellow_rung() -> None:
    # By the rule (90 % of working time), an on-the-spot item accepted at Mon 2 Mar 10:00 and due at
    # 17:00 gets a yellow card at 10:00 + 6 h 18 min = 16:18; the reminder (Sat 28 Feb, a make-up
    # day) lies before the start and is None.
    cal = WorkdayCalendar()
    start = at("2026-03-02T10:00")
    ladder = cal.ladder(start, cal.deadline(start, 0, "working").at, None)
    assert ladder.reminder_at is None
    assert ladder.yellow_at == at("2026-03-02T16:18")


def test_ladder_statutory() -> None:
    cal = WorkdayCalendar()
    start, due = at("2026-12-07T10:00"), closing("2026-12-14")
    later = cal.deadline(start, 20, "working").at
    assert cal.ladder(start, due, later).statutory_at == later  # later: kept
    # Equal (limits equal, or an extension capped at statutory): its own rung all the same.
    assert cal.ladder(start, due, due).statutory_at == due
    # The earlier rule, for requests started before the fix, dropped it unless later.
    legacy = {"statutory_own_rung": False}
    assert cal.ladder(start, due, later, **legacy).statutory_at == later
    assert cal.ladder(start, due, due, **legacy).statutory_at is None
    assert cal.ladder(start, due, closing("2026-12-10"), **legacy).statutory_at is None


def test_ladder_returns_calendar_zone() -> None:
    cal = WorkdayCalendar()
    ladder = cal.ladder(
        at("2026-12-07T02:00+00:00"), at("2026-12-14T09:00+00:00"), at("2027-01-05T09:00+00:00")
    )
    assert ladder == cal.ladder(
        at("2026-12-07T10:00"), closing("2026-12-14"), closing("2027-01-05")
    )
    for moment in (ladder.reminder_at, ladder.yellow_at, ladder.red_at, ladder.statutory_at):
        assert moment is not None and moment.tzinfo == SH


def test_ladder_rejects_bad_parameters() -> None:
    cal = WorkdayCalendar()
    with pytest.raises(ValueError):
        cal.ladder(at("2026-12-07T10:00"), closing("2026-12-14"), None, reminder_days=-1)
    with pytest.raises(ValueError):
        cal.ladder(at("2026-12-07T10:00"), closing("2026-12-14"), None, yellow_fraction=1.5)

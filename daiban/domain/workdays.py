"""The working-day calendar: which dates are working days, and when a clock falls due
(docs/design.md §2).

Pure and fast: no database, no settings. The caller passes the time zone, the closing time and the
administrator's override table, so that an activity can build one calendar per request from the
data it loaded and every deadline it computes is recorded in the workflow history.

Where a date's answer comes from, first match wins:

1. the override table (the administrator's edits, e.g. next year's State Council schedule);
2. the ``chinesecalendar`` package (statutory holidays and make-up working days, 2004–2026 in 1.11);
3. Monday–Friday. Such a date is *provisional* unless its year is in ``covered_years`` (a year the
   administrator loaded completely, so any date without an override there is an ordinary day).

Only ``chinese_calendar.is_workday`` is used. ``find_workday`` is never called: it is one day late
when the start date is a holiday (Sat 2026-10-03 + 1 working day gives 10-09, not 10-08).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from enum import StrEnum
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo

import chinese_calendar

_ONE_DAY = timedelta(days=1)
_ONE_MICROSECOND = timedelta(microseconds=1)


class DayKind(StrEnum):
    WORKDAY = "workday"
    HOLIDAY = "holiday"


@dataclass(frozen=True)
class Deadline:
    at: datetime  # aware, in the calendar's tz, at closing time
    provisional: bool  # True if any date consulted lacked data (the Mon–Fri fallback was used)


@dataclass(frozen=True)
class Ladder:
    """The instants of the escalation ladder for one clock; ``None``: the rung does not apply."""

    reminder_at: datetime | None
    yellow_at: datetime | None
    red_at: datetime  # == the promised deadline
    statutory_at: datetime | None


@lru_cache(maxsize=32_768)
def _package_is_workday(d: date) -> bool | None:
    """``chinese_calendar.is_workday``, or ``None`` where the package has no data for the year.

    Cached because the package scans its whole holiday table for the supported range on every call.
    """
    try:
        return bool(chinese_calendar.is_workday(d))
    except NotImplementedError:  # outside the years the package knows (2004–2026 in 1.11)
        return None


class WorkdayCalendar:
    """Working days and deadlines in one time zone, with one closing time and one override table."""

    def __init__(
        self,
        *,
        tz: str = "Asia/Shanghai",
        closing: time = time(17, 0),
        overrides: Mapping[date, DayKind] | None = None,
        covered_years: Iterable[int] = (),
    ) -> None:
        if closing.tzinfo is not None:
            raise ValueError("closing must be a wall-clock time without tzinfo")
        self._tz_name = tz
        self._tz = ZoneInfo(tz)
        self._closing = closing
        self._overrides: dict[date, DayKind] = {}
        for d, kind in (overrides or {}).items():
            # A datetime key would never match a date lookup and silently do nothing.
            if isinstance(d, datetime):
                raise TypeError(f"override keys must be dates, not datetimes: {d!r}")
            self._overrides[d] = DayKind(kind)
        self._covered_years = frozenset(covered_years)
        # date -> (is working day, is provisional); results never change for one instance.
        self._cache: dict[date, tuple[bool, bool]] = {}

    @property
    def tz(self) -> ZoneInfo:
        return self._tz

    @property
    def closing(self) -> time:
        return self._closing

    # --- single dates -------------------------------------------------------------------------

    def _lookup(self, d: date) -> tuple[bool, bool]:
        hit = self._cache.get(d)
        if hit is not None:
            return hit
        kind = self._overrides.get(d)
        if kind is not None:
            result = (kind is DayKind.WORKDAY, False)
        else:
            known = _package_is_workday(d)
            if known is not None:
                result = (known, False)
            else:
                result = (d.weekday() < 5, d.year not in self._covered_years)
        self._cache[d] = result
        return result

    def is_workday(self, d: date) -> bool:
        return self._lookup(d)[0]

    def is_provisional(self, d: date) -> bool:
        """No override, not in a covered year, and outside the package's data."""
        return self._lookup(d)[1]

    def _any_provisional(self, first: date, last: date) -> bool:
        d = first
        while d <= last:
            if self.is_provisional(d):
                return True
            d += _ONE_DAY
        return False

    def add_working_days(self, start: date, n: int) -> tuple[date, bool]:
        """The n-th working day strictly after ``start`` (the start day is not counted).

        For n = 0: ``start`` if it is a working day, else the next working day. The flag is True if
        any date from ``start`` to the result (inclusive) is provisional.
        """
        if n < 0:
            raise ValueError(f"n must be >= 0, got {n}")
        d = start
        if n == 0:
            while not self.is_workday(d):
                d += _ONE_DAY
        else:
            counted = 0
            while counted < n:
                d += _ONE_DAY
                if self.is_workday(d):
                    counted += 1
        return d, self._any_provisional(start, d)

    # --- instants -----------------------------------------------------------------------------

    def _local(self, moment: datetime) -> datetime:
        if moment.tzinfo is None or moment.utcoffset() is None:
            raise ValueError(f"an aware datetime is required, got {moment!r}")
        return moment.astimezone(self._tz)

    def _at_closing(self, d: date) -> datetime:
        return datetime.combine(d, self._closing, tzinfo=self._tz)

    def _midnight(self, d: date) -> datetime:
        return datetime.combine(d, time(0), tzinfo=self._tz)

    def deadline(
        self, start: datetime, limit: int, unit: Literal["working", "natural"]
    ) -> Deadline:
        """When a clock of ``limit`` days started at ``start`` falls due, at closing time."""
        if limit < 0:
            raise ValueError(f"limit must be >= 0, got {limit}")
        if unit not in ("working", "natural"):
            raise ValueError(f"unit must be 'working' or 'natural', got {unit!r}")
        local = self._local(start)
        first = local.date()
        if limit == 0:
            # 即办件: due today if today is a working day and the office is still open.
            if self.is_workday(first) and local.time() < self._closing:
                end = first
            else:
                end, _ = self.add_working_days(first, 1)
        elif unit == "working":
            end, _ = self.add_working_days(first, limit)
        else:
            # A natural-day period ending on a non-working day rolls to the next working day.
            end, _ = self.add_working_days(first + timedelta(days=limit), 0)
        return Deadline(at=self._at_closing(end), provisional=self._any_provisional(first, end))

    def working_days_between(self, a: datetime, b: datetime) -> int:
        """The number of working days d with a.date() < d <= b.date() (dates in the calendar tz)."""
        la, lb = self._local(a), self._local(b)
        if lb <= la:
            return 0
        count = 0
        d = la.date() + _ONE_DAY
        last = lb.date()
        while d <= last:
            if self.is_workday(d):
                count += 1
            d += _ONE_DAY
        return count

    def shift(self, deadline: datetime, working_days: int) -> Deadline:
        """Move a deadline out by N working days, to closing time (N = 0: the same instant)."""
        local = self._local(deadline)
        if working_days == 0:
            return Deadline(at=local, provisional=self.is_provisional(local.date()))
        end, provisional = self.add_working_days(local.date(), working_days)
        return Deadline(at=self._at_closing(end), provisional=provisional)

    # --- escalation ladder --------------------------------------------------------------------

    def _working_intervals(self, start: datetime, end: datetime) -> list[tuple[datetime, datetime]]:
        """The parts of [start, end) that fall on working days, in UTC, one per working date.

        Whole non-working dates are skipped. UTC, because subtracting two datetimes that share a
        tzinfo compares wall clocks and would be wrong across a DST change in other zones.
        """
        intervals: list[tuple[datetime, datetime]] = []
        d = start.date()
        while d <= end.date():
            if self.is_workday(d):
                lo = max(start, self._midnight(d)).astimezone(UTC)
                hi = min(end, self._midnight(d + _ONE_DAY)).astimezone(UTC)
                if hi > lo:
                    intervals.append((lo, hi))
            d += _ONE_DAY
        return intervals

    def _yellow(self, start: datetime, deadline: datetime, fraction: float) -> datetime | None:
        intervals = self._working_intervals(start, deadline)
        total = sum((hi - lo for lo, hi in intervals), timedelta())
        # Integer microseconds, so that 0.9 x 127 h is exactly 114 h 18 min and not a hair short
        # of it, which the truncation to the minute would turn into 114 h 17 min.
        remaining = timedelta(microseconds=round((total // _ONE_MICROSECOND) * fraction))
        if remaining <= timedelta():
            return None
        for lo, hi in intervals:
            if remaining <= hi - lo:
                at = (lo + remaining).astimezone(self._tz).replace(second=0, microsecond=0)
                return at if start < at < deadline else None
            remaining -= hi - lo
        return None  # unreachable: the intervals add up to at least ``remaining``

    def ladder(
        self,
        start: datetime,
        deadline: datetime,
        statutory: datetime | None,
        *,
        reminder_days: int = 1,
        yellow_fraction: float = 0.9,
        statutory_own_rung: bool = True,
    ) -> Ladder:
        """Reminder, yellow card, red card (the deadline) and statutory limit of one clock.

        The statutory limit is a rung of its own (the city's supervision office hears of it), even
        when it falls on the deadline: an item whose two limits are equal, or a deadline extended up
        to the statutory one. ``statutory_own_rung=False`` is the earlier rule, kept for requests
        whose workflow started before it, which dropped a statutory limit not after the deadline.
        """
        if reminder_days < 0:
            raise ValueError(f"reminder_days must be >= 0, got {reminder_days}")
        if not 0.0 <= yellow_fraction <= 1.0:
            raise ValueError(f"yellow_fraction must be within [0, 1], got {yellow_fraction}")
        local_start, red = self._local(start), self._local(deadline)

        reminder: datetime | None = None
        if reminder_days > 0:
            d, counted = red.date(), 0
            while counted < reminder_days:
                d -= _ONE_DAY
                if self.is_workday(d):
                    counted += 1
            reminder = self._at_closing(d)
            if reminder <= local_start:
                reminder = None

        statutory_at: datetime | None = None
        if statutory is not None:
            local_statutory = self._local(statutory)
            if statutory_own_rung or local_statutory > red:
                statutory_at = local_statutory

        return Ladder(
            reminder_at=reminder,
            yellow_at=self._yellow(local_start, red, yellow_fraction),
            red_at=red,
            statutory_at=statutory_at,
        )

    # --- office hours (the county ladder) ------------------------------------------------------

    def office_instant(self, moment: datetime, opening: time) -> datetime:
        """``moment`` if the offices are open then (a working day, from ``opening`` to closing
        time inclusive), else the next opening: no rung fires at night or on a rest day."""
        local = self._local(moment)
        d = local.date()
        if self.is_workday(d):
            if local.time() < opening:
                return datetime.combine(d, opening, tzinfo=self._tz)
            if local.time() <= self._closing:
                return local
        nxt, _ = self.add_working_days(d, 1)
        return datetime.combine(nxt, opening, tzinfo=self._tz)

    def _office_intervals(
        self, start: datetime, end: datetime, opening: time
    ) -> list[tuple[datetime, datetime]]:
        """The office hours within [start, end), in UTC, one interval per working date."""
        intervals: list[tuple[datetime, datetime]] = []
        d = start.date()
        while d <= end.date():
            if self.is_workday(d):
                lo = max(start, datetime.combine(d, opening, tzinfo=self._tz)).astimezone(UTC)
                hi = min(end, self._at_closing(d)).astimezone(UTC)
                if hi > lo:
                    intervals.append((lo, hi))
            d += _ONE_DAY
        return intervals

    def office_share(
        self, start: datetime, deadline: datetime, share: float, opening: time
    ) -> datetime | None:
        """When ``share`` of the office time from ``start`` to ``deadline`` has passed (an early
        warning), to the minute; ``None`` if that is not strictly between the two.

        Office time is working days × office hours, never 24-hour days, so the instant always lies
        within office hours.
        """
        if not 0.0 < share < 1.0:
            raise ValueError(f"share must be within (0, 1), got {share}")
        local_start, local_end = self._local(start), self._local(deadline)
        intervals = self._office_intervals(local_start, local_end, opening)
        total = sum((hi - lo for lo, hi in intervals), timedelta())
        remaining = timedelta(microseconds=round((total // _ONE_MICROSECOND) * share))
        if remaining <= timedelta():
            return None
        for lo, hi in intervals:
            if remaining <= hi - lo:
                at = (lo + remaining).astimezone(self._tz).replace(second=0, microsecond=0)
                return at if local_start < at < local_end else None
            remaining -= hi - lo
        return None  # unreachable: the intervals add up to at least ``remaining``

    def respond_by(self, issued: datetime, working_days: int, opening: time) -> datetime:
        """A supervision order's response deadline: ``working_days`` working days after its
        issue, at the same time of day (to the minute), moved to the next opening if the offices
        are closed then (an order issued in the evening is due at the opening after the Nth
        working day)."""
        if working_days < 1:
            raise ValueError(f"working_days must be >= 1, got {working_days}")
        local = self._local(issued).replace(second=0, microsecond=0)  # to the minute
        d, _ = self.add_working_days(local.date(), working_days)
        return self.office_instant(datetime.combine(d, local.timetz()), opening)

    # --- derived calendars --------------------------------------------------------------------

    def with_overrides(
        self, overrides: Mapping[date, DayKind], covered_years: Iterable[int] = ()
    ) -> WorkdayCalendar:
        """A new calendar: these overrides on top of this one's, and the union of covered years."""
        return WorkdayCalendar(
            tz=self._tz_name,
            closing=self._closing,
            overrides={**self._overrides, **overrides},
            covered_years=self._covered_years | frozenset(covered_years),
        )

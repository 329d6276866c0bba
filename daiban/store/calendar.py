"""The calendar overrides an administrator edits (holidays and make-up workdays), the years loaded
from the State Council's schedule, and the version that tells workers their cache is stale."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date

from sqlmodel import Session, col, delete, func, select

from daiban.domain.dates import parse_day as parse_day  # callers read it here too
from models.db import CalendarOverride, CalendarYear, utc_now

OVERRIDE_KINDS = ("holiday", "workday")


def calendar_version(session: Session) -> str:
    """A token that changes whenever an override or a loaded year is added, changed or removed.

    Any write stamps ``updated_at``/``loaded_at`` with a newer time and removals lower a count, so
    (count, newest stamp) of both tables identifies the calendar data; compare, never parse, it.
    """
    overrides = session.exec(
        select(func.count(), func.max(CalendarOverride.updated_at)).select_from(CalendarOverride)
    ).one()
    years = session.exec(
        select(func.count(), func.max(CalendarYear.loaded_at)).select_from(CalendarYear)
    ).one()
    return "|".join(str(part) for part in (*overrides, *years))


def list_overrides(session: Session, year: int | None = None) -> list[CalendarOverride]:
    """Overrides in date order, optionally of one year."""
    statement = select(CalendarOverride).order_by(col(CalendarOverride.day))
    if year is not None:
        statement = statement.where(
            col(CalendarOverride.day) >= date(year, 1, 1),
            col(CalendarOverride.day) <= date(year, 12, 31),
        )
    return list(session.exec(statement))


def list_calendar_years(session: Session) -> list[CalendarYear]:
    """Years whose complete schedule has been loaded, in order."""
    return list(session.exec(select(CalendarYear).order_by(col(CalendarYear.year))))


def set_override(session: Session, day: date, kind: str, note: str = "") -> CalendarOverride:
    """Make ``day`` a holiday or a working day, replacing any override it had."""
    if kind not in OVERRIDE_KINDS:
        raise ValueError(f"kind must be holiday or workday, not {kind!r}")
    row = session.get(CalendarOverride, day)
    if row is None:
        row = CalendarOverride(day=day, kind=kind, note=note)
        session.add(row)
    else:
        row.kind, row.note = kind, note
    row.updated_at = utc_now()
    session.flush()
    return row


def remove_override(session: Session, day: date) -> bool:
    """Remove the override of ``day``; False when there was none."""
    row = session.get(CalendarOverride, day)
    if row is None:
        return False
    session.delete(row)
    session.flush()
    return True


def parse_calendar_year(data: object, year: int) -> tuple[list[date], list[date]]:
    """Validate a year file's content: ``{"holidays": [ISO dates], "workdays": [ISO dates]}``.

    Every date must be a real date in ``year`` and appear once; raises ValueError in one line.
    """
    if not isinstance(data, dict):
        raise ValueError('expected a JSON object {"holidays": [...], "workdays": [...]}')
    unknown = sorted(set(data) - {"holidays", "workdays"})
    if unknown:
        raise ValueError(f"unknown key {unknown[0]!r}: only 'holidays' and 'workdays' are allowed")
    if "holidays" not in data:
        raise ValueError("missing key 'holidays'")
    seen: set[date] = set()
    lists: list[list[date]] = []
    for key in ("holidays", "workdays"):
        values = data.get(key, [])
        if not isinstance(values, list):
            raise ValueError(f"{key!r} must be a list of dates")
        days: list[date] = []
        for value in values:
            day = parse_day(value, where=key)
            if day.year != year:
                raise ValueError(f"{key}: {day.isoformat()} is not in {year}")
            if day in seen:
                raise ValueError(f"{key}: {day.isoformat()} is listed twice")
            seen.add(day)
            days.append(day)
        lists.append(sorted(days))
    return lists[0], lists[1]


def load_calendar_year(
    session: Session,
    year: int,
    holidays: Sequence[date],
    workdays: Sequence[date],
    note: str = "",
) -> int:
    """Replace the year's overrides with the given schedule and mark the year as loaded.

    Runs in the caller's transaction (all or nothing). Returns the number of overrides written.
    """
    for day in (*holidays, *workdays):
        if day.year != year:
            raise ValueError(f"{day.isoformat()} is not in {year}")
    overlap = set(holidays) & set(workdays)
    if overlap:
        raise ValueError(f"{min(overlap).isoformat()} is both a holiday and a workday")
    now = utc_now()
    session.exec(
        delete(CalendarOverride).where(
            col(CalendarOverride.day) >= date(year, 1, 1),
            col(CalendarOverride.day) <= date(year, 12, 31),
        )
    )
    for kind, days in (("holiday", holidays), ("workday", workdays)):
        session.add_all(
            CalendarOverride(day=day, kind=kind, note=note, updated_at=now) for day in days
        )
    loaded = session.get(CalendarYear, year)
    if loaded is None:
        session.add(CalendarYear(year=year, note=note, loaded_at=now))
    else:
        loaded.note, loaded.loaded_at = note, now
    session.flush()
    return len(holidays) + len(workdays)

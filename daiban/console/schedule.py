"""A year's holiday schedule as an administrator types it from the State Council's notice: the days
off, and the weekend days worked instead (调休上班), one day or one stretch per line.

A day is written ``2027-02-06`` or ``2月6日`` (``2027年2月6日``); a stretch is two days joined by
``至``, ``到`` or ``~`` (``2月6日至12日``: the end may leave out its month, as the notice does).
Lines may also be separated by ``、``, ``，`` or ``；``. Every mistake is refused in one Chinese
sentence naming what was typed; nothing is written then.
"""

from __future__ import annotations

import re
from datetime import date, timedelta
from typing import Final

# The longest stretch one line may name: the longest holiday is the Spring Festival's nine days,
# so a longer one is a typing mistake (a wrong month), not a holiday.
MAX_STRETCH_DAYS: Final = 15
_SEPARATORS = re.compile(r"[\n,，、;；]+")
_STRETCH = re.compile(r"^(.+?)\s*(?:至|到|~|～)\s*(.+)$")
_ISO = re.compile(r"^(\d{4})-(\d{1,2})-(\d{1,2})$")
_WRITTEN = re.compile(r"^(?:(\d{4})年)?(\d{1,2})月(\d{1,2})日?$")
_DAY_ONLY = re.compile(r"^(\d{1,2})日$")


def schedule_days(text: str, year: int, label: str) -> list[date]:
    """The days ``text`` names in ``year``, in the order written; ValueError (one sentence, with
    ``label`` naming the field) for anything else."""
    days: list[date] = []
    for piece in (p.strip() for p in _SEPARATORS.split(text)):
        if not piece:
            continue
        stretch = _STRETCH.match(piece)
        if stretch is None:
            days.append(_day(piece, piece, year, label))
            continue
        start = _day(stretch.group(1).strip(), piece, year, label)
        end = _end(stretch.group(2).strip(), start, piece, year, label)
        if end < start:
            raise ValueError(f"{label}“{piece}”：结束日期早于开始日期")
        if (end - start).days >= MAX_STRETCH_DAYS:
            raise ValueError(f"{label}“{piece}”：一段不能超过{MAX_STRETCH_DAYS}天，请检查月份")
        days.extend(start + timedelta(days=n) for n in range((end - start).days + 1))
    return days


def year_schedule(holidays: str, workdays: str, year: int) -> tuple[list[date], list[date]]:
    """Both lists of a year, sorted: at least one day off, no day named twice, none both off and
    worked."""
    off = schedule_days(holidays, year, "放假日期")
    worked = schedule_days(workdays, year, "调休上班日期")
    if not off:
        raise ValueError("请填写放假日期")
    for label, days in (("放假日期", off), ("调休上班日期", worked)):
        seen: set[date] = set()
        for day in days:
            if day in seen:
                raise ValueError(f"{label}中{_words(day)}写了两次")
            seen.add(day)
    both = sorted(set(off) & set(worked))
    if both:
        raise ValueError(f"{_words(both[0])}既写在放假日期里，又写在调休上班日期里")
    return sorted(off), sorted(worked)


def _day(text: str, piece: str, year: int, label: str) -> date:
    found = _ISO.match(text) or _WRITTEN.match(text)
    if found is None:
        raise ValueError(f"{label}“{piece}”看不懂：请写成 {year}-02-06 或 2月6日")
    written_year, month, day = found.groups()
    return _checked(int(written_year or year), int(month), int(day), piece, year, label)


def _end(text: str, start: date, piece: str, year: int, label: str) -> date:
    """A stretch's last day, which may give its day of the month alone (``2月6日至12日``)."""
    alone = _DAY_ONLY.match(text)
    if alone is not None:
        return _checked(start.year, start.month, int(alone.group(1)), piece, year, label)
    return _day(text, piece, year, label)


def _checked(written_year: int, month: int, day: int, piece: str, year: int, label: str) -> date:
    try:
        found = date(written_year, month, day)
    except ValueError:
        raise ValueError(f"{label}“{piece}”：没有{month}月{day}日这一天") from None
    if found.year != year:
        raise ValueError(f"{label}“{piece}”：不在{year}年")
    return found


def _words(day: date) -> str:
    return f"{day.month}月{day.day}日"

"""The working-day calendar as the activities see it: loaded once, reloaded when it changes.

The hot path (every deadline) never touches the database: it reads the cached calendar. At most
every ``recheck_seconds`` one cheap query compares the override table's version token and rebuilds
the calendar only when an administrator changed something.
"""

from __future__ import annotations

import threading
import time as clock
from datetime import time
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlmodel import Session, select

from daiban.core.logs import get_logger
from daiban.domain.workdays import DayKind, WorkdayCalendar
from daiban.store.calendar import calendar_version
from models.db import CalendarOverride, CalendarYear

log = get_logger("daiban.calendar")


class CalendarSource:
    def __init__(
        self,
        engine: Engine | None,
        *,
        tz: str = "Asia/Shanghai",
        closing: time = time(17, 0),
        recheck_seconds: float = 30.0,
    ) -> None:
        self._engine = engine
        self._tz, self._closing = tz, closing
        self._recheck = recheck_seconds
        self._lock = threading.Lock()
        self._calendar = WorkdayCalendar(tz=tz, closing=closing)
        self._version: str | None = None
        self._checked_at = float("-inf")

    @property
    def tz(self) -> ZoneInfo:
        return self._calendar.tz

    def calendar(self) -> WorkdayCalendar:
        """The calendar, re-read at most every ``recheck_seconds``. When a re-read fails (the
        database is away) the calendar read before is served: an edit made meanwhile reaches the
        requests by the ``calendar_changed`` signal, which reloads explicitly and is retried.
        Only a source that never read the database raises."""
        if self._engine is None or clock.monotonic() - self._checked_at < self._recheck:
            return self._calendar
        with self._lock:
            if clock.monotonic() - self._checked_at >= self._recheck:
                try:
                    self.reload()
                except Exception as error:
                    if self._version is None:
                        raise
                    self._checked_at = clock.monotonic()  # try again after the next interval
                    log.warning("calendar re-read failed; serving the cached one", error=str(error))
        return self._calendar

    def reload(self) -> None:
        """Read the overrides now (also called by tests and after ``daiban calendar`` edits)."""
        if self._engine is None:
            return
        with Session(self._engine) as session:
            version = calendar_version(session)
            if version != self._version:
                overrides = {
                    row.day: DayKind(row.kind) for row in session.exec(select(CalendarOverride))
                }
                years = [row.year for row in session.exec(select(CalendarYear))]
                self._calendar = WorkdayCalendar(
                    tz=self._tz, closing=self._closing, overrides=overrides, covered_years=years
                )
                self._version = version
        self._checked_at = clock.monotonic()

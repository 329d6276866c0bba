"""The calendar a worker computes deadlines with survives a database outage: a failed re-read
serves the calendar read before; only a worker that never read it, or an explicit reload (a
calendar edit), reports the failure, and the workflow retries those."""

from __future__ import annotations

from datetime import date
from pathlib import Path

import pytest
from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from activities.calendar_source import CalendarSource
from daiban.core.settings import Settings
from daiban.store.calendar import load_calendar_year
from daiban.store.db import make_engine, session_scope, upgrade
from tests.workflows.conftest import CalendarDatabase
from worker import warm_calendar_source


@pytest.fixture
def calendar_db(tmp_path: Path) -> CalendarDatabase:
    url = f"sqlite:///{tmp_path / 'daiban.db'}"
    upgrade(url)
    engine: Engine = make_engine(url)
    with session_scope(engine) as session:
        load_calendar_year(session, 2030, [date(2030, 4, 4)], [date(2030, 4, 7)], note="test")
    database = CalendarDatabase(engine, tmp_path / "calendar")
    database.up()
    return database


def test_a_failed_re_read_serves_the_cached_calendar(calendar_db: CalendarDatabase) -> None:
    source = CalendarSource(calendar_db.engine, recheck_seconds=0)
    before = source.calendar()
    assert not before.is_workday(date(2030, 4, 4))
    calendar_db.down()
    after = source.calendar()  # re-read due (recheck 0 s), fails, and is not an error
    assert after is before and after.is_workday(date(2030, 4, 7))
    with pytest.raises(OperationalError):
        source.reload()  # a calendar edit must be seen: the caller retries
    calendar_db.up()
    assert source.calendar() is before  # nothing changed: the same calendar, rebuilt never


def test_a_source_that_never_read_the_calendar_reports_the_outage(
    calendar_db: CalendarDatabase,
) -> None:
    calendar_db.down()
    with pytest.raises(OperationalError):
        CalendarSource(calendar_db.engine, recheck_seconds=0).calendar()


def test_a_worker_reads_the_calendar_at_start(calendar_db: CalendarDatabase) -> None:
    """A worker deployed shortly before an outage computes deadlines through it: it read the
    calendar when it started, not at its first deadline."""
    source = warm_calendar_source(calendar_db.engine, Settings())
    calendar_db.down()
    calendar = source.calendar()
    assert not calendar.is_workday(date(2030, 4, 4)) and calendar.is_workday(date(2030, 4, 7))

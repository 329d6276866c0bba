"""Request numbers: city code, local date, a sequence per city and day; concurrent submissions
never share one (SQLite and PostgreSQL)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from sqlalchemy import Engine
from sqlalchemy.exc import OperationalError

from daiban.store.db import session_scope
from daiban.store.numbers import next_number
from tests.store.threads import in_threads

TZ = ZoneInfo("Asia/Shanghai")
# 15:59 UTC is 23:59 on 1 December in Shanghai; 16:00 UTC is already 2 December there.
LATE, MIDNIGHT = datetime(2026, 12, 1, 15, 59, tzinfo=UTC), datetime(2026, 12, 1, 16, tzinfo=UTC)


def take(engine: Engine, city: str, at: datetime) -> str:
    with session_scope(engine) as session:
        return next_number(session, city, at, TZ)


def test_numbers_count_per_city_and_local_day(engine: Engine) -> None:
    assert take(engine, "370285000", LATE) == "370285-20261201-0001"
    assert take(engine, "370285000", LATE) == "370285-20261201-0002"
    assert take(engine, "370283000", LATE) == "370283-20261201-0001"  # another city
    assert take(engine, "370285000", MIDNIGHT) == "370285-20261202-0001"  # a new local day


def test_a_rolled_back_submission_gives_its_number_back(engine: Engine) -> None:
    try:
        with session_scope(engine) as session:
            next_number(session, "370285000", LATE, TZ)
            raise RuntimeError("the claim failed")
    except RuntimeError:
        pass
    assert take(engine, "370285000", LATE) == "370285-20261201-0001"


def test_concurrent_takers_get_distinct_numbers(engine: Engine) -> None:
    threads, each = 6, 5
    taken: list[str] = []
    lock = threading.Lock()

    def work(_: int) -> None:
        for _ in range(each):
            while True:
                try:
                    number = take(engine, "370285000", LATE)
                    break
                except OperationalError:  # SQLite: the database was locked; try again
                    continue
            with lock:
                taken.append(number)

    in_threads(threads, work)
    expected = [f"370285-20261201-{n:04d}" for n in range(1, threads * each + 1)]
    assert sorted(taken) == expected

"""The per-day statistics rollup stays equal to an aggregation of the read model: after random
upserts (version regressions, retries, rows moving between days), rollbacks, concurrent writers,
the migration's backfill and ``rebuild``, on SQLite and PostgreSQL."""

from __future__ import annotations

import random
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import date, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, MetaData, Table, delete
from sqlmodel import select

from daiban.store import rollup
from daiban.store.db import make_engine, session_scope, upgrade, upsert_request
from models.db import RequestRow, RequestStatsDaily
from tests.store.rollup_rows import (
    INSTANTS,
    MIDNIGHT,
    PLACES,
    STAGES,
    TZ,
    Key,
    expected,
    request,
    stored,
)  # fmt: skip


def check(engine: Engine, tz: ZoneInfo = TZ) -> dict[Key, dict[str, int]]:
    """Assert the rollup equals the aggregation of ``requests`` and a rebuild; return it."""
    with session_scope(engine) as session:
        rows = session.exec(select(RequestRow)).all()
        maintained = stored(session)
        assert maintained == expected(rows, tz)
        rollup.rebuild(session, tz)
        assert stored(session) == maintained
    return maintained


def clear(engine: Engine) -> None:
    with session_scope(engine) as session:
        session.exec(delete(RequestRow))
        session.exec(delete(RequestStatsDaily))


# --- random sequences --------------------------------------------------------------------------

fields = st.fixed_dictionaries(
    {
        "created_at": st.sampled_from(INSTANTS),
        "place": st.sampled_from(PLACES),
        "stage": st.sampled_from(STAGES),
        "on_time": st.none() | st.booleans(),
        "working_days": st.none() | st.integers(0, 30),
        "reminder_count": st.integers(0, 3),
        "yellow_count": st.integers(0, 2),
        "red_count": st.integers(0, 2),
        "rating_score": st.none() | st.integers(1, 5),
        "rectified": st.none() | st.booleans(),
        "called_back": st.none() | st.booleans(),
        "appeal_upheld": st.booleans(),
        "rating_channel": st.sampled_from(
            [None, "link", "sms_code", "default", "agent_unconfirmed"]
        ),
    }
)
# (request, version, fields, retry: send the previous write again instead).
writes = st.tuples(st.integers(0, 5), st.integers(1, 6), fields, st.booleans())
# Each inner list is one transaction.
transactions = st.lists(st.lists(writes, min_size=1, max_size=4), min_size=1, max_size=12)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(batches=transactions)
def test_rollup_follows_any_sequence_of_upserts(
    engine: Engine, batches: list[list[tuple[int, int, dict[str, Any], bool]]]
) -> None:
    clear(engine)
    versions: dict[str, int] = {}
    previous: tuple[str, int, dict[str, Any]] | None = None
    for batch in batches:
        with session_scope(engine) as session:
            for n, version, values, retry in batch:
                rid = f"r{n}"
                if retry and previous is not None:
                    rid, version, values = previous
                written = rid not in versions or versions[rid] < version
                assert upsert_request(session, request(rid, version, **values), TZ) == written
                if written:
                    versions[rid] = version
                previous = (rid, version, dict(values))
    maintained = check(engine)
    assert sum(sums["total"] for sums in maintained.values()) == len(versions)


def test_a_rolled_back_write_leaves_the_rollup_as_it_was(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_request(session, request("a", 1, rating_score=2), TZ)
    before = check(engine)
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        upsert_request(session, request("a", 2, rating_score=5, stage="completed"), TZ)
        upsert_request(session, request("b", 1), TZ)
        raise RuntimeError("the activity failed after the upsert")
    assert check(engine) == before
    assert before[(date(2026, 3, 1), *PLACES[0])]["rating_2"] == 1


def test_a_request_moving_to_another_day_moves_its_counts(engine: Engine) -> None:
    with session_scope(engine) as session:
        upsert_request(session, request("a", 1, created_at=INSTANTS[0], yellow_count=1), TZ)
        upsert_request(session, request("a", 2, created_at=INSTANTS[1], yellow_count=2), TZ)
    assert check(engine) == {
        (date(2026, 3, 2), *PLACES[0]): {
            name: {"total": 1, "yellow": 2}.get(name, 0) for name in rollup.STATS
        }
    }


# --- concurrent writers ------------------------------------------------------------------------


def test_concurrent_upserts_leave_the_rollup_exact(engine: Engine) -> None:
    """Threads write versions of a few requests in random order (first inserts racing, retries,
    older versions arriving late); the rollup must end equal to the rows that won."""
    rng = random.Random(7)
    requests, versions, threads = 6, 8, 12
    rows = {
        (n, v): request(
            f"c{n}",
            v,
            created_at=INSTANTS[n % len(INSTANTS)],
            place=PLACES[n % len(PLACES)],
            stage=rng.choice(STAGES),
            on_time=rng.choice([None, True, False]),
            working_days=rng.choice([None, rng.randint(0, 20)]),
            reminder_count=rng.randint(0, 3),
            rating_score=rng.choice([None, 1, 2, 3, 4, 5]),
            rectified=rng.choice([None, True, False]),
            called_back=rng.choice([None, True, False]),
            appeal_upheld=rng.choice([True, False]),
            rating_channel=rng.choice([None, "sms_code", "agent_unconfirmed"]),
        )
        for n in range(requests)
        for v in range(1, versions + 1)
    }
    start = threading.Barrier(threads)

    def lane(keys: list[tuple[int, int]]) -> None:
        start.wait()
        for key in keys:
            with session_scope(engine) as session:
                upsert_request(session, rows[key].model_copy(), TZ)

    for _ in range(3):
        clear(engine)
        work = [key for key in rows for _ in range(2)]  # every write twice: a retry
        rng.shuffle(work)
        with ThreadPoolExecutor(threads) as pool:
            for future in [pool.submit(lane, work[i::threads]) for i in range(threads)]:
                future.result()
        with session_scope(engine) as session:
            final = {r.id: r.version for r in session.exec(select(RequestRow))}
        assert final == {f"c{n}": versions for n in range(requests)}
        check(engine)


def test_racing_first_writes_keep_the_newest_version(engine: Engine) -> None:
    """Two versions of each new request written at the same instant: whichever inserts first,
    the other must then find the row and replace or keep it, never drop its own write."""
    pairs = 8
    start = threading.Barrier(2 * pairs)

    def write(row: RequestRow) -> None:
        start.wait()
        with session_scope(engine) as session:
            upsert_request(session, row, TZ)

    for _ in range(5):
        clear(engine)
        rows = [
            request(f"p{n}", v, place=PLACES[n % 3], rating_score=v, stage=STAGES[v])
            for n in range(pairs)
            for v in (1, 2)
        ]
        with ThreadPoolExecutor(2 * pairs) as pool:
            for future in [pool.submit(write, row) for row in rows]:
                future.result()
        with session_scope(engine) as session:
            final = {r.id: (r.version, r.rating_score) for r in session.exec(select(RequestRow))}
        assert final == {f"p{n}": (2, 2) for n in range(pairs)}
        check(engine)


# --- migration and rebuild ---------------------------------------------------------------------


@pytest.mark.parametrize("zone", ["Asia/Shanghai", "America/New_York"])
def test_the_migration_backfills_what_rebuild_computes(db_url: str, zone: str) -> None:
    tz = ZoneInfo(zone)
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        rng = random.Random(3)
        # Rows as they were then: only a bad rating (1 or 2) was ever rectified.
        scores = [rng.choice([None, 1, 5]) for _ in range(60)]
        rows_then = [
            request(
                f"m{n}",
                1,
                created_at=MIDNIGHT + timedelta(minutes=rng.randint(-3000, 3000)),
                place=rng.choice(PLACES),
                stage=rng.choice(STAGES),
                on_time=rng.choice([None, True, False]),
                working_days=rng.choice([None, 3, 7]),
                yellow_count=rng.randint(0, 2),
                rating_score=score,
                rectified=rng.choice([None, True]) if score == 1 else None,
            )
            for n, score in enumerate(scores)
        ]
        # Written as the schema of revision 0001 has them (columns added later do not exist yet).
        then = Table("requests", MetaData(), autoload_with=engine)
        with session_scope(engine) as session:
            session.execute(
                then.insert(),
                [{c.name: getattr(r, c.name) for c in then.columns} for r in rows_then],
            )
        upgrade(db_url, timezone=zone)
        with session_scope(engine) as session:
            backfilled = stored(session)
            rows = session.exec(select(RequestRow)).all()
        assert backfilled == expected(rows, tz)
        assert len(backfilled) > 6
        assert check(engine, tz) == backfilled
        # The zone matters: the same rows fall on other days in Shanghai and New York.
        other = ZoneInfo("America/New_York" if zone == "Asia/Shanghai" else "Asia/Shanghai")
        assert expected(rows, other) != backfilled
    finally:
        engine.dispose()


def test_the_callbacks_migration_counts_the_appeals_already_upheld(db_url: str) -> None:
    """Revision 0010: ratings whose appeal was upheld before it leave the rates at once, on the
    days the rollup already counts them; no request rated before it owed a callback."""
    upgrade(db_url, "0001")
    engine = make_engine(db_url)
    try:
        rows_then = [
            request(f"u{n}", 1, created_at=INSTANTS[n], rating_score=1 + n % 2) for n in range(8)
        ]
        with engine.begin() as connection:
            # As the schema of revision 0001 has them; the rollup is backfilled on the way.
            then = Table("requests", MetaData(), autoload_with=connection)
            connection.execute(
                then.insert(),
                [{c.name: getattr(r, c.name) for c in then.columns} for r in rows_then],
            )
        upgrade(db_url, "0009", timezone=TZ.key)
        with engine.begin() as connection:
            ratings = Table("ratings", MetaData(), autoload_with=connection)
            connection.execute(
                ratings.insert(),
                [
                    {"request_id": r.id, "score": r.rating_score, "rated_at": INSTANTS[0],
                     "office": r.township, "township": r.township, "is_default": False,
                     "appeal": "upheld" if n % 3 == 0 else "rejected"}
                    for n, r in enumerate(rows_then)
                ],
            )  # fmt: skip
        upgrade(db_url, timezone=TZ.key)
        with session_scope(engine) as session:
            rows = session.exec(select(RequestRow)).all()
            assert sorted(r.id for r in rows if r.appeal_upheld) == ["u0", "u3", "u6"]
            assert all(r.called_back is None for r in rows)
            migrated = stored(session)
        assert migrated == expected(rows, TZ)
        assert sum(sums["appeal_upheld"] for sums in migrated.values()) == 3
        assert check(engine) == migrated
    finally:
        engine.dispose()


def test_rebuild_repairs_a_damaged_rollup(engine: Engine) -> None:
    with session_scope(engine) as session:
        for n in range(5):
            upsert_request(session, request(f"d{n}", 1, created_at=INSTANTS[n]), TZ)
    good = check(engine)
    with session_scope(engine) as session:
        session.exec(delete(RequestStatsDaily).where(RequestStatsDaily.day == date(2026, 3, 2)))
        session.add(RequestStatsDaily(day=date(2020, 1, 1), township="x", city="y", total=9))
    with session_scope(engine) as session:
        assert stored(session) != good
        rollup.rebuild(session, TZ)
    assert check(engine) == good

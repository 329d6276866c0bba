"""The read-model queries and idempotency claims of the API on SQLite and PostgreSQL, without a
server: scope (two cities in one database), keyset pages, the queue's order, statistics (from the
per-day rollup and from the read model, identical), lists and statistics per community service
center, and concurrent claims."""

from __future__ import annotations

import random
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from unittest.mock import patch
from zoneinfo import ZoneInfo

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, func
from sqlalchemy import event as sa_event
from sqlmodel import select

from daiban.domain.offices import demo_offices
from daiban.domain.scope import Principal
from daiban.store import idempotency, readmodel, rollup
from daiban.store.db import load_offices, make_engine, session_scope, upgrade, upsert_request
from daiban.store.errors import InvalidQuery
from daiban.store.ledger import append_events, verify
from models.contracts import LedgerEvent
from models.db import RequestRow
from tests.pg import create_database, drop_database

T0 = datetime(2026, 3, 2, 1, 0, tzinfo=UTC)
TZ = ZoneInfo("Asia/Shanghai")
CITY, TOWN, OTHER_TOWN = "370285000", "370285004", "370285005"
VILLAGE, OTHER_VILLAGE = "370285004001", "370285005001"
# A second city of the same deployment.
FAR_CITY, FAR_TOWN, FAR_VILLAGE = "370283000", "370283001", "370283001001"


def at(role: str, office: str, **fields: Any) -> Principal:
    """A principal with its office's tier, as ``principal_from_claims`` gives it."""
    tier = "village" if len(office) == 12 else "city" if office.endswith("000") else "township"
    return Principal("x", role, office, tier=tier, **fields)


@pytest.fixture(params=["sqlite", "postgresql"])
def engine(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Engine]:
    url = f"sqlite:///{tmp_path / 'rm.db'}" if request.param == "sqlite" else create_database()
    upgrade(url)
    engine = make_engine(url)
    try:
        yield engine
    finally:
        engine.dispose()
        if request.param == "postgresql":
            drop_database(url)


def row(rid: str, village: str = VILLAGE, minutes: int = 0, **fields: Any) -> RequestRow:
    township = village[:9]
    values: dict[str, Any] = {
        "id": rid, "item": "linshi-jiuzhu", "village": village, "township": township,
        "city": village[:6] + "000", "stage": "township_review", "responsible_office": township,
        "agent": "a", "version": 1, "created_at": T0 + timedelta(minutes=minutes),
        "state": {"resident": {"name": "王秀英", "id_number": "x", "phone": "y"}},
    }  # fmt: skip
    return RequestRow(**(values | fields))


def event(rid: str, n: int, action: str = "accept", **fields: Any) -> LedgerEvent:
    base = {"key": f"{rid}:{n}", "at": T0, "kind": "action", "actor": "s", "role": "r"}
    return LedgerEvent(**(base | {"office": TOWN, "action": action} | fields))


def add(engine: Engine, rows: list[RequestRow], forwarded: tuple[str, ...] = ()) -> None:
    with session_scope(engine) as session:
        for r in rows:
            upsert_request(session, r, TZ)
        for r in rows:
            actions = ["submit", "forward"] if r.id in forwarded else ["submit"]
            append_events(session, r.id, [event(r.id, n, a) for n, a in enumerate(actions)])


def ids(engine: Engine, principal: Principal, **filters: Any) -> list[str]:
    with session_scope(engine) as session:
        page = readmodel.list_requests(
            session, principal, readmodel.RequestFilters(**filters), limit=200
        )
    return [r.id for r in page.rows]


def test_scope_of_each_role(engine: Engine) -> None:
    add(
        engine,
        [
            row("a", minutes=1),
            row("b", minutes=2),
            row("c", OTHER_VILLAGE, minutes=3),
            row("d", FAR_VILLAGE, minutes=4),  # the other city, forwarded to it
        ],
        forwarded=("b", "d"),
    )
    cases = {
        at("agent", VILLAGE): ["b", "a"],
        at("agent", "370285004002"): [],
        at("agent", FAR_VILLAGE): ["d"],
        at("township_staff", TOWN): ["b", "a"],
        at("township_staff", OTHER_TOWN): ["c"],
        at("township_staff", FAR_TOWN): ["d"],
        at("city_staff", CITY): ["b"],
        at("city_staff", FAR_CITY): ["d"],
        at("supervisor", TOWN): ["b", "a"],
        at("supervisor", CITY): ["c", "b", "a"],  # its own city only
        at("supervisor", FAR_CITY): ["d"],
        at("supervisor", FAR_TOWN): ["d"],
        at("admin", VILLAGE): ["d", "c", "b", "a"],  # every city
        at("rating_link", VILLAGE, request="a"): ["a"],
    }
    for principal, expected in cases.items():
        assert ids(engine, principal) == expected, principal
        with session_scope(engine) as session:
            for rid in "abcd":
                found = readmodel.request_in_scope(session, principal, rid) is not None
                assert found == (rid in expected), (principal, rid)
            # Ledger events and chain verification follow the same scope (city staff are not
            # readers of the ledger, but the forwarded() subquery must still correlate correctly
            # inside a query on the ledger).
            page = readmodel.ledger_events(session, principal, readmodel.EventFilters(), 50)
            assert {r.request_id for r in page.rows} == set(expected), principal
            checked = verify(session, within=readmodel.ids_in_scope(principal))
            assert checked.ok and checked.checked == sum(
                2 if rid in "bd" else 1 for rid in expected
            )


def test_a_supervisor_of_unknown_tier_is_given_no_scope() -> None:
    with pytest.raises(ValueError, match="township or a city"):
        readmodel.scope_clause(Principal("x", "supervisor", CITY))


def test_keyset_pages_break_ties_by_id(engine: Engine) -> None:
    add(engine, [row(f"r{i}", minutes=i // 2) for i in range(7)])  # pairs share created_at
    admin = Principal("x", "admin", CITY)
    seen, cursor = [], None
    while True:
        with session_scope(engine) as session:
            page = readmodel.list_requests(
                session, admin, readmodel.RequestFilters(), limit=2, cursor=cursor
            )
        seen += [r.id for r in page.rows]
        cursor = page.next_cursor
        if cursor is None:
            break
    assert seen == ["r6", "r5", "r4", "r3", "r2", "r1", "r0"]
    with pytest.raises(InvalidQuery), session_scope(engine) as session:
        readmodel.list_requests(session, admin, readmodel.RequestFilters(), cursor="bm9wZQ")


def test_queue_earliest_deadline_first_nulls_last(engine: Engine) -> None:
    deadlines = {"q1": 3, "q2": None, "q3": 1, "q4": None, "q5": 1}
    rows = [
        row(rid, deadline=None if d is None else T0 + timedelta(days=d))
        for rid, d in deadlines.items()
    ]
    rows.append(row("closed", status="closed", stage="completed", deadline=T0))
    rows.append(row("elsewhere", responsible_office=VILLAGE, deadline=T0))
    add(engine, rows)
    seen, cursor = [], None
    while True:
        with session_scope(engine) as session:
            page = readmodel.work_queue(session, TOWN, limit=2, cursor=cursor)
        seen += [r.id for r in page.rows]
        if (cursor := page.next_cursor) is None:
            break
    assert seen == ["q3", "q5", "q1", "q2", "q4"]


def test_stats_per_township(engine: Engine) -> None:
    add(
        engine,
        [
            row("s1", stage="completed", status="closed", on_time=True, working_days=4,
                rating_score=5, yellow_count=1),
            row("s2", stage="completed", status="closed", on_time=False, working_days=8,
                rating_score=1, rectified=True, red_count=2),
            row("s3", stage="rectification", on_time=True, working_days=6, rating_score=2),
            row("s4", reminder_count=1),
            row("t1", OTHER_VILLAGE, rating_score=3, stage="completed", status="closed"),
            row("f1", FAR_VILLAGE, rating_score=4),
        ],
    )  # fmt: skip
    with session_scope(engine) as session:
        city = readmodel.township_stats(session, at("supervisor", CITY), TZ)
        town = readmodel.township_stats(session, at("supervisor", TOWN), TZ)
        far = readmodel.township_stats(session, at("supervisor", FAR_CITY), TZ)
        everything = readmodel.township_stats(session, at("admin", CITY), TZ)
        late = readmodel.township_stats(
            session, at("admin", CITY), TZ, created_from=T0 + timedelta(days=1)
        )
    assert [s["office"] for s in city] == [TOWN, OTHER_TOWN]  # not the other city's township
    assert [(s["office"], s["total"]) for s in far] == [(FAR_TOWN, 1)]
    assert [s["office"] for s in everything] == [FAR_TOWN, TOWN, OTHER_TOWN]
    assert town == [city[0]]
    assert late == []
    assert town[0] == {  # offices are not loaded here: no name
        "office": TOWN,
        "name": None,
        "total": 4,
        "completed": 2,
        "on_time_rate": round(2 / 3, 4),
        "avg_working_days": 6.0,
        "reminder": 1,
        "yellow": 1,
        "red": 2,
        "ratings": {"1": 1, "2": 1, "3": 0, "4": 0, "5": 1},
        "satisfaction_rate": round(1 / 3, 4),
        "bad_rate": round(2 / 3, 4),
        "rectified_rate": 0.5,
        "callback_rate": None,  # rated before callbacks: none was owed
        "appeals_upheld": 0,
        "agent_unconfirmed": 0,
    }
    assert city[1]["satisfaction_rate"] == 1.0 and city[1]["rectified_rate"] is None


def test_callback_rate_and_upheld_appeals(engine: Engine) -> None:
    """``callback_rate``: bad ratings reached within the callback limit over those that owed a
    callback; an upheld appeal takes its rating out of every rate, and the figures from the
    rollup (whole days) and from ``requests`` (a partial day) agree."""
    bad = {"stage": "rectification", "rating_score": 1}
    add(
        engine,
        [
            row("c1", **bad, called_back=True, rectified=True),
            row("c2", **bad, called_back=False),
            row("c3", **bad, called_back=True, appeal_upheld=True),  # upheld: out of it all
            row("c4", **bad),  # rated before callbacks: owed none
            row("c5", rating_score=4, stage="completed", status="closed"),
        ],
    )  # fmt: skip
    with session_scope(engine) as session:
        whole = readmodel.township_stats(session, at("supervisor", CITY), TZ)
        partial = readmodel.township_stats(
            session, at("supervisor", CITY), TZ, created_from=T0 - timedelta(minutes=1)
        )
    assert whole == partial
    stats = whole[0]
    assert stats["ratings"] == {"1": 4, "2": 0, "3": 0, "4": 1, "5": 0}  # every rating, as given
    assert (stats["callback_rate"], stats["appeals_upheld"]) == (0.5, 1)
    # Four ratings count: three bad, one good; one of the three bad rectified.
    assert (stats["satisfaction_rate"], stats["bad_rate"], stats["rectified_rate"]) == (
        0.25,
        0.75,
        round(1 / 3, 4),
    )


def test_unconfirmed_ratings_are_counted_apart_from_the_rate(engine: Engine) -> None:
    """Ratings the agent entered without the resident's code are kept and counted, never in the
    ratings or the rates; the same whole-day figures from the rollup and from ``requests``."""
    day = timedelta(days=1)
    add(
        engine,
        [
            row("c1", stage="completed", rating_score=5, rating_channel="link"),
            row("c2", stage="completed", rating_score=1, rating_channel="sms_code",
                rectified=True),
            row("c3", stage="completed", rating_score=3, rating_channel="default"),
            row("c4", stage="completed", rating_score=5, rating_channel="agent_unconfirmed"),
            row("c5", stage="rectification", rating_score=1, rating_channel="agent_unconfirmed",
                rectified=True),
            row("c6", stage="completed", rating_score=4),  # rated before channels were kept
        ],
    )  # fmt: skip
    start = datetime.combine(T0.astimezone(TZ).date(), datetime.min.time(), tzinfo=TZ)
    fast, direct, sql = stats_both_ways(engine, at("supervisor", CITY), None, start, start + day)
    assert reads(sql, "request_stats_daily") and not reads(sql, "requests")
    assert fast == direct
    (town,) = fast
    assert town["ratings"] == {"1": 1, "2": 0, "3": 1, "4": 1, "5": 1}
    assert town["satisfaction_rate"] == 0.75  # 3 of the 4 counted; the unconfirmed 5 and 1 not
    assert town["rectified_rate"] == 1.0  # the counted bad rating, rectified
    assert town["agent_unconfirmed"] == 2


CENTER, NEXT_CENTER = "370285004S01", "370285004S02"  # villages 001-008 and 009-016 of TOWN


def test_lists_and_stats_per_community_service_center(engine: Engine) -> None:
    load_offices(engine, demo_offices())
    add(
        engine,
        [
            row("in1", VILLAGE, rating_score=5, stage="completed", status="closed"),
            row("in2", "370285004008", minutes=1),
            row("next", "370285004009", minutes=2),  # the next center, same township
            row("other", OTHER_VILLAGE, minutes=3),
        ],
    )
    supervisor, neighbour = at("supervisor", CITY), at("supervisor", OTHER_TOWN)
    assert ids(engine, supervisor, community=CENTER) == ["in2", "in1"]
    assert ids(engine, supervisor, community=NEXT_CENTER) == ["next"]
    assert ids(engine, supervisor, community=CENTER, township=OTHER_TOWN) == []
    assert ids(engine, neighbour, community=CENTER) == []  # scope still applies
    assert ids(engine, supervisor, community=VILLAGE) == []  # a village groups no villages
    with session_scope(engine) as session:
        (one,) = readmodel.township_stats(session, supervisor, TZ, community=CENTER)
        (township,) = readmodel.township_stats(session, supervisor, TZ, township=TOWN)
        outside = readmodel.township_stats(session, neighbour, TZ, community=CENTER)
        staff = readmodel.township_stats(
            session, at("township_staff", TOWN), TZ, community=NEXT_CENTER
        )
    assert (one["office"], one["name"], one["total"]) == (CENTER, "阎家疃社区服务中心", 2)
    assert (one["completed"], one["ratings"]["5"]) == (1, 1)
    assert township["total"] == 3  # the township holds both centers
    assert outside == []
    assert [(s["office"], s["total"]) for s in staff] == [(NEXT_CENTER, 1)]


# Local midnight of 2026-03-02 in Asia/Shanghai, and the instants the range tests cut at.
MIDNIGHT = datetime(2026, 3, 1, 16, 0, tzinfo=UTC)
CUTS = [MIDNIGHT + timedelta(days=d, seconds=s) for d in range(-1, 5) for s in (-1, 0, 1, 21600)]
PRINCIPALS = [
    at("admin", CITY),
    at("supervisor", CITY),
    at("supervisor", FAR_CITY),
    at("supervisor", TOWN),
    at("supervisor", OTHER_TOWN),
    at("township_staff", TOWN),  # finer than the rollup: always the direct query
]


def spread(engine: Engine, count: int = 80) -> None:
    """Requests over five local days, many within seconds of midnight, in three townships."""
    rng = random.Random(11)
    rows = []
    for n in range(count):
        village = rng.choice([VILLAGE, OTHER_VILLAGE, FAR_TOWN + "001"])
        minutes = rng.choice([-1, 0, 1, rng.randint(-1440, 1440)])
        rows.append(
            row(
                f"x{n:03}", village,
                city=FAR_CITY if village.startswith(FAR_TOWN) else CITY,
                created_at=MIDNIGHT + timedelta(days=rng.randint(-1, 3), minutes=minutes),
                stage=rng.choice(["completed", "township_review", "refused"]),
                on_time=rng.choice([None, True, False]),
                working_days=rng.choice([None, rng.randint(0, 25)]),
                reminder_count=rng.randint(0, 2), yellow_count=rng.randint(0, 1),
                red_count=rng.randint(0, 1), rating_score=rng.choice([None, 1, 2, 3, 4, 5]),
                rectified=rng.choice([None, True, False]),
                rating_channel=rng.choice([None, "link", "sms_code", "agent_unconfirmed"]),
            )
        )  # fmt: skip
    add(engine, rows)


def stats_both_ways(
    engine: Engine,
    principal: Principal,
    township: str | None,
    start: datetime | None,
    end: datetime | None,
) -> tuple[list[dict[str, Any]], list[dict[str, Any]], list[str]]:
    """``township_stats`` as it runs, the same with the rollup switched off (the direct query),
    and the SQL the first one sent."""
    statements: list[str] = []

    def capture(_conn: Any, _cursor: Any, sql: str, *_: Any) -> None:
        statements.append(sql)

    with session_scope(engine) as session:
        sa_event.listen(engine, "before_cursor_execute", capture)
        try:
            fast = readmodel.township_stats(session, principal, TZ, township, start, end)
        finally:
            sa_event.remove(engine, "before_cursor_execute", capture)
        with patch.object(readmodel, "rollup_scope", lambda _: None):
            direct = readmodel.township_stats(session, principal, TZ, township, start, end)
    return fast, direct, statements


def reads(statements: list[str], table: str) -> bool:
    return any(f"FROM {table}" in sql for sql in statements)


def test_stats_from_the_rollup_equal_the_direct_query(engine: Engine) -> None:
    spread(engine)
    day = timedelta(days=1)
    ranges: list[tuple[datetime | None, datetime | None]] = [
        (None, None),  # all time: the rollup alone
        (MIDNIGHT, MIDNIGHT + 2 * day),  # whole days: the rollup alone
        (MIDNIGHT - timedelta(seconds=1), MIDNIGHT + 2 * day + timedelta(seconds=1)),  # + edges
        (MIDNIGHT + timedelta(hours=5), None),  # a partial first day, open end
        (None, MIDNIGHT + day + timedelta(hours=7)),  # open start, a partial last day
        (MIDNIGHT + timedelta(hours=1), MIDNIGHT + timedelta(hours=20)),  # inside one day
        (MIDNIGHT + timedelta(hours=20), MIDNIGHT + day + timedelta(hours=3)),  # two partial days
        (MIDNIGHT + 2 * day, MIDNIGHT),  # empty
    ]
    seen_rollup = seen_edges = 0
    for principal in PRINCIPALS:
        for township in (None, TOWN, FAR_TOWN):
            for start, end in ranges:
                fast, direct, sql = stats_both_ways(engine, principal, township, start, end)
                assert fast == direct, (principal, township, start, end)
                if principal.role == "township_staff":
                    assert not reads(sql, "request_stats_daily")
                    continue
                split = rollup.split(start, end, TZ)
                assert reads(sql, "request_stats_daily") == (split.days is not None)
                assert reads(sql, "requests") == bool(split.edges)
                seen_rollup += split.days is not None
                seen_edges += bool(split.edges)
    assert seen_rollup and seen_edges
    fast, _, _ = stats_both_ways(engine, PRINCIPALS[0], None, None, None)
    assert [s["office"] for s in fast] == [FAR_TOWN, TOWN, OTHER_TOWN]
    assert sum(s["total"] for s in fast) == 80
    city, _, _ = stats_both_ways(engine, PRINCIPALS[1], None, None, None)
    assert [s["office"] for s in city] == [TOWN, OTHER_TOWN]
    assert city == fast[1:]


cuts = (
    st.none()
    | st.sampled_from(CUTS)
    | st.integers(-2000, 7000).map(lambda m: MIDNIGHT + timedelta(minutes=m))
)


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    principal=st.sampled_from(PRINCIPALS[:4]),
    township=st.sampled_from([None, TOWN, OTHER_TOWN]),
    start=cuts,
    end=cuts,
)
def test_stats_from_the_rollup_equal_the_direct_query_for_any_range(
    engine: Engine,
    principal: Principal,
    township: str | None,
    start: datetime | None,
    end: datetime | None,
) -> None:
    with session_scope(engine) as session:
        empty = session.exec(select(func.count()).select_from(RequestRow)).one() == 0
    if empty:
        spread(engine)
    fast, direct, _ = stats_both_ways(engine, principal, township, start, end)
    assert fast == direct


def test_concurrent_claims_of_one_key(engine: Engine) -> None:
    digest = idempotency.body_hash(VILLAGE, {"item": "x"})
    with ThreadPoolExecutor(max_workers=10) as pool:
        claims = list(
            pool.map(lambda _: idempotency.claim(engine, "agent", "k", digest), range(10))
        )
    assert len({c.request_id for c in claims}) == 1
    assert sorted(c.created for c in claims) == [False] * 9 + [True]
    with pytest.raises(InvalidQuery):
        idempotency.claim(engine, "agent", "k", idempotency.body_hash(VILLAGE, {"item": "y"}))
    later = idempotency.claim(engine, "agent", "k", digest, now=T0 + timedelta(days=3650))
    assert later.created and later.request_id != claims[0].request_id

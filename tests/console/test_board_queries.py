"""The board's reads (``daiban.console.board_data``) on SQLite and PostgreSQL, over a varied read
model (two cities, several townships, open and closed requests at every rung, orders in every
status, ledger rows): the rewritten queries give the rows the former ones gave, and a township
supervisor's board holds its own township only."""

from __future__ import annotations

import calendar
import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine, func
from sqlmodel import Session, col, exists, select

from daiban.console import board_data
from daiban.domain.offices import demo_offices
from daiban.domain.scope import Principal
from daiban.store import readmodel, rollup
from daiban.store.db import load_offices, session_scope
from daiban.store.orders import OrderFilters, list_orders
from models.contracts import Role
from models.db import LedgerRow, OrderRow, RequestRow
from tests.store.conftest import db_url, engine  # noqa: F401 (fixtures)

TZ = ZoneInfo("Asia/Shanghai")
CITY, OTHER_CITY = "370285000", "370286000"
TOWNSHIPS = {CITY: ["370285004", "370285005", "370285006"], OTHER_CITY: ["370286001"]}
NOW = datetime(2026, 12, 1, 3, 0, tzinfo=UTC)  # 11:00 local
LEVELS = ("none", "reminder", "yellow", "red", "statutory")


def county() -> Principal:
    return Principal("sup-city", Role.SUPERVISOR, CITY, tier="city")


def township(code: str) -> Principal:
    return Principal(f"sup-{code}", Role.SUPERVISOR, code, tier="township")


def supervisors() -> list[Principal]:
    others = Principal("sup-other", Role.SUPERVISOR, OTHER_CITY, tier="city")
    return [county(), others, *(township(t) for ts in TOWNSHIPS.values() for t in ts)]


def _request(n: int, rng: random.Random) -> RequestRow:
    city = rng.choice(list(TOWNSHIPS))
    town = rng.choice(TOWNSHIPS[city])
    created = NOW - timedelta(days=rng.randint(0, 200), minutes=rng.randint(0, 1440))
    is_open = rng.random() < 0.6
    score = None if is_open else rng.choice([None, 1, 2, 3, 4, 5])
    return RequestRow(
        id=f"r{n:04d}",
        item="dibao",
        village=f"{town}001",
        township=town,
        city=city,
        stage="township_review" if is_open else "completed",
        status="open" if is_open else "closed",
        responsible_office=town,
        overdue=rng.choice(LEVELS),
        deadline=NOW + timedelta(hours=rng.randint(-30, 30)) if is_open else None,
        rating_score=score,
        on_time=None if is_open else rng.random() < 0.8,
        working_days=None if is_open else rng.randint(0, 20),
        agent="agent",
        created_at=created,
        updated_at=created,
        version=1,
        state={
            "resident": {"name": "王*英", "id_number": "3702**********0024", "phone": "138****1234"}
        },
    )


def _order(n: int, request: RequestRow, rng: random.Random) -> OrderRow:
    issued = NOW - timedelta(days=rng.randint(0, 10))
    return OrderRow(
        key=f"{request.id}:o{n}",
        number=f"督{n:04d}",
        request_id=request.id,
        issuing_office=request.city,
        office=request.township,
        township=request.township,
        city=request.city,
        year=2026,
        seq=n,
        reason="限期办结",
        issued_by="system",
        issued_at=issued,
        respond_by=issued + timedelta(days=rng.randint(1, 5), minutes=n),
        status=rng.choice(["open", "replied", "closed"]),
        overdue=rng.random() < 0.3,
    )


def _ledger(n: int, request: RequestRow) -> LedgerRow:
    return LedgerRow(
        request_id=request.id, seq=n, event_key=f"e{n}", at=NOW, kind="action",
        actor="a", role="agent", office=request.village, prev_hash="0", hash=f"h{n}",
    )  # fmt: skip


@pytest.fixture
def board_engine(engine: Engine) -> Engine:  # noqa: F811
    rng = random.Random(17)
    load_offices(engine, demo_offices())
    requests = [_request(n, rng) for n in range(240)]
    with session_scope(engine) as session:
        session.add_all(requests)
    with session_scope(engine) as session:
        for n, request in enumerate(rng.sample(requests, 60)):
            session.add(_order(n, request, rng))
        for n, request in enumerate(rng.sample(requests, 40)):
            session.add(_ledger(n, request))
        rollup.rebuild(session, TZ)
    return engine


def _orders_before(session: Session, p: Principal, status: str | None) -> list[str]:
    """The supervisor's order list as written before (``IN`` the ids in scope)."""
    query = select(OrderRow).where(col(OrderRow.request_id).in_(readmodel.ids_in_scope(p)))
    if status is not None:
        query = query.where(col(OrderRow.status) == status)
    query = query.order_by(col(OrderRow.respond_by), col(OrderRow.key))
    return [row.key for row in session.exec(query)]


def _changes_before(session: Session, p: Principal, after: int) -> int:
    """The poll's count as written before."""
    in_scope = exists().where(
        col(RequestRow.id) == col(LedgerRow.request_id), readmodel.scope_clause(p)
    )
    query = select(func.count()).select_from(LedgerRow).where(col(LedgerRow.id) > after, in_scope)
    return int(session.exec(query).one())


@pytest.mark.parametrize("status", [None, "open", "replied"])
def test_the_order_list_of_a_supervisor_is_the_one_before(
    board_engine: Engine, status: str | None
) -> None:
    with Session(board_engine) as session:
        for p in supervisors():
            page = list_orders(session, p, OrderFilters(status=status), 200)
            assert [row.key for row in page.rows] == _orders_before(session, p, status)
        # Not a vacuous comparison: the county sees orders, and not every order.
        county_keys = _orders_before(session, county(), status)
        assert 0 < len(county_keys) < len(session.exec(select(OrderRow)).all())


def test_the_poll_says_changed_exactly_when_the_count_was_positive(board_engine: Engine) -> None:
    with Session(board_engine) as session:
        ids = sorted(int(i) for i in session.exec(select(LedgerRow.id)) if i is not None)
        seen = set()
        for p in supervisors():
            for after in [0, *ids[::5], ids[-1]]:
                changed = board_data.changed_since(session, p, after)
                assert changed == (_changes_before(session, p, after) > 0)
                seen.add(changed)
            newest, changed = board_data.poll(session, p, ids[-1])
            assert (newest, changed) == (ids[-1], False)
        assert seen == {True, False}


def test_a_township_supervisor_sees_only_its_township_on_the_board(board_engine: Engine) -> None:
    with Session(board_engine) as session:
        for code in TOWNSHIPS[CITY]:
            rows = board_data.board_rows(session, township(code), TZ, NOW)
            assert [c.code for c in rows.cards] == [code]
            assert rows.due and {r.township for r in rows.due} == {code}
            assert rows.red.rows and {r.township for r in rows.red.rows} == {code}
            orders = [*rows.waiting.rows, *rows.replied.rows]
            assert orders and {o.township for o in orders} == {code}
            offices = {o["office"] for _, stats in rows.trends for o in stats}
            assert offices == {code}
        whole = board_data.board_rows(session, county(), TZ, NOW)
        assert [c.code for c in whole.cards] == sorted(TOWNSHIPS[CITY])
        assert {r.city for r in whole.due} == {CITY}


def test_the_cards_count_the_open_requests_of_each_rung(board_engine: Engine) -> None:
    with Session(board_engine) as session:
        open_rows = session.exec(
            select(RequestRow).where(col(RequestRow.status) == "open", col(RequestRow.city) == CITY)
        ).all()
        for card in board_data.township_cards(session, county()):
            mine = [r for r in open_rows if r.township == card.code]
            assert card.open == len(mine)
            for level in ("reminder", "yellow", "red", "statutory"):
                assert getattr(card, level) == sum(1 for r in mine if r.overdue == level)


def test_the_red_cards_are_the_newest_red_and_statutory_requests(board_engine: Engine) -> None:
    """Red and past the statutory limit (the rung above red), newest first, in scope; a
    yellow or lower card never."""
    with Session(board_engine) as session:
        for p in supervisors():
            visible = readmodel.list_requests(session, p, readmodel.RequestFilters(), 10_000).rows
            wanted = sorted(
                (r for r in visible if r.overdue in ("red", "statutory")),
                key=lambda r: (r.created_at, r.id),
                reverse=True,
            )[: board_data.RED_LIMIT]
            got = board_data.red_cards(session, p).rows
            assert [r.id for r in got] == [r.id for r in wanted], p.office
        county_red = board_data.red_cards(session, county()).rows
        assert {r.overdue for r in county_red} == {"red", "statutory"}
        assert len(county_red) == board_data.RED_LIMIT  # more than fit: the newest kept


def test_the_trends_are_the_statistics_of_each_whole_month(board_engine: Engine) -> None:
    """What ``/v1/stats?from=<first>&to=<last day>`` answers for each of the last six months."""
    today = NOW.astimezone(TZ).date()
    with Session(board_engine) as session:
        for p in supervisors():
            months = board_data.trend_stats(session, p, TZ, today)
            assert [start.day for start, _ in months] == [1] * board_data.TREND_MONTHS
            assert months[-1][0] == today.replace(day=1)
            for start, rows in months:
                last = start.replace(day=calendar.monthrange(start.year, start.month)[1])
                expected = readmodel.township_stats(
                    session, p, TZ, None, rollup.day_start(start, TZ),
                    rollup.day_start(last + timedelta(days=1), TZ),
                )  # fmt: skip
                assert rows == expected
        county_months = board_data.trend_stats(session, county(), TZ, today)
        assert sum(len(rows) for _, rows in county_months) > 0

"""Supervision orders in the store: gapless numbers per issuing office and local year, one number
per order however often its recording is retried, rows that follow the request's newer states
only, and concurrent recordings (threads) on SQLite and PostgreSQL."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import Engine
from sqlmodel import Session, col, select

from daiban.domain.offices import demo_offices
from daiban.domain.scope import Principal
from daiban.store.db import load_offices, session_scope
from daiban.store.errors import InvalidQuery
from daiban.store.orders import OrderFilters, list_orders, order_counts, record_orders
from models.contracts import RequestState, Resident, SupervisionOrder
from models.db import NoticeCounter, OrderRow, RequestRow
from tests.store.threads import race_twice

TZ = ZoneInfo("Asia/Shanghai")
JIANGSHAN = "370285004"  # 姜山镇
CITY = "370285000"  # 莱西市行政服务中心
T0 = datetime(2026, 12, 1, 2, 0, tzinfo=UTC)  # 10:00 local


@pytest.fixture(autouse=True)
def offices(engine: Engine) -> None:
    """The issuing office's name comes from the offices table."""
    load_offices(engine, demo_offices())


def state(request_id: str, *orders: SupervisionOrder, version: int = 1) -> RequestState:
    return RequestState(
        id=request_id,
        item="dibao",
        item_name="最低生活保障审核确认",
        deciding_tier="city",
        village="370285004001",
        township=JIANGSHAN,
        city=CITY,
        stage="township_review",
        status="open",
        responsible_office=JIANGSHAN,
        resident=Resident("王秀英", "370285194802150024", "13805321234"),
        agent="agent-1",
        channel="proxy_room",
        created_at=T0,
        updated_at=T0,
        orders=list(orders),
        version=version,
    )


def order(request_id: str, n: int = 1, issued_at: datetime = T0) -> SupervisionOrder:
    return SupervisionOrder(
        key=f"{request_id}:o{n}",
        issuing_office=CITY,
        office=JIANGSHAN,
        reason="official 期限已过，限期办结",
        issued_at=issued_at,
        issued_by="system",
        respond_by=issued_at + timedelta(days=2),
        clock="official",
    )


def record(engine: Engine, s: RequestState) -> dict[str, str]:
    with session_scope(engine) as session:
        return record_orders(session, s, TZ)


def rows(engine: Engine) -> list[OrderRow]:
    with Session(engine) as session:
        return list(session.exec(select(OrderRow).order_by(col(OrderRow.seq))))


def test_numbers_are_gapless_per_issuing_office_and_local_year(engine: Engine) -> None:
    assert record(engine, state("r1", order("r1"))) == {"r1:o1": "莱西督〔2026〕0001号"}
    assert record(engine, state("r2", order("r2"))) == {"r2:o1": "莱西督〔2026〕0002号"}
    # 31 December 17:00 UTC is 1 January 01:00 in Shanghai: the local year's first.
    new_year = datetime(2026, 12, 31, 17, 0, tzinfo=UTC)
    assert record(engine, state("r3", order("r3", issued_at=new_year))) == {
        "r3:o1": "莱西督〔2027〕0001号"
    }


def test_a_retried_recording_keeps_the_number(engine: Engine) -> None:
    first = state("r1", order("r1"))
    assert record(engine, first) == {"r1:o1": "莱西督〔2026〕0001号"}
    # The same transition recorded again (the activity retried): the same number, no second row.
    assert record(engine, first) == {"r1:o1": "莱西督〔2026〕0001号"}
    assert len(rows(engine)) == 1
    with Session(engine) as session:
        counter = session.get(NoticeCounter, (CITY, "order", 2026))
        assert counter is not None and counter.last == 1


def test_a_row_follows_newer_states_only(engine: Engine) -> None:
    o = order("r1")
    record(engine, state("r1", o, version=1))
    replied = replace(o, number="莱西督〔2026〕0001号", status="replied", reply="已核查")
    assert record(engine, state("r1", replied, version=3)) == {}
    assert record(engine, state("r1", replace(replied, status="open", reply=None), version=2)) == {}
    (row,) = rows(engine)
    assert (row.status, row.reply, row.version) == ("replied", "已核查", 3)


def test_a_rolled_back_recording_leaves_no_gap(engine: Engine) -> None:
    with pytest.raises(RuntimeError), session_scope(engine) as session:
        record_orders(session, state("r1", order("r1")), TZ)
        raise RuntimeError("the transition's other writes failed")
    assert rows(engine) == []
    assert record(engine, state("r2", order("r2"))) == {"r2:o1": "莱西督〔2026〕0001号"}


def test_concurrent_recordings_get_gapless_unique_numbers(engine: Engine) -> None:
    """Threads record orders of one sequence at once, each request twice (an activity and its
    retry racing): each order gets one number; the numbers are 1..n."""
    threads, per_thread = 6, 4
    ids = [f"r{i}" for i in range(threads * per_thread // 2)]

    def take(rid: str) -> str:
        number = record(engine, state(rid, order(rid))).get(f"{rid}:o1")
        if number is None:  # recorded by the other thread: the row has it
            with Session(engine) as session:
                row = session.get(OrderRow, f"{rid}:o1")
                assert row is not None and row.number is not None
                number = row.number
        return number

    results = race_twice(ids, threads, take)
    assert all(len(numbers) == 1 for numbers in results.values()), results
    issued = sorted(numbers.pop() for numbers in results.values())
    assert issued == [f"莱西督〔2026〕{n:04d}号" for n in range(1, len(ids) + 1)]
    assert sorted(r.number for r in rows(engine)) == issued


def test_the_list_is_scoped_and_ordered(engine: Engine) -> None:
    late = order("r1")
    early = replace(order("r2"), respond_by=T0 + timedelta(hours=1))
    record(engine, state("r1", late))
    record(engine, state("r2", early))
    township_staff = Principal(sub="ts", role="township_staff", office=JIANGSHAN)
    other_staff = Principal(sub="ts", role="township_staff", office="370285005")
    admin = Principal(sub="a", role="admin", office=CITY)
    with Session(engine) as session:
        page = list_orders(session, township_staff, OrderFilters(), limit=1)
        assert [r.key for r in page.rows] == ["r2:o1"] and page.next_cursor
        rest = list_orders(session, township_staff, OrderFilters(), 1, page.next_cursor)
        assert [r.key for r in rest.rows] == ["r1:o1"] and rest.next_cursor is None
        assert list_orders(session, other_staff, OrderFilters()).rows == []
        assert len(list_orders(session, admin, OrderFilters(status="open")).rows) == 2
        assert list_orders(session, admin, OrderFilters(overdue=True)).rows == []
        with pytest.raises(InvalidQuery):
            list_orders(session, admin, OrderFilters(), 5, "bm90IGEgY3Vyc29y")


def test_order_counts_follow_the_requests_counted_and_the_scope(engine: Engine) -> None:
    other = "370285005"
    with session_scope(engine) as session:
        for rid, township, created in (
            ("r1", JIANGSHAN, T0),
            ("r2", JIANGSHAN, T0),
            ("r3", other, T0),
            ("r4", JIANGSHAN, T0 + timedelta(days=40)),
        ):
            session.add(
                RequestRow(
                    id=rid, item="dibao", village=township + "001", township=township, city=CITY,
                    stage="township_review", responsible_office=township, agent="a", version=1,
                    created_at=created, updated_at=created, state={},
                )
            )  # fmt: skip
    late = replace(order("r1"), overdue=True)
    record(engine, state("r1", late, order("r1", 2)))
    record(engine, state("r2", order("r2")))
    record(engine, replace(state("r3", order("r3")), township=other))
    record(engine, state("r4", replace(order("r4"), overdue=True)))
    county = Principal(sub="s", role="supervisor", office=CITY, tier="city")
    township = Principal(sub="s", role="supervisor", office=JIANGSHAN, tier="township")
    with Session(engine) as session:
        assert order_counts(session, county) == {JIANGSHAN: (4, 2), other: (1, 0)}
        month = (T0 - timedelta(days=1), T0 + timedelta(days=30))
        assert order_counts(session, county, None, *month) == {JIANGSHAN: (3, 1), other: (1, 0)}
        assert order_counts(session, county, other) == {other: (1, 0)}
        assert order_counts(session, township) == {JIANGSHAN: (4, 2)}

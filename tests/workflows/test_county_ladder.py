"""The county ladder (docs/design.md §3) on the time-skipping server: every rung at its exact
instant, supervision orders from a yellow card and from a supervisor, their replies and reviews,
and the red card of an order nobody answered.

Township item linshi-jiuzhu (10 working days, statutory 20) accepted Mon 2030-03-04 09:00:
deadline Mon 18 Mar 17:00; statutory Mon 1 Apr 17:00 (Qingming, 4–6 April, comes after it).
Offices open 08:30–17:00. Office time from Mon 4 09:00 to Mon 18 17:00: 8 h (Mon 4) +
4 × 8.5 h (5–8 Mar) + 5 × 8.5 h (11–15 Mar) + 8.5 h (Mon 18) = 93 h. A warning at half of it:
46.5 h = 8 h + 34 h, then 4.5 h into Mon 11 Mar: 13:00.
"""

from __future__ import annotations

import asyncio

import pytest
from sqlmodel import Session, col, select
from temporalio.client import WorkflowUpdateFailedError
from temporalio.exceptions import ApplicationError

from models.contracts import LadderPolicy, RequestState, SupervisionOrder
from models.db import OrderRow, OutboxRow
from tests.workflows.conftest import (
    AGENT,
    CITY,
    SUPERVISOR,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    Harness,
    cst,
)
from tests.workflows.test_ladder import minute, recipients

WARNING_AT_HALF = LadderPolicy(warning_share=0.5)


async def accepted(harness: Harness, **submit: object) -> str:
    rid = await harness.submit(**submit)  # type: ignore[arg-type]
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    return rid


async def rung(harness: Harness, rid: str, n: int, at: str) -> RequestState:
    """Skip to ``at``; the n-th escalation fires there, to the minute."""
    await harness.skip_to(cst(at))
    state = await harness.eventually(rid, lambda s: len(s.escalations) >= n)
    assert minute(state.escalations[n - 1].at) == cst(at)
    return state


async def numbered(harness: Harness, rid: str, n: int = 1) -> SupervisionOrder:
    """The n-th order once the recording gave it its number."""
    state = await harness.eventually(
        rid, lambda s: len(s.orders) >= n and s.orders[n - 1].number is not None
    )
    return state.orders[n - 1]


async def sent(harness: Harness, rid: str) -> list[OutboxRow]:
    for _ in range(200):
        outbox = harness.outbox(rid)
        if outbox and all(r.status == "sent" for r in outbox):
            return outbox
        await asyncio.sleep(0.05)
    raise AssertionError("the courier never delivered")


def order_rows(harness: Harness) -> list[OrderRow]:
    with Session(harness.engine) as session:
        return list(session.exec(select(OrderRow).order_by(col(OrderRow.seq))))


async def test_every_rung_of_the_county_ladder_fires_on_time(harness: Harness) -> None:
    rid = await accepted(harness, ladder=WARNING_AT_HALF)
    official = next(c for c in (await harness.state(rid)).clocks if c.name == "official")
    assert (official.warning_at, official.reminder_at, official.yellow_at) == (
        cst("2030-03-11 13:00"),
        cst("2030-03-15 17:00"),
        cst("2030-03-18 17:00"),
    )
    state = await rung(harness, rid, 1, "2030-03-11 13:00")
    assert (state.escalations[0].level, state.overdue) == ("warning", "warning")
    state = await rung(harness, rid, 2, "2030-03-15 17:00")
    assert state.escalations[1].level == "reminder"
    # The deadline passes: a yellow card, and an order from the city to answer in 2 working days.
    state = await rung(harness, rid, 3, "2030-03-18 17:00")
    assert (state.escalations[2].level, state.overdue) == ("yellow", "yellow")
    assert not state.red_flag
    order = await numbered(harness, rid)
    assert (order.issuing_office, order.office, order.clock) == (CITY, TOWNSHIP, "official")
    assert order.respond_by == cst("2030-03-20 17:00")
    assert order.number == f"{CITY}督〔2030〕0001号"
    # Nobody answers: the red card at the response deadline.
    state = await rung(harness, rid, 4, "2030-03-20 17:00")
    assert (state.escalations[3].level, state.escalations[3].clock) == ("red", "order")
    assert (state.overdue, state.red_flag, state.orders[0].overdue) == ("red", True, True)
    state = await rung(harness, rid, 5, "2030-04-01 17:00")
    assert (state.escalations[4].level, state.overdue) == ("statutory", "statutory")

    outbox = await sent(harness, rid)
    assert recipients(outbox, "warning") == {(TOWNSHIP, "staff"), (TOWNSHIP, "head")}
    assert recipients(outbox, "reminder") == {(TOWNSHIP, "staff")}
    assert recipients(outbox, "yellow") == {
        (TOWNSHIP, "staff"),
        (TOWNSHIP, "head"),
        (CITY, "supervisor"),
    }
    assert recipients(outbox, "red") == {
        (TOWNSHIP, "staff"),
        (CITY, "supervisor"),
        (CITY, "supervision"),
    }
    assert recipients(outbox, "statutory") == {(TOWNSHIP, "staff"), (CITY, "supervision")}
    ledger = harness.ledger(rid)
    assert [r.level for r in ledger if r.kind == "escalation"] == [
        "warning",
        "reminder",
        "yellow",
        "red",
        "statutory",
    ]
    assert [r.action for r in ledger if r.action == "issue_order"] == ["issue_order"]
    (row,) = order_rows(harness)
    assert (row.number, row.request_id, row.status, row.overdue) == (
        order.number,
        rid,
        "open",
        True,
    )


async def test_the_warning_is_off_by_default(harness: Harness) -> None:
    rid = await accepted(harness)
    official = next(c for c in (await harness.state(rid)).clocks if c.name == "official")
    assert official.warning_at is None
    assert official.reminder_at == cst("2030-03-15 17:00")


async def test_an_order_answered_and_accepted_raises_no_red_card(harness: Harness) -> None:
    rid = await accepted(harness)
    await rung(harness, rid, 2, "2030-03-18 17:00")  # reminder, then yellow
    order = await numbered(harness, rid)
    await harness.skip_to(cst("2030-03-19 10:00"))
    state = await harness.act(
        rid, "reply_order", TOWNSHIP_STAFF, order=order.number, note="已入户核查，明日办结"
    )
    assert (state.orders[0].status, state.orders[0].reply) == ("replied", "已入户核查，明日办结")
    state = await harness.act(rid, "review_order", SUPERVISOR, order=order.number, accepted=True)
    assert (state.orders[0].status, state.orders[0].outcome) == ("closed", "accepted")
    await harness.skip_to(cst("2030-03-25 10:00"))  # well past the response deadline
    state = await harness.state(rid)
    assert [e.level for e in state.escalations] == ["reminder", "yellow"]
    assert not state.red_flag
    (row,) = order_rows(harness)
    assert (row.status, row.outcome, row.reply) == ("closed", "accepted", "已入户核查，明日办结")
    actions = [r.action for r in harness.ledger(rid) if r.kind == "action"]
    assert actions[-3:] == ["issue_order", "reply_order", "review_order"]
    outbox = await sent(harness, rid)
    assert any(r.recipient_office == CITY and "已答复" in r.message for r in outbox)


async def test_a_returned_order_then_overdue_is_red(harness: Harness) -> None:
    rid = await accepted(harness)
    await rung(harness, rid, 2, "2030-03-18 17:00")
    order = await numbered(harness, rid)
    await harness.skip_to(cst("2030-03-19 10:00"))
    await harness.act(rid, "reply_order", TOWNSHIP_STAFF, order=order.number, note="正在办理")
    # Returned with one working day: Wed 20 March 10:00.
    state = await harness.act(
        rid, "review_order", SUPERVISOR, order=order.number, accepted=False, days=1
    )
    assert (state.orders[0].status, state.orders[0].returned) == ("open", 1)
    assert state.orders[0].respond_by == cst("2030-03-20 10:00")
    state = await rung(harness, rid, 3, "2030-03-20 10:00")
    assert (state.escalations[2].level, state.overdue) == ("red", "red")


async def test_a_supervisors_order_due_at_night_moves_to_the_next_opening(
    harness: Harness,
) -> None:
    rid = await accepted(harness)
    # Issued Tue 5 March 20:00 with one working day: Wed 6 March 20:00, after closing, so the
    # response is due at the next opening, Thu 7 March 08:30.
    await harness.skip_to(cst("2030-03-05 20:00"))
    state = await harness.act(rid, "issue_order", SUPERVISOR, note="群众来电反映进度慢", days=1)
    (order,) = state.orders
    assert (order.issuing_office, order.office, order.issued_by) == (CITY, TOWNSHIP, "sup-1")
    assert order.respond_by == cst("2030-03-07 08:30")
    state = await rung(harness, rid, 1, "2030-03-07 08:30")
    assert (state.escalations[0].level, state.escalations[0].clock) == ("red", "order")
    # A township supervisor issues one too: the township's own numbering.
    await harness.act(rid, "issue_order", TOWNSHIP_SUPERVISOR, note="请加快办理")
    second = await numbered(harness, rid, 2)
    assert second.number == f"{TOWNSHIP}督〔2030〕0001号"
    assert second.respond_by == cst("2030-03-11 08:30")  # Thu 7 08:30 + 2 working days


async def rejected(harness: Harness, rid: str, action: str, actor: object, **fields: object) -> str:
    with pytest.raises(WorkflowUpdateFailedError) as info:
        await harness.act(rid, action, actor, **fields)  # type: ignore[arg-type]
    cause = info.value.cause
    assert isinstance(cause, ApplicationError)
    return str(cause.type)


async def test_order_actions_are_checked(harness: Harness) -> None:
    rid = await accepted(harness)
    assert await rejected(harness, rid, "issue_order", TOWNSHIP_STAFF, note="x") == "Forbidden"
    assert await rejected(harness, rid, "issue_order", SUPERVISOR) == "InvalidAction"  # no note
    state = await harness.act(rid, "issue_order", SUPERVISOR, note="请说明进度")
    order = await numbered(harness, rid)
    # Not the addressed office, an unknown number, a review before any reply.
    city_staff = type(TOWNSHIP_STAFF)("cs-1", "city_staff", CITY)
    assert (
        await rejected(harness, rid, "reply_order", city_staff, order=order.number, note="x")
        == "ActionNotAllowed"
    )
    assert (
        await rejected(harness, rid, "reply_order", TOWNSHIP_STAFF, order="无此号", note="x")
        == "InvalidAction"
    )
    assert (
        await rejected(harness, rid, "review_order", SUPERVISOR, order=order.number, accepted=True)
        == "ActionNotAllowed"
    )
    await harness.act(rid, "reply_order", TOWNSHIP_STAFF, order=order.number, note="已办理")
    # Only the issuing office reviews: the township's supervisor did not issue it.
    assert (
        await rejected(
            harness, rid, "review_order", TOWNSHIP_SUPERVISOR, order=order.number, accepted=True
        )
        == "ActionNotAllowed"
    )
    assert state.version < (await harness.state(rid)).version


async def test_a_closed_request_closes_its_open_orders(harness: Harness) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "issue_order", SUPERVISOR, note="请尽快受理")
    await numbered(harness, rid)
    state = await harness.act(rid, "refuse", TOWNSHIP_STAFF, note="不属于本事项受理范围")
    assert (state.orders[0].status, state.orders[0].outcome) == ("closed", "request_closed")
    (row,) = order_rows(harness)
    assert (row.status, row.outcome) == ("closed", "request_closed")


async def test_deemed_acceptance_is_red_for_the_tier_above_and_supervision(
    harness: Harness,
) -> None:
    rid = await harness.submit()
    await harness.act(rid, "handoff", AGENT)  # acceptance window: Mon 11 March 17:00
    await harness.skip_to(cst("2030-03-11 17:00"))
    state = await harness.eventually(rid, lambda s: s.deemed_accepted)
    assert [(e.level, e.clock) for e in state.escalations] == [
        ("reminder", "acceptance"),
        ("red", "acceptance"),
    ]
    outbox = await sent(harness, rid)
    assert recipients(outbox, "red") == {
        (TOWNSHIP, "staff"),
        (CITY, "supervisor"),
        (CITY, "supervision"),
    }


async def test_yellow_orders_of_two_requests_are_numbered_without_gaps(harness: Harness) -> None:
    first = await accepted(harness)
    second = await accepted(harness)
    await harness.skip_to(cst("2030-03-18 17:00"))
    await numbered(harness, first)
    await numbered(harness, second)
    rows = order_rows(harness)
    assert [(r.issuing_office, r.year, r.seq) for r in rows] == [(CITY, 2030, 1), (CITY, 2030, 2)]
    assert {r.request_id for r in rows} == {first, second}

"""Rectification of a bad rating as counties practise it (docs/design.md §4): the rated office calls
the resident back within the callback limit, settles the rating with an outcome (立行立改, 解释说明,
or 限期整改 with a due date and a later fix), and may appeal it to the supervisor of the tier above
within the appeal window. Every limit is on the county ladder.

A township item driven to delivery on Mon 2030-03-04 09:00 and rated bad at once: the callback is
due Tue 5 March 17:00 (1 working day), the settlement Mon 11 March 17:00 (5 working days), and the
appeal window closes at the same instant (5 working days from the rating).
"""

from __future__ import annotations

from zoneinfo import ZoneInfo

from temporalio.exceptions import ApplicationError

from daiban.domain.scope import Principal
from daiban.store import readmodel
from daiban.store.db import session_scope
from models.contracts import RequestState
from tests.workflows.conftest import (
    AGENT,
    CITY,
    CITY_STAFF,
    SUPERVISOR,
    TOWNSHIP,
    TOWNSHIP_STAFF,
    TOWNSHIP_SUPERVISOR,
    Harness,
    cst,
)
from tests.workflows.test_county_ladder import numbered
from tests.workflows.test_ladder import minute
from tests.workflows.test_paths import rejected


async def rated_bad(harness: Harness, score: int = 1) -> str:
    rid = await harness.submit()
    await harness.drive(rid)
    # Confirmed by the resident's code (the API's verified channel): it counts in the statistics.
    state = await harness.act(
        rid, "rate", AGENT, score=score, comment="态度不好", rating_channel="sms_code",
        rating_proof=f"code:{rid}",
    )  # fmt: skip
    assert (state.stage, state.responsible_office) == ("rectification", TOWNSHIP)
    return rid


def clock_names(state: RequestState) -> set[str]:
    return {c.name for c in state.clocks}


def details(failure: ApplicationError) -> dict[str, object]:
    detail: dict[str, object] = failure.details[0]
    return detail


async def called_back(harness: Harness, rid: str) -> RequestState:
    return await harness.act(rid, "callback", TOWNSHIP_STAFF, note="已电话联系申请人", reached=True)


async def test_callback_then_fixed(harness: Harness) -> None:
    rid = await rated_bad(harness)
    state = await harness.state(rid)
    assert state.rectification is not None
    assert (state.rectification.office, state.rectification.appeal_reviewer) == (TOWNSHIP, CITY)
    assert state.rectification.callback_by == cst("2030-03-05 17:00")
    assert state.rectification.appeal_by == cst("2030-03-11 17:00")
    assert state.deadline == cst("2030-03-05 17:00")  # the callback is due first
    assert clock_names(state) == {"callback", "rectification", "appeal"}

    # No settlement before the resident was called: refused, with what is allowed instead.
    fixed = {"note": "已整改", "outcome": "fixed"}
    failure = await rejected(harness, rid, "rectify", TOWNSHIP_STAFF, **fixed)
    assert failure.type == "ActionNotAllowed"
    assert details(failure)["allowed_actions"] == ["callback", "appeal_rating"]
    # A callback states whether the resident was reached.
    failure = await rejected(harness, rid, "callback", TOWNSHIP_STAFF, note="打了电话")
    assert failure.type == "InvalidAction"
    assert details(failure)["errors"] == [
        {"field": "reached", "message": "reached is required for callback"}
    ]
    # Not reached: recorded, the limit still counts and the office calls again.
    state = await harness.act(rid, "callback", TOWNSHIP_STAFF, note="无人接听", reached=False)
    assert "callback" in clock_names(state)
    state = await called_back(harness, rid)
    assert state.rectification is not None
    assert [c.reached for c in state.rectification.callbacks] == [False, True]
    assert "callback" not in clock_names(state)
    assert state.deadline == cst("2030-03-11 17:00")  # now the settlement
    await rejected(harness, rid, "callback", TOWNSHIP_STAFF, note="again", reached=True)

    failure = await rejected(harness, rid, "rectify", TOWNSHIP_STAFF, note="已整改")
    assert details(failure)["errors"] == [
        {"field": "outcome", "message": "outcome is required for rectify"}
    ]
    failure = await rejected(
        harness, rid, "rectify", TOWNSHIP_STAFF, note="已整改", outcome="fixed", due="2030-03-08"
    )
    assert [e["field"] for e in details(failure)["errors"]] == ["due"]  # type: ignore[attr-defined]
    state = await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="当场补办", outcome="fixed")
    assert (state.stage, state.status, state.rectified) == ("completed", "closed", True)
    assert state.rectification is not None and state.rectification.outcome == "fixed"
    assert clock_names(state) == {"fix_rating"}
    state = await harness.act(rid, "rate", AGENT, score=5)  # the resident rates the fix
    assert state.rating is not None and state.rating.fix_score == 5
    await harness.eventually(rid, lambda s: s.status == "closed")
    notes = [r.note for r in harness.ledger(rid) if r.kind == "rectification"]
    assert notes == [
        "not reached: 无人接听",
        "reached: 已电话联系申请人",
        "fixed: 当场补办",
    ]
    row = harness.row(rid)
    assert row is not None and row.called_back is True


async def test_overdue_callback_climbs_the_ladder(harness: Harness) -> None:
    rid = await rated_bad(harness)
    # Reminder one working day before (Mon 17:00), the yellow card at the deadline (Tue 17:00)
    # with an order from the city answerable in 2 working days, the red card when unanswered.
    await harness.skip_to(cst("2030-03-07 17:01"))
    state = await harness.eventually(rid, lambda s: len(s.escalations) >= 3)
    callback = [(e.level, minute(e.at), e.clock) for e in state.escalations]
    assert callback == [
        ("reminder", cst("2030-03-04 17:00"), "callback"),
        ("yellow", cst("2030-03-05 17:00"), "callback"),
        ("red", cst("2030-03-07 17:00"), "order"),
    ]
    order = await numbered(harness, rid)
    assert (order.issuing_office, order.office, order.clock) == (CITY, TOWNSHIP, "callback")
    assert "差评回访期限" in order.reason
    assert (state.overdue, state.red_flag) == ("red", True)
    # Reached late: the callback is recorded, but not within the limit.
    state = await called_back(harness, rid)
    assert state.rectification is not None and not state.rectification.reached_in_time()
    await harness.eventually(rid, lambda s: s.version == state.version)
    row = harness.row(rid)
    assert row is not None and row.called_back is False


async def test_scheduled_then_fixed(harness: Harness) -> None:
    rid = await rated_bad(harness, score=2)
    await called_back(harness, rid)
    fields = {"note": "需维修设备", "outcome": "scheduled"}
    failure = await rejected(harness, rid, "rectify", TOWNSHIP_STAFF, **fields)
    assert details(failure)["errors"] == [
        {"field": "due", "message": "due is required for a scheduled rectification"}
    ]
    failure = await rejected(harness, rid, "rectify", TOWNSHIP_STAFF, due="2030-03-01", **fields)
    assert details(failure)["errors"] == [
        {"field": "due", "message": "due must not be in the past"}
    ]
    # At most 30 natural days ahead (DAIBAN_RECTIFY_DUE_MAX_DAYS).
    failure = await rejected(harness, rid, "rectify", TOWNSHIP_STAFF, due="2030-04-04", **fields)
    assert details(failure)["errors"] == [
        {"field": "due", "message": "due must not be after 2030-04-03"}
    ]
    state = await harness.act(rid, "rectify", TOWNSHIP_STAFF, due="2030-03-15", **fields)
    assert (state.stage, state.status, state.rectified) == ("rectification", "open", None)
    assert state.rectification is not None
    assert (state.rectification.outcome, state.rectification.due) == ("scheduled", "2030-03-15")
    # Settled within the limit by the promise: the due date's clock runs instead.
    assert clock_names(state) == {"rectify_due", "appeal"}
    assert state.deadline == cst("2030-03-15 17:00")
    failure = await rejected(
        harness, rid, "rectify", TOWNSHIP_STAFF, note="说明", outcome="explained"
    )
    message = "outcome must be fixed: the fix is scheduled for 2030-03-15"
    assert details(failure)["errors"] == [{"field": "outcome", "message": message}]
    # The due date passes: reminder the day before, yellow with an order at the due date.
    await harness.skip_to(cst("2030-03-15 17:01"))
    state = await harness.eventually(rid, lambda s: len(s.escalations) >= 2)
    assert [(e.level, minute(e.at), e.clock) for e in state.escalations] == [
        ("reminder", cst("2030-03-14 17:00"), "rectify_due"),
        ("yellow", cst("2030-03-15 17:00"), "rectify_due"),
    ]
    order = await numbered(harness, rid)
    assert order.clock == "rectify_due" and "限期整改期限" in order.reason
    state = await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="设备已修复", outcome="fixed")
    assert (state.stage, state.status, state.rectified) == ("completed", "closed", True)
    assert state.orders[0].outcome == "request_closed"


async def test_explained(harness: Harness) -> None:
    rid = await rated_bad(harness)
    await called_back(harness, rid)
    state = await harness.act(
        rid, "rectify", TOWNSHIP_STAFF, note="政策规定须本人到场", outcome="explained"
    )
    assert (state.stage, state.rectified) == ("completed", True)
    assert state.rectification is not None and state.rectification.outcome == "explained"
    await harness.eventually(rid, lambda s: s.version == state.version)
    row = harness.row(rid)
    assert row is not None and row.called_back is True


def township_stats(harness: Harness) -> dict[str, object]:
    city = Principal(sub="s", role="supervisor", office=CITY, tier="city")
    with session_scope(harness.engine) as session:
        rows = readmodel.township_stats(session, city, ZoneInfo("Asia/Shanghai"))
    assert len(rows) == 1
    return rows[0]


async def test_appeal_upheld_leaves_the_statistics_not_the_ledger(harness: Harness) -> None:
    rid = await rated_bad(harness)
    before = township_stats(harness)
    assert (before["satisfaction_rate"], before["appeals_upheld"]) == (0.0, 0)
    state = await harness.act(rid, "appeal_rating", TOWNSHIP_STAFF, note="评价人误评")
    assert state.rating is not None and state.rating.appeal == "pending"
    assert "appeal" not in clock_names(state)  # the window is used
    await rejected(harness, rid, "appeal_rating", TOWNSHIP_STAFF, note="again")
    state = await harness.act(rid, "review_appeal", SUPERVISOR, upheld=True, note="经核实属误评")
    assert (state.stage, state.status) == ("completed", "closed")
    await harness.eventually(rid, lambda s: s.version == state.version)
    after = township_stats(harness)
    assert after["ratings"] == {"1": 1, "2": 0, "3": 0, "4": 0, "5": 0}  # as rated
    assert (after["satisfaction_rate"], after["bad_rate"], after["appeals_upheld"]) == (
        None,
        None,
        1,
    )
    ledger = harness.ledger(rid)
    assert [r.note for r in ledger if r.kind == "rating"] == ["score 1 [sms_code]"]  # kept
    assert [r.action for r in ledger if r.kind == "rectification"] == [
        "appeal_rating",
        "review_appeal",
    ]


async def test_appeal_rejected_leaves_the_rectification_running(harness: Harness) -> None:
    rid = await rated_bad(harness)
    await harness.act(rid, "appeal_rating", TOWNSHIP_STAFF, note="评价人误评")
    state = await harness.act(rid, "review_appeal", SUPERVISOR, upheld=False, note="理由不足")
    assert (state.stage, state.rating.appeal if state.rating else None) == (
        "rectification",
        "rejected",
    )
    assert {"callback", "rectification"} <= clock_names(state)
    await called_back(harness, rid)
    state = await harness.act(rid, "rectify", TOWNSHIP_STAFF, note="已致歉", outcome="explained")
    assert state.stage == "completed"
    await harness.eventually(rid, lambda s: s.version == state.version)
    stats = township_stats(harness)
    assert (stats["satisfaction_rate"], stats["bad_rate"], stats["appeals_upheld"]) == (0.0, 1.0, 0)


async def test_appeal_after_the_window_is_refused(harness: Harness) -> None:
    rid = await rated_bad(harness)
    await harness.skip_to(cst("2030-03-11 17:05"))
    await harness.eventually(rid, lambda s: "appeal" not in clock_names(s))
    failure = await rejected(harness, rid, "appeal_rating", TOWNSHIP_STAFF, note="评价人误评")
    assert failure.type == "ActionNotAllowed"
    assert "appeal window closed" in [r.note for r in harness.ledger(rid)]


async def test_appeal_is_reviewed_by_the_tier_above(harness: Harness) -> None:
    rid = await rated_bad(harness)
    await harness.act(rid, "appeal_rating", TOWNSHIP_STAFF, note="评价人误评")
    # The township's own supervisor may not review its office's appeal; the city's does.
    failure = await rejected(harness, rid, "review_appeal", TOWNSHIP_SUPERVISOR, upheld=True)
    assert failure.type == "ActionNotAllowed"
    state = await harness.act(rid, "review_appeal", SUPERVISOR, upheld=True)
    assert state.rating is not None and state.rating.appeal == "upheld"


async def test_a_city_decided_rating_goes_to_the_city(harness: Harness) -> None:
    rid = await harness.submit("dibao")
    await harness.act(rid, "handoff", AGENT)
    await harness.act(rid, "accept", TOWNSHIP_STAFF)
    await harness.act(rid, "forward", TOWNSHIP_STAFF)
    await harness.act(rid, "accept", CITY_STAFF)
    await harness.act(rid, "approve", CITY_STAFF)
    await harness.act(rid, "deliver", AGENT)
    state = await harness.act(rid, "rate", AGENT, score=1)
    assert state.rectification is not None
    # The city center is answered for by itself, its appeal reviewed by the city's supervisor.
    assert (state.rectification.office, state.rectification.appeal_reviewer) == (CITY, CITY)
    await rejected(harness, rid, "callback", TOWNSHIP_STAFF, note="x", reached=True)
    await harness.act(rid, "callback", CITY_STAFF, note="已联系", reached=True)
    await harness.act(rid, "appeal_rating", CITY_STAFF, note="评价人误评")
    await rejected(harness, rid, "review_appeal", TOWNSHIP_SUPERVISOR, upheld=False)
    state = await harness.act(rid, "review_appeal", SUPERVISOR, upheld=False)
    assert state.rating is not None and state.rating.appeal == "rejected"


async def test_an_unsettled_rating_climbs_the_ladder_of_the_rectification_limit(
    harness: Harness,
) -> None:
    rid = await rated_bad(harness)
    await called_back(harness, rid)
    # Called back, never settled: reminder Fri 8 March 17:00, yellow Mon 11 March 17:00.
    await harness.skip_to(cst("2030-03-11 17:01"))
    state = await harness.eventually(rid, lambda s: len(s.escalations) >= 2)
    assert [(e.level, minute(e.at), e.clock) for e in state.escalations] == [
        ("reminder", cst("2030-03-08 17:00"), "rectification"),
        ("yellow", cst("2030-03-11 17:00"), "rectification"),
    ]
    order = await numbered(harness, rid)
    assert order.clock == "rectification" and "差评整改期限" in order.reason
    assert state.rectification is not None and state.rectification.reached_in_time()
